"""The person detector (tutorial section 2): train it, run it over every frame.

`train_detector` trains an MMDetection config (`configs/det/...`) through MMEngine's
Runner with the project's training glue (`stad_helpers.train`), after checking that
the data it needs exists and that any checkpoint it loads or resumes from fits the
model. `detect` runs a trained detector over every frame of every annotated video
and writes the results pickle that `stad convert proposals` reads (the tutorial's
`mim test ... --out ms_det_proposals.pkl`). It reads frames straight from the
videos by default, so rawframes on disk are optional; `source="rawframes"` reads
the extracted JPEGs instead, exactly as MMDetection's `LoadImageFromFile` does.

Used in: 02_person_detector, 05_your_own_data.
"""

from __future__ import annotations

import contextlib
import io
import os
import queue
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import StadError
from .fileio import dump_pickle

SOURCES = ("video", "rawframes")
GT_REL = Path("annotations") / "multisports_GT.pkl"  # the GT inside a dataset folder


# ---------------------------------------------------------------------------
# Config plumbing
# ---------------------------------------------------------------------------
def data_options(config: str | os.PathLike, data_root: str | os.PathLike) -> dict:
    """cfg-options that move every data path of `config` from its `data_root` to ours.

    Our configs start with `data_root = 'data/multisports/'` and build every data
    path from it (dataloaders' `data_root`, evaluators' `ann_file`, proposal and
    label files). Every string of the config that starts with that root is
    re-rooted, so `stad train ... --data DIR` needs nothing else.
    """
    from .train import load_config

    cfg = load_config(config)
    old = cfg.get("data_root")
    if not isinstance(old, str) or not old:
        raise StadError("config has no top-level `data_root = '...'` to replace",
                        config)
    old_dir = old.rstrip("/")
    new_dir = os.fspath(data_root).rstrip("/") or "."
    options: dict[str, Any] = {"data_root": new_dir + "/"}

    def walk(value: Any, key: str) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{key}.{k}" if key else str(k))
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                walk(v, f"{key}.{i}")
        elif isinstance(value, str) and (
            value == old_dir or value.startswith(old_dir + "/")
        ):
            options[key] = new_dir + value[len(old_dir):]

    for name in cfg.keys():
        if name != "data_root":
            walk(cfg[name], name)
    return options


def launcher_options(launcher: str = "none") -> dict:
    """Make MMEngine's `pytorch` launcher work on CPU-only machines (gloo).

    mmengine 0.10.7's `init_dist` calls `torch.cuda.set_device`, which CPU builds of
    torch lack, and wraps the model with `device_ids=[local_rank]`, which
    DistributedDataParallel refuses for CPU modules. Without CUDA we start the
    gloo process group ourselves (MMEngine then skips its own init) and return the
    cfg-options for a CPU DDP wrapper. With CUDA, or no launcher, nothing changes.
    Remove when mmengine initializes distributed runs on CPU by itself.
    """
    if launcher == "none":
        return {}
    import torch

    if torch.cuda.is_available():
        return {}
    if launcher != "pytorch":
        raise StadError(f"launcher {launcher!r} needs CUDA; on CPU use 'pytorch' "
                        "(torchrun)")
    missing = [v for v in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR")
               if v not in os.environ]
    if missing:
        raise StadError("--launcher pytorch must run under torchrun "
                        f"(environment lacks {', '.join(missing)})")
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="gloo")
    return {
        "env_cfg.dist_cfg.backend": "gloo",
        "model_wrapper_cfg.type": "MMDistributedDataParallel",
        "model_wrapper_cfg.device_ids": None,
        "model_wrapper_cfg.broadcast_buffers": False,
    }


# ---------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------
def check_checkpoint(model, checkpoint: str | os.PathLike, strict: bool = True,
                     source: str | os.PathLike | None = None) -> dict:
    """Load `checkpoint` and raise `StadError` unless its weights fit `model`.

    MMEngine loads checkpoints non-strictly: a checkpoint of another model only
    logs warnings and training starts from (mostly) random weights. With `strict`
    every tensor of the model must be in the checkpoint with the same shape
    (inference, resuming). Without it (fine-tuning with `load_from`) a new head is
    fine, but at least half of the model's tensors must match. Returns the
    loaded checkpoint.
    """
    from mmengine.runner.checkpoint import _load_checkpoint

    name = os.fspath(checkpoint)
    if "://" not in name and not Path(name).is_file():
        raise StadError("checkpoint file not found", name)
    try:
        loaded = _load_checkpoint(name, map_location="cpu", logger="silent")
    except Exception as exc:  # noqa: BLE001 - unreadable file: the user's input
        raise StadError(f"cannot load checkpoint ({type(exc).__name__}: {exc})",
                        name) from None
    weights = loaded.get("state_dict", loaded) if isinstance(loaded, dict) else None
    if not isinstance(weights, dict) or not weights:
        raise StadError("not a model checkpoint (no state_dict)", name)
    weights = {k[7:] if k.startswith("module.") else k: v for k, v in weights.items()}
    model = getattr(model, "module", model)  # unwrap DistributedDataParallel
    expected = model.state_dict()
    missing = [k for k in expected if k not in weights]
    wrong = [
        f"{k} {tuple(weights[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in weights and tuple(getattr(weights[k], "shape", ())) != tuple(v.shape)
    ]
    bad = len(missing) + len(wrong)
    if bad and (strict or bad > len(expected) / 2):
        parts = []
        if missing:
            parts.append(f"{len(missing)} of the model's {len(expected)} tensors "
                         f"missing (e.g. {missing[0]})")
        if wrong:
            parts.append(f"{len(wrong)} with other shapes (e.g. {wrong[0]})")
        where = f" (config {source})" if source else ""
        raise StadError(
            "checkpoint does not match the model of this config" + where + ": "
            + "; ".join(parts),
            name,
        )
    return loaded


def _check_runner_checkpoint(runner, config: str | os.PathLike) -> None:
    """Check what `runner.train()` would load: `load_from`, or the resumed one."""
    from mmengine.runner.checkpoint import find_latest_checkpoint

    load_from = runner.cfg.get("load_from")
    if runner.cfg.get("resume"):
        load_from = load_from or find_latest_checkpoint(runner.work_dir)
        if load_from:
            check_checkpoint(runner.model, load_from, strict=True, source=config)
    elif load_from:
        check_checkpoint(runner.model, load_from, strict=False, source=config)


def _check_training_data(cfg, config: str | os.PathLike) -> None:
    """Raise a clear error if the annotation or frames of the train split are absent."""
    dataset = cfg.train_dataloader.dataset
    while "dataset" in dataset and "ann_file" not in dataset:  # wrappers
        dataset = dataset.dataset
    root = Path(dataset.get("data_root") or "")
    ann = root / dataset.get("ann_file", "")
    if dataset.get("ann_file") and not ann.is_file():
        raise StadError(
            f"training annotation {ann} not found (make it with `stad convert "
            "det-anno`, or point the config at your data with --data DIR)",
            config,
        )
    img = (dataset.get("data_prefix") or {}).get("img")
    if img and not (root / img).is_dir():
        raise StadError(
            f"frames folder {root / img} not found (extract it with `stad convert "
            "frames`)",
            config,
        )


def _stretch_schedule(config: str | os.PathLike, options: dict) -> dict:
    """Options that end the LR schedule at an overridden `train_cfg.max_iters`.

    Iteration-based schedulers that end where the config's training ends are moved
    to end where the overridden one does (a shorter run still anneals), unless
    the options replace the schedulers themselves.
    """
    from .train import load_config

    if "train_cfg.max_iters" not in options or any(
            k.startswith("param_scheduler") for k in options):
        return {}
    cfg = load_config(config)
    old, new = cfg.train_cfg.get("max_iters"), int(options["train_cfg.max_iters"])
    schedulers = cfg.get("param_scheduler")
    if not isinstance(schedulers, list):
        return {}
    return {
        f"param_scheduler.{i}.end": new
        for i, sched in enumerate(schedulers)
        if not sched.get("by_epoch", True) and sched.get("end") == old
        and new > sched.get("begin", 0)
    }


@contextlib.contextmanager
def _quiet_stdout():
    """Hide what pycocotools and MMEngine print while training; show it on errors."""
    captured = io.StringIO()
    try:
        with contextlib.redirect_stdout(captured):
            yield
    except BaseException:
        sys.stderr.write(captured.getvalue()[-5000:])
        raise


def _progress_hook():
    """A tqdm bar over the training iterations, with the loss (rank 0 only)."""
    from mmengine.dist import is_main_process
    from mmengine.hooks import Hook

    stream = sys.stderr  # bound now: stdout is silenced during training

    class TrainProgress(Hook):
        def before_train(self, runner) -> None:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=runner.max_iters, initial=runner.iter, unit="iter",
                            desc="train", file=stream,
                            disable=not is_main_process())

        def after_train_iter(self, runner, batch_idx, data_batch=None,
                             outputs=None) -> None:
            self.bar.update(1)
            if outputs and "loss" in outputs:
                self.bar.set_postfix(loss=f"{float(outputs['loss']):.3f}",
                                     refresh=False)

        def after_train(self, runner) -> None:
            self.bar.close()

    return TrainProgress()


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------
def train_detector(
    config: str | os.PathLike,
    data_root: str | os.PathLike | None = None,
    work_dir: str | os.PathLike | None = None,
    resume: bool = False,
    cfg_options: dict[str, Any] | None = None,
    launcher: str = "none",
    quiet: bool = True,
) -> Path:
    """Train the person detector of `config`; return the last checkpoint's path.

    `data_root` points every data path of the config at another dataset folder
    (one with `annotations/` and `rawframes/`); `cfg_options` override anything
    else. With `resume`, training continues from the last checkpoint of
    `work_dir`.
    """
    from mmengine.dist import barrier

    from .train import build_runner, default_work_dir, load_config

    options: dict[str, Any] = {}
    if data_root is not None:
        options.update(data_options(config, data_root))
    options.update(cfg_options or {})
    options.update(_stretch_schedule(config, options))
    cfg = load_config(config, options)
    _check_training_data(cfg, config)
    if resume:
        # Resume the work dir's own last checkpoint (MMEngine would resume
        # `load_from`, i.e. the weights a fine-tuning starts from); with none yet,
        # start afresh, from `load_from` if set.
        work = Path(work_dir or cfg.get("work_dir") or default_work_dir(config))
        if (work / "last_checkpoint").is_file():
            options["load_from"] = None
        else:
            resume = False
    options.update(launcher_options(launcher))
    runner = build_runner(config, work_dir, resume, options, launcher, quiet)
    _check_runner_checkpoint(runner, config)
    if quiet:
        runner.register_hook(_progress_hook(), priority="VERY_LOW")
        with _quiet_stdout():
            runner.train()
    else:
        runner.train()
    barrier()  # distributed: rank 0 writes the checkpoint the others return
    last = Path(runner.work_dir) / "last_checkpoint"
    if not last.exists():
        raise StadError("training saved no checkpoint", runner.work_dir)
    return Path(last.read_text().strip())


# ---------------------------------------------------------------------------
# Inference over every frame
# ---------------------------------------------------------------------------
def load_detector(config: str | os.PathLike, checkpoint: str | os.PathLike,
                  device: str | None = None, cfg_options: dict | None = None):
    """An MMDetection model of `config` with the weights of `checkpoint`, in eval mode.

    Like mmdet's `init_detector`, but the checkpoint must fit the model exactly
    (mmdet would only warn) and no pretrained backbone is downloaded.
    """
    import torch
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope

    from .registry import register_all
    from .train import load_config

    register_all()
    cfg = load_config(config, cfg_options)
    init_default_scope(cfg.get("default_scope", "mmdet"))
    cfg.model.pop("init_cfg", None)
    if "backbone" in cfg.model:
        cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    loaded = check_checkpoint(model, checkpoint, strict=True, source=config)
    weights = loaded.get("state_dict", loaded)
    model.load_state_dict({k[7:] if k.startswith("module.") else k: v
                           for k, v in weights.items()}, strict=False)
    meta = loaded.get("meta", {}) if isinstance(loaded, dict) else {}
    model.dataset_meta = meta.get("dataset_meta") or {
        "classes": tuple(cfg.get("metainfo", {}).get("classes", ("person",)))}
    model.cfg = cfg
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return model.to(device).eval()


@dataclass(frozen=True)
class _Frame:
    video: str
    index: int  # 1-based
    image: np.ndarray | None  # decoded BGR frame (video source)
    path: Path | None  # JPEG file (rawframes source)


def _video_frames(gt, data_root: Path, videos: list[str]) -> Iterator[_Frame]:
    from .data.gt import video_path
    from .video import iter_frames

    for video in videos:
        path = video_path(data_root, video)
        count = 0
        for count, image in enumerate(iter_frames(path), 1):
            yield _Frame(video, count, image, None)
        if count != int(gt.nframes[video]):
            raise StadError(f"video has {count} frames, the annotation says "
                            f"{int(gt.nframes[video])}", path)


def _rawframe_frames(gt, frames_dir: Path, videos: list[str]) -> Iterator[_Frame]:
    for video in videos:
        for i in range(1, int(gt.nframes[video]) + 1):
            yield _Frame(video, i, None, frames_dir / video / f"{i:05d}.jpg")


def _check_sources(gt, data_root: Path, frames_dir: Path, source: str,
                   videos: list[str]) -> None:
    """Fail before any work if a video or a rawframe is missing."""
    from .data.gt import video_path

    for video in videos:
        if source == "video":
            path = video_path(data_root, video)
            if not path.is_file():
                raise StadError(f"video of '{video}' not found", path)
        else:
            n = int(gt.nframes[video])
            for i in (1, n):
                path = frames_dir / video / f"{i:05d}.jpg"
                if not path.is_file():
                    raise StadError(
                        f"rawframe {i} of '{video}' ({n} frames) not found; extract "
                        "the frames with `stad convert frames`, or use "
                        "--source video",
                        path,
                    )


def _test_pipeline(cfg, source: str):
    """The config's test pipeline, fed decoded frames (video) or files (rawframes)."""
    from mmcv.transforms import Compose
    from mmdet.utils import get_test_pipeline_cfg

    steps = [dict(step) for step in get_test_pipeline_cfg(cfg)
             if "LoadAnnotations" not in str(step.get("type"))]
    if not steps or "LoadImage" not in str(steps[0].get("type")):
        raise StadError("the test pipeline does not start by loading the image",
                        cfg.filename)
    if source == "video":
        steps[0] = dict(type="mmdet.LoadImageFromNDArray")
    return Compose(steps)


def _prepare(pipeline, frame: _Frame) -> dict:
    """One frame through the test pipeline; unreadable JPEGs are a `StadError`."""
    if frame.image is not None:
        return pipeline({"img": frame.image, "img_id": 0})
    try:
        return pipeline({"img_path": str(frame.path), "img_id": 0})
    except (OSError, AssertionError) as exc:  # mmcv asserts on undecodable images
        raise StadError(f"cannot read rawframe {frame.index} of '{frame.video}' "
                        f"({exc})", frame.path) from None


def _batches(frames: Iterator[_Frame], pipeline, batch_size: int,
             depth: int = 3) -> Iterator[tuple[list[_Frame], dict]]:
    """Decode and preprocess batches in a background thread, `depth` batches ahead.

    Decoding (PyAV, OpenCV) and resizing release the GIL, so this overlaps with
    the model's forward pass in the calling thread.
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            batch: list[_Frame] = []
            inputs: list = []
            samples: list = []
            for frame in frames:
                if stop.is_set():
                    return
                data = _prepare(pipeline, frame)
                batch.append(_Frame(frame.video, frame.index, None, frame.path))
                inputs.append(data["inputs"])
                samples.append(data["data_samples"])
                if len(batch) == batch_size:
                    q.put((batch, {"inputs": inputs, "data_samples": samples}))
                    batch, inputs, samples = [], [], []
            if batch:
                q.put((batch, {"inputs": inputs, "data_samples": samples}))
            q.put(done)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            q.put(exc)

    thread = threading.Thread(target=produce, daemon=True, name="stad-detect-io")
    thread.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(0.05)


def detect(
    det_config: str | os.PathLike,
    det_checkpoint: str | os.PathLike,
    data_root: str | os.PathLike,
    out_pkl: str | os.PathLike,
    source: str = "video",
    score_thr: float = 0.05,
    batch_size: int = 8,
    progress: bool = True,
    *,
    gt_file: str | os.PathLike | None = None,
    frames_dir: str | os.PathLike | None = None,
    device: str | None = None,
) -> Path:
    """Run the detector over every frame of every annotated video; write `out_pkl`.

    The output is the tutorial's detection-results pickle (what `stad convert
    proposals` reads): a list, one dict per frame, of `img_path`
    ('sport/video/00017.jpg', relative to the rawframes folder), `ori_shape`
    (h, w) and `pred_instances` with numpy `bboxes` (N, 4) float32 pixels,
    `scores` (N,) float32 and `labels` (N,) int64, boxes scoring below `score_thr`
    dropped. `source="video"` decodes the mp4s (no rawframes needed);
    `"rawframes"` reads `frames_dir` (default `DATA_ROOT/rawframes`). Both splits'
    videos are done, in the annotation's order.
    """
    import torch

    from .data.gt import MultiSportsGT

    if source not in SOURCES:
        raise StadError(f"unknown source {source!r}; expected one of {SOURCES}")
    if batch_size < 1:
        raise StadError(f"batch size must be at least 1, got {batch_size}")
    data_root = Path(data_root)
    gt = MultiSportsGT.load(Path(gt_file) if gt_file else data_root / GT_REL)
    frames_dir = Path(frames_dir) if frames_dir else data_root / "rawframes"
    videos = gt.videos
    _check_sources(gt, data_root, frames_dir, source, videos)

    model = load_detector(det_config, det_checkpoint, device)
    pipeline = _test_pipeline(model.cfg, source)
    frames = (_video_frames(gt, data_root, videos) if source == "video"
              else _rawframe_frames(gt, frames_dir, videos))

    from tqdm.auto import tqdm

    results: list[dict] = []
    total = sum(int(gt.nframes[v]) for v in videos)
    with tqdm(total=total, desc=f"detect ({source})", unit="frame",
              disable=not progress) as bar, torch.inference_mode():
        for batch, data in _batches(frames, pipeline, batch_size):
            for frame, sample in zip(batch, model.test_step(data)):
                results.append(_to_numpy(frame, sample, score_thr))
            bar.update(len(batch))
    return dump_pickle(results, out_pkl)


def _to_numpy(frame: _Frame, sample, score_thr: float) -> dict:
    pred = sample.pred_instances
    scores = pred.scores.detach().cpu().numpy().astype(np.float32)
    keep = scores >= score_thr
    h, w = sample.metainfo["ori_shape"][:2]
    return {
        "img_path": f"{frame.video}/{frame.index:05d}.jpg",
        "ori_shape": (int(h), int(w)),
        "pred_instances": {
            "bboxes": np.ascontiguousarray(
                pred.bboxes.detach().cpu().numpy().astype(np.float32)[keep]),
            "scores": scores[keep],
            "labels": pred.labels.detach().cpu().numpy().astype(np.int64)[keep],
        },
    }


def make_proposals(
    det_results: str | os.PathLike,
    data_root: str | os.PathLike,
    out_pkl: str | os.PathLike,
    min_coverage: float | None = None,
    *,
    gt_file: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """`detect`'s results -> the action detector's `OUT_train.pkl` / `OUT_val.pkl`.

    `stad_helpers.convert.proposals` on the dataset's annotation; returns its report
    (paths, and the coverage of annotated keyframes per split).
    """
    from .convert.proposals import MIN_COVERAGE, proposals

    gt = Path(gt_file) if gt_file else Path(data_root) / GT_REL
    return proposals(det_results, gt, out_pkl,
                     MIN_COVERAGE if min_coverage is None else min_coverage)

