"""The action model: its parts as a diagram, and one keyframe's per-box scores.

| function             | what                                                  |
|----------------------|-------------------------------------------------------|
| `model_summary`      | the numbers of a config's model (clip, backbone, ...) |
| `plot_model_diagram` | clip -> 3D backbone -> RoIAlign per box -> classifier |
| `plot_box_scores`    | one keyframe's boxes and each box's class scores      |

Used in: 03_action_detector, 04_inference_demo.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..predictions import Predictions
from .palette import DEFAULT_PALETTE, Palette

PathLike = str | os.PathLike


def model_summary(config: PathLike, cfg_options: dict[str, Any] | None = None
                  ) -> dict[str, Any]:
    """The numbers the model diagram shows, read from `config`.

    Returns:
        dict with `clip_len`, `frame_interval`, `short_side` (px, or None),
        `backbone` (e.g. "SlowOnly R18"), `roi_output` (RoIAlign output size),
        `num_classes` (head outputs) and `classes` (the dataset's, when set).

    Raises:
        StadError: unreadable config or not an action config.
    """
    from ..demo import ClipSampler
    from ..train import load_config

    cfg = load_config(config, cfg_options)
    sampler = ClipSampler(cfg)
    model = cfg.model
    resize = [s for s in cfg.test_dataloader.dataset.pipeline
              if str(s.get("type", "")).endswith("Resize")]
    scale = resize[0].get("scale") if resize else None
    roi = model.roi_head.bbox_roi_extractor.get("output_size", 8)
    return {
        "clip_len": sampler.clip_len, "frame_interval": sampler.frame_interval,
        "short_side": int(scale[1]) if scale is not None else None,
        "backbone": f"{str(model.backbone.type).split('.')[-1].replace('ResNet3d', '')}"
                    f" R{model.backbone.get('depth', '?')}",
        "roi_output": roi,
        "num_classes": int(model.roi_head.bbox_head.num_classes),
        "head": model.roi_head.bbox_head.type,
    }


def plot_model_diagram(config: PathLike | None = None,
                       cfg_options: dict[str, Any] | None = None):
    """The action detector as boxes and arrows: clip -> 3D backbone -> one
    RoIAlign per person box -> pooled feature -> classifier -> class scores.

    With `config`, each box carries that config's numbers (`model_summary`).

    Returns:
        The matplotlib Figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    s = model_summary(config, cfg_options) if config is not None else {}
    t = s.get("clip_len", "T")
    side = s.get("short_side") or "H"
    steps = [
        ("clip", f"{t} frames\n{s.get('frame_interval', 'k')} apart\n"
                 f"short side {side} px"),
        ("3D backbone", f"{s.get('backbone', 'SlowOnly')}\none feature map\n"
                        "for the whole clip"),
        ("RoIAlign", f"one box per person\n(proposals)\n"
                     f"{s.get('roi_output', 8)}x{s.get('roi_output', 8)} each"),
        ("pool", "average over\ntime and box"),
        ("classifier", f"linear: {s.get('num_classes', 'C')} classes"
                       + ("\n+ 'no action'" if "NoAction" in s.get("head", "") else "")
                       + f"\n({s.get('head', 'BBoxHeadAVA')})"),
        ("scores", "per box:\none score per\naction class"),
    ]
    fig, ax = plt.subplots(figsize=(11, 2.4))
    width, gap = 1.55, 0.35
    for i, (title, text) in enumerate(steps):
        x = i * (width + gap)
        colour = "#fde2c8" if title == "RoIAlign" else "#dbe9f6"
        ax.add_patch(FancyBboxPatch((x, 0), width, 1.6, boxstyle="round,pad=0.05",
                                    fc=colour, ec="0.3"))
        ax.text(x + width / 2, 1.35, title, ha="center", va="center",
                fontsize=9, weight="bold")
        ax.text(x + width / 2, 0.65, text, ha="center", va="center", fontsize=7.5)
        if i:
            ax.add_patch(FancyArrowPatch((x - gap + 0.03, 0.8), (x - 0.03, 0.8),
                                         arrowstyle="-|>", mutation_scale=12,
                                         color="0.3"))
    ax.text(2 * (width + gap) + width / 2, -0.35, "boxes from the person detector",
            ha="center", fontsize=7.5, style="italic")
    ax.set_xlim(-0.2, len(steps) * (width + gap))
    ax.set_ylim(-0.55, 1.8)
    ax.axis("off")
    fig.tight_layout()
    return fig


def plot_box_scores(predictions: Predictions, score_thr: float = 0.4,
                    image: np.ndarray | None = None, max_boxes: int = 4,
                    person_scores: bool = True, palette: Palette = DEFAULT_PALETTE):
    """Each box's action scores as bars, the threshold as a dashed line.

    Bars at or above `score_thr` are the actions the demo draws; below, grey.
    With `image` (the keyframe, RGB `(H, W, 3)` uint8), a first panel shows it
    with the boxes numbered as the bar charts are.

    Args:
        predictions: One keyframe's `Predictions` (e.g. `Demo.predict_keyframe`),
            boxes in pixels, `action_scores` `(N, C)` in [0, 1].
        score_thr: The action score threshold (the demo's `action_score_thr`).
        image: The keyframe to show the boxes on.
        max_boxes: Show at most this many boxes (best person score first).
        person_scores: Show each box's person score in its title (False for
            boxes that have none, e.g. the proposals `evaluate` scored).

    Returns:
        The matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    order = np.argsort(-predictions.person_scores, kind="stable")[:max_boxes]
    panels = len(order) + (image is not None)
    fig, axes = plt.subplots(1, max(panels, 1), figsize=(3.2 * max(panels, 1), 3.0),
                             squeeze=False)
    axes = list(axes[0])
    if image is not None:
        ax = axes.pop(0)
        ax.imshow(image)
        for n, row in enumerate(order, 1):
            x1, y1, x2, y2 = predictions.boxes[row]
            ax.add_patch(plt.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False,
                                       ec="yellow", lw=1.5))
            ax.text(x1, y1, f"box {n}", color="black", fontsize=7, va="bottom",
                    bbox=dict(fc="yellow", ec="none", pad=1))
        ax.set_title(f"frame {int(predictions.frames[0])}" if len(predictions)
                     else "no person detected", fontsize=9)
        ax.axis("off")
    if not len(order):
        if not axes:
            return fig
        axes[0].text(0.5, 0.5, "no person detected:\nnothing to classify",
                     ha="center", va="center")
        axes[0].axis("off")
        return fig
    names = list(predictions.class_names)
    for n, (ax, row) in enumerate(zip(axes, order), 1):
        scores = predictions.action_scores[row]
        colours = [palette.mpl(c) if v >= score_thr else "0.75"
                   for c, v in enumerate(scores)]
        ax.barh(range(len(names)), scores, color=colours)
        ax.axvline(score_thr, color="k", ls="--", lw=1)
        ax.set_yticks(range(len(names)), names, fontsize=7)
        ax.set_ylim(len(names) - 0.5, -0.5)
        ax.set_xlim(0, 1)
        ax.set_xlabel("action score", fontsize=8)
        kept = [names[c] for c, _ in predictions.actions(int(row), score_thr)]
        person = f" (person {predictions.person_scores[row]:.2f})" if person_scores \
            else ""
        ax.set_title(f"box {n}{person}\nkept: {', '.join(kept) or 'none'}",
                     fontsize=8)
    fig.tight_layout()
    return fig
