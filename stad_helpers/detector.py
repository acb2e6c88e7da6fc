"""The person detector (tutorial section 2): train it, run it over every frame.

`train_detector` points an MMDetection config (`configs/det/...`) at the data,
checks that the frames and annotation it trains on exist, and trains it with the
project's training glue (`stad_helpers.train.train`: resume, checkpoint checks,
progress bar, torchrun). `detect` runs a trained detector over every frame of
every annotated video and writes the results pickle that `stad convert proposals`
reads (the tutorial's `mim test ... --out ms_det_proposals.pkl`). It reads frames
straight from the videos by default, so rawframes on disk are optional;
`source="rawframes"` reads the extracted JPEGs instead, exactly as MMDetection's
`LoadImageFromFile` does.

Used in: 02_person_detector, 05_your_own_data.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .data import layout
from .errors import StadError
from .fileio import dump_pickle
from .train import check_checkpoint

SOURCES = ("video", "rawframes")


# ---------------------------------------------------------------------------
# Config plumbing
# ---------------------------------------------------------------------------
def data_options(config: str | os.PathLike, data_root: str | os.PathLike) -> dict:
    """cfg-options that move every data path of `config` from its `data_root` to ours.

    Our configs start with `data_root = 'data/multisports/'` and build every data
    path from it (dataloaders' `data_root`, evaluators' `ann_file`, proposal and
    label files). Every string of the config that starts with that root is
    re-rooted, so `stad train ... --data DIR` needs nothing else.

    Args:
        config: An MMEngine config whose data paths start with its `data_root`.
        data_root: The dataset folder to point them at.

    Returns:
        `{dotted key: new value}` for MMEngine's `cfg_options` (e.g.
        `{"data_root": "DIR/", "val_evaluator.ann_file": "DIR/annotations/..."}`).

    Raises:
        StadError: The config cannot be read or has no top-level string
            `data_root`.
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
    else, and an overridden `train_cfg.max_iters` ends the LR schedule there too.
    The rest (resume, checkpoint checks, launcher) is `stad_helpers.train.train`.

    Args:
        config: A detector config (`configs/det/...`, MMDetection format).
        data_root: Dataset folder with the COCO JSONs of `stad convert
            det-anno` and the rawframes.
        work_dir: Where logs and checkpoints go (default
            `work_dirs/<config name>`).
        resume: Continue from the last checkpoint in `work_dir`.
        cfg_options: MMEngine config overrides.
        launcher: `"none"` or `"pytorch"` (under torchrun).
        quiet: Keep MMEngine's log off the console.

    Returns:
        The path of the last checkpoint (`.pth`).

    Raises:
        StadError: The config is unreadable, the training data (COCO JSONs,
            rawframes) is missing or empty, the schedule override is invalid,
            the device or launcher is unusable, or the resumed checkpoint is not
            one of this config (see `stad_helpers.train.train`).
    """
    from .train import load_config, train

    options: dict[str, Any] = {}
    if data_root is not None:
        options.update(data_options(config, data_root))
    options.update(cfg_options or {})
    options.update(_stretch_schedule(config, options))
    _check_training_data(load_config(config, options), config)
    return train(config, work_dir, resume, options, launcher, quiet)


# ---------------------------------------------------------------------------
# Inference over every frame
# ---------------------------------------------------------------------------
def load_detector(config: str | os.PathLike, checkpoint: str | os.PathLike,
                  device: str | None = None, cfg_options: dict | None = None):
    """An MMDetection model of `config` with the weights of `checkpoint`, in eval mode.

    Like mmdet's `init_detector`, but the checkpoint must fit the model exactly
    (mmdet would only warn) and no pretrained backbone is downloaded.

    Args:
        config: The detector's config.
        checkpoint: Its weights (`.pth`).
        device: `"cpu"`, `"cuda"`, `"cuda:N"`; None picks cuda when available.
        cfg_options: MMEngine config overrides.

    Returns:
        The MMDetection model in eval mode on `device`, with `dataset_meta`
        (its classes) and `cfg` set.

    Raises:
        StadError: The config is unreadable, or the checkpoint is missing,
            unreadable or does not fit the model exactly (missing, unexpected or
            wrongly shaped weights).
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
    from .video import iter_frames

    for video in videos:
        path = layout.video_path(data_root, video)
        count = 0
        for count, image in enumerate(iter_frames(path), 1):
            yield _Frame(video, count, image, None)
        if count != int(gt.nframes[video]):
            raise StadError(f"video has {count} frames, the annotation says "
                            f"{int(gt.nframes[video])}", path)


def _rawframe_frames(gt, frames_dir: Path, videos: list[str]) -> Iterator[_Frame]:
    for video in videos:
        for i in range(1, int(gt.nframes[video]) + 1):
            yield _Frame(video, i, None, layout.rawframe_path(frames_dir, video, i))


def _check_sources(gt, data_root: Path, frames_dir: Path, source: str,
                   videos: list[str]) -> None:
    """Fail before any work if a video or a rawframe is missing."""
    for video in videos:
        if source == "video":
            path = layout.video_path(data_root, video)
            if not path.is_file():
                raise StadError(f"video of '{video}' not found", path)
        else:
            n = int(gt.nframes[video])
            for i in (1, n):
                path = layout.rawframe_path(frames_dir, video, i)
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

    Args:
        det_config: The detector's config.
        det_checkpoint: Its weights.
        data_root: The MultiSports root (videos in `trainval/`, `test/`).
        out_pkl: The results pickle to write (whole or not at all).
        source: `"video"` or `"rawframes"`.
        score_thr: Drop boxes scoring below this (a probability, 0..1).
        batch_size: Frames per forward pass, >= 1.
        gt_file: The GT (default `DATA_ROOT/annotations/multisports_GT.pkl`).
        frames_dir: The rawframes folder for `source="rawframes"`.
        device: As in `load_detector`.

    Returns:
        `out_pkl`.

    Raises:
        StadError: An unknown `source`, `batch_size < 1`, a missing or invalid
            GT, a missing video or rawframe, an unreadable video, or a config or
            checkpoint that `load_detector` refuses.
    """
    import torch

    from .data.gt import MultiSportsGT

    if source not in SOURCES:
        raise StadError(f"unknown source {source!r}; expected one of {SOURCES}")
    if batch_size < 1:
        raise StadError(f"batch size must be at least 1, got {batch_size}")
    data_root = Path(data_root)
    gt = MultiSportsGT.load(Path(gt_file) if gt_file else layout.gt_file(data_root))
    frames_dir = Path(frames_dir) if frames_dir else data_root / layout.RAWFRAMES
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
        "img_path": layout.rawframe_relpath(frame.video, frame.index),
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
    action_config: str | os.PathLike | None = None,
    score_thr: float | None = None,
) -> dict[str, Any]:
    """`detect`'s results -> the action detector's `OUT_train.pkl` / `OUT_val.pkl`.

    `stad_helpers.convert.proposals` on the dataset's annotation; returns its report
    (paths, the coverage of annotated keyframes and the recall of annotated people
    per split, and `score_thr` / `score_thr_source`: the proposal score threshold
    the recall is measured at). That threshold is `score_thr` when given, else the
    `person_det_score_thr` of `action_config` (pointed at `data_root`), else
    AVADataset's default, 0.9.

    Raises:
        StadError: see `convert.proposals.proposals`; or an unreadable
            `action_config`.
    """
    from .convert.proposals import AVA_SCORE_THR, MIN_COVERAGE, proposals

    gt = Path(gt_file) if gt_file else layout.gt_file(data_root)
    if score_thr is not None:
        source = "--person-det-score-thr"
    elif action_config is not None:
        from .action import data_options, person_det_score_thr

        score_thr = person_det_score_thr(action_config, data_options(data_root))
        source = f"person_det_score_thr of {action_config}"
    else:
        score_thr, source = AVA_SCORE_THR, "AVADataset's default person_det_score_thr"
    return proposals(det_results, gt, out_pkl,
                     MIN_COVERAGE if min_coverage is None else min_coverage,
                     float(score_thr), score_thr_source=source)

