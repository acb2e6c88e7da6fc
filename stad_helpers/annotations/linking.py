"""`stad demo` predictions -> tracks, so a user corrects tracks rather than boxes.

`load_predictions` reads the demo's JSON at its keyframes; `predictions_to_tracks`
links the boxes of consecutive predicted frames greedily by IoU (`box_iou`) with
each track's last box, the simple tracker of the pre-annotation step
(`export_cvat_predictions`).

Used in: 05_your_own_data.
"""

from __future__ import annotations

import numpy as np

from ..predictions import Predictions
from .tracks import PathLike, Track


def load_predictions(path: PathLike, score_thr: float = 0.0) -> Predictions:
    """`stad demo`'s JSON (`Predictions.from_demo_json`), one frame per keyframe.

    Every output frame of the demo repeats its keyframe's boxes, so only the
    keyframes are kept (`Predictions.on_keyframes`; CVAT interpolates between
    them). Actions scoring below `score_thr` are dropped (the box stays, a
    person doing none). Raises `StadError` for a file that is not the demo's.
    """
    preds = Predictions.from_demo_json(path).on_keyframes()
    preds.action_scores[preds.action_scores < score_thr] = 0.0
    return preds


def predictions_to_tracks(preds: Predictions, video: str, iou_thr: float = 0.3,
                          max_gap: int | None = None) -> list[Track]:
    """Link per-frame boxes into tracks, greedily by IoU with each track's last box.

    Each box keeps its best action (None: none scores above 0). A track
    continues over at most `max_gap` frames without a box (default: twice the
    usual step between predicted frames, so `--predict-stepsize` gaps link).
    """
    best, _ = preds.best_actions()
    names = [preds.class_names[c] if c >= 0 else None for c in best.tolist()]
    if max_gap is None:
        steps = np.diff(preds.frame_numbers)
        max_gap = 2 * int(np.median(steps)) if len(steps) else 1
    open_tracks: list[dict] = []
    done: list[dict] = []
    order = np.argsort(preds.frames, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(preds.frames[order]) != 0])
    for rows in np.split(order, starts[1:]):
        if not len(rows):
            continue
        frame = int(preds.frames[rows[0]])
        boxes = preds.boxes[rows].astype(np.float64)
        actions = [names[r] for r in rows]
        alive = [t for t in open_tracks if frame - t["frames"][-1] <= max_gap]
        done += [t for t in open_tracks if frame - t["frames"][-1] > max_gap]
        open_tracks = alive
        taken_t, taken_b = set(), set()
        if alive and len(boxes):
            last = np.stack([t["boxes"][-1] for t in alive])
            iou = box_iou(last, boxes)
            for flat in np.argsort(-iou, axis=None, kind="stable"):
                ti, bi = divmod(int(flat), len(boxes))
                if iou[ti, bi] < iou_thr:
                    break
                if ti in taken_t or bi in taken_b:
                    continue
                taken_t.add(ti)
                taken_b.add(bi)
                t = alive[ti]
                t["frames"].append(frame)
                t["boxes"].append(boxes[bi])
                t["actions"].append(actions[bi])
        for bi in range(len(boxes)):
            if bi not in taken_b:
                open_tracks.append({"frames": [frame], "boxes": [boxes[bi]],
                                    "actions": [actions[bi]]})
    done += open_tracks
    done.sort(key=lambda t: t["frames"][0])
    return [Track(video, str(i), t["frames"], np.stack(t["boxes"]), t["actions"])
            for i, t in enumerate(done)]


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in `a` (n, 4) with every box in `b` (m, 4), xyxy."""
    a, b = np.asarray(a, np.float64)[:, None], np.asarray(b, np.float64)[None]
    w = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]),
                0, None)
    h = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]),
                0, None)
    inter = w * h
    area = lambda x: (x[..., 2] - x[..., 0]) * (x[..., 3] - x[..., 1])  # noqa: E731
    union = area(a) + area(b) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
