"""The person detector (tutorial section 2): train it (here), run it over every frame.

`train_detector` points an MMDetection config (`configs/det/...`) at the data,
checks that the frames and annotation it trains on exist, and trains it with the
project's training glue (`stad_helpers.train.train`: resume, checkpoint checks,
progress bar, torchrun). Running it over every frame (`detect`,
`make_proposals`, `load_detector`) is `person_detection`'s job; those names are
re-exported here.

Used in: 02_person_detector, 05_your_own_data.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .data.validate import check_split_annotations
from .errors import StadError
from .person_detection import SOURCES, detect, load_detector, make_proposals

__all__ = ["SOURCES", "data_options", "detect", "load_detector", "make_proposals",
           "train_detector"]


# ---------------------------------------------------------------------------
# Config plumbing
# ---------------------------------------------------------------------------
def data_options(config: str | os.PathLike, data_root: str | os.PathLike) -> dict:
    """cfg-options that move every data path of `config` from its `data_root` to ours.

    Our configs start with `data_root = 'data/multisports/'` and build every data
    path from it (dataloaders' `data_root`, evaluators' `ann_file`, proposal and
    label files). Every string of the config that starts with that root is
    re-rooted, so `stad train ... --data DIR` needs nothing else.

    Args:
        config: An MMEngine config whose data paths start with its `data_root`.
        data_root: The dataset folder to point them at.

    Returns:
        `{dotted key: new value}` for MMEngine's `cfg_options` (e.g.
        `{"data_root": "DIR/", "val_evaluator.ann_file": "DIR/annotations/..."}`).

    Raises:
        StadError: The config cannot be read or has no top-level string
            `data_root`.
    """
    from .train import load_config

    cfg = load_config(config)
    old = cfg.get("data_root")
    if not isinstance(old, str) or not old:
        raise StadError("config has no top-level `data_root = '...'` to replace",
                        config)
    old_dir = old.rstrip("/")
    new_dir = os.fspath(data_root).rstrip("/") or "."
    options: dict[str, Any] = {"data_root": new_dir + "/"}

    def walk(value: Any, key: str) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{key}.{k}" if key else str(k))
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                walk(v, f"{key}.{i}")
        elif isinstance(value, str) and (
            value == old_dir or value.startswith(old_dir + "/")
        ):
            options[key] = new_dir + value[len(old_dir):]

    for name in cfg.keys():
        if name != "data_root":
            walk(cfg[name], name)
    return options


def _check_training_data(cfg, config: str | os.PathLike) -> None:
    """Raise a clear error if the annotation or frames of the train split are absent."""
    dataset = cfg.train_dataloader.dataset
    while "dataset" in dataset and "ann_file" not in dataset:  # wrappers
        dataset = dataset.dataset
    root = Path(dataset.get("data_root") or "")
    ann = root / dataset.get("ann_file", "")
    if dataset.get("ann_file") and not ann.is_file():
        raise StadError(
            f"training annotation {ann} not found (make it with `stad convert "
            "det-anno`, or point the config at your data with --data DIR)",
            config,
        )
    img = (dataset.get("data_prefix") or {}).get("img")
    if img and not (root / img).is_dir():
        raise StadError(
            f"frames folder {root / img} not found (extract it with `stad convert "
            "frames`)",
            config,
        )


def _stretch_schedule(config: str | os.PathLike, options: dict) -> dict:
    """Options that end the LR schedule at an overridden `train_cfg.max_iters`.

    Iteration-based schedulers that end where the config's training ends are moved
    to end where the overridden one does (a shorter run still anneals), unless
    the options replace the schedulers themselves.
    """
    from .train import load_config

    if "train_cfg.max_iters" not in options or any(
            k.startswith("param_scheduler") for k in options):
        return {}
    cfg = load_config(config)
    old, new = cfg.train_cfg.get("max_iters"), int(options["train_cfg.max_iters"])
    schedulers = cfg.get("param_scheduler")
    if not isinstance(schedulers, list):
        return {}
    return {
        f"param_scheduler.{i}.end": new
        for i, sched in enumerate(schedulers)
        if not sched.get("by_epoch", True) and sched.get("end") == old
        and new > sched.get("begin", 0)
    }


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------
def train_detector(
    config: str | os.PathLike,
    data_root: str | os.PathLike | None = None,
    work_dir: str | os.PathLike | None = None,
    resume: bool = False,
    cfg_options: dict[str, Any] | None = None,
    launcher: str = "none",
    quiet: bool = True,
) -> Path:
    """Train the person detector of `config`; return the last checkpoint's path.

    `data_root` points every data path of the config at another dataset folder
    (one with `annotations/` and `rawframes/`); `cfg_options` override anything
    else, and an overridden `train_cfg.max_iters` ends the LR schedule there too.
    The rest (resume, checkpoint checks, launcher) is `stad_helpers.train.train`.

    Args:
        config: A detector config (`configs/det/...`, MMDetection format).
        data_root: Dataset folder with the COCO JSONs of `stad convert
            det-anno` and the rawframes.
        work_dir: Where logs and checkpoints go (default
            `work_dirs/<config name>`).
        resume: Continue from the last checkpoint in `work_dir`.
        cfg_options: MMEngine config overrides.
        launcher: `"none"` or `"pytorch"` (under torchrun).
        quiet: Keep MMEngine's log off the console.

    Returns:
        The path of the last checkpoint (`.pth`).

    Raises:
        StadError: The config is unreadable, the training data (COCO JSONs,
            rawframes) is missing or empty, the schedule override is invalid,
            the device or launcher is unusable, or the resumed checkpoint is not
            one of this config (see `stad_helpers.train.train`).
    """
    from .train import load_config, train

    options: dict[str, Any] = {}
    if data_root is not None:
        options.update(data_options(config, data_root))
    options.update(cfg_options or {})
    options.update(_stretch_schedule(config, options))
    cfg = load_config(config, options)
    check_split_annotations(cfg, config)  # an empty train/val split: one clear line
    _check_training_data(cfg, config)
    return train(config, work_dir, resume, options, launcher, quiet)
