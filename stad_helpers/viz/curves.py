"""Training curves: losses, metrics and learning rate against the iteration.

`plot_training_curves(work_dir)` draws what `stad_helpers.viz.scalars` reads
from MMEngine's `vis_data/scalars.json` and returns its matplotlib Figure.

Used in: 02_person_detector, 03_action_detector.
"""

from __future__ import annotations

import os
from typing import Union

from ..errors import StadError
from .scalars import load_scalars

PathLike = Union[str, os.PathLike]


def _subplots(n: int, width: float = 4.2, height: float = 3.2):
    """A row of `n` axes, `width` x `height` inches each."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, n, figsize=(width * n, height), squeeze=False)
    return fig, list(axes[0])


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
