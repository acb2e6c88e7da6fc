"""The action model over the val split: per-keyframe predictions, saved, read back.

`predict_action` runs the model with MMEngine's test loop (the config's
`test_dataloader`, quietly, with a progress bar), saves every keyframe's boxes
and class scores (`predictions.pkl`, MMAction2's per-keyframe results as plain
numpy: `safe_load` reads it back) and returns them as one `Predictions` per
video. `read_predictions` reads such a file back as the same objects;
`load_predictions` gives the file's records as saved. `action_eval` scores
`Predictions`, `evaluate.evaluate` does every step.

The records -> `Predictions` step is `video_predictions` (one place): boxes
normalized to the frame become pixels of the GT's resolution, rows keep the
file's order, and `meta["keyframes_run"]` lists every keyframe the model ran
on, also those where it found nobody (a `Predictions` has no row for them).

Used in: 03_action_detector, 05_your_own_data (through `evaluate`).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from .action import action_options, check_checkpoint_classes, check_data, quote_names
from .data import layout
from .data.gt import MultiSportsGT
from .data.safe_pickle import safe_load
from .errors import StadError
from .fileio import dump_pickle
from .predictions import Predictions
from .train import build_runner, check_checkpoint, load_config

PREDICTIONS_VERSION = 1


@contextlib.contextmanager
def quiet_output():
    """Silence MMAction2's metric prints, logs and rich progress bars."""
    from mmengine.logging import MMLogger

    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    sink = io.StringIO()
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            yield
    finally:
        logger.setLevel(level)


_COLLECTOR = "StadCollectDetections"


def _register_collector() -> str:
    """Register (once) a metric that only keeps MultiSportsMetric's per-keyframe
    results; return its registry name for the test loop's evaluator."""
    from mmaction.evaluation import MultiSportsMetric
    from mmaction.registry import METRICS
    from mmengine.evaluator import BaseMetric

    if METRICS.get(_COLLECTOR) is None:

        class StadCollectDetections(BaseMetric):
            default_prefix = "stad"
            process = MultiSportsMetric.process  # same fields as the real metric

            def compute_metrics(self, results: list) -> dict:
                self.collected = list(results)
                return {"keyframes": float(len(results))}

        METRICS.register_module(_COLLECTOR, module=StadCollectDetections)
    return _COLLECTOR


def _progress_hook(desc: str, enabled: bool):
    """A hook showing the test loop's progress (on the stderr of now, so that
    silencing MMEngine's prints later does not hide it)."""
    from mmengine.hooks import Hook

    stream = sys.stderr

    class TqdmHook(Hook):
        priority = "VERY_LOW"

        def before_test_epoch(self, runner) -> None:
            self.bar = tqdm(total=len(runner.test_dataloader), desc=desc,
                            unit="clip", disable=not enabled, file=stream)

        def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            self.bar.update(1)

        def after_test_epoch(self, runner, metrics=None) -> None:
            self.bar.close()

    return TqdmHook()


def predict_action(
    config: str | os.PathLike,
    checkpoint: str | os.PathLike,
    out_pkl: str | os.PathLike,
    data_root: str | os.PathLike | None = None,
    cfg_options: dict[str, Any] | None = None,
    progress: bool = True,
    *,
    anno_dir: str | os.PathLike | None = None,
) -> list[Predictions]:
    """Run the action model over the config's test split; save and return its
    predictions.

    `out_pkl` holds a dict: `version`, `labels` (class names, when known),
    `detections`: one dict per keyframe with `video` ('sport/name'), `frame`
    (1-based), `boxes` (N, 4) float32 normalized x1 y1 x2 y2 (the proposals)
    and `scores` (N, C) float32, one column per class (MMAction2's
    `MultiSportsMetric.process` records).

    Args:
        config: The action model's config.
        checkpoint: Its trained weights.
        out_pkl: The predictions file to write (whole or not at all).
        data_root: The dataset root (default: the config's).
        cfg_options: MMEngine config overrides.
        progress: Show a progress bar.
        anno_dir: Annotation folder, if not `DATA_ROOT/annotations`.

    Returns:
        One `Predictions` per val video (`video_predictions`): boxes in pixels,
        `frames` the keyframes, `action_scores` (N, C).

    Raises:
        StadError: missing data or GT, proposals not of the GT, or a checkpoint
            of another model or other classes than the GT's; nothing is written.
    """
    options = action_options(config, data_root, cfg_options, anno_dir=anno_dir)
    cfg = load_config(config, options)
    check_data(cfg, config, splits=("test_dataloader",))
    gt_file = (cfg.get("test_evaluator") or {}).get("ann_file")
    if not gt_file or not Path(gt_file).is_file():
        raise StadError(f"GT file {gt_file} of test_evaluator not found", config)
    gt = MultiSportsGT.load(gt_file)
    check_checkpoint_classes(checkpoint, cfg, config)
    options.update({"load_from": os.fspath(checkpoint), "resume": False,
                    "test_evaluator": [dict(type=_register_collector())]})
    with tempfile.TemporaryDirectory(prefix="stad-eval-") as tmp:
        runner = build_runner(config, tmp, cfg_options=options, quiet=True)
        runner.register_hook(_progress_hook("predict", progress))
        check_checkpoint(runner.model, checkpoint, strict=True, source=config)
        with quiet_output():
            runner.test()
        results = runner.test_loop.evaluator.metrics[0].collected
    labels = list(gt.labels)
    detections = [
        {
            "video": str(video),
            "frame": int(frame),
            "boxes": np.asarray(boxes, np.float32).reshape(-1, 4),
            "scores": np.asarray(scores, np.float32).reshape(len(boxes), -1)
            if len(boxes) else np.zeros((0, len(labels)), np.float32),
        }
        for video, frame, boxes, scores in results
    ]
    predictions = video_predictions(detections, gt, os.fspath(out_pkl))
    dump_pickle({"version": PREDICTIONS_VERSION, "labels": labels,
                 "detections": detections}, out_pkl)
    return predictions


def video_predictions(records: list[dict], gt: MultiSportsGT,
                      source: str | os.PathLike | None = None) -> list[Predictions]:
    """MMAction2's per-keyframe records as one `Predictions` per video.

    The one conversion from the saved format: each record's normalized boxes
    become pixels of the video's GT resolution (`Predictions.from_mmaction`),
    videos come in the order they first appear, rows in the records' order;
    `meta["keyframes_run"]` is every keyframe of the video the model ran on
    (1-based, in order, also those without a box).

    Args:
        records: Dicts with `video` ('sport/name', '.mp4' allowed), `frame`
            (1-based), `boxes` (N, 4) normalized x1 y1 x2 y2, `scores` (N, C).
        gt: The GT: its `test_videos` are the videos allowed, its labels the C
            classes, its `resolution` each frame size.
        source: The file the records came from, for error messages.

    Returns:
        One `Predictions` per video (`video`, `size`, `class_names` set).

    Raises:
        StadError: A record of a video outside the GT's val split
            (`test_videos`), at a frame outside the video, with another number
            of class scores than the GT's labels, or with a box or score
            `Predictions` refuses (naming the record).
    """
    test_videos = set(gt.test_videos)
    by_video: dict[str, list[dict]] = {}
    for det in records:
        video = str(det["video"]).removesuffix(layout.VIDEO_SUFFIX)
        if video not in test_videos:
            raise StadError(f"prediction for video '{video}', frame {det['frame']}: "
                            "not a video of the val split (test_videos) of the GT "
                            f"{gt.source or ''}", source)
        if not 1 <= int(det["frame"]) <= gt.nframes[video]:
            raise StadError(f"prediction for video '{video}', frame {det['frame']}: "
                            f"the GT {gt.source or ''} gives the video "
                            f"{gt.nframes[video]} frames", source)
        by_video.setdefault(video, []).append(det)
    out = []
    for video, dets in by_video.items():
        try:
            preds = Predictions.from_mmaction(dets, gt.labels,
                                              size=gt.resolution[video], video=video)
        except StadError as exc:
            raise StadError(f"predictions for video '{video}': {exc}", source) from None
        preds.meta["keyframes_run"] = [int(d["frame"]) for d in dets]
        out.append(preds)
    return out


def read_predictions(path: str | os.PathLike,
                     gt: MultiSportsGT) -> list[Predictions]:
    """A `predict_action` file as one `Predictions` per video (`video_predictions`).

    Args:
        path: The predictions pickle.
        gt: The GT the predictions were made on.

    Returns:
        One `Predictions` per video, boxes in pixels.

    Raises:
        StadError: Not a predictions file, made for other classes, or a record
            `video_predictions` refuses.
    """
    return video_predictions(load_predictions(path, gt), gt, os.fspath(path))


def load_predictions(path: str | os.PathLike,
                     gt: MultiSportsGT | None = None) -> list[dict]:
    """The per-keyframe records `predict_action` saved (safely unpickled), as saved.

    With `gt`, the class names the file was made with must be its labels, in
    that order. `read_predictions` gives them as `Predictions`.

    Raises:
        StadError: not a predictions file, or made for other classes.

    Returns:
        One dict per keyframe: `video` ('sport/name'), `frame` (1-based),
        `boxes` `(N, 4)` float32 normalized x1 y1 x2 y2, `scores` `(N, C)`
        float32.
    """
    raw = safe_load(path)
    if not isinstance(raw, dict) or not isinstance(raw.get("detections"), list):
        raise StadError("not a predictions file of `predict_action` (expected a dict "
                        "with a 'detections' list)", path)
    saved = raw.get("labels")
    if gt is not None and saved is not None and list(saved) != list(gt.labels):
        raise StadError(f"predictions made for {len(saved)} classes"
                        f"{quote_names(saved)}, but the GT {gt.source or ''} has "
                        f"{len(gt.labels)}{quote_names(gt.labels)}", path)
    for i, det in enumerate(raw["detections"]):
        if not isinstance(det, dict) or not {"video", "frame", "boxes",
                                             "scores"} <= set(det):
            raise StadError(f"detection {i}: expected keys video, frame, boxes, "
                            "scores", path)
    return raw["detections"]
