"""Detect people in every frame (tutorial section 2): a trained detector, every video.

`detect` runs a trained detector over every frame of every annotated video and
writes the results pickle that `stad convert proposals` reads (the tutorial's
`mim test ... --out ms_det_proposals.pkl`). It reads frames straight from the
videos by default, so rawframes on disk are optional; `source="rawframes"` reads
the extracted JPEGs instead, exactly as MMDetection's `LoadImageFromFile` does.
Decoding and preprocessing run in a thread beside the model. Each finished
video is kept in `parts_dir(out)` until the end, so an interrupted run resumes;
under torchrun the videos are shared out between the processes
(`stad_helpers.distributed`) and rank 0 writes the results. `make_proposals`
turns the results into the AVA proposals the action detector reads;
`load_detector` builds a trained detector (also for `stad demo`).

Used in: 02_person_detector, 04_inference_demo, 05_your_own_data.
"""

from __future__ import annotations

import hashlib
import json
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


def _batches(videos: list[str], frames_of, pipeline, batch_size: int,
             depth: int = 3) -> Iterator[tuple[str, list[_Frame], dict | None]]:
    """Decode and preprocess batches in a background thread, `depth` batches ahead.

    Yields `(video, frames, data)` batches of at most `batch_size` frames of one
    video (a batch never spans two videos, so a video's boxes do not depend on
    which videos precede it: on how they were sharded), then `(video, [], None)`
    once all its frames were read (and `frames_of` raised no error).
    Decoding (PyAV, OpenCV) and resizing release the GIL, so this overlaps with
    the model's forward pass in the calling thread.
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for video in videos:
                batch: list[_Frame] = []
                inputs: list = []
                samples: list = []
                for frame in frames_of(video):
                    if stop.is_set():
                        return
                    data = _prepare(pipeline, frame)
                    batch.append(_Frame(frame.video, frame.index, None, frame.path))
                    inputs.append(data["inputs"])
                    samples.append(data["data_samples"])
                    if len(batch) == batch_size:
                        q.put((video, batch,
                               {"inputs": inputs, "data_samples": samples}))
                        batch, inputs, samples = [], [], []
                if batch:
                    q.put((video, batch, {"inputs": inputs, "data_samples": samples}))
                q.put((video, [], None))
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


# ---------------------------------------------------------------------------
# Finished videos on disk: resume, and the merge of many processes' work
# ---------------------------------------------------------------------------
PARTS_KIND = "detect-parts"
"""`OUTPUT_MARKER` kind of the `<out>.parts/` folder."""

_PART_FORMAT = 1  # of the part files; parts of another format are redone


def parts_dir(out_pkl: str | os.PathLike) -> Path:
    """`<out_pkl>.parts/`: one file per finished video until `detect` merges them.

    A run that is interrupted leaves it behind; the next run with the same
    detector, source, score threshold and batch size skips those videos. `detect`
    removes it once `out_pkl` is written.
    """
    out = Path(out_pkl)
    return out.with_name(out.name + ".parts")


def _run_key(model, det_checkpoint, source: str, score_thr: float,
             batch_size: int) -> str:
    """A short hash of everything a video's detections depend on but the video:
    the config (as MMEngine prints it), the checkpoint's contents, the frame source,
    the score threshold and the batch size (batch padding moves boxes a little)."""
    from .manifest import fingerprint

    ckpt = fingerprint(det_checkpoint) if Path(det_checkpoint).is_file() else None
    settings = {
        "format": _PART_FORMAT,
        "config": hashlib.sha256(model.cfg.pretty_text.encode()).hexdigest(),
        "checkpoint": ([ckpt["size"], ckpt["sha256"]] if ckpt
                       else str(det_checkpoint)),
        "source": source,
        "score_thr": float(score_thr),
        "batch_size": int(batch_size),
    }
    text = json.dumps(settings, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _part_path(parts: Path, video: str, key: str) -> Path:
    return parts / f"{hashlib.sha1(video.encode()).hexdigest()[:16]}-{key}.pkl"


def _prepare_parts(parts: Path, key: str, inputs: list) -> None:
    """Make the parts folder; remove parts of other settings and temp files that a
    killed process left (before any process of this run writes one)."""
    from .fileio import OUTPUT_MARKER, claim_output_dir

    claim_output_dir(parts, kind=PARTS_KIND, inputs=inputs)
    for path in parts.iterdir():
        if (path.is_file() and path.name != OUTPUT_MARKER
                and not path.name.endswith(f"-{key}.pkl")):
            path.unlink(missing_ok=True)


def _part_frames(part: Any, path: Path, video: str, nframes: int) -> list[dict]:
    """The per-frame results a part holds, checked to be all of `video`'s."""
    if (not isinstance(part, dict) or part.get("video") != video
            or len(part.get("frames", ())) != nframes):
        raise StadError(f"not the {nframes} frames of '{video}' that this part "
                        "should hold; delete the file and run again", path)
    return part["frames"]


def _fetch_missing(parts: Path, key: str, videos: list[str], rank: int,
                   world_size: int) -> dict[str, dict]:
    """Rank 0 gets the parts it cannot see from the processes that wrote them
    (no shared filesystem for the output: parts are on each machine's disk).

    One part at a time, so no process holds more than one other video's boxes.
    """
    from mmengine.dist import all_gather_object, broadcast_object_list

    missing = [[v for v in videos if not _part_path(parts, v, key).is_file()]
               if rank == 0 else None]
    broadcast_object_list(missing)
    if not missing[0]:
        return {}
    from .data.safe_pickle import safe_load

    have = all_gather_object([v for v in missing[0]
                              if _part_path(parts, v, key).is_file()])
    fetched: dict[str, dict] = {}
    for video in missing[0]:
        owner = next((r for r in range(world_size) if video in have[r]), None)
        if owner is None:
            raise StadError(f"no process has the detections of '{video}'", parts)
        box = [safe_load(_part_path(parts, video, key)) if rank == owner else None]
        broadcast_object_list(box, src=owner)
        if rank == 0:
            fetched[video] = box[0]
    return fetched


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

    Each finished video is kept in `parts_dir(out_pkl)`, so an interrupted run
    resumes where it stopped (videos done with other settings are redone); the
    folder is removed once `out_pkl` is written. Under torchrun (a process group
    started, e.g. by `distributed.init_distributed`) the videos not yet done are
    shared out by frame count (`distributed.shard_by_weight`), each process runs
    on its own device, and rank 0 merges every video in the annotation's order
    into the same file one process writes. The parts folder should be on a
    filesystem all machines share; otherwise rank 0 fetches the parts it cannot
    see from the processes that wrote them.

    Args:
        det_config: The detector's config.
        det_checkpoint: Its weights.
        data_root: The MultiSports root (videos in `trainval/`, `test/`).
        out_pkl: The results pickle to write (whole or not at all).
        source: `"video"` or `"rawframes"`.
        score_thr: Drop boxes scoring below this (a probability, 0..1).
        batch_size: Frames per forward pass, >= 1.
        progress: Show a progress bar (rank 0's videos under torchrun).
        gt_file: The GT (default `DATA_ROOT/annotations/multisports_GT.pkl`).
        frames_dir: The rawframes folder for `source="rawframes"`.
        device: As in `load_detector`; under torchrun None means
            `distributed.process_device()` (`cuda:LOCAL_RANK`, or cpu).

    Returns:
        `out_pkl` (on every process, once rank 0 has written it).

    Raises:
        StadError: An unknown `source`, `batch_size < 1`, a missing or invalid
            GT, a missing video or rawframe, an unreadable video, a config or
            checkpoint that `load_detector` refuses, a parts folder that is not
            ours or holds a damaged part.
    """
    import shutil

    import torch
    from mmengine.dist import all_gather_object, barrier, get_dist_info

    from .data.gt import MultiSportsGT
    from .distributed import dist_env, process_device, shard_by_weight

    if source not in SOURCES:
        raise StadError(f"unknown source {source!r}; expected one of {SOURCES}")
    if batch_size < 1:
        raise StadError(f"batch size must be at least 1, got {batch_size}")
    rank, world_size = get_dist_info()
    local_rank = dist_env()[2] if world_size > 1 else 0
    if world_size > 1 and device is None:
        device = process_device(local_rank)
    data_root = Path(data_root)
    gt = MultiSportsGT.load(Path(gt_file) if gt_file else layout.gt_file(data_root))
    frames_dir = Path(frames_dir) if frames_dir else data_root / layout.RAWFRAMES
    videos = gt.videos
    _check_sources(gt, data_root, frames_dir, source, videos)

    model = load_detector(det_config, det_checkpoint, device)
    pipeline = _test_pipeline(model.cfg, source)
    key = _run_key(model, det_checkpoint, source, score_thr, batch_size)
    parts = parts_dir(out_pkl)
    if local_rank == 0:
        _prepare_parts(parts, key, [det_config, det_checkpoint, data_root])
    barrier()
    seen = {v for v in videos if _part_path(parts, v, key).is_file()}
    finished = set().union(*all_gather_object(sorted(seen)))
    todo = [v for v in videos if v not in finished]
    shard = shard_by_weight([int(gt.nframes[v]) for v in todo], world_size)[rank]
    mine = [todo[i] for i in shard]

    def frames_of(video: str) -> Iterator[_Frame]:
        if source == "video":
            return _video_frames(gt, data_root, [video])
        return _rawframe_frames(gt, frames_dir, [video])

    from tqdm.auto import tqdm

    desc = f"detect ({source})" + (f", rank 0 of {world_size}" if world_size > 1
                                   else "")
    pending: list[dict] = []
    with tqdm(total=sum(int(gt.nframes[v]) for v in mine), desc=desc, unit="frame",
              disable=not progress or rank != 0) as bar, torch.inference_mode():
        if finished:
            bar.set_postfix_str(f"{len(finished)} videos done before")
        for video, batch, data in _batches(mine, frames_of, pipeline, batch_size):
            if data is None:  # all its frames read: keep the video
                dump_pickle({"video": video, "frames": pending},
                            _part_path(parts, video, key))
                pending = []
                continue
            for frame, sample in zip(batch, model.test_step(data)):
                pending.append(_to_numpy(frame, sample, score_thr))
            bar.update(len(batch))
    barrier()  # every video is in a part

    fetched = (_fetch_missing(parts, key, videos, rank, world_size)
               if world_size > 1 else {})
    if rank == 0:
        from .data.safe_pickle import safe_load

        results: list[dict] = []
        for video in videos:
            path = _part_path(parts, video, key)
            part = fetched.pop(video) if video in fetched else safe_load(path)
            results.extend(_part_frames(part, path, video, int(gt.nframes[video])))
        dump_pickle(results, out_pkl)
        shutil.rmtree(parts, ignore_errors=True)
    barrier()  # out_pkl is written
    if local_rank == 0 and parts.is_dir():  # another machine's own parts
        shutil.rmtree(parts, ignore_errors=True)
    return Path(out_pkl)


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

    `stad_helpers.convert.to_proposals` on the dataset's annotation; returns its report
    (paths, the coverage of annotated keyframes and the recall of annotated people
    per split, and `score_thr` / `score_thr_source`: the proposal score threshold
    the recall is measured at). That threshold is `score_thr` when given, else the
    `person_det_score_thr` of `action_config` (pointed at `data_root`), else
    AVADataset's default, 0.9.

    Raises:
        StadError: see `convert.to_proposals.proposals`; or an unreadable
            `action_config`.
    """
    from .convert.to_proposals import AVA_SCORE_THR, MIN_COVERAGE, proposals

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

