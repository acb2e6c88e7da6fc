"""Train any of the project's configs through MMEngine's Runner.

The same glue for the person detector (MMDetection) and the action detector
(MMAction2): load the config, apply overrides, pick the work dir, resume from
the last checkpoint when asked, and train. Distributed runs go through MMEngine's
launcher (`launcher="pytorch"` under torchrun).

Used in: 02_person_detector, 03_action_detector, 05_your_own_data.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .errors import StadError


def load_config(config: str | os.PathLike, cfg_options: dict[str, Any] | None = None):
    """An mmengine Config from a file, with `cfg_options` merged in."""
    from mmengine.config import Config

    path = Path(config)
    if not path.is_file():
        raise StadError("config file not found", path)
    try:
        cfg = Config.fromfile(str(path))
    except Exception as exc:  # noqa: BLE001 - any parse error is the user's file
        raise StadError(f"cannot read config: {exc}", path) from None
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def default_work_dir(config: str | os.PathLike) -> Path:
    return Path("work_dirs") / Path(config).stem


def build_runner(
    config: str | os.PathLike,
    work_dir: str | os.PathLike | None = None,
    resume: bool = False,
    cfg_options: dict[str, Any] | None = None,
    launcher: str = "none",
    quiet: bool = True,
):
    """An MMEngine Runner for `config`, ready to `.train()`."""
    from mmengine.runner import Runner

    from .registry import register_all

    register_all()
    cfg = load_config(config, cfg_options)
    cfg.work_dir = str(work_dir or cfg.get("work_dir") or default_work_dir(config))
    cfg.launcher = launcher
    if resume:
        cfg.resume = True
        cfg.load_from = cfg.get("load_from")  # None -> last checkpoint of work_dir
    if quiet:
        cfg.log_level = "WARNING"
    return Runner.from_cfg(cfg)


def train(
    config: str | os.PathLike,
    work_dir: str | os.PathLike | None = None,
    resume: bool = False,
    cfg_options: dict[str, Any] | None = None,
    launcher: str = "none",
    quiet: bool = True,
) -> Path:
    """Train `config`; return the path of the last checkpoint."""
    runner = build_runner(config, work_dir, resume, cfg_options, launcher, quiet)
    try:
        runner.train()
    except RuntimeError as exc:
        if "size mismatch" in str(exc) or "Missing key" in str(exc):
            raise StadError(
                f"checkpoint does not match the model of this config: {exc}",
                runner.work_dir,
            ) from None
        raise
    last = Path(runner.work_dir) / "last_checkpoint"
    return Path(last.read_text().strip()) if last.exists() else Path(runner.work_dir)
