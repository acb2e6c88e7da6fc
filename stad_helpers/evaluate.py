"""Evaluation (tutorial section 3): frame-mAP and video-mAP of the action detector,
bbox AP50 of the person detector, with per-class AP as JSON and CSV.

Three steps, each usable alone and each in its own module (re-exported here):

- `predict_action` (`action_predict`) runs the action model over the val split
  with MMEngine's test loop (the config's `test_dataloader`), saves every
  keyframe's boxes and class scores (`predictions.pkl`, plain numpy:
  `safe_load` reads it back, `read_predictions` as `Predictions`) and returns
  them as one `Predictions` per video;
- `action_metrics` (`action_eval`) scores those `Predictions` as MMAction2's
  `MultiSportsMetric` does: frame-mAP@0.5 and video-mAP@0.2/0.5 (tubes linked
  as its `link_tubes` links them), and per class, with MMAction2's numbers
  computed fast (`multisports_map`);
- `detector_ap50` (`detector_eval`) scores the person detector's results (or
  the proposals made from them) with MMDetection's `CocoMetric` on the val
  det-anno JSON.

`evaluate` does all three and writes `metrics.json` and `per_class_ap.csv`.
Scores are fractions in [0, 1] (MMAction2's functions print percentages).

Upstream behaviour kept on purpose: `MultiSportsMetric` gives each box only its
highest-scoring class (`argmax`), so a box is one detection of one class, not
one per class; the six MultiSports labels upstream excludes ('aerobic kick
jump', ..., 'basketball jump ball') are not scored. mmaction2 1.2.0's tube
linking bugs are fixed in `stad_helpers.compat`.

Used in: 03_action_detector, 05_your_own_data.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .action import action_options
from .action_eval import (
    FRAME_IOU,
    TUBE_MIN_LEN,
    VIDEO_IOUS,
    ActionMetrics,
    action_metrics,
    frame_detections,
)
from .action_predict import (
    PREDICTIONS_VERSION,
    load_predictions,
    predict_action,
    read_predictions,
)
from .data import layout
from .data.gt import MultiSportsGT
from .detector_eval import detector_ap50
from .errors import StadError
from .fileio import atomic_open, dump_json
from .train import load_config

__all__ = ["FRAME_IOU", "PREDICTIONS_VERSION", "TUBE_MIN_LEN", "VIDEO_IOUS",
           "ActionMetrics", "Evaluation", "action_metrics", "detector_ap50",
           "evaluate", "frame_detections", "load_predictions", "predict_action",
           "read_predictions", "write_per_class_csv"]


@dataclass
class Evaluation:
    """What `evaluate` measured and where it wrote it.

    Attributes:
        metrics: The contents of `metrics.json` without `per_class` (`frame_map`,
            `video_map_<iou>`, `det_ap50` when scored, `keyframes`, `detections`);
            mAPs are fractions in [0, 1]. `evaluation["frame_map"]` reads it.
        per_class: One dict per label (see `ActionMetrics.per_class`).
        json_path: `metrics.json` written.
        csv_path: `per_class_ap.csv` written.
        predictions: The predictions pickle scored.
    """

    metrics: dict[str, Any]
    per_class: list[dict[str, Any]]
    json_path: Path
    csv_path: Path
    predictions: Path | None = None

    def __getitem__(self, key: str) -> Any:
        """`metrics[key]` (e.g. `"frame_map"`); KeyError if absent."""
        return self.metrics[key]


def evaluate(
    config: str | os.PathLike,
    checkpoint: str | os.PathLike,
    data_root: str | os.PathLike | None = None,
    out_dir: str | os.PathLike = "work_dirs/eval",
    cfg_options: dict[str, Any] | None = None,
    det_results: str | os.PathLike | None = None,
    det_anno: str | os.PathLike | None = None,
    predictions: str | os.PathLike | None = None,
    progress: bool = True,
    *,
    anno_dir: str | os.PathLike | None = None,
) -> Evaluation:
    """Evaluate the action detector (and the person detector); write the results.

    Runs the model over the val split (or reuses `predictions`, a file of
    `predict_action`), scores it, and with `det_results` (`stad detect`'s output
    or proposals) also the person detector, on `det_anno` (default: the val
    JSON beside the GT). Writes
    `out_dir/predictions.pkl`, `metrics.json` (keys `frame_map`,
    `video_map_0.2`, `video_map_0.5`, `det_ap50` when scored, and `per_class`)
    and `per_class_ap.csv`.

    Args:
        config: The action model's config (`configs/action/...`).
        checkpoint: Its trained weights (`.pth`).
        data_root: The dataset root (default: the config's).
        out_dir: Folder for the three result files.
        cfg_options: MMEngine config overrides (`--cfg-options`).
        det_results: Detector results or proposals to score as well.
        det_anno: COCO JSON to score them on.
        predictions: A `predict_action` pickle to score instead of running
            the model.
        progress: Show a progress bar.
        anno_dir: Annotation folder, if not `DATA_ROOT/annotations`.

    Returns:
        An `Evaluation` (metrics and the paths written).

    Raises:
        StadError: The test evaluator's GT is missing or invalid, the data or
            proposals are missing or of another GT, the checkpoint is unreadable
            or of other classes, or the predictions / detector results are
            unusable (see `predict_action`, `action_metrics`, `detector_ap50`).
    """
    out_dir = Path(out_dir)
    options = action_options(config, data_root, cfg_options, anno_dir=anno_dir)
    gt_file = load_config(config, options).test_evaluator.get("ann_file")
    if not gt_file or not Path(gt_file).is_file():
        raise StadError(f"GT file {gt_file} of test_evaluator not found", config)
    gt = MultiSportsGT.load(gt_file)
    if predictions is None:
        predictions = out_dir / "predictions.pkl"
        by_video = predict_action(config, checkpoint, predictions,
                                  cfg_options=options, progress=progress)
    else:
        by_video = read_predictions(predictions, gt)
    action = action_metrics(by_video, gt)
    metrics: dict[str, Any] = action.summary()
    if det_results is not None:
        if det_anno is None:
            det_anno = layout.det_anno_file(Path(gt_file).parent, "test")
        metrics["det_ap50"] = detector_ap50(det_results, det_anno, gt)
    metrics.update(keyframes=action.keyframes, detections=action.detections)
    json_path = dump_json({**metrics, "per_class": action.per_class},
                          out_dir / "metrics.json", indent=2)
    csv_path = write_per_class_csv(action.per_class, out_dir / "per_class_ap.csv")
    return Evaluation(metrics, action.per_class, json_path, csv_path,
                      Path(predictions))


def write_per_class_csv(rows: list[dict], path: str | os.PathLike) -> Path:
    """One row per class; classes not scored have empty AP cells.

    Args:
        rows: `ActionMetrics.per_class`.
        path: The CSV to write (whole or not at all).

    Returns:
        `path`.
    """
    columns = list(rows[0]) if rows else ["label", "name"]
    with atomic_open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, columns)
        writer.writeheader()
        writer.writerows({k: ("" if v is None else v) for k, v in row.items()}
                         for row in rows)
    return Path(path)
