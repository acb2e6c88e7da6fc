"""Training logs: the scalars MMEngine writes while a model trains.

`load_scalars(work_dir)` reads the `vis_data/scalars.json` that MMEngine's
`LocalVisBackend` writes in `<work_dir>/<timestamp>/` (one JSON object a line)
into training and validation rows with `x`, the training iteration; a resumed
run is joined to the run it resumed. `stad_helpers.viz.curves` plots them.

Used in: 02_person_detector, 03_action_detector (through `plot_training_curves`).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Union

from ..errors import StadError

PathLike = Union[str, os.PathLike]


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
