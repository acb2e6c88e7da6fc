"""Train any of the project's configs through MMEngine's Runner.

The one training glue of the person detector (`detector.train_detector`) and the
action detector (`action.train_action`): they point a config at the data and check
it, then call `train`, which resumes the work dir's last checkpoint when asked,
checks that any checkpoint it resumes or loads fits the config's model, trains
with a progress bar instead of MMEngine's log, and returns the last checkpoint.
Distributed runs go through MMEngine's launcher (`launcher="pytorch"` under
torchrun, gloo on CPU). `check_checkpoint` also guards inference.

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

from .errors import StadError
from .fileio import claim_output_dir, mmengine_work_dir


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
# Device
# ---------------------------------------------------------------------------
def resolve_device(device: str | None = None) -> str:
    """Where models run: `device` checked, or "cuda" when torch sees a GPU, else "cpu".

    Accepts "cpu", "cuda" and "cuda:N". Raises `StadError` for another name, or
    for CUDA when torch sees no GPU (or not GPU N). Independent of the profile:
    either profile's models run on either device.

    Raises:
        StadError: An unknown device name, or CUDA asked for but unavailable.
    """
    import torch

    if not device:
        return "cuda" if torch.cuda.is_available() else "cpu"
    name = str(device).strip().lower()
    kind, _, index = name.partition(":")
    if kind == "cpu" and not index:
        return "cpu"
    if kind != "cuda" or (index and not index.isdigit()):
        raise StadError(f"unknown device {device!r}; expected cpu, cuda or cuda:N")
    if not torch.cuda.is_available():
        build = (f"torch {torch.__version__} is a CUDA {torch.version.cuda} build "
                 "but sees no GPU") if torch.version.cuda else (
                 f"torch {torch.__version__} is a CPU-only build")
        raise StadError(f"device {device!r} asked for, but {build}; use --device cpu "
                        "(device = 'cpu' in a notebook)")
    if index and int(index) >= torch.cuda.device_count():
        raise StadError(f"device {device!r} asked for, but torch sees "
                        f"{torch.cuda.device_count()} GPU(s)")
    return name


@contextlib.contextmanager
def use_device(device: str | None = None):
    """Run the MMEngine Runners built and run inside this block on `device`.

    MMEngine's Runner has no device setting: it moves the model to
    `mmengine.device.get_device()` (CUDA whenever torch sees a GPU), and its
    `autocast` asks the same function. Inside this block both answer `device`
    (`resolve_device`), so `--device cpu` also holds on a GPU machine. Yields the
    resolved device. Single-process runs only: under torchrun each process takes
    its own GPU, as MMEngine decides.

    Raises:
        StadError: An unknown device, or CUDA asked for but not available
            (`resolve_device`), when the block is entered.
    """
    import mmengine.runner.amp as amp
    import mmengine.runner.runner as runner_module
    import torch

    resolved = resolve_device(device)
    saved = runner_module.get_device, amp.get_device
    runner_module.get_device = lambda: resolved
    amp.get_device = lambda: torch.device(resolved).type
    try:
        yield resolved
    finally:
        runner_module.get_device, amp.get_device = saved


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


def checkpoint_progress(checkpoint: str | os.PathLike) -> dict[str, int]:
    """{"epoch": E, "iter": I} of an MMEngine checkpoint: the epochs and iterations
    completed when it was saved (its `meta`). Raises `StadError` if unreadable.

    Raises:
        StadError: The file is missing, cannot be loaded, or has no `meta.iter`
            (not an MMEngine training checkpoint).
    """
    import torch

    path = Path(checkpoint)
    if not path.is_file():
        raise StadError("checkpoint file not found", path)
    try:
        try:  # memory-mapped: only `meta` is read, however large the file
            loaded = torch.load(path, map_location="cpu", mmap=True)
        except RuntimeError:  # not torch's zip format: read it all
            loaded = torch.load(path, map_location="cpu")
    except Exception as exc:  # noqa: BLE001 - the file is the user's input
        raise StadError(f"cannot load checkpoint ({type(exc).__name__}: {exc})",
                        path) from None
    meta = loaded.get("meta") if isinstance(loaded, dict) else None
    if not isinstance(meta, dict) or "iter" not in meta:
        raise StadError("not an MMEngine training checkpoint (no meta.iter)", path)
    return {"epoch": int(meta.get("epoch", 0)), "iter": int(meta["iter"])}


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


# ---------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------
def check_checkpoint(model, checkpoint: str | os.PathLike, strict: bool = True,
                     source: str | os.PathLike | None = None) -> dict:
    """Load `checkpoint` and raise `StadError` unless its weights fit `model`.

    MMEngine loads checkpoints non-strictly: a checkpoint of another model only
    logs warnings and training starts from (mostly) random weights. With `strict`
    every tensor of the model must be in the checkpoint with the same shape
    (inference, resuming). Without it (fine-tuning with `load_from`) a new head is
    fine, but at least half of the model's tensors must match. Returns the
    loaded checkpoint.

    Args:
        model: The built model (an `nn.Module`, DDP-wrapped or not).
        checkpoint: A `.pth` path (a URL is loaded by MMEngine as is).
        strict: Every tensor must match (True) or at least half (False).
        source: The config named in errors.

    Returns:
        The loaded checkpoint dict.

    Raises:
        StadError: The file is missing or unreadable, holds no weights, or its
            weights do not fit `model` (the message lists missing and wrongly
            shaped tensors).
    """
    from mmengine.runner.checkpoint import _load_checkpoint

    name = os.fspath(checkpoint)
    if "://" not in name and not Path(name).is_file():
        raise StadError("checkpoint file not found", name)
    try:
        loaded = _load_checkpoint(name, map_location="cpu", logger="silent")
    except Exception as exc:  # noqa: BLE001 - unreadable file: the user's input
        raise StadError(f"cannot load checkpoint ({type(exc).__name__}: {exc})",
                        name) from None
    weights = loaded.get("state_dict", loaded) if isinstance(loaded, dict) else None
    if not isinstance(weights, dict) or not weights:
        raise StadError("not a model checkpoint (no state_dict)", name)
    weights = {k[7:] if k.startswith("module.") else k: v for k, v in weights.items()}
    model = getattr(model, "module", model)  # unwrap DistributedDataParallel
    expected = model.state_dict()
    missing = [k for k in expected if k not in weights]
    wrong = [
        f"{k} {tuple(weights[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in weights and tuple(getattr(weights[k], "shape", ())) != tuple(v.shape)
    ]
    bad = len(missing) + len(wrong)
    if bad and (strict or bad > len(expected) / 2):
        parts = []
        if missing:
            parts.append(f"{len(missing)} of the model's {len(expected)} tensors "
                         f"missing (e.g. {missing[0]})")
        if wrong:
            parts.append(f"{len(wrong)} with other shapes (e.g. {wrong[0]})")
        where = f" (config {source})" if source else ""
        raise StadError(
            "checkpoint does not match the model of this config" + where + ": "
            + "; ".join(parts),
            name,
        )
    return loaded


LAST_CHECKPOINT = "last_checkpoint"  # MMEngine's file naming a work dir's latest


def read_last_checkpoint(work_dir: str | os.PathLike) -> Path | None:
    """The checkpoint a work dir's `last_checkpoint` file names, or None without one.

    A relative name is resolved against the work dir. MMEngine writes absolute
    paths: when such a path points elsewhere but a file of that name lies in the
    work dir (a copied or moved work dir), that file is the one: a copy uses its
    own checkpoints, not the original's.
    """
    work = Path(work_dir)
    try:
        text = (work / LAST_CHECKPOINT).read_text().strip()
    except FileNotFoundError:
        return None
    if not text:
        return None
    named = Path(text)
    if not named.is_absolute():
        return work / named
    beside = work / named.name
    return beside if beside.is_file() else named


def relativize_last_checkpoint(work_dir: str | os.PathLike) -> Path | None:
    """Rewrite `last_checkpoint` to name its checkpoint relative to the work dir
    (when it lies inside), so the work dir can be moved; return the checkpoint."""
    from .fileio import atomic_open

    work = Path(work_dir)
    ckpt = read_last_checkpoint(work)
    if ckpt is None:
        return None
    try:
        relative = os.path.relpath(ckpt.resolve(), work.resolve())
    except ValueError:  # another drive (Windows)
        return ckpt
    if not relative.startswith(os.pardir):
        with atomic_open(work / LAST_CHECKPOINT, "w") as fh:
            fh.write(Path(relative).as_posix())
        return work / relative
    return ckpt


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
