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


def launcher_options(launcher: str = "none") -> dict:
    """Make MMEngine's `pytorch` launcher work on CPU-only machines (gloo).

    mmengine 0.10.7's `init_dist` calls `torch.cuda.set_device`, which CPU builds of
    torch lack, and wraps the model with `device_ids=[local_rank]`, which
    DistributedDataParallel refuses for CPU modules. Without CUDA we start the
    gloo process group ourselves (MMEngine then skips its own init) and return the
    cfg-options for a CPU DDP wrapper. With CUDA, or no launcher, nothing changes.
    Remove when mmengine initializes distributed runs on CPU by itself.
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


def _check_start(cfg, config: str | os.PathLike, work: Path, resume: bool) -> None:
    """Check the checkpoint a training of `cfg` starts from, before any work: the
    resumed one (strictly), or `load_from` (leniently: fine-tuning may bring a new
    head). The model is built on its own, which is quick next to MMEngine's Runner."""
    from mmengine.registry import MODELS, DefaultScope
    from mmengine.runner.checkpoint import find_latest_checkpoint

    start = find_latest_checkpoint(str(work)) if resume else cfg.get("load_from")
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
    """An MMEngine Runner for `config`, ready to `.train()` or `.test()`."""
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
) -> Path:
    """Train `config` (with `cfg_options` merged in); return the last checkpoint.

    `work_dir` defaults to the config's, else `work_dirs/<config name>`. With
    `resume`, training continues from the work dir's own last checkpoint (not from
    `load_from`, the weights a fine-tuning starts from); with none there yet it
    starts afresh. A resumed checkpoint must fit the model exactly, a `load_from`
    one mostly (see `check_checkpoint`). `quiet` replaces MMEngine's log by a
    progress bar.
    """
    from mmengine.dist import barrier

    from .registry import register_all

    register_all()
    options = {**(cfg_options or {}), **launcher_options(launcher)}
    cfg = load_config(config, options)
    work = Path(work_dir or cfg.get("work_dir") or default_work_dir(config))
    # A work dir is ours (marked) or new: MMEngine never writes into a user's folder.
    claim_output_dir(work, kind="work dir", inputs=[config], legacy=mmengine_work_dir)
    if resume:
        if (work / "last_checkpoint").is_file():
            cfg.load_from = None  # MMEngine would resume `load_from` instead
        else:
            resume = False
    _check_start(cfg, config, work, resume)
    with _quiet_stdout() if quiet else contextlib.nullcontext():
        runner = _runner(cfg, config, work, resume, launcher, quiet)
        if quiet:
            runner.register_hook(_progress_hook(), priority="VERY_LOW")
        runner.train()
    barrier()  # distributed: rank 0 writes the checkpoint the others return
    last = Path(runner.work_dir) / "last_checkpoint"
    if not last.exists():
        raise StadError("training saved no checkpoint", runner.work_dir)
    return Path(last.read_text().strip())
