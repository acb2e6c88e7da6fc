"""One colour per action class, the same in every picture of the tutorial.

The colour of a class depends only on its label index: the first ten come from a
hand-picked qualitative list (Tableau 10 minus its grey, plus one), later ones
from golden-angle hues with alternating brightness, so MultiSports' 66 classes
stay as distinct as a palette of that size allows. Ground truth and predictions
of one class share its colour and differ in line style (`GT_STYLE` solid and
thick, `PRED_STYLE` dashed and thinner); grey is reserved for class-less boxes
such as person proposals (`PROPOSAL_STYLE`).

    palette = Palette()
    palette.bgr(2)    # for cv2 drawing on BGR frames
    palette.mpl(2)    # for matplotlib

Used in: 01_dataset, 02_person_detector, 03_action_detector, 04_inference_demo.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

RGB = tuple[int, int, int]

# Tableau 10 without its grey (grey means "no class"), then a dark teal.
BASE_COLORS: tuple[RGB, ...] = (
    (31, 119, 180),  # blue
    (255, 127, 14),  # orange
    (44, 160, 44),  # green
    (214, 39, 40),  # red
    (148, 103, 189),  # purple
    (140, 86, 75),  # brown
    (227, 119, 194),  # pink
    (188, 189, 34),  # olive
    (23, 190, 207),  # cyan
    (0, 95, 95),  # dark teal
)
NO_CLASS: RGB = (170, 170, 170)  # proposals and boxes without a label
_GOLDEN = 0.618033988749895


def _generated(label: int) -> RGB:
    """Colours past the base list: golden-angle hue steps, brightness alternating."""
    k = label - len(BASE_COLORS)
    hue = (0.11 + k * _GOLDEN) % 1.0
    sat = (0.85, 0.6)[k % 2]
    val = (0.95, 0.7, 0.5)[(k // 2) % 3]
    r, g, b = colorsys.hsv_to_rgb(hue, sat, val)
    return round(r * 255), round(g * 255), round(b * 255)


@dataclass(frozen=True)
class Palette:
    """Class colours; pass one around instead of colour lists (supervision-style)."""

    colors: tuple[RGB, ...] = BASE_COLORS
    no_class: RGB = NO_CLASS

    def rgb(self, label: int | None) -> RGB:
        """The class colour as 0-255 RGB; `None` or a negative label gives grey."""
        if label is None or int(label) < 0:
            return self.no_class
        label = int(label)
        if label < len(self.colors):
            return tuple(self.colors[label])
        return _generated(label)

    def bgr(self, label: int | None) -> RGB:
        """The class colour as 0-255 BGR, for cv2 drawing on the project's frames."""
        r, g, b = self.rgb(label)
        return b, g, r

    def mpl(self, label: int | None) -> tuple[float, float, float]:
        """The class colour as 0-1 floats, for matplotlib."""
        return tuple(c / 255 for c in self.rgb(label))

    def hex(self, label: int | None) -> str:
        """The class colour as '#rrggbb' (HTML, CVAT)."""
        return "#{:02x}{:02x}{:02x}".format(*self.rgb(label))

    def text_rgb(self, label: int | None) -> RGB:
        """Black or white, whichever reads better on the class colour."""
        r, g, b = self.rgb(label)
        return (0, 0, 0) if 0.299 * r + 0.587 * g + 0.114 * b > 150 else (255, 255, 255)


DEFAULT_PALETTE = Palette()


def class_color(label: int | None, fmt: str = "rgb") -> tuple:
    """The tutorial's colour for `label` in `fmt` 'rgb', 'bgr' or 'mpl'."""
    if fmt not in ("rgb", "bgr", "mpl"):
        raise ValueError(f"fmt must be 'rgb', 'bgr' or 'mpl', got {fmt!r}")
    return getattr(DEFAULT_PALETTE, fmt)(label)


@dataclass(frozen=True)
class BoxStyle:
    """How one kind of box is drawn: line pattern and width, in cv2 and matplotlib."""

    name: str
    thickness: int  # cv2 pixels (scaled up on large frames)
    linewidth: float  # matplotlib points
    dashed: bool
    dash: int = 0  # cv2 dash length in pixels (0: solid)
    linestyle: str | tuple = "-"  # matplotlib


GT_STYLE = BoxStyle("ground truth", thickness=3, linewidth=2.5, dashed=False)
PRED_STYLE = BoxStyle("prediction", thickness=2, linewidth=1.6, dashed=True, dash=8,
                      linestyle=(0, (4, 2)))
PROPOSAL_STYLE = BoxStyle("proposal", thickness=1, linewidth=1.0, dashed=True, dash=3,
                          linestyle=(0, (1, 1.5)))
