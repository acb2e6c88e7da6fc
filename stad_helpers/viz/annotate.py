"""Drawing boxes and action labels on a frame: the one drawing path of the tutorial.

An `Annotator` holds the style (box line, class colours, text size relative to
the frame, where labels go, fonts); data comes per call, as a `Predictions`:

    frame = Annotator().annotate(frame, predictions)          # the demo's boxes
    frame = Annotator.for_ground_truth().annotate(frame, gt)  # solid, labels above

The demo video, the annotated clips, the player and `show_frame(as_array=True)`
all draw through it (`annotate_frame` composes proposals, ground truth and
predictions). A box takes the colour of its best action at or above `score_thr`
(one colour per class, `stad_helpers.viz.palette`), grey when it has none; each
action is one filled label line, best first. Boxes are drawn with OpenCV, text
with Pillow in a TrueType font, so labels in any script render as written
(OpenCV's own fonts are ASCII-only): DejaVu Sans, which matplotlib ships, by
default; characters it lacks (CJK) come from the first installed font that has
them, or `Annotator(fonts=[...])` names one.

Used in: 01_dataset, 02_person_detector, 04_inference_demo.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np

from ..errors import StadError
from ..predictions import Predictions
from .palette import (
    DEFAULT_PALETTE,
    GT_STYLE,
    PRED_STYLE,
    PROPOSAL_STYLE,
    BoxStyle,
    Palette,
)

PathLike = Union[str, os.PathLike]
LABEL_POSITIONS = ("below", "above", "inside")


# ---------------------------------------------------------------------------
# Label text, shared with the matplotlib pictures
# ---------------------------------------------------------------------------
def label_text(name: str, score: float | None = None) -> str:
    """The text of one action label: 'name 0.87', or 'name' without a score."""
    return name if score is None else f"{name} {score:.2f}"


def box_labels(predictions: Predictions, row: int, score_thr: float = 0.0,
               show_scores: bool = True, max_labels: int | None = None
               ) -> list[tuple[int, str]]:
    """(class, text) of the action lines of box `row`, best first."""
    names = predictions.class_names
    acts = predictions.actions(row, score_thr)[:max_labels]
    return [(c, label_text(names[c], s if show_scores else None)) for c, s in acts]


# ---------------------------------------------------------------------------
# Fonts (Pillow), with per-character fallback
# ---------------------------------------------------------------------------
def default_font() -> Path:
    """DejaVu Sans as matplotlib ships it (Latin, Greek, Cyrillic, many symbols)."""
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"


@functools.lru_cache(maxsize=64)
def _charmap(path: str) -> frozenset[int]:
    """The code points a font file has glyphs for (FreeType, through matplotlib)."""
    from matplotlib.ft2font import FT2Font

    try:
        return frozenset(FT2Font(path).get_charmap())
    except (OSError, RuntimeError, ValueError) as exc:
        raise StadError(f"cannot read the font ({exc})", path) from None


@functools.lru_cache(maxsize=64)
def _pil_font(path: str, px: int):
    from PIL import ImageFont

    try:
        return ImageFont.truetype(path, px)
    except OSError as exc:
        raise StadError(f"cannot load the font ({exc})", path) from None


@functools.lru_cache(maxsize=1)
def _system_fonts() -> tuple[str, ...]:
    """Installed TrueType/OpenType fonts (matplotlib's font list), for fallback."""
    from matplotlib import font_manager

    return tuple(sorted({f.fname for f in font_manager.fontManager.ttflist}))


@functools.lru_cache(maxsize=4096)
def _fallback_font(char: str) -> str | None:
    code = ord(char)
    for path in _system_fonts():
        try:
            if code in _charmap(path):
                return path
        except StadError:
            continue
    return None


def _font_runs(text: str, fonts: tuple[str, ...]) -> list[tuple[str, str]]:
    """`text` split into (font path, run) so each run's characters have glyphs."""
    runs: list[tuple[str, str]] = []
    missing = []
    for ch in text:
        path = next((f for f in fonts if ord(ch) in _charmap(f)), None)
        if path is None and not ch.isspace():
            path = _fallback_font(ch)
            if path is None:
                missing.append(ch)
        path = path or fonts[0]
        if runs and runs[-1][0] == path:
            runs[-1] = (path, runs[-1][1] + ch)
        else:
            runs.append((path, ch))
    if missing:
        _warn_missing(text, "".join(missing))
    return runs


@functools.lru_cache(maxsize=256)
def _warn_missing(text: str, chars: str) -> None:
    warnings.warn(f"no installed font has {chars!r} (label {text!r}): it is drawn as "
                  "empty boxes; pass Annotator(fonts=[path to a .ttf that has them])",
                  stacklevel=4)


@functools.lru_cache(maxsize=1024)
def _text_patch(text: str, px: int, fg: tuple, bg: tuple,
                fonts: tuple[str, ...]) -> np.ndarray:
    """`text` in `fg` on a `bg` rectangle, (h, w, 3) uint8 in the colours' order."""
    from PIL import Image, ImageDraw

    pad = max(1, px // 6)
    runs = [(_pil_font(path, px), run) for path, run in _font_runs(text, fonts)]
    metrics = [_pil_font(fonts[0], px).getmetrics()] + [f.getmetrics() for f, _ in runs]
    ascent, descent = max(m[0] for m in metrics), max(m[1] for m in metrics)
    width = sum(font.getlength(run) for font, run in runs)
    size = (int(np.ceil(width)) + 2 * pad, ascent + descent + 2 * pad)
    image = Image.new("RGB", size, bg)
    draw = ImageDraw.Draw(image)
    x = float(pad)
    for font, run in runs:  # one baseline for every font
        draw.text((x, pad + ascent), run, font=font, fill=fg, anchor="ls")
        x += font.getlength(run)
    patch = np.array(image)
    patch.flags.writeable = False  # cached: shared by every caller
    return patch


def _paste(frame: np.ndarray, patch: np.ndarray, x: int, y: int) -> None:
    """Copy `patch` into `frame` with its top-left at (x, y), clipped to the frame."""
    h, w = frame.shape[:2]
    ph, pw = patch.shape[:2]
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(w, x + pw), min(h, y + ph)
    if x1 > x0 and y1 > y0:
        frame[y0:y1, x0:x1] = patch[y0 - y:y1 - y, x0 - x:x1 - x]


# ---------------------------------------------------------------------------
# The annotator
# ---------------------------------------------------------------------------
def _dashed_rect(img: np.ndarray, p1: tuple[int, int], p2: tuple[int, int],
                 color: tuple, thickness: int, dash: int) -> None:
    import cv2

    (x1, y1), (x2, y2) = p1, p2
    for a, b in (((x1, y1), (x2, y1)), ((x2, y1), (x2, y2)), ((x2, y2), (x1, y2)),
                 ((x1, y2), (x1, y1))):
        length = max(abs(b[0] - a[0]), abs(b[1] - a[1]))
        for s in range(0, length + 1, 2 * dash):
            e = min(s + dash, length)
            t0, t1 = s / max(length, 1), e / max(length, 1)
            q0 = (round(a[0] + (b[0] - a[0]) * t0), round(a[1] + (b[1] - a[1]) * t0))
            q1 = (round(a[0] + (b[0] - a[0]) * t1), round(a[1] + (b[1] - a[1]) * t1))
            cv2.line(img, q0, q1, color, thickness, cv2.LINE_AA)


@dataclass(frozen=True)
class Annotator:
    """How boxes and their action labels are drawn on a BGR frame.

    - `box_style`: line pattern and width (`PRED_STYLE` dashed, `GT_STYLE`
      solid, `PROPOSAL_STYLE` dotted); widths grow with frames over 360 px;
    - `labels_at`: 'below' the box, 'above' it (both move inside the box where
      the frame ends) or 'inside' from its top-left corner;
    - `text_size`: text height as a fraction of the frame's shorter side (at
      least `min_text_px` pixels), so labels read the same at any resolution;
    - `score_thr`: actions scoring below it are not listed, and a box with none
      left is drawn grey without text; `max_labels` lines per box at most;
    - `fonts`: TrueType/OpenType files tried first, per character, before
      DejaVu Sans and then any installed font.

    Raises:
        StadError: On construction, a font file in `fonts` that does not exist.
    """

    box_style: BoxStyle = PRED_STYLE
    palette: Palette = DEFAULT_PALETTE
    labels_at: str = "below"
    text_size: float = 0.035
    min_text_px: int = 10
    show_scores: bool = True
    score_thr: float = 0.0
    max_labels: int = 3
    fonts: tuple[PathLike, ...] = ()

    def __post_init__(self) -> None:
        if self.labels_at not in LABEL_POSITIONS:
            raise ValueError(f"labels_at must be one of {LABEL_POSITIONS}, got "
                             f"{self.labels_at!r}")
        object.__setattr__(self, "fonts", tuple(str(f) for f in self.fonts))
        for font in self.fonts:
            if not Path(font).is_file():
                raise StadError("font file not found", font)

    @classmethod
    def for_ground_truth(cls, **kwargs) -> Annotator:
        """Solid thick boxes, class names above them, no scores."""
        return cls(**{"box_style": GT_STYLE, "labels_at": "above",
                      "show_scores": False, **kwargs})

    @classmethod
    def for_proposals(cls, **kwargs) -> Annotator:
        """Thin dotted grey boxes without text (person proposals)."""
        return cls(**{"box_style": PROPOSAL_STYLE, "show_scores": False,
                      "max_labels": 0, **kwargs})

    def font_files(self) -> tuple[str, ...]:
        """The fonts tried for each character, in order."""
        return (*self.fonts, str(default_font()))

    def text_px(self, frame_shape: tuple[int, ...]) -> int:
        """The font size in pixels for a frame of `frame_shape` (h, w, ...)."""
        return max(self.min_text_px, round(self.text_size * min(frame_shape[:2])))

    def text_patch(self, text: str, px: int, label: int | None = None) -> np.ndarray:
        """One label line as drawn: (h, w, 3) uint8 BGR, text on the class colour."""
        fg = self.palette.text_rgb(label)[::-1]
        return _text_patch(text, px, fg, self.palette.bgr(label), self.font_files())

    def annotate(self, frame: np.ndarray, predictions: Predictions) -> np.ndarray:
        """A copy of the BGR `frame` (H, W, 3) uint8 with `predictions` drawn.

        Boxes are pixels of this frame; all rows are drawn, whatever their frame
        number (pass `predictions.at(frame)` for one frame's boxes).
        """
        out = np.ascontiguousarray(frame).copy()
        return self.draw(out, predictions)

    __call__ = annotate

    def draw(self, frame: np.ndarray, predictions: Predictions) -> np.ndarray:
        """Like `annotate`, but on `frame` itself (C-contiguous); returns it."""
        import cv2

        h, w = frame.shape[:2]
        scale = max(1.0, min(h, w) / 360)
        thick = max(1, round(self.box_style.thickness * scale))
        px = self.text_px(frame.shape)
        best, _ = predictions.best_actions(self.score_thr)
        for row in range(len(predictions)):
            x1, y1, x2, y2 = (int(round(float(v))) for v in predictions.boxes[row])
            x1, x2 = (int(v) for v in np.clip([x1, x2], 0, w - 1))
            y1, y2 = (int(v) for v in np.clip([y1, y2], 0, h - 1))
            label = int(best[row]) if best[row] >= 0 else None
            color = self.palette.bgr(label)
            if self.box_style.dashed:
                _dashed_rect(frame, (x1, y1), (x2, y2), color, thick,
                             max(2, round(self.box_style.dash * scale)))
            else:
                cv2.rectangle(frame, (x1, y1), (x2, y2), color, thick, cv2.LINE_AA)
            if self.max_labels <= 0:
                continue
            lines = box_labels(predictions, row, self.score_thr, self.show_scores,
                               self.max_labels)
            patches = [self.text_patch(text, px, c) for c, text in lines]
            if not patches:
                continue
            line = max(p.shape[0] for p in patches)
            n = len(patches)
            if self.labels_at == "below":  # tops of the lines
                tops = ([y2 + k * line for k in range(n)] if y2 + n * line < h
                        else [y2 - (k + 1) * line for k in range(n)])
            elif self.labels_at == "above":
                tops = ([y1 - (k + 1) * line for k in range(n)] if y1 - n * line >= 0
                        else [y1 + k * line for k in range(n)])
            else:
                tops = [min(y1 + k * line, max(0, h - line)) for k in range(n)]
            for patch, top in zip(patches, tops):
                left = int(np.clip(x1, 0, max(0, w - patch.shape[1])))
                _paste(frame, patch, left, top)
        return frame


def annotate_frame(
    frame: np.ndarray,
    gt: Predictions | None = None,
    predictions: Predictions | None = None,
    *,
    score_thr: float = 0.0,
    proposals: Predictions | None = None,
    palette: Palette = DEFAULT_PALETTE,
    fonts: Sequence[PathLike] = (),
) -> np.ndarray:
    """A copy of a BGR frame with proposals, ground truth and predictions drawn.

    Each argument is that frame's `Predictions` (or None): proposals dotted grey,
    ground truth solid with names above, predictions dashed with 'name score'
    lines below, listing actions scoring at least `score_thr`.
    """
    out = np.ascontiguousarray(frame).copy()
    fonts = tuple(fonts)
    if proposals is not None and len(proposals):
        Annotator.for_proposals(palette=palette).draw(out, proposals)
    if gt is not None and len(gt):
        Annotator.for_ground_truth(palette=palette, fonts=fonts).draw(out, gt)
    if predictions is not None and len(predictions):
        Annotator(palette=palette, score_thr=score_thr, fonts=fonts).draw(
            out, predictions)
    return out


__all__ = ["Annotator", "annotate_frame", "box_labels", "default_font", "label_text"]
