"""One frame with its ground truth, predictions and proposals, as a figure.

`show_frame(video, frame, gt=gt, predictions=preds)` draws with matplotlib (a
figure in the notebook, boxes as patches); with `as_array=True` it returns the
frame drawn by the `Annotator`, as in clips and the player. Both use the same
palette and label text (`stad_helpers.viz.annotate.label_text`): ground truth
solid with names above the box, predictions dashed with 'name score' below.

Also the small resolvers the clip writer and the player share: `video_key` (the
GT key of a video file) and `as_predictions` (a `Predictions` or the demo's JSON).

Used in: 01_dataset, 02_person_detector, 04_inference_demo.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Union

import numpy as np

from ..errors import StadError
from ..predictions import Predictions
from .annotate import annotate_frame, box_labels
from .palette import (
    DEFAULT_PALETTE,
    GT_STYLE,
    PRED_STYLE,
    PROPOSAL_STYLE,
    BoxStyle,
    Palette,
)
from .reader import read_frame

PathLike = Union[str, os.PathLike]


# ---------------------------------------------------------------------------
# Resolving inputs
# ---------------------------------------------------------------------------
def video_key(path: PathLike, gt=None) -> str | None:
    """The GT key ('sport/name') of a video file; None if `gt` lacks the video."""
    p = Path(path)
    key = f"{p.parent.name}/{p.stem}"
    if gt is None:
        return key
    return key if key in gt.nframes else None


def as_predictions(src: Predictions | PathLike | None) -> Predictions | None:
    """A `Predictions` as given, or read from the demo's JSON (a path); None stays.

    Raises `StadError` for an unreadable JSON, `TypeError` for other objects.

    Raises:
        StadError: The JSON is missing or not the demo's (`from_demo_json`).
        TypeError: `src` is neither a `Predictions`, a path nor None.
    """
    if src is None or isinstance(src, Predictions):
        return src
    if isinstance(src, (str, os.PathLike)):
        return Predictions.from_demo_json(src)
    raise TypeError(f"predictions must be a Predictions or the demo's JSON path, not "
                    f"{type(src).__name__}")


def frame_sources(gt, predictions: Predictions | PathLike | None,
                  video: str | None) -> tuple[Predictions | None, Predictions | None]:
    """(the video's ground truth, its predictions) as `Predictions`, each or None."""
    gt_preds = Predictions.from_gt(gt, video) if gt is not None and video else None
    return gt_preds, as_predictions(predictions)


def _proposals(value: Any, frame: int, size: tuple[int, int]) -> Predictions | None:
    """Person proposals: a `Predictions`, or an (N, 4|5) array normalized to [0, 1]
    (one keyframe's entry of an MMAction2 proposal file)."""
    if value is None or isinstance(value, Predictions):
        return value
    return Predictions.from_mmdet(value, frame, normalized=True, size=size)


# ---------------------------------------------------------------------------
# matplotlib
# ---------------------------------------------------------------------------
def _mpl_boxes(ax, preds: Predictions, style: BoxStyle, palette: Palette,
               show_scores: bool, labels_at: str, score_thr: float,
               size: tuple[int, int]) -> None:
    from matplotlib.patches import Rectangle

    h, _ = size
    best, _ = preds.best_actions(score_thr)
    for row in range(len(preds)):
        x1, y1, x2, y2 = (float(v) for v in preds.boxes[row])
        label = int(best[row]) if best[row] >= 0 else None
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False,
                               edgecolor=palette.mpl(label),
                               linewidth=style.linewidth, linestyle=style.linestyle))
        # Below the box (predictions) or above it (GT), inside where the frame
        # ends; lines stack away from the edge, in points.
        below = labels_at == "below"
        y = y2 if below else y1
        va = "top" if (y2 < 0.92 * h if below else y1 <= 0.08 * h) else "bottom"
        for k, (c, text) in enumerate(box_labels(preds, row, score_thr, show_scores)):
            dy = (-11 if va == "top" else 11) * k
            ax.annotate(text, (max(x1, 0), y), xytext=(0, dy),
                        textcoords="offset points", fontsize=8, va=va, ha="left",
                        annotation_clip=True,
                        color=tuple(v / 255 for v in palette.text_rgb(c)),
                        bbox=dict(facecolor=palette.mpl(c), edgecolor="none",
                                  pad=1.0, alpha=0.9))


def show_frame(
    video_or_frame: PathLike | np.ndarray,
    frame_idx: int,
    gt=None,
    predictions: Predictions | PathLike | None = None,
    ax=None,
    *,
    video: str | None = None,
    proposals: Any = None,
    score_thr: float = 0.0,
    rgb: bool = False,
    as_array: bool = False,
    palette: Palette = DEFAULT_PALETTE,
    legend: bool = True,
):
    """Frame `frame_idx` (1-based) with GT (solid) and predicted (dashed) boxes.

    `video_or_frame` is an mp4 path or an (H, W, 3) uint8 frame (BGR unless
    `rgb`); `gt` a `MultiSportsGT` (the video's key is `video`, or taken from
    the path); `predictions` a `Predictions` (its rows at `frame_idx` are drawn)
    or the demo's JSON; `proposals` a `Predictions` or an (N, 4|5) array
    normalized to [0, 1] as in MMAction2's proposal files, drawn grey. Actions
    scoring below `score_thr` are not listed. Returns the matplotlib Figure, or
    with `as_array` the annotated BGR ndarray (the `Annotator`'s drawing).
    Raises `StadError` for an unreadable video or predictions file.

    Raises:
        StadError: An unreadable video or predictions file, or a frame given as
            an array with a `gt` but no `video` to find its boxes.
    """
    if isinstance(video_or_frame, np.ndarray):
        image = video_or_frame[..., ::-1] if rgb else video_or_frame
    else:
        image = read_frame(video_or_frame, frame_idx)
        video = video or video_key(video_or_frame, gt)
    size = image.shape[:2]
    if gt is not None and video is None:
        raise StadError("show_frame: the frame is of no video of the GT; name the "
                        "video (`video='sport/name'`)", gt.source)
    gt_all, preds_all = frame_sources(gt, predictions, video)
    gt_boxes = gt_all.at(frame_idx) if gt_all is not None else None
    pred_boxes = preds_all.at(frame_idx) if preds_all is not None else None
    props = _proposals(proposals, frame_idx, size)
    if as_array:
        return annotate_frame(image, gt_boxes, pred_boxes, score_thr=score_thr,
                              proposals=props, palette=palette)

    import matplotlib.pyplot as plt

    if ax is None:
        h, w = size
        fig, ax = plt.subplots(figsize=(7.0, 7.0 * h / w + 0.3))
    else:
        fig = ax.figure
    ax.imshow(np.ascontiguousarray(image[..., ::-1]))
    ax.set_axis_off()
    if props is not None and len(props):
        _mpl_boxes(ax, props, PROPOSAL_STYLE, palette, False, "below", 0.0, size)
    if gt_boxes is not None:
        _mpl_boxes(ax, gt_boxes, GT_STYLE, palette, False, "above", 0.0, size)
    if pred_boxes is not None:
        _mpl_boxes(ax, pred_boxes, PRED_STYLE, palette, True, "below", score_thr,
                   size)
    ax.set_title(f"{video + ' · ' if video else ''}frame {int(frame_idx)}", fontsize=10)
    if legend:
        _style_legend(ax, gt_boxes is not None, pred_boxes is not None,
                      props is not None and len(props) > 0, palette)
    return fig


def _style_legend(ax, gt: bool, pred: bool, props: bool, palette: Palette) -> None:
    from matplotlib.lines import Line2D

    handles = []
    if gt:
        handles.append(Line2D([], [], color="k", lw=GT_STYLE.linewidth,
                              ls=GT_STYLE.linestyle, label="ground truth"))
    if pred:
        handles.append(Line2D([], [], color="k", lw=PRED_STYLE.linewidth,
                              ls=PRED_STYLE.linestyle, label="prediction"))
    if props:
        handles.append(Line2D([], [], color=palette.mpl(None),
                              lw=PROPOSAL_STYLE.linewidth, ls=PROPOSAL_STYLE.linestyle,
                              label="person proposal"))
    if handles:
        ax.legend(handles=handles, loc="upper right", fontsize=7, framealpha=0.7)


__all__ = ["as_predictions", "frame_sources", "show_frame", "video_key"]
