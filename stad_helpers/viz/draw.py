"""The demo's drawing: person boxes with their action labels, on a BGR frame.

Style lives in an `Annotator` (class names, the project's `Palette`, line and
font sizes); data is passed per call. A box takes the colour of its best action
(one colour per class, the same as every other picture of the tutorial), grey
when no action passes the threshold; each action is one filled label line.

    annotator = Annotator(["wave", "march"])
    frame = annotator(frame, boxes, labels, scores)   # or draw_detections(...)

Used in: 04_inference_demo.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from .palette import DEFAULT_PALETTE, Palette

FONT = cv2.FONT_HERSHEY_SIMPLEX


@dataclass
class Annotator:
    """How detections are drawn: class names, colours, line width and text size."""

    names: Sequence[str] = ()
    palette: Palette = field(default_factory=lambda: DEFAULT_PALETTE)
    thickness: int = 2
    font_scale: float = 0.45
    max_labels: int = 3  # action lines per box

    def name(self, label: int) -> str:
        return self.names[label] if 0 <= label < len(self.names) else str(label)

    def __call__(self, frame: np.ndarray, boxes, labels, scores) -> np.ndarray:
        return draw_detections(frame, boxes, labels, scores, self)


def draw_detections(
    frame: np.ndarray,
    boxes: np.ndarray | Sequence,
    labels: Sequence[Sequence[int]],
    scores: Sequence[Sequence[float]],
    palette: Annotator | Palette | None = None,
) -> np.ndarray:
    """A copy of the BGR `frame` with each box and its actions drawn.

    `boxes` (N, 4) are pixels x1, y1, x2, y2; `labels[i]`/`scores[i]` are box
    i's actions (best first; empty: a person with no action above threshold).
    `palette` is an `Annotator` (names, sizes) or just a `Palette`.
    """
    style = palette if isinstance(palette, Annotator) else Annotator(
        palette=palette or DEFAULT_PALETTE)
    out = np.ascontiguousarray(frame).copy()
    h, w = out.shape[:2]
    scale = max(1.0, min(h, w) / 480)  # thicker lines and text on large frames
    thick = max(1, round(style.thickness * scale))
    font = style.font_scale * scale
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    for box, labs, scs in zip(boxes, labels, scores):
        x1, y1, x2, y2 = (int(round(v)) for v in np.clip(box, 0, [w - 1, h - 1] * 2))
        top = int(labs[0]) if len(labs) else None
        cv2.rectangle(out, (x1, y1), (x2, y2), style.palette.bgr(top), thick,
                      cv2.LINE_AA)
        # Label lines stack down from the box's top-left corner, inside it (as in
        # MMAction2's demo), kept inside the frame.
        for k, (lab, score) in enumerate(list(zip(labs, scs))[: style.max_labels]):
            text = f"{style.name(int(lab))} {float(score):.2f}"
            (tw, th), base = cv2.getTextSize(text, FONT, font, 1)
            line = th + base + 2
            xl = min(max(0, x1), max(0, w - tw - 2))
            yt = min(max(0, y1 + k * line), max(0, h - line))
            cv2.rectangle(out, (xl, yt), (xl + tw + 2, yt + line),
                          style.palette.bgr(int(lab)), -1)
            r, g, b = style.palette.text_rgb(int(lab))
            cv2.putText(out, text, (xl + 1, yt + th + 1), FONT, font, (b, g, r), 1,
                        cv2.LINE_AA)
    return out
