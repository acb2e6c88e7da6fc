"""frame-mAP and video-mAP as MMAction2 computes them, in seconds at full scale.

MMAction2's MultiSports functions (`mmaction/evaluation/functional/
multisports_utils.py`: `frameAP`, `link_tubes`, `videoAP`, with the fixes of
`stad_helpers.compat`) take minutes to hours on the full MultiSports: `frameAP`
matches one detection at a time in Python, and `link_tubes` visits every frame
of every video for each of the 66 labels (80 million iterations, and as many
empty arrays built first). This module gives the same numbers, bit for bit:

- `frame_ap` matches all detections of a class at once (vectorized IoU; the
  greedy "each GT box matches once" rule becomes "the first detection, in
  MMAction2's score order, to reach a GT box at IoU >= thr");
- `link_tubes` runs MMAction2's linking loop only on the frames that have
  detections of the class (an empty frame only ends every open tube, which is
  done in one step), per video, optionally in several processes;
- `video_ap` computes each tube's spatio-temporal IoUs once for all thresholds.

Every floating-point operation that reaches a result is the one upstream does,
in the same order (same numpy ufuncs on the same float64/float32 values, the
same `np.argsort` calls for ties, upstream's `nms_tubelets` and `iou3dt_voc`),
so the APs are equal, not merely close: `tests/test_multisports_map.py`
compares them with MMAction2's on generated predictions, and
`benchmarks/bench_eval.py` at the full dataset's size.

Inputs are upstream's: `anno`, the GT dict (`MultiSportsGT.to_dict()`), and
`dets`, `(N, 8)` float64 rows video index (into `test_videos`), frame (1-based),
label, score, x1, y1, x2, y2 in pixels (`action_eval.frame_detections`). APs are
fractions in [0, 1] per label; the means are in percent, as upstream returns.

Used in: 03_action_detector, 05_your_own_data (through `evaluate`).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence

import numpy as np

# Labels mmaction2's frameAP/videoAP skip (too rare in MultiSports).
UNSCORED = frozenset({
    "aerobic kick jump", "aerobic off axis jump", "aerobic butterfly jump",
    "aerobic balance turn", "basketball save", "basketball jump ball"})
LINK_IOU = 0.5  # link_tubes: a box continues a tube at IoU >= this
NMS_IOU = 0.6  # link_tubes' nms_tubelets threshold and its top_k
NMS_TOP_K = 10
TUBE_MIN_SCORE = 0.005  # link_tubes drops tubes scoring less


def ap_voc(precision: np.ndarray, recall: np.ndarray) -> float:
    """VOC average precision of a precision/recall curve (upstream's
    `pr_to_ap_voc`, with the running maximum vectorized: same result)."""
    recall = np.concatenate([[0], recall, [1]])
    precision = np.concatenate([[0], precision, [0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    indices = np.where(recall[1:] != recall[:-1])[0] + 1
    return np.sum((recall[indices] - recall[indices - 1]) * precision[indices])


def _pr(tp: np.ndarray, gt_num: int) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall after each detection (ranked), as upstream's loop."""
    tps = np.cumsum(tp, dtype=np.int64)
    seen = np.arange(1, len(tp) + 1, dtype=np.int64)
    return tps.astype(np.float64) / seen.astype(np.float64), \
        tps.astype(np.float64) / float(gt_num)


def scored_labels(anno: dict) -> list[int]:
    """Labels upstream scores (not in its excluded list), in label order."""
    return [i for i, name in enumerate(anno["labels"]) if name not in UNSCORED]


# ---------------------------------------------------------------------------
# frame-AP
# ---------------------------------------------------------------------------
def _gt_boxes(anno: dict, label: int) -> tuple[np.ndarray, np.ndarray]:
    """GT boxes of `label` over the test videos: keys (video index, frame) and
    (M, 4) float64 boxes, grouped by key in upstream's order (video, tube, row)."""
    keys, boxes = [], []
    for iv, v in enumerate(anno["test_videos"][0]):
        for tube in anno["gttubes"][v].get(label, ()):
            tube = np.asarray(tube)
            keys.append(np.column_stack([np.full(len(tube), iv, np.int64),
                                         tube[:, 0].astype(np.int64)]))
            boxes.append(tube[:, 1:5].astype(np.float64))
    if not keys:
        return np.zeros((0, 2), np.int64), np.zeros((0, 4))
    keys, boxes = np.concatenate(keys), np.concatenate(boxes)
    order = np.lexsort((keys[:, 1], keys[:, 0]))  # stable: tube order kept per key
    return keys[order], boxes[order]


def _iou_pairs(gt: np.ndarray, det: np.ndarray) -> np.ndarray:
    """Upstream's `iou2d_voc(gt, det)` for row pairs: the same ufuncs in the
    same order (so the same float64 results)."""
    xmin = np.maximum(gt[:, 0], det[:, 0])
    ymin = np.maximum(gt[:, 1], det[:, 1])
    xmax = np.minimum(gt[:, 2], det[:, 2])
    ymax = np.minimum(gt[:, 3], det[:, 3])
    ov = np.maximum(0, xmax - xmin) * np.maximum(0, ymax - ymin)
    area_gt = (gt[:, 2] - gt[:, 0]) * (gt[:, 3] - gt[:, 1])
    area_det = (det[:, 2] - det[:, 0]) * (det[:, 3] - det[:, 1])
    with np.errstate(invalid="ignore", divide="ignore"):
        return ov / (area_gt + area_det - ov)


def _frame_ap_one(anno: dict, dets: np.ndarray, label: int, thr: float
                  ) -> float | None:
    """AP (fraction) of one label, as upstream's frameAP; None without GT."""
    keys, boxes = _gt_boxes(anno, label)
    gt_num = len(boxes)
    if gt_num == 0:
        return None
    detections = dets[dets[:, 2] == label, :]
    ranked = detections[np.argsort(-detections[:, 3])]  # upstream's order
    n = len(ranked)
    if n == 0:
        return ap_voc(np.empty(0), np.empty(0))
    # Each detection's GT boxes: those of its (video, frame), as a range.
    dkey = ranked[:, :2].astype(np.int64)
    width = int(max(keys[:, 1].max(initial=0), dkey[:, 1].max(initial=0))) + 1
    gcode = keys[:, 0] * width + keys[:, 1]
    dcode = dkey[:, 0] * width + dkey[:, 1]
    start = np.searchsorted(gcode, dcode, "left")
    count = np.searchsorted(gcode, dcode, "right") - start
    has = count > 0
    det_of_pair = np.repeat(np.arange(n), count)
    first = np.repeat(start - np.r_[0, np.cumsum(count)[:-1]], count)
    gt_of_pair = first + np.arange(len(det_of_pair))
    ious = _iou_pairs(boxes[gt_of_pair], ranked[det_of_pair, 4:8])
    # np.argmax per detection: the first maximum (a NaN counts as the maximum).
    tp = np.zeros(n, bool)
    if len(ious):
        offsets = np.r_[0, np.cumsum(count[has])[:-1]]
        key = np.where(np.isnan(ious), np.inf, ious)
        best = np.maximum.reduceat(key, offsets)
        is_best = key == np.repeat(best, count[has])
        pos = np.arange(len(ious))
        first_best = np.minimum.reduceat(np.where(is_best, pos, len(ious)), offsets)
        amax_iou = ious[first_best]
        amax_gt = gt_of_pair[first_best]
        hit = amax_iou >= thr  # NaN: False, as upstream
        idx = np.flatnonzero(has)[hit]
        # The first (in rank order) detection reaching a GT box takes it.
        _, first_claim = np.unique(amax_gt[hit], return_index=True)
        tp[idx[first_claim]] = True
    return ap_voc(*_pr(tp, gt_num))


def frame_ap(anno: dict, dets: np.ndarray, thr: float = 0.5,
             labels: Sequence[int] | None = None) -> dict[int, float]:
    """frame-AP per label (fractions), as MMAction2's `frameAP` computes it.

    Args:
        anno: The GT dict (`MultiSportsGT.to_dict()`).
        dets: `(N, 8)` float64 frame detections (see the module doc).
        thr: IoU for a detection to match a GT box.
        labels: Labels to score (default: every label upstream scores).

    Returns:
        label -> AP in [0, 1], for the labels that have GT boxes in the test
        videos (upstream's mean is over exactly these).
    """
    out = {}
    for label in scored_labels(anno) if labels is None else labels:
        ap = _frame_ap_one(anno, dets, label, thr)
        if ap is not None:
            out[label] = ap
    return out


# ---------------------------------------------------------------------------
# Tube linking
# ---------------------------------------------------------------------------
class _Tube:
    """An open tube of upstream's linking: one box per frame, contiguous."""

    __slots__ = ("boxes", "first", "last", "last_xyxy", "mean", "scores")

    def __init__(self, frame: int, box: np.ndarray, xyxy: list):
        self.first = self.last = frame
        self.boxes = [box]  # (5,) float64 rows x1, y1, x2, y2, score
        self.scores = [xyxy[4]]
        self.last_xyxy = xyxy  # the last box as Python floats
        self.mean = None

    def add(self, frame: int, box: np.ndarray, xyxy: list) -> None:
        self.last = frame
        self.boxes.append(box)
        self.scores.append(xyxy[4])
        self.last_xyxy = xyxy
        self.mean = None

    def score(self):
        """Upstream's `tubescore`: np.mean of the boxes' scores (cached)."""
        if self.mean is None:
            self.mean = np.mean(np.array(self.scores))
        return self.mean


def _iou_to(box: list, last: list) -> float:
    """Upstream's `iou2d_voc(box, last)` for one pair, in Python floats (the same
    IEEE operations in the same order; boxes are finite). NaN for 0 / 0."""
    ov = (max(0, min(box[2], last[2]) - max(box[0], last[0]))
          * max(0, min(box[3], last[3]) - max(box[1], last[1])))
    union = ((box[2] - box[0]) * (box[3] - box[1])
             + (last[2] - last[0]) * (last[3] - last[1]) - ov)
    return ov / union if union else float("nan")


def _by_score(tubes: list) -> list:
    """Upstream's order of the open tubes: np.argsort of minus their scores."""
    if len(tubes) < 2:
        return tubes
    return [tubes[i] for i in np.argsort(-np.array([t.score() for t in tubes]))]


def _link_label(frames: np.ndarray, rows: np.ndarray, nframes: int,
                len_thre: int) -> list:
    """Upstream's linking loop (K=1) for one video and label.

    `frames` (n,) sorted 1-based frames with detections, `rows` (n, 5) float64
    x1, y1, x2, y2, score in upstream's row order. Returns upstream's
    `[(tube (L, 6) float32, score), ...]` in its order.

    Upstream loops over every frame 1..nframes; a frame without a detection of
    the label only ends every open tube (sorted by score, ended in reverse), so
    only the frames with detections, and the first empty frame after them, are
    visited here.
    """
    from mmaction.evaluation.functional import multisports_utils as mu

    finished: list[_Tube] = []
    current: list[_Tube] = []
    starts = [0, *(np.flatnonzero(frames[1:] != frames[:-1]) + 1).tolist()]
    ends = [*starts[1:], len(frames)]
    all_boxes, all_values, all_frames = list(rows), rows.tolist(), frames.tolist()
    previous = None
    for a, b in zip(starts, ends):
        frame = all_frames[a]
        if current and frame > previous + 1:  # an empty frame in between
            finished.extend(_by_score(current)[::-1])
            current = []
        previous = frame
        if b - a > 1:  # one box: nms_tubelets returns it unchanged
            tubelets = mu.nms_tubelets(rows[a:b].copy(), NMS_IOU, top_k=NMS_TOP_K)
            boxes, values = list(tubelets), tubelets.tolist()
        else:
            boxes, values = all_boxes[a:b], all_values[a:b]
        if frame == 1:
            current.extend(_Tube(1, box, xyxy) for box, xyxy in zip(boxes, values))
            continue
        current = _by_score(current)
        ended = []
        for it, t in enumerate(current):
            best = -1
            for i, xyxy in enumerate(values):  # first maximum score with IoU >= 0.5
                if _iou_to(xyxy, t.last_xyxy) >= LINK_IOU and (
                        best < 0 or xyxy[4] > values[best][4]):
                    best = i
            if best >= 0:
                t.add(frame, boxes.pop(best), values.pop(best))
            else:
                ended.append(it)
        for it in ended[::-1]:
            finished.append(current[it])
            del current[it]
        current.extend(_Tube(frame, box, xyxy) for box, xyxy in zip(boxes, values))
    if current and previous < nframes:
        finished.extend(_by_score(current)[::-1])
        current = []
    finished += current

    output = []
    for t in finished:
        score = t.score()
        if score < TUBE_MIN_SCORE:
            continue
        length = t.last + 1 - t.first
        if length < len_thre:
            continue
        # Upstream sums each frame's boxes into a float32 array and divides by
        # their count: with one box per frame that is the box cast to float32.
        out = np.zeros((length, 6), dtype=np.float32)
        out[:, 0] = np.arange(t.first, t.last + 1)
        out[:, 1:] = np.array(t.boxes)
        output.append([out, score])
    return output


def _link_videos(job: tuple) -> list:
    """Link the videos of one chunk: [(video, label, [(tube, score), ...])]."""
    groups, len_thre = job
    return [(video, label, _link_label(frames, rows, nframes, len_thre))
            for video, label, frames, rows, nframes in groups]


def link_tubes(anno: dict, dets: np.ndarray, len_thre: int = 15,
               workers: int = 1) -> dict[int, list]:
    """Tubes of each label, as MMAction2's `link_tubes` (K=1) makes them.

    Args:
        anno: The GT dict.
        dets: `(N, 8)` float64 frame detections; frames must be within each
            video's `nframes` (upstream fails otherwise).
        len_thre: Shortest tube kept, in frames.
        workers: Processes linking videos in parallel (1: this process).

    Returns:
        label -> `[(video, score, tube), ...]`, tube `(L, 6)` float32 frame,
        x1, y1, x2, y2, score, in upstream's order (videos in `test_videos`
        order).
    """
    vlist = anno["test_videos"][0]
    nlabels = len(anno["labels"])
    out: dict[int, list] = {label: [] for label in range(nlabels)}
    if not len(dets):
        return out
    video = dets[:, 0].astype(np.int64)
    label = dets[:, 2].astype(np.int64)
    frame = dets[:, 1].astype(np.int64)
    order = np.lexsort((frame, label, video))  # stable: upstream's row order kept
    rows = np.column_stack([dets[:, 4:8], dets[:, 3]])[order]
    video, label, frame = video[order], label[order], frame[order]
    cut = np.flatnonzero(np.r_[True, (video[1:] != video[:-1])
                               | (label[1:] != label[:-1]), True])
    groups = [(vlist[video[a]], int(label[a]), frame[a:b], rows[a:b],
               int(anno["nframes"][vlist[video[a]]]))
              for a, b in zip(cut[:-1], cut[1:])]
    if workers > 1 and len(groups) > 1:
        chunks = np.array_split(np.arange(len(groups)), workers * 4)
        jobs = [([groups[i] for i in c], len_thre) for c in chunks if len(c)]
        ctx = multiprocessing.get_context("fork" if os.name == "posix" else None)
        with ctx.Pool(workers) as pool:
            linked = [r for part in pool.map(_link_videos, jobs) for r in part]
    else:
        linked = _link_videos((groups, len_thre))
    for v, lab, tubes in linked:  # videos in test_videos order, then labels
        out[lab].extend((v, score, tube) for tube, score in tubes)
    return out


# ---------------------------------------------------------------------------
# video-AP
# ---------------------------------------------------------------------------
def _best_gt(anno: dict, label: int, tubes: list) -> tuple[dict, list]:
    """Per ranked tube: (video, index of its best GT tube, that IoU) or None."""
    from mmaction.evaluation.functional import multisports_utils as mu

    gt = {}
    for v in anno["test_videos"][0]:
        found = anno["gttubes"][v].get(label)
        if found is not None and len(found):
            gt[v] = found
    order = np.argsort(-np.array([t[1] for t in tubes]))
    best = []
    for j in order:
        v, _, tube = tubes[j]
        if v in gt:
            ious = [mu.iou3dt_voc(g, tube) for g in gt[v]]
            amax = np.argmax(ious)
            best.append((v, int(amax), ious[amax]))
        else:
            best.append(None)
    return gt, best


def video_ap(anno: dict, tubes: dict[int, list], thrs: Sequence[float] = (0.2, 0.5),
             labels: Sequence[int] | None = None) -> dict[float, dict[int, float]]:
    """video-AP per label (fractions) at each threshold, as MMAction2's `videoAP`.

    Args:
        anno: The GT dict.
        tubes: `link_tubes`' output.
        thrs: Spatio-temporal IoU thresholds.
        labels: Labels to score (default: every label upstream scores).

    Returns:
        threshold -> {label -> AP in [0, 1]}, for the labels with GT tubes.
    """
    out: dict[float, dict[int, float]] = {thr: {} for thr in thrs}
    for label in scored_labels(anno) if labels is None else labels:
        gt, best = _best_gt(anno, label, tubes[label])
        gt_num = sum(len(g) for g in gt.values())
        if gt_num == 0:
            continue
        for thr in thrs:
            taken = {v: np.zeros(len(g), bool) for v, g in gt.items()}
            tp = np.zeros(len(best), bool)
            for i, found in enumerate(best):
                if found is not None and found[2] >= thr and not taken[found[0]][
                        found[1]]:
                    tp[i] = taken[found[0]][found[1]] = True
            out[thr][label] = ap_voc(*_pr(tp, gt_num))
    return out


def mean_percent(aps: dict[int, float]) -> float:
    """Upstream's mean: `np.mean(100 * APs)` in label order (NaN when empty)."""
    if not aps:
        return float("nan")
    return np.mean(100 * np.array([aps[k] for k in sorted(aps)]))


__all__ = ["LINK_IOU", "NMS_IOU", "NMS_TOP_K", "TUBE_MIN_SCORE", "UNSCORED", "ap_voc",
           "frame_ap", "link_tubes", "mean_percent", "scored_labels", "video_ap"]
