"""Pictures and tables of the action model's ideas: the AVA CSV, the config's
changes to its base, the clip window, the model, its per-box scores, frame-mAP
vs video-mAP, and every threshold of the tutorial.

Tables are `Table`s (an HTML table in a notebook, plain text elsewhere; no
pandas needed); pictures are matplotlib Figures.

| function              | what                                                   |
|-----------------------|--------------------------------------------------------|
| `ava_table`           | the AVA CSV's first rows with named columns            |
| `config_changes`      | what a config changes in its `_base_` (dotted keys)    |
| `clip_indices`        | the 1-based frames a config's clip takes at a keyframe |
| `plot_clip_window`    | those frames on a timeline, keyframe marked            |
| `plot_model_diagram`  | clip -> 3D backbone -> RoIAlign per box -> classifier  |
| `plot_box_scores`     | one keyframe's boxes and each box's class scores       |
| `linked_tubes`        | predicted tubes as video-mAP links them                |
| `plot_tubes`          | GT and linked predicted tubes on a timeline            |
| `frame_matches`       | one frame's true positives, false positives, misses    |
| `plot_frame_matches`  | that frame, drawn                                      |
| `threshold_table`     | every threshold: value, where it acts, why             |
| `metric_table`        | our metric names, MMAction2's log names, values        |

Used in: 03_action_detector, 04_inference_demo.
"""

from __future__ import annotations

import csv
import html
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import StadError
from ..predictions import Predictions
from .palette import DEFAULT_PALETTE, Palette

PathLike = str | os.PathLike

AVA_COLUMNS = ("video", "frame", "x1", "y1", "x2", "y2", "label", "entity_id")


# ---------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------
@dataclass
class Table:
    """Rows under named columns; shows as an HTML table in a notebook.

    Attributes:
        columns: Column names.
        rows: One tuple of cells per row (any values; shown with `str`).
        caption: A line above the table.
    """

    columns: Sequence[str]
    rows: list[tuple]
    caption: str = ""

    def __len__(self) -> int:
        return len(self.rows)

    def column(self, name: str) -> list:
        """The cells of column `name`; KeyError if there is no such column."""
        if name not in self.columns:
            raise KeyError(name)
        i = list(self.columns).index(name)
        return [row[i] for row in self.rows]

    def records(self) -> list[dict[str, Any]]:
        """The rows as dicts keyed by column."""
        return [dict(zip(self.columns, row)) for row in self.rows]

    def _repr_html_(self) -> str:
        cap = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in self.columns)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>"
                                        for v in row) + "</tr>" for row in self.rows)
        return (f"<table>{cap}<thead><tr>{head}</tr></thead>"
                f"<tbody>{body}</tbody></table>")

    def __str__(self) -> str:
        cells = [list(map(str, self.columns))] + [[_cell(v) for v in r]
                                                  for r in self.rows]
        widths = [max(len(r[i]) for r in cells) for i in range(len(self.columns))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in cells]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(([self.caption] if self.caption else []) + lines)

    __repr__ = __str__


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def ava_table(csv_path: PathLike, rows: int = 8) -> Table:
    """The first `rows` rows of an AVA-style CSV under their names.

    Format (MMAction2's `AVADataset`, from `tools/data/multisports/parse_anno.py`;
    `stad convert ava` writes it): `video` ('sport/name.mp4'), `frame` (the
    keyframe: AVA's timestamp in seconds, here the 1-based frame number since
    the MultiSports configs set `fps=1`), `x1 y1 x2 y2` (box corners divided by
    the frame's width / height: normalized to [0, 1]), `label` (0-based action
    index into the label map) and `entity_id` (the index of the tube within its
    video and label, not a person id).

    Raises:
        StadError: the file is missing or a row does not have 8 columns.
    """
    path = Path(csv_path)
    if not path.is_file():
        raise StadError("AVA CSV not found", path)
    out: list[tuple] = []
    with open(path, newline="") as fh:
        for number, row in enumerate(csv.reader(fh), 1):
            if len(out) >= rows:
                break
            if len(row) != len(AVA_COLUMNS):
                raise StadError(f"line {number}: {len(row)} columns, expected 8 "
                                f"({', '.join(AVA_COLUMNS)})", path)
            out.append((row[0], int(row[1]), *map(float, row[2:6]), int(row[6]),
                        int(row[7])))
    return Table(AVA_COLUMNS, out, caption=f"{path.name}: first {len(out)} rows")


# ---------------------------------------------------------------------------
# Config vs its base
# ---------------------------------------------------------------------------
def _short(value: Any, width: int = 70) -> str:
    """`repr(value)` cut to `width` characters; a pipeline as its step types."""
    if isinstance(value, (list, tuple)) and value and all(
            isinstance(v, Mapping) and "type" in v for v in value):
        return " -> ".join(str(v["type"]) for v in value)  # a pipeline, whole
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def config_changes(config: PathLike, cfg_options: dict[str, Any] | None = None,
                   only: Sequence[str] | None = None) -> Table:
    """What `config` (with `cfg_options`) changes in its `_base_`, as a table.

    The table view of `stad_helpers.viz.config_diff` (one computation: both
    configs loaded as MMEngine loads them, compared leaf by leaf with dotted keys
    such as `model.backbone.depth` and `val_pipeline[2].clip_len`). The original
    tutorial showed the whole config (`cat`); this shows only what differs.

    Args:
        config: An MMEngine config file (`mmaction::...` bases work).
        cfg_options: Overrides applied to `config` only (the tutorial's data paths).
        only: Top-level keys to show (e.g. ("model", "train_cfg")); None: all.

    Returns:
        A `Table` with columns key, base, this config ("-": absent).

    Raises:
        StadError: the config or its base cannot be read.
    """
    from .concepts_data import config_diff, diff_absent

    diff = config_diff(config, cfg_options)
    rows = []
    for key, (old, new) in diff.items():
        if only is not None and key.split(".")[0].split("[")[0] not in only:
            continue
        rows.append((key, "-" if diff_absent(old) else _short(old),
                     "-" if diff_absent(new) else _short(new)))
    return Table(("key", "base", "this config"), rows,
                 caption=f"{Path(config).name} vs its _base_: {len(rows)} changes")


# ---------------------------------------------------------------------------
# The clip window
# ---------------------------------------------------------------------------
def clip_indices(config: PathLike, keyframe: int, nframes: int,
                 cfg_options: dict[str, Any] | None = None) -> np.ndarray:
    """The 1-based frames `config`'s test pipeline samples around `keyframe`.

    `SampleAVAFrames` (test mode) takes `clip_len` frames `frame_interval` apart,
    centred on the keyframe, clamped to the video (`stad_helpers.demo.ClipSampler`,
    the same code the demo and the val dataset use).

    Args:
        config: An action config (`configs/action/...`).
        keyframe: 1-based keyframe.
        nframes: Frames in the video.
        cfg_options: Config overrides.

    Returns:
        `(clip_len,)` int64 array of 1-based frame numbers (repeats where clamped).

    Raises:
        StadError: `keyframe` outside 1..`nframes`, or not an action config.
    """
    from ..demo import ClipSampler
    from ..train import load_config

    if not 1 <= int(keyframe) <= int(nframes):
        raise StadError(f"keyframe {keyframe} is outside 1..{nframes}")
    sampler = ClipSampler(load_config(config, cfg_options))
    return sampler.indices(int(keyframe) - 1, int(nframes)) + 1


def plot_clip_window(windows: Mapping[str, Sequence[int]], keyframe: int,
                     nframes: int | None = None, ax=None):
    """Each clip's frames as ticks on one timeline row, the keyframe as a line.

    Args:
        windows: Row name (e.g. "CPU 8x4x1") -> its 1-based frames (`clip_indices`).
        keyframe: 1-based keyframe.
        nframes: Frames in the video (the x range; default: just the clips).

    Returns:
        The matplotlib Figure.

    Raises:
        StadError: no window given.
    """
    import matplotlib.pyplot as plt

    if not windows:
        raise StadError("plot_clip_window: no window to draw")
    if ax is None:
        fig, ax = plt.subplots(figsize=(9, 0.9 + 0.55 * len(windows)))
    else:
        fig = ax.figure
    lo = min(min(map(int, w)) for w in windows.values())
    hi = max(max(map(int, w)) for w in windows.values())
    for y, frames in enumerate(windows.values()):
        frames = np.asarray(frames, int)
        ax.axhspan(y - 0.3, y + 0.3, xmin=0, xmax=1, color="0.95", zorder=0)
        ax.barh(y, frames.max() - frames.min() + 1, left=frames.min() - 0.5,
                height=0.5, color="tab:blue", alpha=0.15)
        ax.scatter(frames, np.full(len(frames), y), marker="|", s=300,
                   color="tab:blue", zorder=3)
        span = int(frames.max() - frames.min() + 1)
        ax.text(frames.max() + 1, y, f"{len(frames)} frames, span {span}",
                va="center", fontsize=8)
    ax.axvline(keyframe, color="tab:red", lw=2, label=f"keyframe {keyframe}")
    ax.set_yticks(range(len(windows)), list(windows), fontsize=8)
    ax.set_ylim(len(windows) - 0.5, -0.5)
    left, right = (1, nframes) if nframes else (lo, hi)
    ax.set_xlim(min(left, lo) - 1, max(right, hi) + 12)
    ax.set_xlabel("frame (1-based)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    ax.set_title("the clip the model sees for one keyframe", fontsize=10)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------
# frame-mAP vs video-mAP
# ---------------------------------------------------------------------------
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


def _records(predictions: PathLike | list[dict], gt) -> list[list]:
    from ..action_eval import _metric_inputs
    from ..action_predict import load_predictions

    source = None
    if not isinstance(predictions, list):
        source = os.fspath(predictions)
        predictions = load_predictions(predictions, gt)
    return _metric_inputs(predictions, gt, source)


def linked_tubes(predictions: PathLike | list[dict], gt, video: str,
                 min_len: int | None = None) -> list[LinkedTube]:
    """The predicted tubes of `video`, linked as MMAction2's video-mAP links them.

    Each keyframe's boxes keep their best class only (as `MultiSportsMetric`
    does); `link_tubes` joins boxes of one class frame to frame and drops tubes
    shorter than `min_len` frames.

    Args:
        predictions: `evaluate`'s `predictions.pkl` (or `load_predictions`' list).
        gt: The `MultiSportsGT` scored against.
        video: A video of `gt.test_videos`.
        min_len: Shortest tube kept (default: `TUBE_MIN_LEN`, 15 frames).

    Returns:
        The tubes, best score first.

    Raises:
        StadError: `video` is not a test video, or the predictions are unusable.
    """
    from mmaction.evaluation.functional import multisports_utils as mu

    from ..action_eval import TUBE_MIN_LEN, frame_detections
    from ..action_predict import quiet_output

    if video not in gt.test_videos:
        raise StadError(f"video {video!r} is not in the val split (test_videos)",
                        gt.source)
    records = [r for r in _records(predictions, gt) if r[0] == video]
    dets = frame_detections(records, gt)
    if not len(dets):
        return []
    track, mu.track = mu.track, lambda sequence, **_: sequence  # no progress bar
    try:
        with quiet_output():
            tubes = mu.link_tubes(gt.to_dict(), dets,
                                  len_thre=min_len or TUBE_MIN_LEN)
    finally:
        mu.track = track
    out = []
    for label, found in tubes.items():
        for v, score, tube in found:
            if v == video or v == gt.test_videos.index(video):
                out.append(LinkedTube(int(label), float(score),
                                      np.asarray(tube[:, :5], np.float32)))
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


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) IoU of pixel boxes `a` (N, 4) and `b` (M, 4)."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64)
    b = b.reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
    union = area(a)[:, None] + area(b)[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


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


def frame_matches(predictions: PathLike | list[dict], gt, video: str, frame: int,
                  iou: float = 0.5) -> FrameMatches:
    """Match one keyframe's predictions to its GT boxes as frame-mAP does.

    Each box keeps its best class; boxes are taken best score first and each
    matches the unmatched GT box of its class with the highest IoU if that IoU
    is at least `iou` (VOC matching, as MMAction2's `frameAP`).

    Args:
        predictions: `evaluate`'s `predictions.pkl` (or its list).
        gt: The `MultiSportsGT`.
        video: A test video.
        frame: 1-based keyframe.
        iou: Frame IoU threshold (frame-mAP@0.5).

    Returns:
        A `FrameMatches`.

    Raises:
        StadError: `video` is not a test video.
    """
    from ..action_eval import frame_detections

    if video not in gt.test_videos:
        raise StadError(f"video {video!r} is not in the val split (test_videos)",
                        gt.source)
    records = [r for r in _records(predictions, gt)
               if r[0] == video and int(r[1]) == int(frame)]
    dets = frame_detections(records, gt)[:, 2:]  # label, score, x1..y2
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
            value = float(_iou(det[2:6], box)[0, 0])
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


# ---------------------------------------------------------------------------
# Thresholds and metric names
# ---------------------------------------------------------------------------
def threshold_table(action_config: PathLike, det_config: PathLike | None = None,
                    cfg_options: dict[str, Any] | None = None,
                    det_score_thr: float | None = None,
                    action_score_thr: float | None = None) -> Table:
    """Every threshold of the tutorial: its value here, where it acts and why.

    Values are read where they live: `detect`'s default score (0.05, and the
    detector config's `test_cfg.rcnn.score_thr` when given), the action
    config's `person_det_score_thr` and training assigner IoUs, the demo's
    `det_score_thr` / `action_score_thr` (its defaults unless given),
    `action_eval`'s `FRAME_IOU`, `VIDEO_IOUS` and `TUBE_MIN_LEN`.

    Returns:
        A `Table` with columns threshold, value, acts on, why this value.

    Raises:
        StadError: a config is missing or unreadable.
    """
    import inspect

    from .. import demo as demo_module
    from ..action import person_det_score_thr
    from ..action_eval import FRAME_IOU, TUBE_MIN_LEN, VIDEO_IOUS
    from ..detector import detect
    from ..train import load_config

    demo_args = inspect.signature(demo_module.demo).parameters
    det_thr = det_score_thr if det_score_thr is not None else \
        demo_args["det_score_thr"].default
    act_thr = action_score_thr if action_score_thr is not None else \
        demo_args["action_score_thr"].default
    detect_thr = inspect.signature(detect).parameters["score_thr"].default
    cfg = load_config(action_config, cfg_options)
    person_thr = person_det_score_thr(action_config, cfg_options)
    assigner = cfg.model.get("train_cfg", {}).get("rcnn", {}).get("assigner", {})
    rows = []
    if det_config is not None:
        rcnn = load_config(det_config).model.test_cfg.rcnn
        rows.append(("detector test score_thr", rcnn.get("score_thr"),
                     "person detector, every frame (MMDetection's test_cfg)",
                     "keeps nearly every candidate; later thresholds choose"))
    rows += [
        ("detect score_thr", detect_thr, "`detect`: boxes saved in det_results.pkl",
         "low, so proposals and AP50 can pick their own threshold later"),
        ("person_det_score_thr", person_thr,
         "AVADataset: which proposals the action model trains and is tested on",
         "AVA's default 0.9 suits a pretrained detector; the slim CPU detector "
         "is less sure of itself and at 0.9 loses ~30% of acting people"),
        ("assigner pos_iou_thr / neg_iou_thr",
         f"{assigner.get('pos_iou_thr', '?')} / {assigner.get('neg_iou_thr', '?')}",
         "training only: a proposal learns a person's actions (>= pos) or "
         "'no action' (< neg)", "proposals of a detector only roughly fit GT boxes"),
        ("demo det_score_thr", det_thr, "demo: people kept at each keyframe",
         "the original demo used 0.85 with a pretrained R50 detector"),
        ("demo action_score_thr", act_thr,
         "demo and player: actions drawn on a box",
         "the original demo used 0.8; a softmax over few classes peaks lower"),
        ("frame IoU", FRAME_IOU, "frame-mAP: a box matches a GT box of its class",
         "PASCAL VOC's standard 0.5"),
        ("spatio-temporal IoU", " / ".join(map(str, VIDEO_IOUS)),
         "video-mAP: a linked tube matches a GT tube of its class",
         "MultiSports reports 0.2 (found it) and 0.5 (followed it well)"),
        ("minimum tube length", f"{TUBE_MIN_LEN} frames",
         "video-mAP: shorter linked tubes are dropped",
         "MMAction2's tube_thr default: drops flickers of a few frames"),
    ]
    return Table(("threshold", "value", "acts on", "why this value"), rows)


METRIC_NAMES = (
    ("frame_map", "frameAP", "frame-mAP@0.5: per keyframe, boxes at IoU >= 0.5"),
    ("video_map_0.2", "v_map@0.2", "video-mAP@0.2: linked tubes, ST-IoU >= 0.2"),
    ("video_map_0.5", "v_map@0.5", "video-mAP@0.5: linked tubes, ST-IoU >= 0.5"),
    ("det_ap50", "coco/bbox_mAP_50", "person detector AP at IoU 0.5"),
)


def metric_table(metrics: Mapping[str, Any] | None = None) -> Table:
    """Our metric names, MMAction2's / MMDetection's log names and (with
    `metrics`, e.g. `tutorial.metrics()`) the values as fractions and percent.

    `metrics.json` stores fractions in [0, 1]; MMAction2's `MultiSportsMetric`
    logs `frameAP` and `v_map@<iou>` in percent (0.7486 here is 74.86 there).

    Returns:
        A `Table` with columns ours, MMAction2 log, meaning, value, percent.
    """
    rows = []
    for ours, theirs, meaning in METRIC_NAMES:
        value = (metrics or {}).get(ours)
        rows.append((ours, theirs, meaning, "-" if value is None else round(value, 4),
                     "-" if value is None else round(100 * value, 2)))
    return Table(("ours (metrics.json)", "MMAction2 log", "meaning", "value",
                  "percent"), rows)
