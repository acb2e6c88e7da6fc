"""Plots of the tutorial: dataset statistics, training curves, per-class AP, tubes.

- `plot_dataset_stats(gt)`: tubes per class (train and test), tube lengths,
  boxes per frame, from a `MultiSportsGT`;
- `plot_training_curves(work_dir)`: losses, metrics and learning rate read from
  the `vis_data/scalars.json` that MMEngine's `LocalVisBackend` writes in
  `<work_dir>/<timestamp>/` (`load_scalars`; a resumed run is joined to the run
  it resumed);
- `plot_per_class_ap(src)`: one bar per class (and per metric), from
  `stad_helpers.evaluate`'s per-class JSON, its folder, or a dict label -> AP;
- `plot_tube_timeline(gt, video)`: one horizontal bar per tube over the frames,
  optionally with the frames where each class is predicted.

Every plot uses the tutorial's class colours (`stad_helpers.viz.palette`) and
returns its matplotlib Figure.

Used in: 01_dataset, 02_person_detector, 03_action_detector, 04_inference_demo.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Union

import numpy as np

from ..errors import StadError
from ..predictions import Predictions
from .palette import DEFAULT_PALETTE, Palette

PathLike = Union[str, os.PathLike]


def _subplots(n: int, width: float = 4.2, height: float = 3.2):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, n, figsize=(width * n, height), squeeze=False)
    return fig, list(axes[0])


# ---------------------------------------------------------------------------
# Dataset statistics
# ---------------------------------------------------------------------------
def dataset_stats(gt) -> dict[str, Any]:
    """The numbers behind `plot_dataset_stats` (tubes per class and split, ...)."""
    n = len(gt.labels)
    per_split = {}
    for split in ("train", "test"):
        counts = np.zeros(n, np.int64)
        for tube in gt.tubes(gt.split_videos(split)):
            if 0 <= tube.label < n:
                counts[tube.label] += 1
        per_split[split] = counts
    lengths: dict[int, list[int]] = {i: [] for i in range(n)}
    for tube in gt.tubes():
        lengths.setdefault(tube.label, []).append(len(tube.boxes))
    table = gt.box_table()
    boxes_per_frame = []
    for vi, video in enumerate(table.videos):
        frames = table.frame[table.video == vi]
        nframes = int(gt.nframes.get(video, frames.max() if len(frames) else 0))
        counts = np.bincount(np.clip(frames, 0, None), minlength=nframes + 1)[1:]
        boxes_per_frame.append(counts)
    bpf = np.concatenate(boxes_per_frame) if boxes_per_frame else np.zeros(0, int)
    return {"tubes_per_class": per_split, "tube_lengths": lengths,
            "boxes_per_frame": bpf}


def plot_dataset_stats(gt, palette: Palette = DEFAULT_PALETTE):
    """Three panels: tubes per class (train solid, test hatched), tube lengths,
    boxes per frame (all frames of all videos, empty ones included)."""
    stats = dataset_stats(gt)
    fig, (ax1, ax2, ax3) = _subplots(3)
    n = len(gt.labels)
    x = np.arange(n)
    colors = [palette.mpl(i) for i in range(n)]
    train, test = stats["tubes_per_class"]["train"], stats["tubes_per_class"]["test"]
    ax1.bar(x, train, color=colors, label="train")
    ax1.bar(x, test, bottom=train, color=colors, alpha=0.55, hatch="//",
            edgecolor="white", label="test")
    ax1.set_xticks(x, gt.labels, rotation=45 if n <= 12 else 90, ha="right",
                   fontsize=8 if n <= 12 else 5)
    ax1.set_ylabel("tubes")
    ax1.set_title("tubes per class")
    ax1.legend(fontsize=8)

    lengths = stats["tube_lengths"]
    data = [np.asarray(lengths.get(i, []), float) for i in range(n)]
    if any(len(d) for d in data):
        top = max(d.max() for d in data if len(d))
        bins = np.histogram_bin_edges(np.concatenate(data),
                                      bins=min(20, max(1, int(top))))
        ax2.hist(data, bins=bins, stacked=True, color=colors, label=gt.labels)
    ax2.set_xlabel("tube length (frames)")
    ax2.set_ylabel("tubes")
    ax2.set_title("tube lengths")

    bpf = stats["boxes_per_frame"]
    counts = np.bincount(bpf) if len(bpf) else np.zeros(1, int)
    ax3.bar(np.arange(len(counts)), counts, color=palette.mpl(None))
    ax3.set_xlabel("action boxes in the frame")
    ax3.set_ylabel("frames")
    ax3.set_title("boxes per frame")
    ax3.set_xticks(np.arange(len(counts)))
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------
# Training curves from MMEngine's scalars.json
# ---------------------------------------------------------------------------
def find_scalars(work_dir: PathLike) -> list[Path]:
    """The `scalars.json` files of a work dir's runs, oldest first (by timestamp).

    Raises:
        StadError: The work dir holds no `<timestamp>/vis_data/scalars.json`
            (MMEngine's `LocalVisBackend` log; no training has logged yet).
    """
    work_dir = Path(work_dir)
    if work_dir.is_file():
        return [work_dir]
    direct = work_dir / "vis_data" / "scalars.json"
    if direct.is_file():  # a run's timestamp folder
        return [direct]
    runs = sorted(p for p in work_dir.glob("*/vis_data/scalars.json")
                  if p.stat().st_size > 0)
    if not runs:
        raise StadError("no training log: expected <timestamp>/vis_data/scalars.json "
                        "(MMEngine's LocalVisBackend) in the work dir", work_dir)
    return runs


def _read_jsonl(path: Path) -> list[dict]:
    lines = path.read_text().splitlines()
    rows = []
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            if i == len(lines):  # the last line of a run killed mid-write
                break
            raise StadError(f"line {i} is not JSON", path) from None
        if isinstance(row, dict):
            rows.append(row)
    return rows


def _is_train(row: Mapping) -> bool:
    return "lr" in row or any(k.startswith("loss") for k in row)


def _run_rows(path: Path) -> tuple[list[dict], list[dict]]:
    """One run's (train, val) rows with `x`, the training iteration of each."""
    rows = _read_jsonl(path)
    train = [r for r in rows if _is_train(r)]
    val = [r for r in rows if not _is_train(r)]
    for r in train:
        r["x"] = _step(r)
    # Epoch-based training logs validation at step = epoch (MMEngine's
    # LoggerHook, log_metric_by_epoch): place it at its epoch's last iteration.
    by_epoch = any("epoch" in r for r in train)
    per_epoch = max((math.ceil(r["x"] / r["epoch"]) for r in train if r.get("epoch")),
                    default=1)
    for r in val:
        step = int(r.get("step", 0))
        last = [t["x"] for t in train if t.get("epoch") == step]
        r["x"] = (max(last) if last else step * per_epoch) if by_epoch else step
    return train, val


def load_scalars(work_dir: PathLike, all_runs: bool = True) -> dict[str, list[dict]]:
    """Training and validation rows of the latest run, `x` = training iteration.

    With `all_runs`, the runs that the latest one resumed are joined in front of
    it (their rows before its first iteration); a run started from scratch ends
    the chain. Validation rows of epoch-based training (logged at step = epoch)
    are placed at the last iteration of their epoch.
    """
    paths = find_scalars(work_dir)
    train: list[dict] = []
    val: list[dict] = []
    for path in reversed(paths if all_runs else paths[-1:]):
        t, v = _run_rows(path)
        if train:
            first = min(r["x"] for r in train)
            t = [r for r in t if r["x"] < first]
            if not t:  # the later run started from scratch: older runs are not its past
                break
            v = [r for r in v if r["x"] < first]
        train, val = t + train, v + val
    return {"train": train, "val": val}


def _step(row: Mapping) -> int:
    return int(row.get("iter", row.get("step", 0)))


_SKIP = ("time", "data_time", "memory", "step", "iter", "epoch", "x", "lr", "grad_norm")


def plot_training_curves(work_dir: PathLike, keys: list[str] | None = None,
                         all_runs: bool = True):
    """Losses, metrics and learning rate against the training iteration.

    Metrics are the validation ones when the run validated, else the training
    ones MMEngine logs (e.g. `acc`, `recall@top1`); `keys` picks which.

    Args:
        work_dir: An MMEngine work dir (`stad train ...`'s).
        keys: Metric names to plot (default: all logged).
        all_runs: Join the logs of every (resumed) run, not only the last.

    Returns:
        The matplotlib Figure.

    Raises:
        StadError: No training log in `work_dir`, or one without rows yet.
    """
    scalars = load_scalars(work_dir, all_runs)
    train, val = scalars["train"], scalars["val"]
    if not train and not val:
        raise StadError("the training log has no rows yet", work_dir)
    loss_keys = [k for k in _keys(train) if k.startswith("loss")]
    metric_rows = val if any(_keys(val, _SKIP)) else train
    metric_keys = [k for k in _keys(metric_rows, _SKIP) if not k.startswith("loss")]
    if keys is not None:
        loss_keys = [k for k in loss_keys if k in keys]
        metric_keys = [k for k in metric_keys if k in keys]
    panels = ["loss"] + (["metrics"] if metric_keys else []) + (
        ["lr"] if any("lr" in r for r in train) else [])
    fig, axes = _subplots(len(panels))
    for ax, panel in zip(axes, panels):
        if panel == "loss":
            for i, key in enumerate(loss_keys):
                xs, ys = _series(train, key)
                ax.plot(xs, ys, lw=2.2 if key == "loss" else 1.0,
                        color="k" if key == "loss" else f"C{i % 10}", label=key)
            ax.set_title("training loss")
            ax.set_yscale("log" if _positive(train, loss_keys) else "linear")
        elif panel == "metrics":
            for i, key in enumerate(metric_keys):
                xs, ys = _series(metric_rows, key)
                ax.plot(xs, ys, marker="o" if metric_rows is val else None, ms=3,
                        lw=1.2, color=f"C{i % 10}", label=key)
            ax.set_title("validation metrics" if metric_rows is val
                         else "training metrics")
        else:
            xs, ys = _series(train, "lr")
            ax.plot(xs, ys, color="C7")
            ax.set_title("learning rate")
        ax.set_xlabel("iteration")
        if panel != "lr" and ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def _keys(rows: list[dict], skip: tuple[str, ...] = ()) -> list[str]:
    keys: dict[str, None] = {}
    for r in rows:
        for k, v in r.items():
            if k not in skip and isinstance(v, (int, float)):
                keys[k] = None
    return list(keys)


def _series(rows: list[dict], key: str) -> tuple[list[float], list[float]]:
    pts = [(r["x"], r[key]) for r in rows if isinstance(r.get(key), (int, float))]
    return [p[0] for p in pts], [p[1] for p in pts]


def _positive(rows: list[dict], keys: list[str]) -> bool:
    vals = [r[k] for r in rows for k in keys if isinstance(r.get(k), (int, float))]
    return bool(vals) and min(vals) > 0 and max(vals) / min(vals) > 20


# ---------------------------------------------------------------------------
# Per-class AP
# ---------------------------------------------------------------------------
def load_per_class_ap(src: PathLike | Mapping | list) -> dict[str, dict[str, float]]:
    """Per-class AP as {metric: {class: AP}} from a dict, a file or a folder.

    Accepted: `stad_helpers.evaluate`'s rows (`per_class` in `metrics.json`:
    `label`, `name`, `frame_ap@0.5`, `video_ap@0.2`, ...; None = not scored) or
    its `per_class_ap.csv`; {class: AP}; {metric: {class: AP}}; a JSON file of
    any of these; or the evaluation folder (`metrics.json`, else
    `*per_class*.json`, else `per_class_ap.csv`).

    Returns:
        `{metric: {class name: AP}}` (`"AP"` as the metric for a plain
        {class: AP}), APs as stored (fractions from `stad evaluate`; NaN where
        a class was not scored).

    Raises:
        StadError: A missing file or folder, a file that is not JSON, a row
            without name or label, or data of none of the accepted forms.
    """
    source = None
    data: Any = src
    if isinstance(src, (str, os.PathLike)):
        path = _per_class_file(Path(src))
        source = path
        if path.suffix == ".csv":
            with open(path, newline="") as fh:
                data = [{k: _cell(v) for k, v in row.items()}
                        for row in csv.DictReader(fh)]
        else:
            try:
                data = json.loads(path.read_text())
            except json.JSONDecodeError as exc:
                raise StadError(f"not a JSON file ({exc})", path) from None
    if isinstance(data, Mapping) and any(k in data for k in ("per_class", "classes")):
        data = data.get("per_class", data.get("classes"))
    number = (int, float, type(None))
    out: dict[str, dict[str, float]] = {}
    if isinstance(data, Mapping) and data and all(
            isinstance(v, number) for v in data.values()):
        out["AP"] = {str(k): _num(v) for k, v in data.items()}
    elif isinstance(data, Mapping) and data and all(
            isinstance(v, Mapping) for v in data.values()):
        for metric, per in data.items():
            out[str(metric)] = {str(k): _num(v) for k, v in per.items()
                                if isinstance(v, number)}
    elif isinstance(data, list) and data and all(isinstance(r, Mapping) for r in data):
        keys = [k for k in data[0] if "ap" in k.lower() and k.lower() != "name"]
        if not keys:
            keys = [k for k, v in data[0].items() if isinstance(v, (float, type(None)))]
        for r in data:
            name = next((r[k] for k in ("name", "class", "label")
                         if isinstance(r.get(k), str)), None)
            if name is None and isinstance(r.get("label"), int):
                name = str(r["label"])
            if name is None:
                raise StadError("per-class AP row without a name or label", source)
            for k in keys:
                if isinstance(r.get(k), number):
                    out.setdefault(str(k), {})[name] = _num(r.get(k))
    if not out:
        raise StadError("per-class AP must be evaluate's per-class rows, "
                        "{class: AP} or {metric: {class: AP}}", source)
    return out


def _per_class_file(path: Path) -> Path:
    if path.is_file():
        return path
    if not path.is_dir():
        raise StadError("per-class AP file not found", path)
    metrics = path / "metrics.json"
    if metrics.is_file() and "per_class" in json.loads(metrics.read_text()):
        return metrics
    found = sorted(path.glob("*per_class*.json")) or sorted(
        path.glob("*per_class*.csv"))
    if not found:
        raise StadError("no per-class AP in folder (metrics.json with per_class, "
                        "*per_class*.json or per_class_ap.csv)", path)
    return found[0]


def _cell(value: str) -> Any:
    """A CSV cell as None (empty), int, float or str."""
    if value == "":
        return None
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def _num(v: Any) -> float:
    return float("nan") if v is None else float(v)


_MEAN_LS = (":", "--", "-.", "-")


def plot_per_class_ap(src: PathLike | Mapping | list, labels: list[str] | None = None,
                      ax=None, palette: Palette = DEFAULT_PALETTE):
    """Bars of AP per class (grouped by metric when several), in class colours.

    Class colours follow the index in `labels` (default: the order in `src`);
    a class without AP (NaN) gets no bar. The mean of each metric is a line.
    """
    import matplotlib.pyplot as plt

    per_metric = load_per_class_ap(src)
    names: list[str] = list(labels) if labels is not None else []
    for per in per_metric.values():
        names += [k for k in per if k not in names]
    metrics = list(per_metric)
    if ax is None:
        fig, ax = plt.subplots(figsize=(max(4.5, 0.35 * len(names) * len(metrics) + 2),
                                        3.4))
    else:
        fig = ax.figure
    width = 0.8 / len(metrics)
    hatches = ["", "//", "..", "xx", "\\\\", "oo"]
    x = np.arange(len(names))
    for m, metric in enumerate(metrics):
        values = np.array([per_metric[metric].get(n, np.nan) for n in names], float)
        have = ~np.isnan(values)
        offs = x + (m - (len(metrics) - 1) / 2) * width
        ax.bar(offs[have], values[have], width=width * 0.95,
               color=[palette.mpl(i) for i in np.flatnonzero(have)],
               hatch=hatches[m % len(hatches)], edgecolor="white", label=metric)
        if have.any():
            ax.axhline(np.nanmean(values), color="0.25", ls=_MEAN_LS[m % 4], lw=1)
    top = max((v for per in per_metric.values() for v in per.values()
               if not math.isnan(v)), default=1.0)
    ax.set_ylim(0, 1.05 if top <= 1.0 else top * 1.05)
    ax.set_xticks(x, names, rotation=45 if len(names) <= 12 else 90, ha="right",
                  fontsize=8 if len(names) <= 12 else 5)
    ax.set_ylabel("AP")
    ax.set_title("per-class AP (lines: mean over classes)")
    if len(metrics) > 1:
        from matplotlib.patches import Patch

        ax.legend(handles=[Patch(facecolor="0.6", edgecolor="white",
                                 hatch=hatches[m % len(hatches)], label=metric)
                           for m, metric in enumerate(metrics)], fontsize=7)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------
# Tube timeline
# ---------------------------------------------------------------------------
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
