"""Evaluation (tutorial section 3): frame-mAP and video-mAP of the action detector,
bbox AP50 of the person detector, with per-class AP as JSON and CSV.

Three steps, each usable alone:

- `predict_action` runs the action model over the val split with MMEngine's test
  loop (the config's `test_dataloader`) and saves every keyframe's boxes and
  class scores (`predictions.pkl`, plain numpy: `safe_load` reads it back);
- `action_metrics` scores saved predictions with MMAction2's `MultiSportsMetric`:
  frame-mAP@0.5 and video-mAP@0.2/0.5 (tubes linked by its `link_tubes`), plus
  the same upstream functions once per class for the per-class table;
- `detector_ap50` scores the person detector's results (or the proposals made
  from them) with MMDetection's `CocoMetric` on the val det-anno JSON.

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

import contextlib
import csv
import io
import math
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .data import layout
from .data.gt import MultiSportsGT
from .data.safe_pickle import safe_load
from .errors import StadError
from .fileio import atomic_open, dump_json, dump_pickle

FRAME_IOU = 0.5
VIDEO_IOUS = (0.2, 0.5)
TUBE_MIN_LEN = 15  # frames; MultiSportsMetric's default `tube_thr`
PREDICTIONS_VERSION = 1


# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------
@dataclass
class ActionMetrics:
    """frame-mAP and video-mAP (fractions) and the per-class APs behind them.

    Attributes:
        frame_map: frame-mAP at the frame IoU (0.5), a fraction in [0, 1] (not
            percent), from MMAction2's `MultiSportsMetric`
            (mmaction/evaluation/metrics/multisports_metric.py).
        video_map: Tube IoU threshold (0.2, 0.5) -> video-mAP, a fraction.
        per_class: One dict per label: `label`, `name`, `gt_boxes`, `gt_tubes`,
            `detections`, `frame_ap@0.5` and `video_ap@<iou>` (fractions; None
            for a class that cannot be scored).
        keyframes: Keyframes scored.
        detections: Boxes scored (one per proposal, its best class).
    """

    frame_map: float
    video_map: dict[float, float]  # IoU threshold -> mAP
    per_class: list[dict[str, Any]] = field(default_factory=list)
    keyframes: int = 0
    detections: int = 0

    def summary(self) -> dict[str, float]:
        """The headline numbers: `{"frame_map": ..., "video_map_0.2": ...,
        "video_map_0.5": ...}`, fractions in [0, 1].
        """
        out = {"frame_map": self.frame_map}
        out.update({f"video_map_{thr:g}": v for thr, v in self.video_map.items()})
        return out


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


# ---------------------------------------------------------------------------
# Predictions of the action model
# ---------------------------------------------------------------------------
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
            from tqdm.auto import tqdm

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
) -> Path:
    """Run the action model over the config's test split; save its predictions.

    `out_pkl` holds a dict: `labels` (class names, when known), `detections`: one
    dict per keyframe with `video` ('sport/name'), `frame` (1-based), `boxes`
    (N, 4) float32 normalized x1 y1 x2 y2 (the proposals) and `scores` (N, C)
    float32, one column per class.

    Raises:
        StadError: missing data, proposals not of the GT, or a checkpoint of
            another model or other classes than the GT's; nothing is written.
    """
    from .action import action_options, check_checkpoint_classes, check_data
    from .train import build_runner, check_checkpoint, load_config

    options = action_options(config, data_root, cfg_options, anno_dir=anno_dir)
    cfg = load_config(config, options)
    check_data(cfg, config, splits=("test_dataloader",))
    check_checkpoint_classes(checkpoint, cfg, config)
    options.update({"load_from": os.fspath(checkpoint), "resume": False,
                    "test_evaluator": [dict(type=_register_collector())]})
    with tempfile.TemporaryDirectory(prefix="stad-eval-") as tmp:
        runner = build_runner(config, tmp, cfg_options=options, quiet=True)
        runner.register_hook(_progress_hook("predict", progress))
        check_checkpoint(runner.model, checkpoint, strict=True, source=config)
        with _quiet_output():
            runner.test()
        results = runner.test_loop.evaluator.metrics[0].collected
        labels = _labels_of(cfg)
    detections = [
        {
            "video": str(video),
            "frame": int(frame),
            "boxes": np.asarray(boxes, np.float32).reshape(-1, 4),
            "scores": np.asarray(scores, np.float32).reshape(len(boxes), -1)
            if len(boxes) else np.zeros((0, len(labels or ())), np.float32),
        }
        for video, frame, boxes, scores in results
    ]
    return dump_pickle({"version": PREDICTIONS_VERSION, "labels": labels,
                        "detections": detections}, out_pkl)


def _labels_of(cfg) -> list[str] | None:
    ann = (cfg.get("test_evaluator") or {}).get("ann_file")
    if ann and Path(ann).is_file():
        return list(MultiSportsGT.load(ann, validate=False).labels)
    return None


def load_predictions(path: str | os.PathLike,
                     gt: MultiSportsGT | None = None) -> list[dict]:
    """The per-keyframe predictions `predict_action` saved (safely unpickled).

    With `gt`, the class names the file was made with must be its labels, in
    that order.

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
        from .action import quote_names

        raise StadError(f"predictions made for {len(saved)} classes"
                        f"{quote_names(saved)}, but the GT {gt.source or ''} has "
                        f"{len(gt.labels)}{quote_names(gt.labels)}", path)
    for i, det in enumerate(raw["detections"]):
        if not isinstance(det, dict) or not {"video", "frame", "boxes",
                                             "scores"} <= set(det):
            raise StadError(f"detection {i}: expected keys video, frame, boxes, "
                            "scores", path)
    return raw["detections"]


# ---------------------------------------------------------------------------
# Action metrics
# ---------------------------------------------------------------------------
@contextlib.contextmanager
def _quiet_output():
    """Silence MMAction2's metric prints, logs and rich progress bars."""
    import logging

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


def _metric_inputs(detections: list[dict], gt: MultiSportsGT,
                   source: str | None) -> list[list]:
    """MultiSportsMetric.process's per-keyframe records from saved predictions."""
    test_videos = set(gt.test_videos)
    out = []
    for det in detections:
        video = str(det["video"]).removesuffix(layout.VIDEO_SUFFIX)
        if video not in test_videos:
            raise StadError(f"prediction for video '{video}', frame {det['frame']}: "
                            "not a video of the test split of the GT "
                            f"{gt.source or ''}", source)
        boxes = np.asarray(det["boxes"], np.float64).reshape(-1, 4).copy()
        scores = np.asarray(det["scores"], np.float64)
        scores = scores.reshape(len(boxes), -1 if len(boxes) else len(gt.labels))
        if scores.shape[1] != len(gt.labels):
            raise StadError(f"prediction for video '{video}', frame {det['frame']}: "
                            f"{scores.shape[1]} class scores, the GT has "
                            f"{len(gt.labels)} labels", source)
        out.append([video, int(det["frame"]), boxes, scores])
    return out


def frame_detections(records: list[list], gt: MultiSportsGT) -> np.ndarray:
    """(N, 8) rows video index, frame, label, score, x1, y1, x2, y2 (pixels).

    Exactly what `MultiSportsMetric.compute_metrics` builds: one row per box,
    for its highest-scoring class only.

    Args:
        records: `[video, frame, boxes (N, 4) normalized, scores (N, C)]` per
            keyframe; every video must be in `gt.test_videos`.
        gt: The GT, for the video index and each frame size in pixels.

    Returns:
        `(N, 8)` float64 array; empty `(0, 8)` when there is no box.
    """
    index = {v: i for i, v in enumerate(gt.test_videos)}
    rows = []
    for video, frame, boxes, scores in records:
        if not len(boxes):
            continue
        h, w = gt.resolution[video]
        label = scores.argmax(1)
        rows.append(np.column_stack([
            np.full(len(boxes), index[video]), np.full(len(boxes), frame), label,
            scores[np.arange(len(boxes)), label], boxes * np.array([w, h, w, h]),
        ]))
    return np.concatenate(rows) if rows else np.zeros((0, 8))


def _metric_with_gt(raw: dict, metric_options: dict):
    """A `MultiSportsMetric` on an already (safely) loaded GT dict.

    Upstream's constructor unpickles `ann_file` itself; ours was loaded with
    `safe_load` and validated, so it is handed over instead.
    """
    from mmaction.evaluation import MultiSportsMetric
    from mmengine.evaluator import BaseMetric

    class MultiSportsMetricGivenGT(MultiSportsMetric):
        def __init__(self):  # noqa: D107 - no file to read
            BaseMetric.__init__(self)
            self.annos = raw
            self.metric_options = metric_options
            self.verbose = False

    return MultiSportsMetricGivenGT()


def _one_label(raw: dict, label: int) -> dict:
    """A GT dict whose tubes are those of `label` only (for per-class AP)."""
    out = dict(raw)
    out["gttubes"] = {v: ({label: t[label]} if label in t else {})
                      for v, t in raw["gttubes"].items()}
    return out


def action_metrics(
    predictions: list[dict] | str | os.PathLike,
    gt: MultiSportsGT | str | os.PathLike,
    frame_iou: float = FRAME_IOU,
    video_ious: tuple[float, ...] = VIDEO_IOUS,
) -> ActionMetrics:
    """frame-mAP@`frame_iou` and video-mAP@`video_ious` of saved predictions.

    The headline numbers come from MMAction2's `MultiSportsMetric`; per-class AP
    from its `frameAP`/`videoAP` run on one class's GT at a time (their mean is
    the headline).

    Args:
        predictions: The per-keyframe dicts of `load_predictions`, or the path
            of a `predict_action` pickle.
        gt: The `MultiSportsGT` (or its file) whose `test_videos` are scored.
        frame_iou: IoU for a box to match in frame-mAP.
        video_ious: Spatio-temporal IoUs for video-mAP.

    Returns:
        An `ActionMetrics` (fractions, not percent).

    Raises:
        StadError: The GT or predictions file is unreadable or invalid, the
            predictions were made for other classes, or name a video or frame
            that is not in the GT's test split.
    """
    from mmaction.evaluation.functional import multisports_utils as mu

    source = None
    if not isinstance(gt, MultiSportsGT):
        gt = MultiSportsGT.load(gt)
    if not isinstance(predictions, list):
        source = os.fspath(predictions)
        predictions = load_predictions(predictions, gt)
    raw = gt.to_dict()
    records = _metric_inputs(predictions, gt, source)

    metric = _metric_with_gt(raw, dict(
        F_mAP=dict(thr=frame_iou),
        V_mAP=dict(thr=tuple(video_ious), all=False, tube_thr=TUBE_MIN_LEN)))
    dets = frame_detections(records, gt)
    with _quiet_output():
        if len(dets):
            upstream = metric.compute_metrics([[v, f, b.copy(), s] for v, f, b, s
                                               in records])
            tubes = mu.link_tubes(raw, dets, len_thre=TUBE_MIN_LEN)
        else:  # upstream cannot score nothing: every AP is 0
            upstream = {"frameAP": 0.0, **{f"v_map@{t}": 0.0 for t in video_ious}}
            tubes = {label: [] for label in range(len(gt.labels))}
        per_class = _per_class(raw, gt, dets, tubes, frame_iou, video_ious)

    video_map = {t: _fraction(upstream[f"v_map@{t}"]) for t in video_ious}
    return ActionMetrics(_fraction(upstream["frameAP"]), video_map, per_class,
                         keyframes=len(records), detections=len(dets))


def _per_class(raw, gt, dets, tubes, frame_iou, video_ious) -> list[dict]:
    from mmaction.evaluation.functional import multisports_utils as mu

    table = gt.box_table(gt.test_videos)
    rows = []
    for label, name in enumerate(gt.labels):
        n_boxes = int((table.label == label).sum())
        n_tubes = sum(len(t.get(label, [])) for v, t in raw["gttubes"].items()
                      if v in set(gt.test_videos))
        row: dict[str, Any] = {"label": label, "name": name, "gt_boxes": n_boxes,
                               "gt_tubes": n_tubes,
                               "detections": int((dets[:, 2] == label).sum())}
        one = _one_label(raw, label)
        scored = n_boxes > 0 and name not in _UNSCORED
        row[f"frame_ap@{frame_iou:g}"] = (
            _fraction(mu.frameAP(one, dets, frame_iou, print_info=False))
            if scored and len(dets) else (0.0 if scored else None))
        for thr in video_ious:
            row[f"video_ap@{thr:g}"] = (
                _fraction(mu.videoAP(one, tubes, thr, print_info=False))
                if scored else None)
        rows.append(row)
    return rows


# Labels mmaction2's frameAP/videoAP skip (too rare in MultiSports).
_UNSCORED = frozenset({
    "aerobic kick jump", "aerobic off axis jump", "aerobic butterfly jump",
    "aerobic balance turn", "basketball save", "basketball jump ball"})


def _fraction(percent: float) -> float:
    value = float(percent) / 100.0
    return 0.0 if math.isnan(value) else round(value, 6)


# ---------------------------------------------------------------------------
# Person detector
# ---------------------------------------------------------------------------
def detector_ap50(
    results: list | dict | str | os.PathLike,
    det_anno: str | os.PathLike,
    gt: MultiSportsGT | str | os.PathLike | None = None,
) -> float:
    """Person bbox AP at IoU 0.5 (fraction) with MMDetection's `CocoMetric`.

    `results` is `stad detect`'s results (a list of per-frame dicts with
    `img_path` and `pred_instances`) or proposals (dict 'sport/video.mp4,0017' ->
    (N, 5) normalized boxes and score; then `gt` gives the frame sizes). Only the
    frames listed in `det_anno` (the val JSON of `stad convert det-anno`) count.

    Args:
        results: `stad detect`'s results or proposals (see above), or the path
            of their pickle.
        det_anno: The COCO-format JSON (https://cocodataset.org/#format-data)
            of `stad convert det-anno`.
        gt: The `MultiSportsGT` (or its file), needed for proposals only.

    Returns:
        AP50 as a fraction in [0, 1], rounded to 6 digits.

    Raises:
        StadError: `det_anno` is missing, the results file is unreadable or of
            an unknown form, or no result is for a frame of `det_anno`.
    """
    import json

    import torch
    from mmdet.evaluation import CocoMetric

    source = None
    if isinstance(results, (str, os.PathLike)):
        source = os.fspath(results)
        results = safe_load(results)
    det_anno = Path(det_anno)
    if not det_anno.is_file():
        raise StadError("det-anno JSON not found (make it with `stad convert "
                        "det-anno`)", det_anno)
    with open(det_anno) as fh:
        images = json.load(fh)["images"]
    by_name = {img["file_name"]: img for img in images}
    frames = _detector_frames(results, gt, source)

    # COCO's default IoU thresholds; AP50 is its `bbox_mAP_50`. (A list such as
    # iou_thrs=[0.5] breaks pycocotools' summary under numpy >= 2.)
    metric = CocoMetric(ann_file=str(det_anno), metric="bbox")
    metric.dataset_meta = {"classes": ("person",)}
    samples = []
    for name, boxes, scores in frames:
        img = by_name.get(name)
        if img is None:
            continue
        samples.append({
            "img_id": img["id"], "ori_shape": (img["height"], img["width"]),
            "pred_instances": {
                "bboxes": torch.as_tensor(np.asarray(boxes, np.float32).reshape(-1, 4)),
                "scores": torch.as_tensor(np.asarray(scores, np.float32).reshape(-1)),
                "labels": torch.zeros(len(scores), dtype=torch.long)}})
    if not samples:
        raise StadError("no detection result is for a frame of the det-anno JSON "
                        f"{det_anno}", source)
    metric.process({}, samples)
    with _quiet_output():
        out = metric.compute_metrics(metric.results)
    return round(float(out["bbox_mAP_50"]), 6)


def _detector_frames(results, gt, source) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(COCO file_name, pixel boxes, scores) per frame from results or proposals."""
    if isinstance(results, list):
        frames = []
        for i, item in enumerate(results):
            try:
                pred = item["pred_instances"]
                frames.append((str(item["img_path"]), pred["bboxes"], pred["scores"]))
            except (KeyError, TypeError):
                raise StadError(f"result {i}: expected img_path and pred_instances "
                                "(bboxes, scores)", source) from None
        return frames
    if isinstance(results, dict):
        if gt is None:
            raise StadError("proposals have normalized boxes: pass the GT for the "
                            "frame sizes", source)
        if not isinstance(gt, MultiSportsGT):
            gt = MultiSportsGT.load(gt)
        frames = []
        for key, arr in results.items():
            try:
                video, frame = layout.parse_ava_key(str(key))
            except ValueError as exc:
                raise StadError(f"proposal {key!r}: {exc}", source) from None
            if video not in gt.resolution:
                raise StadError(f"proposal '{key}': video not in the GT", source)
            h, w = gt.resolution[video]
            arr = np.asarray(arr, np.float64).reshape(len(arr), -1)
            scores = arr[:, 4] if arr.shape[1] > 4 else np.ones(len(arr))
            frames.append((layout.rawframe_relpath(video, frame),
                           arr[:, :4] * np.array([w, h, w, h]), scores))
        return frames
    raise StadError("expected detection results (a list) or proposals (a dict)",
                    source)


# ---------------------------------------------------------------------------
# Everything, written to disk
# ---------------------------------------------------------------------------
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
    from .action import action_options
    from .train import load_config

    out_dir = Path(out_dir)
    options = action_options(config, data_root, cfg_options, anno_dir=anno_dir)
    gt_file = load_config(config, options).test_evaluator.get("ann_file")
    if not gt_file or not Path(gt_file).is_file():
        raise StadError(f"GT file {gt_file} of test_evaluator not found", config)
    gt = MultiSportsGT.load(gt_file)
    if predictions is None:
        predictions = predict_action(config, checkpoint, out_dir / "predictions.pkl",
                                     cfg_options=options, progress=progress)
    action = action_metrics(predictions, gt)
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
