"""Train any of the project's configs through MMEngine's Runner.

The one training glue of the person detector (`detector.train_detector`) and the
action detector (`action.train_action`): they point a config at the data and check
it, then call `train`, which resumes the work dir's last checkpoint when asked,
checks that any checkpoint it resumes or loads fits the config's model, trains
with a progress bar instead of MMEngine's log, and returns the last checkpoint.
Distributed runs go through MMEngine's launcher (`launcher="pytorch"` under
torchrun, gloo on CPU). Checkpoint checks (`check_checkpoint` also guards
inference) live in `checkpoints`, the device choice in `device`; both are
re-exported here.

Used in: 02_person_detector, 03_action_detector, 04_inference_demo,
05_your_own_data.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import sys
from pathlib import Path
from typing import Any

from .checkpoints import (
    LAST_CHECKPOINT,
    check_checkpoint,
    checkpoint_progress,
    read_last_checkpoint,
    relativize_last_checkpoint,
)
from .device import resolve_device, use_device
from .errors import StadError
from .fileio import claim_output_dir, mmengine_work_dir

# Re-exported: checkpoints and devices have their own modules; callers of `train`
# may keep importing them from here.
__all__ = ["LAST_CHECKPOINT", "build_runner", "check_checkpoint",
           "checkpoint_progress", "default_work_dir", "launcher_options",
           "load_config", "read_last_checkpoint", "relativize_last_checkpoint",
           "resolve_device", "schedule_end", "schedule_options", "train",
           "training_finished", "use_device"]


# ---------------------------------------------------------------------------
# Configs
# ---------------------------------------------------------------------------
def load_config(config: str | os.PathLike, cfg_options: dict[str, Any] | None = None):
    """An mmengine Config from a file, with `cfg_options` merged in.

    Args:
        config: An MMEngine config file (`.py`; `_base_` and `mmdet::` /
            `mmaction::` bases are resolved,
            https://mmengine.readthedocs.io/en/latest/advanced_tutorials/config.html).
        cfg_options: Dotted-key overrides (`{"train_cfg.max_iters": 10}`), as
            `--cfg-options` gives them.

    Returns:
        The `mmengine.config.Config`.

    Raises:
        StadError: The file does not exist or MMEngine cannot parse it (syntax
            error, a missing base file).
    """
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
    """`work_dirs/<config file name without .py>` (relative to the current folder)."""
    return Path("work_dirs") / Path(config).stem


def launcher_options(launcher: str = "none") -> dict:
    """Make MMEngine's `pytorch` launcher work on CPU-only machines (gloo).

    mmengine 0.10.7's `init_dist` calls `torch.cuda.set_device`, which CPU builds of
    torch lack, and wraps the model with `device_ids=[local_rank]`, which
    DistributedDataParallel refuses for CPU modules. Without CUDA we start the
    gloo process group ourselves (MMEngine then skips its own init) and return the
    cfg-options for a CPU DDP wrapper. With CUDA, or no launcher, nothing changes.
    Remove when mmengine initializes distributed runs on CPU by itself.

    Args:
        launcher: `"none"` or `"pytorch"` (MMEngine's launcher names).

    Returns:
        cfg-options to merge (`{}` unless CPU-only DDP).

    Raises:
        StadError: A launcher other than `none`/`pytorch` without CUDA, or
            `pytorch` outside torchrun (RANK, LOCAL_RANK, WORLD_SIZE,
            MASTER_ADDR not set).
    """
    if launcher == "none":
        return {}
    import torch

    if torch.cuda.is_available():
        return {}
    if launcher != "pytorch":
        raise StadError(f"launcher {launcher!r} needs CUDA; on CPU use 'pytorch' "
                        "(torchrun)")
    missing = [v for v in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR")
               if v not in os.environ]
    if missing:
        raise StadError("--launcher pytorch must run under torchrun "
                        f"(environment lacks {', '.join(missing)})")
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="gloo")
    return {
        "env_cfg.dist_cfg.backend": "gloo",
        "model_wrapper_cfg.type": "MMDistributedDataParallel",
        "model_wrapper_cfg.device_ids": None,
        "model_wrapper_cfg.broadcast_buffers": False,
    }


# ---------------------------------------------------------------------------
# Schedules
# ---------------------------------------------------------------------------
def schedule_end(cfg) -> tuple[str, int]:
    """("iter", max_iters) or ("epoch", max_epochs): where `cfg`'s training ends.

    The unit follows the config's training loop (`IterBasedTrainLoop` or
    `train_cfg.by_epoch=False`: iterations; `EpochBasedTrainLoop`: epochs), as
    MMEngine's Runner builds it. Raises `StadError` when the config trains by
    one unit but `train_cfg` sets the other's length (MMEngine would fail deep
    inside with an unexpected keyword).

    Raises:
        StadError: `train_cfg` sets the other unit's length, or none.
    """
    train_cfg = cfg.get("train_cfg") or {}
    loop = str(train_cfg.get("type", ""))
    by_iter = "IterBased" in loop or (not loop and train_cfg.get("by_epoch") is False)
    unit, other = ("iter", "epoch") if by_iter else ("epoch", "iter")
    where = getattr(cfg, "filename", None)
    if f"max_{other}s" in train_cfg:
        raise StadError(
            f"this config trains by {unit}s ({loop or 'train_cfg.by_epoch'}): set "
            f"train_cfg.max_{unit}s, not train_cfg.max_{other}s", where)
    if f"max_{unit}s" not in train_cfg:
        raise StadError(f"train_cfg has no max_{unit}s", where)
    return unit, int(train_cfg[f"max_{unit}s"])


def schedule_options(config: str | os.PathLike, iters: int | None = None,
                     epochs: int | None = None) -> dict[str, Any]:
    """cfg-options that set the training length of `config` in its own loop's unit.

    An iteration-based config takes `iters`, an epoch-based one `epochs`; the
    other is ignored, so one call fits both profiles (`None`: the config's own
    length). Validation that the config puts after its end stays after the new
    end, and LR schedulers that end where the config's training ends (in the same
    unit) are moved to end at the new end. Raises `StadError` for a length < 1.

    Args:
        config: The config file.
        iters: New `max_iters` for an iteration-based config.
        epochs: New `max_epochs` for an epoch-based config.

    Returns:
        cfg-options (`{"train_cfg.max_iters": N, "param_scheduler.0.end": N,
        ...}`); `{}` when the length in the config's unit is None.

    Raises:
        StadError: The config is unreadable, its `train_cfg` length is
            inconsistent (`schedule_end`), or the new length is < 1.
    """
    cfg = load_config(config)
    unit, old = schedule_end(cfg)
    new = iters if unit == "iter" else epochs
    if new is None:
        return {}
    if int(new) < 1:
        raise StadError(f"training length must be at least 1 {unit}, got {new}",
                        config)
    new = int(new)
    options: dict[str, Any] = {f"train_cfg.max_{unit}s": new}
    if int(cfg.train_cfg.get("val_begin", 1)) > old:
        options["train_cfg.val_begin"] = new + 1
    schedulers = cfg.get("param_scheduler")
    for i, sched in enumerate(schedulers if isinstance(schedulers, list) else []):
        same_unit = bool(sched.get("by_epoch", True)) == (unit == "epoch")
        if same_unit and sched.get("end") == old and new > sched.get("begin", 0):
            options[f"param_scheduler.{i}.end"] = new
    return options


def training_finished(cfg, checkpoint: str | os.PathLike) -> tuple[bool, str]:
    """(done, e.g. "iteration 200 of 600"): whether `checkpoint` ends `cfg`'s
    schedule (`schedule_end`), read from the checkpoint's own progress.

    Raises:
        StadError: The checkpoint is unreadable or not a training checkpoint,
            or `cfg`'s `train_cfg` length is inconsistent.
    """
    unit, end = schedule_end(cfg)
    done = checkpoint_progress(checkpoint)[unit]
    return done >= end, f"{'iteration' if unit == 'iter' else 'epoch'} {done} of {end}"


def _check_start(cfg, config: str | os.PathLike, work: Path, resume: bool) -> None:
    """Check the checkpoint a training of `cfg` starts from, before any work: the
    resumed one (strictly), or `load_from` (leniently: fine-tuning may bring a new
    head). The model is built on its own, which is quick next to MMEngine's Runner."""
    from mmengine.registry import MODELS, DefaultScope

    start = read_last_checkpoint(work) if resume else cfg.get("load_from")
    if not start:
        return
    model = copy.deepcopy(cfg.model)
    if cfg.get("data_preprocessor") is not None:  # as MMEngine's Runner does
        model.setdefault("data_preprocessor", cfg.data_preprocessor)
    with DefaultScope.overwrite_default_scope(cfg.get("default_scope")):
        model = MODELS.build(model)
    check_checkpoint(model, start, strict=resume, source=config)


# ---------------------------------------------------------------------------
# Runner
# ---------------------------------------------------------------------------
def build_runner(
    config: str | os.PathLike,
    work_dir: str | os.PathLike | None = None,
    resume: bool = False,
    cfg_options: dict[str, Any] | None = None,
    launcher: str = "none",
    quiet: bool = True,
):
    """An MMEngine Runner for `config`, ready to `.train()` or `.test()`.

    Args:
        config: The config file.
        work_dir: Where logs and checkpoints go.
        resume: Resume from the work dir's last checkpoint.
        cfg_options: MMEngine config overrides.
        launcher: `"none"` or `"pytorch"`.
        quiet: Keep MMEngine's log off the console.

    Returns:
        An `mmengine.runner.Runner`.

    Raises:
        StadError: The config cannot be read (`load_config`).
    """
    return _runner(load_config(config, cfg_options), config, work_dir, resume,
                   launcher, quiet)


def _runner(cfg, config, work_dir, resume: bool, launcher: str, quiet: bool):
    from mmengine.runner import Runner

    from .registry import register_all

    register_all()
    cfg.work_dir = str(work_dir or cfg.get("work_dir") or default_work_dir(config))
    cfg.launcher = launcher
    if resume:
        cfg.resume = True
        cfg.load_from = cfg.get("load_from")  # None -> last checkpoint of work_dir
    if quiet:
        cfg.log_level = "WARNING"
    return Runner.from_cfg(cfg)


@contextlib.contextmanager
def _quiet_stdout():
    """Hide what MMEngine (its logger's warnings too: the logger is made inside)
    and pycocotools print while training; show it when training fails."""
    captured = io.StringIO()
    try:
        with contextlib.redirect_stdout(captured):
            yield
    except StadError:  # the user's mistake, said in one line
        raise
    except BaseException:
        sys.stderr.write(captured.getvalue()[-5000:])
        raise


def _progress_hook():
    """A tqdm bar over the training iterations, with the loss (rank 0 only)."""
    from mmengine.dist import is_main_process
    from mmengine.hooks import Hook

    stream = sys.stderr  # bound now: stdout is silenced during training

    class TrainProgress(Hook):
        def before_train(self, runner) -> None:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=runner.max_iters, initial=runner.iter, unit="iter",
                            desc="train", file=stream,
                            disable=not is_main_process())

        def after_train_iter(self, runner, batch_idx, data_batch=None,
                             outputs=None) -> None:
            self.bar.update(1)
            if outputs and "loss" in outputs:
                loss = outputs["loss"]
                loss = loss.detach() if hasattr(loss, "detach") else loss
                self.bar.set_postfix(loss=f"{float(loss):.3f}", refresh=False)

        def after_train(self, runner) -> None:
            self.bar.close()

    return TrainProgress()


def train(
    config: str | os.PathLike,
    work_dir: str | os.PathLike | None = None,
    resume: bool = False,
    cfg_options: dict[str, Any] | None = None,
    launcher: str = "none",
    quiet: bool = True,
    *,
    device: str | None = None,
) -> Path:
    """Train `config` (with `cfg_options` merged in); return the last checkpoint.

    `work_dir` defaults to the config's, else `work_dirs/<config name>`. With
    `resume`, training continues from the work dir's own last checkpoint (not from
    `load_from`, the weights a fine-tuning starts from); with none there yet it
    starts afresh. A resumed checkpoint must fit the model exactly, a `load_from`
    one mostly (see `check_checkpoint`). `quiet` replaces MMEngine's log by a
    progress bar. `device`: where to train (`use_device`; None: an enclosing
    `use_device` block's, else MMEngine's choice, CUDA when present). The work
    dir's `last_checkpoint` names its checkpoint relative to the work dir
    afterwards, so the work dir can be moved. Raises `StadError` when
    `cfg_options` set the length in the other unit than the config's loop
    (`schedule_end`).

    Returns:
        The path of the last checkpoint (`.pth`) in the work dir.

    Raises:
        StadError: The config is unreadable or its schedule inconsistent; the
            work dir is a folder the project did not make; the device or
            launcher is unusable; the checkpoint to resume or fine-tune from is
            unreadable or of another model; or training saved no checkpoint.
    """
    from mmengine.dist import barrier

    from .registry import register_all

    register_all()
    options = {**(cfg_options or {}), **launcher_options(launcher)}
    cfg = load_config(config, options)
    schedule_end(cfg)  # a length in the other loop's unit: a clear error now
    work = Path(work_dir or cfg.get("work_dir") or default_work_dir(config))
    # A work dir is ours (marked) or new: MMEngine never writes into a user's folder.
    claim_output_dir(work, kind="work dir", inputs=[config], legacy=mmengine_work_dir)
    if resume:
        last = read_last_checkpoint(work)
        if last is not None:
            # Resumed from by name (MMEngine would resume `load_from`, or the
            # absolute path of a work dir this one was copied from).
            cfg.load_from = os.fspath(last)
        else:
            resume = False
    _check_start(cfg, config, work, resume)
    with contextlib.ExitStack() as stack:
        if device is not None:
            stack.enter_context(use_device(device))
        if quiet:
            stack.enter_context(_quiet_stdout())
        runner = _runner(cfg, config, work, resume, launcher, quiet)
        if quiet:
            runner.register_hook(_progress_hook(), priority="VERY_LOW")
        runner.train()
    barrier()  # distributed: rank 0 writes the checkpoint the others return
    from mmengine.dist import is_main_process

    work = Path(runner.work_dir)
    last = (relativize_last_checkpoint(work) if is_main_process()
            else read_last_checkpoint(work))
    if last is None:
        raise StadError("training saved no checkpoint", work)
    return last
