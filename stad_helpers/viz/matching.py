"""frame-mAP vs video-mAP: how each matches predictions to the ground truth.

| function             | what                                                 |
|----------------------|------------------------------------------------------|
| `linked_tubes`       | predicted tubes as video-mAP links them              |
| `tube_iou`           | spatio-temporal IoU of two tubes (video-mAP's)       |
| `plot_tubes`         | GT and linked predicted tubes on a timeline          |
| `frame_matches`      | one frame's true positives, false positives, misses  |
| `plot_frame_matches` | that frame, drawn                                    |

Predictions come as `evaluate`'s `predictions.pkl`, as one
`stad_helpers.predictions.Predictions` per video (`action_eval.read_predictions`)
or as its per-keyframe records (`action_predict.load_predictions`); they become
the metric's input through `action_eval.frame_detections` and are linked by
`multisports_map.link_tubes`, exactly as `action_eval.action_metrics` scores them.

Used in: 03_action_detector.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .. import multisports_map as msm
from ..action_eval import (
    FRAME_IOU,
    TUBE_MIN_LEN,
    frame_detections,
    read_predictions,
    video_predictions,
)
from ..data.gt import MultiSportsGT
from ..errors import StadError
from ..predictions import Predictions
from .palette import DEFAULT_PALETTE, Palette

PathLike = str | os.PathLike


@dataclass
class LinkedTube:
    """A predicted tube as video-mAP's linking makes it.

    Attributes:
        label: 0-based class.
        score: The tube's score (mean of its boxes' scores for `label`).
        boxes: `(n, 5)` float32: frame (1-based), x1, y1, x2, y2 in pixels.
    """

    label: int
    score: float
    boxes: np.ndarray


PredictionsLike = PathLike | Sequence[Predictions] | list[dict]


def _video_predictions(predictions: PredictionsLike, gt: MultiSportsGT,
                       video: str) -> list[Predictions]:
    """`video`'s `Predictions` (one or none) from any accepted form, checked
    against `gt` as `action_eval` checks them."""
    if video not in gt.test_videos:
        raise StadError(f"video {video!r} is not in the val split (test_videos)",
                        gt.source)
    if isinstance(predictions, (str, os.PathLike)):
        predictions = read_predictions(predictions, gt)
    elif predictions and not isinstance(predictions[0], Predictions):
        predictions = video_predictions(list(predictions), gt)
    return [p for p in predictions if p.video == video]


def linked_tubes(predictions: PredictionsLike, gt: MultiSportsGT, video: str,
                 min_len: int | None = None) -> list[LinkedTube]:
    """The predicted tubes of `video`, linked as MMAction2's video-mAP links them.

    Each keyframe's boxes keep their best class only (as `MultiSportsMetric`
    does: `action_eval.frame_detections`); `multisports_map.link_tubes`
    (MMAction2's `link_tubes`, bit for bit) joins boxes of one class frame to
    frame and drops tubes shorter than `min_len` frames.

    Args:
        predictions: `evaluate`'s `predictions.pkl`, one `Predictions` per video
            (`action_eval.read_predictions`), or the file's records
            (`action_predict.load_predictions`).
        gt: The `MultiSportsGT` scored against.
        video: A video of `gt.test_videos`.
        min_len: Shortest tube kept (default: `TUBE_MIN_LEN`, 15 frames).

    Returns:
        The tubes, best score first.

    Raises:
        StadError: `video` is not a test video, or the predictions are unusable
            (`action_eval.read_predictions` / `video_predictions` say why).
    """
    dets = frame_detections(_video_predictions(predictions, gt, video), gt)
    if not len(dets):
        return []
    tubes = msm.link_tubes(gt.to_dict(), dets, len_thre=min_len or TUBE_MIN_LEN)
    out = [LinkedTube(int(label), float(score), np.asarray(tube[:, :5], np.float32))
           for label, found in tubes.items() for v, score, tube in found
           if v == video]
    return sorted(out, key=lambda t: -t.score)


def tube_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Spatio-temporal IoU of two tubes `(n, 5)` (frame, x1, y1, x2, y2): the
    temporal IoU times the mean box IoU over the frames both cover (MMAction2's
    `iou3dt_voc`, the measure of video-mAP)."""
    from mmaction.evaluation.functional import multisports_utils as mu

    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if max(a[0, 0], b[0, 0]) > min(a[-1, 0], b[-1, 0]):
        return 0.0
    return float(mu.iou3dt_voc(a, b))


def plot_tubes(gt, video: str, tubes: Sequence[LinkedTube] = (),
               keyframes: Sequence[int] | None = None, ax=None,
               palette: Palette = DEFAULT_PALETTE):
    """GT tubes (solid) and predicted tubes (hatched) of `video` on a timeline.

    Each predicted tube is labelled with its score and its best spatio-temporal
    IoU with a GT tube of the same class (video-mAP counts it a hit at IoU 0.2
    or 0.5); ticks mark the keyframes frame-mAP scores one by one.

    Returns:
        The matplotlib Figure.

    Raises:
        StadError: `video` is not in the GT.
    """
    import matplotlib.pyplot as plt

    if video not in gt.nframes:
        raise StadError(f"video {video!r} is not in the annotation", gt.source)
    truth = sorted(gt.tubes([video]), key=lambda t: (t.boxes[0, 0], t.label))
    rows = [(f"GT {gt.labels[t.label]} #{t.index}", t.boxes, t.label, None)
            for t in truth]
    for t in tubes:
        same = [tube_iou(t.boxes, g.boxes) for g in truth if g.label == t.label]
        rows.append((f"pred {gt.labels[t.label]} ({t.score:.2f})", t.boxes, t.label,
                     max(same, default=0.0)))
    if ax is None:
        fig, ax = plt.subplots(figsize=(9, 1.0 + 0.32 * max(len(rows), 1)))
    else:
        fig = ax.figure
    for y, (_, boxes, label, iou) in enumerate(rows):
        start, end = float(boxes[0, 0]), float(boxes[-1, 0])
        ax.barh(y, end - start + 1, left=start - 0.5, height=0.7 if iou is None
                else 0.45, color=palette.mpl(label), alpha=1.0 if iou is None
                else 0.6, hatch=None if iou is None else "//", edgecolor="white")
        if iou is not None:
            ax.text(end + 1, y, f"ST-IoU {iou:.2f}", va="center", fontsize=7)
    if keyframes is not None and len(keyframes):
        ax.scatter(list(keyframes), np.full(len(keyframes), -0.75), marker="|",
                   color="0.4", s=30, clip_on=False)
    ax.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize=7)
    ax.set_ylim(len(rows) - 0.5, -1.0)
    ax.set_xlim(0.5, gt.nframes[video] + 12)
    ax.set_xlabel("frame (ticks on top: keyframes scored by frame-mAP)")
    ax.set_title(f"{video}: {len(truth)} GT tube(s), {len(tubes)} predicted",
                 fontsize=10)
    fig.tight_layout()
    return fig


@dataclass
class FrameMatches:
    """One frame scored as frame-mAP scores it.

    Attributes:
        video, frame: Where (1-based frame).
        true_positives: `(k, 6)` label, score, x1, y1, x2, y2 (pixels): a box
            whose best class is a GT box's class there at IoU >= `iou`.
        false_positives: `(k, 6)` the same columns: wrong class, bad box or a
            second box on an already matched person.
        misses: `(k, 5)` label, x1, y1, x2, y2: GT boxes no prediction matched.
        iou: The IoU threshold used.
    """

    video: str
    frame: int
    true_positives: np.ndarray
    false_positives: np.ndarray
    misses: np.ndarray
    iou: float


def frame_matches(predictions: PredictionsLike, gt: MultiSportsGT, video: str,
                  frame: int, iou: float = FRAME_IOU) -> FrameMatches:
    """Match one keyframe's predictions to its GT boxes as frame-mAP does.

    Each box keeps its best class; boxes are taken best score first and each
    matches the unmatched GT box of its class with the highest IoU if that IoU
    is at least `iou` (VOC matching, as MMAction2's `frameAP`).

    Args:
        predictions: `evaluate`'s `predictions.pkl`, one `Predictions` per video
            (`action_eval.read_predictions`), or the file's records.
        gt: The `MultiSportsGT`.
        video: A test video.
        frame: 1-based keyframe.
        iou: Frame IoU threshold (frame-mAP@0.5).

    Returns:
        A `FrameMatches`.

    Raises:
        StadError: `video` is not a test video, or the predictions are unusable.
    """
    from mmaction.evaluation.functional import multisports_utils as mu

    keyframe = [p.at(frame) for p in _video_predictions(predictions, gt, video)]
    dets = frame_detections(keyframe, gt)[:, 2:]  # label, score, x1..y2
    dets = dets[np.argsort(-dets[:, 1], kind="stable")] if len(dets) else dets
    truth = [(t.label, t.boxes[t.boxes[:, 0] == frame, 1:5][0])
             for t in gt.tubes([video]) if (t.boxes[:, 0] == frame).any()]
    used = [False] * len(truth)
    tp, fp = [], []
    for det in dets:
        label = int(det[0])
        best, which = 0.0, -1
        for j, (g_label, box) in enumerate(truth):
            if g_label != label or used[j]:
                continue
            value = float(mu.iou2d_voc(box, det[2:6])[0])
            if value > best:
                best, which = value, j
        if which >= 0 and best >= iou:
            used[which] = True
            tp.append(det)
        else:
            fp.append(det)
    misses = [np.r_[label, box] for (label, box), u in zip(truth, used) if not u]
    as_rows = lambda rows, n: np.array(rows, np.float64).reshape(-1, n)  # noqa: E731
    return FrameMatches(video, int(frame), as_rows(tp, 6), as_rows(fp, 6),
                        as_rows(misses, 5), iou)


def plot_frame_matches(matches: FrameMatches, image: np.ndarray, labels:
                       Sequence[str] = (), ax=None):
    """The frame with true positives (green), false positives (red, dashed) and
    misses (orange, dotted), each labelled.

    Args:
        matches: `frame_matches`' result.
        image: That frame, RGB `(H, W, 3)` uint8.
        labels: Class names (default: numbers).

    Returns:
        The matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 4.2))
    else:
        fig = ax.figure
    ax.imshow(image)

    def name(label: float) -> str:
        i = int(label)
        return labels[i] if 0 <= i < len(labels) else str(i)

    kinds = (("true positive", matches.true_positives, "limegreen", "-", True),
             ("false positive", matches.false_positives, "red", "--", True),
             ("miss", matches.misses, "orange", ":", False))
    for kind, rows, colour, style, scored in kinds:
        for row in rows:
            x1, y1, x2, y2 = row[2:6] if scored else row[1:5]
            ax.add_patch(plt.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False,
                                       ec=colour, ls=style, lw=2))
            text = f"{kind}: {name(row[0])}" + (f" {row[1]:.2f}" if scored else "")
            ax.text(x1, y2 if kind == "miss" else y1, text, fontsize=7,
                    va="top" if kind == "miss" else "bottom",
                    bbox=dict(fc=colour, ec="none", alpha=0.8, pad=1))
    ax.set_title(f"{matches.video} frame {matches.frame}: "
                 f"{len(matches.true_positives)} TP, "
                 f"{len(matches.false_positives)} FP, {len(matches.misses)} missed "
                 f"(IoU >= {matches.iou:g})", fontsize=9)
    ax.axis("off")
    fig.tight_layout()
    return fig
