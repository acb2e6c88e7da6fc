"""`stad train det|action CONFIG`: train the person or the action detector.

Thin layer over `stad_helpers.detector.train_detector` (det) and
`stad_helpers.action.train_action` (action), which both train through
`stad_helpers.train.train`: MMEngine's Runner, with `--resume` from the work dir's
last checkpoint, `--cfg-options` like MMEngine's tools, and `--launcher pytorch`
under torchrun (gloo on CPU).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ._common import add_cfg_options, existing_dir, existing_file, parse_cfg_options


def register(sub) -> None:
    p = sub.add_parser("train", help="train the person (det) or action detector")
    p.add_argument("kind", choices=["det", "action"],
                   help="det: MMDetection person detector; action: MMAction2 "
                        "action detector")
    p.add_argument("config", metavar="CONFIG", type=existing_file)
    p.add_argument("--work-dir", type=Path, metavar="D",
                   help="checkpoints and logs (default: work_dirs/<config name>)")
    p.add_argument("--resume", action="store_true",
                   help="continue from the last checkpoint in the work dir")
    p.add_argument("--data", type=existing_dir, metavar="DIR",
                   help="dataset folder replacing the config's data_root")
    add_cfg_options(p)
    p.add_argument("--launcher", choices=["none", "pytorch"], default="none",
                   help="'pytorch' under torchrun for multi-process training")
    p.add_argument("--device", default=None, metavar="DEVICE",
                   help="where the model trains: cpu, cuda or cuda:N (default: "
                        "cuda when torch sees a GPU, else cpu; with --launcher "
                        "pytorch each process takes its own GPU)")
    p.add_argument("--verbose", action="store_true", help="show MMEngine's log")
    p.set_defaults(func=_train)


def _train(args: argparse.Namespace) -> int:
    if args.kind == "det":
        from ..detector import train_detector as train
    else:
        from ..action import train_action as train

    import contextlib

    from ..errors import StadError
    from ..train import use_device

    if args.launcher != "none" and args.device is not None:
        raise StadError("--device is for single-process training; under torchrun "
                        "each process takes its own GPU (or the CPU without one)")
    _check_kind(args)  # `stad train det` of an action config, or the reverse
    _check_splits(args)  # an empty train/val split: one clear line, not MMEngine's
    _fetch_weights(args)  # every remote checkpoint first; offline: one clear line
    with (use_device(args.device) if args.launcher == "none"
          else contextlib.nullcontext()):
        ckpt = train(args.config, data_root=args.data, work_dir=args.work_dir,
                     resume=args.resume,
                     cfg_options=parse_cfg_options(args.cfg_options),
                     launcher=args.launcher, quiet=not args.verbose)
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():  # under torchrun
        rank = dist.get_rank()
        dist.destroy_process_group()
        if rank != 0:
            return 0
    print(ckpt)
    return 0


def _fetch_weights(args: argparse.Namespace) -> None:
    """Resolve the checkpoints the config names before training starts
    (`stad_helpers.weights.preflight`); a resumed run needs no `load_from`."""
    import os

    from ..train import default_work_dir
    from ..weights import preflight

    if os.environ.get("LOCAL_RANK", "0") != "0":
        return  # under torchrun, each machine's first process fetches
    options = parse_cfg_options(args.cfg_options)
    work = Path(args.work_dir or default_work_dir(args.config))
    if args.resume and (work / "last_checkpoint").is_file():
        options["load_from"] = None
    preflight([args.config], options)


def _check_splits(args: argparse.Namespace) -> None:
    """The config as `train` will build it (data options applied); refuse an
    empty train or val split (`stad_helpers.data.validate.check_split_annotations`)."""
    from ..data.validate import check_split_annotations
    from ..train import load_config

    options = parse_cfg_options(args.cfg_options)
    if args.kind == "det":
        from ..detector import data_options

        if args.data is not None:
            options = {**data_options(args.config, args.data), **options}
    else:
        from ..action import action_options

        options = action_options(args.config, args.data, options)
    check_split_annotations(load_config(args.config, options), args.config)


def _check_kind(args: argparse.Namespace) -> None:
    """Refuse a config of the other model kind (`demo.models.config_kind`)."""
    from ..demo.models import KIND_NAMES, config_kind
    from ..errors import StadError
    from ..train import load_config

    want = "detector" if args.kind == "det" else "action"
    got = config_kind(load_config(args.config))
    if got is not None and got != want:
        other = "det" if got == "detector" else "action"
        raise StadError(f"looks like {KIND_NAMES[got]} config, not {KIND_NAMES[want]}"
                        f"'s; train it with `stad train {other}`", args.config)
