"""frame-mAP and video-mAP of saved predictions, overall and per class.

`action_metrics` scores `action_predict`'s predictions with MMAction2's
`MultiSportsMetric`: frame-mAP@0.5 and video-mAP@0.2/0.5 (tubes linked by its
`link_tubes`), plus the same upstream functions once per class for the
per-class table. Scores are fractions in [0, 1] (MMAction2's functions print
percentages).

Upstream behaviour kept on purpose: `MultiSportsMetric` gives each box only its
highest-scoring class (`argmax`), so a box is one detection of one class, not
one per class; the six MultiSports labels upstream excludes ('aerobic kick
jump', ..., 'basketball jump ball') are not scored. mmaction2 1.2.0's tube
linking bugs are fixed in `stad_helpers.compat`.

Used in: 03_action_detector, 05_your_own_data (through `evaluate`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .action_predict import load_predictions, quiet_output
from .data import layout
from .data.gt import MultiSportsGT
from .errors import StadError

FRAME_IOU = 0.5
VIDEO_IOUS = (0.2, 0.5)
TUBE_MIN_LEN = 15  # frames; MultiSportsMetric's default `tube_thr`


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


def _metric_inputs(detections: list[dict], gt: MultiSportsGT,
                   source: str | None) -> list[list]:
    """MultiSportsMetric.process's per-keyframe records from saved predictions."""
    test_videos = set(gt.test_videos)
    out = []
    for det in detections:
        video = str(det["video"]).removesuffix(layout.VIDEO_SUFFIX)
        if video not in test_videos:
            raise StadError(f"prediction for video '{video}', frame {det['frame']}: "
                            "not a video of the val split (test_videos) of the GT "
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
    with quiet_output():
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
