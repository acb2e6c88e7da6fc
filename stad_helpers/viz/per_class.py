"""Per-class AP: read from `stad evaluate`'s outputs, drawn as bars.

- `load_per_class_ap(src)`: `{metric: {class: AP}}` from
  `stad_helpers.evaluate`'s per-class JSON or CSV, its folder, or a dict;
- `plot_per_class_ap(src)`: one bar per class (and per metric) in the class
  colours (`stad_helpers.viz.palette`), the mean of each metric as a line.

Used in: 03_action_detector, 05_your_own_data.
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
from .palette import DEFAULT_PALETTE, Palette

PathLike = Union[str, os.PathLike]


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
