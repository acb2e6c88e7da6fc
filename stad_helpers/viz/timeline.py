"""Tubes on a timeline: one bar per GT tube over its frames, and predictions.

`plot_tube_timeline(gt, video)` shows when each action happens in a video
(class colours from `stad_helpers.viz.palette`); with predictions, one hatched
row per predicted class marks the frames where it is a box's best action.

Used in: 01_dataset.
"""

from __future__ import annotations

import os
from typing import Union

import numpy as np

from ..errors import StadError
from ..predictions import Predictions
from .palette import DEFAULT_PALETTE, Palette

PathLike = Union[str, os.PathLike]


def _runs(frames: np.ndarray) -> list[tuple[int, int]]:
    """Consecutive runs of sorted unique frame numbers as (start, length)."""
    if len(frames) == 0:
        return []
    breaks = np.flatnonzero(np.diff(frames) > 1)
    starts = np.r_[frames[0], frames[breaks + 1]]
    ends = np.r_[frames[breaks], frames[-1]]
    return [(int(s), int(e - s + 1)) for s, e in zip(starts, ends)]


def plot_tube_timeline(gt, video: str,
                       predictions: Predictions | PathLike | None = None,
                       score_thr: float = 0.3, ax=None,
                       palette: Palette = DEFAULT_PALETTE):
    """One bar per GT tube over its frames (class colour), sorted by start.

    With `predictions` (a `Predictions` for this video, or the demo's JSON), one
    hatched row per predicted class shows the frames where it is a box's best
    action scoring `score_thr` or more. Raises `StadError` when `video` is not
    in the GT.

    Raises:
        StadError: `video` is not in the GT, or the predictions file is
            unreadable.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from .show import as_predictions

    if video not in gt.nframes:
        raise StadError(f"video {video!r} is not in the annotation", gt.source)
    tubes = sorted(gt.tubes([video]), key=lambda t: (t.boxes[0, 0], t.label))
    rows: list[tuple[str, list[tuple[int, int]], int, bool]] = []
    for t in tubes:
        frames = np.unique(np.rint(t.boxes[:, 0]).astype(int))
        rows.append((f"{gt.labels[t.label]} #{t.index}", _runs(frames), t.label, False))
    if predictions is not None:
        preds = as_predictions(predictions)
        best, _ = preds.best_actions(score_thr)
        by_label: dict[int, list[int]] = {}
        for lab in np.unique(best[best >= 0]):
            by_label[int(lab)] = np.unique(preds.frames[best == lab]).tolist()
        for lab in sorted(by_label):
            name = preds.class_names[lab]
            rows.append((f"pred: {name}", _runs(np.array(sorted(by_label[lab]))), lab,
                         True))
    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 0.9 + 0.3 * max(len(rows), 1)))
    else:
        fig = ax.figure
    for y, (_, runs, label, predicted) in enumerate(rows):
        color = palette.mpl(label)
        for start, length in runs:
            ax.barh(y, length, left=start - 0.5, height=0.45 if predicted else 0.7,
                    color=color, alpha=0.6 if predicted else 1.0,
                    hatch="//" if predicted else None, edgecolor="white")
    ax.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize=7)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlim(0.5, gt.nframes[video] + 0.5)
    ax.set_xlabel("frame")
    ax.set_title(f"{video}: {len(tubes)} tube(s)")
    present = sorted({r[2] for r in rows})
    ax.legend(handles=[Patch(color=palette.mpl(i), label=gt.labels[i]
                             if 0 <= i < len(gt.labels) else str(i)) for i in present],
              fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig
