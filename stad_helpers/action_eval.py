"""frame-mAP and video-mAP of saved predictions, overall and per class.

`action_metrics` scores the action model's predictions, one `Predictions` per
val video (`action_predict.predict_action` / `read_predictions`), as MMAction2's
`MultiSportsMetric` does: frame-mAP@0.5 and video-mAP@0.2/0.5 (tubes linked by
its `link_tubes`), plus per-class AP. `frame_detections` is the one conversion
from `Predictions` to the metric's input. The numbers come from
`stad_helpers.multisports_map`, which gives MMAction2's numbers bit for bit in a
fraction of the time (`reference=True` runs MMAction2's own functions instead;
`tests/test_multisports_map.py` compares the two). Scores are fractions in
[0, 1] (MMAction2's functions print percentages).

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
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import multisports_map as msm
from .action_predict import (
    quiet_output,
    read_predictions,
    video_predictions,
)
from .data.gt import MultiSportsGT
from .errors import StadError
from .predictions import Predictions

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


def frame_detections(predictions: Sequence[Predictions] | list[list],
                     gt: MultiSportsGT) -> np.ndarray:
    """(N, 8) rows video index, frame, label, score, x1, y1, x2, y2 (pixels).

    The input of MMAction2's `frameAP` and `link_tubes`, as
    `MultiSportsMetric.compute_metrics` builds it: one row per box, for its
    highest-scoring class only, in the order of the predictions (then of their
    rows). The one place predictions become the metric's input.

    Args:
        predictions: One `Predictions` per video (boxes in pixels of the GT
            resolution, `video` in `gt.test_videos`, one score column per GT
            label), or `MultiSportsMetric.process` records `[video, frame,
            boxes (N, 4) normalized, scores (N, C)]`.
        gt: The GT, for the video index (and the records' frame size).

    Returns:
        `(N, 8)` float64 array; empty `(0, 8)` when there is no box.
    """
    index = {v: i for i, v in enumerate(gt.test_videos)}
    rows = []
    for item in predictions:
        if isinstance(item, Predictions):
            boxes = item.boxes.astype(np.float64)
            scores = item.action_scores.astype(np.float64)
            video, frames = item.video, item.frames
        else:
            video, frame, boxes, scores = item
            h, w = gt.resolution[video]
            boxes = boxes * np.array([w, h, w, h])
            frames = np.full(len(boxes), frame)
        if not len(boxes):
            continue
        label = scores.argmax(1)
        rows.append(np.column_stack([
            np.full(len(boxes), index[video]), frames, label,
            scores[np.arange(len(boxes)), label], boxes,
        ]))
    return np.concatenate(rows).astype(np.float64) if rows else np.zeros((0, 8))


def _checked(predictions: Sequence[Predictions], gt: MultiSportsGT
             ) -> list[Predictions]:
    """`predictions` if they can be scored on `gt`, else a StadError."""
    test_videos = set(gt.test_videos)
    for p in predictions:
        where = f"predictions for video {p.video!r}"
        if p.video not in test_videos:
            raise StadError(f"{where}: not a video of the val split (test_videos) "
                            f"of the GT", gt.source)
        if list(p.class_names) != list(gt.labels):
            raise StadError(f"{where}: classes {list(p.class_names)[:5]}... are not "
                            f"the GT's {len(gt.labels)} labels", gt.source)
        if p.size is not None and tuple(p.size) != tuple(gt.resolution[p.video]):
            raise StadError(f"{where}: boxes on frames of {p.size} (height, width), "
                            f"the GT says {gt.resolution[p.video]}", gt.source)
        if len(p) and p.frames.max() > gt.nframes[p.video]:
            raise StadError(f"{where}: frame {int(p.frames.max())} beyond the "
                            f"video's {gt.nframes[p.video]} frames", gt.source)
    return list(predictions)


def _one_label(raw: dict, label: int) -> dict:
    """A GT dict whose tubes are those of `label` only (for per-class AP)."""
    out = dict(raw)
    out["gttubes"] = {v: ({label: t[label]} if label in t else {})
                      for v, t in raw["gttubes"].items()}
    return out


def action_metrics(
    predictions: Sequence[Predictions] | list[dict] | str | os.PathLike,
    gt: MultiSportsGT | str | os.PathLike,
    frame_iou: float = FRAME_IOU,
    video_ious: tuple[float, ...] = VIDEO_IOUS,
    *,
    reference: bool = False,
    workers: int = 1,
) -> ActionMetrics:
    """frame-mAP@`frame_iou` and video-mAP@`video_ious` of the predictions.

    The numbers are MMAction2's `MultiSportsMetric`'s (its `frameAP`,
    `link_tubes`, `videoAP` with `stad_helpers.compat`'s fixes, rounded as it
    rounds), computed by `multisports_map`, which gives the same numbers bit
    for bit; per-class AP is the same per label (their mean is the headline).

    Args:
        predictions: One `Predictions` per val video (`predict_action`,
            `read_predictions`), the path of a `predict_action` pickle, or its
            per-keyframe dicts (`load_predictions`).
        gt: The `MultiSportsGT` (or its file) whose `test_videos` are scored.
        frame_iou: IoU for a box to match in frame-mAP.
        video_ious: Spatio-temporal IoUs for video-mAP.
        reference: Compute with MMAction2's own functions (minutes to hours on
            the full MultiSports; for checking `multisports_map`).
        workers: Processes linking tubes in parallel (fast path only).

    Returns:
        An `ActionMetrics` (fractions, not percent).

    Raises:
        StadError: The GT or predictions file is unreadable or invalid, the
            predictions were made for other classes or frame sizes, or name a
            video or frame that is not in the GT's test split.
    """
    if not isinstance(gt, MultiSportsGT):
        gt = MultiSportsGT.load(gt)
    if isinstance(predictions, (str, os.PathLike)):
        predictions = read_predictions(predictions, gt)
    elif predictions and not isinstance(predictions[0], Predictions):
        predictions = video_predictions(list(predictions), gt)
    predictions = _checked(predictions, gt)
    raw = gt.to_dict()
    dets = frame_detections(predictions, gt)
    keyframes = sum(len(p.meta.get("keyframes_run", p.frame_numbers))
                    for p in predictions)
    if reference:
        headline, per_class = _upstream(raw, gt, dets, frame_iou, video_ious)
    else:
        headline, per_class = _fast(raw, gt, dets, frame_iou, video_ious, workers)
    video_map = {t: _fraction(headline[f"v_map@{t}"]) for t in video_ious}
    return ActionMetrics(_fraction(headline["frameAP"]), video_map, per_class,
                         keyframes=keyframes, detections=len(dets))


def _fast(raw, gt, dets, frame_iou, video_ious, workers) -> tuple[dict, list]:
    """Headline (percent, rounded as MultiSportsMetric) and per-class rows."""
    frame_aps = msm.frame_ap(raw, dets, frame_iou)
    tubes = msm.link_tubes(raw, dets, len_thre=TUBE_MIN_LEN, workers=workers)
    video_aps = msm.video_ap(raw, tubes, video_ious)
    headline = {"frameAP": round(msm.mean_percent(frame_aps), 4)}
    headline.update({f"v_map@{t}": round(msm.mean_percent(video_aps[t]), 4)
                     for t in video_ious})

    def frame(label):
        return _fraction(100 * frame_aps.get(label, 0.0))

    def video(label, thr):
        return _fraction(100 * video_aps[thr].get(label, 0.0))

    return headline, _rows(raw, gt, dets, frame_iou, video_ious, frame, video)


def _upstream(raw, gt, dets, frame_iou, video_ious) -> tuple[dict, list]:
    """The same with MMAction2's functions (MultiSportsMetric.compute_metrics's
    steps on the same detections; per class on one label's GT at a time)."""
    from mmaction.evaluation.functional import multisports_utils as mu

    with quiet_output():
        if len(dets):
            headline = {"frameAP": round(mu.frameAP(raw, dets, frame_iou, False), 4)}
            tubes = mu.link_tubes(raw, dets, len_thre=TUBE_MIN_LEN)
            headline.update({f"v_map@{t}": round(mu.videoAP(raw, tubes, t, False), 4)
                             for t in video_ious})
        else:  # upstream cannot score nothing: every AP is 0
            headline = {"frameAP": 0.0, **{f"v_map@{t}": 0.0 for t in video_ious}}
            tubes = {label: [] for label in range(len(gt.labels))}

        def frame(label):
            if not len(dets):
                return 0.0
            return _fraction(mu.frameAP(_one_label(raw, label), dets, frame_iou,
                                        print_info=False))

        def video(label, thr):
            return _fraction(mu.videoAP(_one_label(raw, label), tubes, thr,
                                        print_info=False))

        return headline, _rows(raw, gt, dets, frame_iou, video_ious, frame, video)


def _rows(raw, gt, dets, frame_iou, video_ious, frame_ap, video_ap) -> list[dict]:
    """One row per label: counts and the APs `frame_ap(label)` and
    `video_ap(label, thr)` give (None for a class that cannot be scored)."""
    table = gt.box_table(gt.test_videos)
    test_videos = set(gt.test_videos)
    rows = []
    for label, name in enumerate(gt.labels):
        n_boxes = int((table.label == label).sum())
        n_tubes = sum(len(t.get(label, [])) for v, t in raw["gttubes"].items()
                      if v in test_videos)
        row: dict[str, Any] = {"label": label, "name": name, "gt_boxes": n_boxes,
                               "gt_tubes": n_tubes,
                               "detections": int((dets[:, 2] == label).sum())}
        scored = n_boxes > 0 and name not in msm.UNSCORED
        row[f"frame_ap@{frame_iou:g}"] = frame_ap(label) if scored else None
        for thr in video_ious:
            row[f"video_ap@{thr:g}"] = video_ap(label, thr) if scored else None
        rows.append(row)
    return rows


def _fraction(percent: float) -> float:
    value = float(percent) / 100.0
    return 0.0 if math.isnan(value) else round(value, 6)
