"""Pictures of the data side of the tutorial: the two-stage pipeline, the classes of
the synthetic dataset, its idle people, one COCO image, and a config as the changes
it makes to its base.

Each `plot_...` returns a matplotlib Figure (matplotlib is imported when called).

Used in: 00_setup (`plot_pipeline`), 01_dataset, 02_person_detector.
"""

from __future__ import annotations

import ast
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..data.layout import video_path
from ..errors import StadError
from .palette import class_color
from .reader import FrameReader

PathLike = str | os.PathLike
IDLE_COLOR = (0.6, 0.6, 0.6)  # matplotlib RGB of people who do no action

# The two-stage pipeline: (label, detail, row) per box; row 0 is the main line.
_PIPELINE = [
    ("video", "frames 1..n", 0),
    ("person detector", "Faster R-CNN,\nevery frame", 0),
    ("proposals", "person boxes per\nkeyframe, scores", 0),
    ("action detector", "", 0),
    ("tubes", "boxes linked over\nframes, one action", 0),
]
_ACTION_PARTS = [
    ("3D backbone", "clip around the\nkeyframe -> features"),
    ("RoIAlign per box", "features inside\neach proposal"),
    ("classifier", "a score per\naction, per box"),
]


def plot_pipeline():
    """The two-stage pipeline as a diagram: video -> person detector -> proposals
    -> action detector (3D backbone -> RoIAlign per box -> classifier) -> tubes.

    Returns:
        The matplotlib Figure (no data read).
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    fig, ax = plt.subplots(figsize=(11, 3.6))
    ax.set_xlim(0, 11)
    ax.set_ylim(0, 3.6)
    ax.set_axis_off()

    def box(x, y, w, h, title, detail, color):
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.05",
                                    facecolor=color, edgecolor="0.3"))
        ax.text(x + w / 2, y + h - 0.22, title, ha="center", va="top",
                fontsize=10, weight="bold")
        if detail:
            ax.text(x + w / 2, y + 0.12, detail, ha="center", va="bottom",
                    fontsize=8, color="0.25")

    def arrow(x0, y0, x1, y1):
        ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>",
                                     mutation_scale=14, color="0.3"))

    xs = [0.1, 1.8, 4.0, 6.2, 9.3]
    widths = [1.3, 1.8, 1.8, 2.7, 1.6]
    colors = ["#eeeeee", "#cfe2f3", "#fff2cc", "#d9ead3", "#f4cccc"]
    y, h = 2.2, 1.1
    for (title, detail, _), x, w, c in zip(_PIPELINE, xs, widths, colors):
        box(x, y, w, h, title, detail, c)
    for i in range(len(xs) - 1):
        arrow(xs[i] + widths[i] + 0.05, y + h / 2, xs[i + 1] - 0.05, y + h / 2)
    # Inside the action detector: three parts below it.
    part_w, gap, y2 = 1.55, 0.25, 0.25
    x0 = 3.6
    for i, (title, detail) in enumerate(_ACTION_PARTS):
        x = x0 + i * (part_w + gap)
        box(x, y2, part_w, 1.1, title, detail, "#b6d7a8")
        if i:
            arrow(x - gap + 0.02, y2 + 0.55, x - 0.02, y2 + 0.55)
    ax.plot([xs[3], x0], [y, y2 + 1.15], ":", color="0.5")
    ax.plot([xs[3] + widths[3], x0 + 3 * part_w + 2 * gap], [y, y2 + 1.15], ":",
            color="0.5")
    ax.text(0.1, 0.9, "stage 1: who is there\n(02_person_detector)", fontsize=9,
            color="#3d85c6")
    ax.text(9.3, 0.9, "stage 2: what they do\n(03_action_detector)", fontsize=9,
            color="#6aa84f")
    ax.set_title("Spatio-temporal action detection in two stages", fontsize=11)
    fig.tight_layout()
    return fig


def _crop_box(boxes: np.ndarray, size: tuple[int, int], pad: float) -> tuple[int, ...]:
    """One square-ish crop (x1, y1, x2, y2, ints, inside the frame) holding every
    box of `boxes` (rows x1, y1, x2, y2, pixels), grown by `pad` of its size."""
    h, w = size
    x1, y1 = boxes[:, 0].min(), boxes[:, 1].min()
    x2, y2 = boxes[:, 2].max(), boxes[:, 3].max()
    px, py = (x2 - x1) * pad, (y2 - y1) * pad
    return (int(max(0, x1 - px)), int(max(0, y1 - py)),
            int(min(w, x2 + px)), int(min(h, y2 + py)))


def plot_class_strips(gt, data_root: PathLike, frames: int = 6, pad: float = 0.15):
    """One tube per class as a strip of `frames` crops over its length.

    The crop is the same for the whole strip (it holds every box of the tube), so
    what moves in it is the person's motion. On the synthetic dataset the classes
    differ only in motion: any single crop could belong to any class.

    Args:
        gt: A `MultiSportsGT` (its first tube of each label is shown).
        data_root: The dataset folder (videos at `trainval/<video>.mp4`).
        frames: Crops per strip, evenly spaced over the tube (1-based frames).
        pad: Margin around the tube's boxes, as a fraction of their extent.

    Returns:
        The matplotlib Figure: one row per label, one column per sampled frame.

    Raises:
        StadError: a label has no tube, or a video cannot be read.
        ValueError: `frames` < 1.
    """
    import matplotlib.pyplot as plt

    if frames < 1:
        raise ValueError(f"frames must be >= 1, got {frames}")
    first: dict[int, Any] = {}
    for tube in gt.tubes():
        first.setdefault(tube.label, tube)
    missing = [gt.labels[i] for i in range(len(gt.labels)) if i not in first]
    if missing:
        raise StadError(f"no tube of {missing} to show", gt.source)
    rows = len(gt.labels)
    fig, axes = plt.subplots(rows, frames, figsize=(1.6 * frames, 1.9 * rows),
                             squeeze=False)
    for label in range(rows):
        tube = first[label]
        picks = np.linspace(0, len(tube.boxes) - 1, frames).round().astype(int)
        size = gt.resolution[tube.video]
        x1, y1, x2, y2 = _crop_box(tube.boxes[:, 1:], size, pad)
        with FrameReader(video_path(data_root, tube.video), rgb=True) as reader:
            for col, i in enumerate(picks):
                frame = int(tube.boxes[i, 0])
                ax = axes[label, col]
                ax.imshow(reader[frame][y1:y2, x1:x2])
                bx1, by1, bx2, by2 = tube.boxes[i, 1:]
                ax.add_patch(plt.Rectangle(
                    (bx1 - x1, by1 - y1), bx2 - bx1, by2 - by1, fill=False,
                    edgecolor=class_color(label, "mpl"), linewidth=1.5))
                ax.set_xticks([])
                ax.set_yticks([])
                ax.set_title(f"frame {frame}", fontsize=7)
                if col == 0:
                    ax.set_ylabel(gt.labels[label], fontsize=9,
                                  color=class_color(label, "mpl"))
    fig.suptitle("One tube per class: same figures, different motion", fontsize=11)
    fig.tight_layout()
    return fig


def _boxes_at(tubes: list[np.ndarray], frame: int) -> list[np.ndarray]:
    out = []
    for tube in tubes:
        rows = tube[tube[:, 0] == frame]
        if len(rows):
            out.append(rows[0, 1:5])
    return out


def idle_frame(gt, video: str | None = None) -> tuple[str, int]:
    """A (video, 1-based frame) showing both an acting and an idle person: the
    frame of `video` (default: the first train video that has one) with the most
    boxes of both kinds.

    Raises:
        StadError: the GT has no `idle_tubes`, or no such frame exists.
    """
    idle = gt.extra.get("idle_tubes")
    if not idle:
        raise StadError("this GT has no idle_tubes (only the synthetic dataset "
                        "lists people who do no action)", gt.source)
    for key in [video] if video else gt.train_videos:
        acting = [t for tubes in gt.gttubes.get(key, {}).values() for t in tubes]
        best, best_n = None, 0
        for frame in range(1, gt.nframes[key] + 1):
            n_act = len(_boxes_at(acting, frame))
            n_idle = len(_boxes_at(idle.get(key, []), frame))
            if n_act and n_idle and n_act + n_idle > best_n:
                best, best_n = frame, n_act + n_idle
        if best is not None:
            return key, best
    raise StadError(f"no frame of {video or 'the train videos'} shows both an "
                    "acting and an idle person", gt.source)


def plot_idle_people(gt, data_root: PathLike, video: str | None = None,
                     frame: int | None = None):
    """One frame with the people who act (solid, class colour and name, from
    `gttubes`) and those who do not (dashed grey, from the extra key
    `idle_tubes`): the detector learns both as `person`, the action model only
    the first.

    Args:
        gt: A `MultiSportsGT` whose `extra` holds `idle_tubes` (video -> list of
            (n, 5) arrays of (frame, x1, y1, x2, y2), 1-based frames, pixels).
        data_root: The dataset folder.
        video, frame: What to show (default: `idle_frame(gt, video)`).

    Returns:
        The matplotlib Figure.

    Raises:
        StadError: no `idle_tubes`, no suitable frame, or an unreadable video.
    """
    import matplotlib.pyplot as plt

    if frame is None:
        video, frame = idle_frame(gt, video)
    elif video is None:
        raise StadError("plot_idle_people: name the video of `frame`", gt.source)
    with FrameReader(video_path(data_root, video), rgb=True) as reader:
        image = reader[frame]
    h, w = image.shape[:2]
    fig, ax = plt.subplots(figsize=(7, 7 * h / w + 0.3))
    ax.imshow(image)
    ax.set_axis_off()
    for label, tubes in gt.gttubes.get(video, {}).items():
        for x1, y1, x2, y2 in _boxes_at(tubes, frame):
            color = class_color(label, "mpl")
            ax.add_patch(plt.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False,
                                       edgecolor=color, linewidth=2.5))
            ax.text(x1, y1 - 2, gt.labels[label], color="white", fontsize=8,
                    bbox=dict(facecolor=color, edgecolor="none", pad=1))
    for x1, y1, x2, y2 in _boxes_at(gt.extra.get("idle_tubes", {}).get(video, []),
                                    frame):
        ax.add_patch(plt.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False,
                                   edgecolor=IDLE_COLOR, linewidth=2,
                                   linestyle="--"))
        ax.text(x1, y1 - 2, "idle", color="white", fontsize=8,
                bbox=dict(facecolor=IDLE_COLOR, edgecolor="none", pad=1))
    ax.set_title(f"{video} · frame {frame}: acting (gttubes) and idle "
                 "(idle_tubes) people", fontsize=10)
    fig.tight_layout()
    return fig


def coco_record(coco: Mapping | PathLike, index: int = 0) -> dict[str, Any]:
    """Image number `index` of a COCO file with its annotations:
    {"image": {...}, "annotations": [{...}, ...]} (`bbox` is x, y, width, height
    in pixels; COCO's format, https://cocodataset.org/#format-data).

    Raises:
        StadError: the file cannot be read, or `index` is out of range.
    """
    source = None
    if not isinstance(coco, Mapping):
        source = Path(coco)
        try:
            coco = json.loads(source.read_text())
        except (OSError, ValueError) as exc:
            raise StadError(f"cannot read COCO file: {exc}", source) from None
    images = coco.get("images", [])
    if not -len(images) <= index < len(images):
        raise StadError(f"image {index}: the file has {len(images)} images", source)
    image = images[index]
    return {"image": image,
            "annotations": [a for a in coco.get("annotations", [])
                            if a.get("image_id") == image["id"]]}


def plot_coco_image(coco: Mapping | PathLike, image_root: PathLike, index: int = 0):
    """A COCO image (`image_root/<file_name>`) with its `person` boxes.

    Args:
        coco: The COCO dict or its JSON file (e.g. `multisports_det_anno_train.json`).
        image_root: Folder the `file_name`s are relative to (the rawframes).
        index: Which image of `images`.

    Returns:
        The matplotlib Figure.

    Raises:
        StadError: unreadable file, `index` out of range, or a missing image.
    """
    import matplotlib.pyplot as plt
    from PIL import Image

    record = coco_record(coco, index)
    path = Path(image_root) / record["image"]["file_name"]
    if not path.is_file():
        raise StadError("image of the COCO file not found (run the frames step)",
                        path)
    image = np.asarray(Image.open(path).convert("RGB"))
    h, w = image.shape[:2]
    fig, ax = plt.subplots(figsize=(6, 6 * h / w + 0.3))
    ax.imshow(image)
    ax.set_axis_off()
    for ann in record["annotations"]:
        x, y, bw, bh = ann["bbox"]
        ax.add_patch(plt.Rectangle((x, y), bw, bh, fill=False, edgecolor="crimson",
                                   linewidth=2))
        ax.text(x, y - 2, f"person #{ann['id']}", color="white", fontsize=8,
                bbox=dict(facecolor="crimson", edgecolor="none", pad=1))
    ax.set_title(f"{record['image']['file_name']} · {len(record['annotations'])} "
                 "boxes", fontsize=10)
    fig.tight_layout()
    return fig


# ---- a config as the changes it makes to its base -------------------------------
_ABSENT = "(not in base)"
_REMOVED = "(removed)"


def _base_of(config: Path) -> list[str]:
    """The `_base_` entries of a config file (a str or a list of str)."""
    tree = ast.parse(config.read_text(encoding="utf-8"), str(config))
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and getattr(node.targets[0], "id", None) == "_base_"):
            value = ast.literal_eval(node.value)
            return [value] if isinstance(value, str) else list(value)
    return []


def config_diff(config: PathLike, cfg_options: dict[str, Any] | None = None
                ) -> dict[str, tuple[Any, Any]]:
    """What an MMEngine config changes in its `_base_`: dotted key -> (base value,
    value here), for the keys whose values differ once both are loaded as MMEngine
    reads them (bases merged; lists of dicts, such as pipelines, compared item by
    item as `train_pipeline[2].scale`). A key the base lacks has base value
    "(not in base)"; one this config drops, "(removed)". A config without
    `_base_` is diffed against nothing (every key is new).

    Args:
        config: The config file (`configs/det/...py`).
        cfg_options: Overrides applied on top, as `--cfg-options` gives them.

    Returns:
        The changed keys in the config's order.

    Raises:
        StadError: the config or its base cannot be read.
    """
    from ..train import load_config

    path = Path(config)
    if not path.is_file():
        raise StadError("config file not found", path)
    here_cfg = load_config(path, cfg_options).to_dict()
    bases = [b if "::" in b else str((path.parent / b).resolve())
             for b in _base_of(path)]
    base_cfg: dict[str, Any] = {}
    if bases:
        with tempfile.TemporaryDirectory() as tmp:
            stub = Path(tmp) / "base_only.py"
            stub.write_text(f"_base_ = {bases!r}\n", encoding="utf-8")
            base_cfg = load_config(stub).to_dict()
    diff: dict[str, tuple[Any, Any]] = {}
    _walk(here_cfg, base_cfg, "", diff)
    return diff


def _walk(here: Any, base: Any, prefix: str, out: dict[str, tuple[Any, Any]]) -> None:
    """Put into `out` every leaf where `here` differs from `base`, by dotted key.

    Dicts are walked key by key; a pipeline (list of dicts with `type`) step by
    step when its steps are the same types, else it is one change (a step
    inserted would otherwise show every later step as changed).
    """
    def key(k: Any) -> str:
        return f"{prefix}.{k}" if prefix else str(k)

    if isinstance(here, Mapping) and isinstance(base, Mapping):
        for k, v in here.items():
            if not _noise(key(k)):
                _walk(v, base.get(k, _ABSENT), key(k), out)
        for k, v in base.items():
            if k not in here and not _noise(key(k)) and v is not None:
                out[key(k)] = (v, _REMOVED)
        return
    if isinstance(here, Mapping) and isinstance(base, str) and base == _ABSENT:
        for k, v in here.items():
            if not _noise(key(k)):
                _walk(v, _ABSENT, key(k), out)
        return
    steps = _step_types(here)
    if steps is not None and steps == _step_types(base):
        for i, (h, b) in enumerate(zip(here, base)):
            _walk(h, b, f"{prefix}[{i}]", out)
        return
    if isinstance(base, str) and base == _ABSENT or base != here:
        out[prefix] = (base, here)


def _step_types(value: Any) -> list[str] | None:
    """The step types of a pipeline (a list of dicts with `type`), else None."""
    if isinstance(value, (list, tuple)) and value and all(
            isinstance(v, Mapping) and "type" in v for v in value):
        return [str(v["type"]) for v in value]
    return None


def diff_absent(value: Any) -> bool:
    """Whether a `config_diff` value marks a key absent on that side."""
    return isinstance(value, str) and value in (_ABSENT, _REMOVED)


def _noise(key: str) -> bool:
    """Keys MMEngine adds while merging (`_scope_`), not written by anyone."""
    return key.rsplit(".", 1)[-1] == "_scope_"


def _short(value: Any, width: int) -> str:
    text = repr(value) if value not in (_ABSENT, _REMOVED) else value
    return text if len(text) <= width else text[: width - 1] + "…"


def print_config_diff(config: PathLike, cfg_options: dict[str, Any] | None = None,
                      width: int = 60, only: Sequence[str] | None = None) -> None:
    """Print `config_diff` as `key: base -> here` lines (`key = value` for a key
    the base lacks; values cut at `width` characters), after the base files'
    names: the seed's `cat` of the config, but only what it changes. `only`:
    top-level keys to show (e.g. ("model", "train_cfg")); None shows all.
    Raises what `config_diff` raises."""
    path = Path(config)
    diff = config_diff(path, cfg_options)
    if only is not None:
        diff = {k: v for k, v in diff.items()
                if k.split(".")[0].split("[")[0] in only}
    print(f"{path.name}: {len(diff)} keys changed from _base_ = "
          f"{', '.join(_base_of(path)) or '(none)'}"
          + (f" (shown: {', '.join(only)})" if only is not None else ""))
    for key, (old, new) in diff.items():
        if old == _ABSENT:
            print(f"  {key} = {_short(new, width)}")
        else:
            print(f"  {key}: {_short(old, width)} -> {_short(new, width)}")
