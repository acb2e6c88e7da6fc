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


def register(sub) -> None:
    p = sub.add_parser("train", help="train the person (det) or action detector")
    p.add_argument("kind", choices=["det", "action"],
                   help="det: MMDetection person detector; action: MMAction2 "
                        "action detector")
    p.add_argument("config", metavar="CONFIG", type=Path)
    p.add_argument("--work-dir", type=Path, metavar="D",
                   help="checkpoints and logs (default: work_dirs/<config name>)")
    p.add_argument("--resume", action="store_true",
                   help="continue from the last checkpoint in the work dir")
    p.add_argument("--data", type=Path, metavar="DIR",
                   help="dataset folder replacing the config's data_root")
    p.add_argument("--cfg-options", nargs="+", metavar="KEY=VALUE",
                   help="override config settings, e.g. train_cfg.max_iters=100 "
                        "(MMEngine's syntax)")
    p.add_argument("--launcher", choices=["none", "pytorch"], default="none",
                   help="'pytorch' under torchrun for multi-process training")
    p.add_argument("--verbose", action="store_true", help="show MMEngine's log")
    p.set_defaults(func=_train)


def parse_cfg_options(values: list[str] | None) -> dict:
    """`k=v` strings -> dict, parsed exactly like MMEngine's `--cfg-options`."""
    if not values:
        return {}
    from mmengine.config import DictAction

    namespace = argparse.Namespace()
    DictAction(["--cfg-options"], "cfg_options")(None, namespace, values)
    return dict(namespace.cfg_options)


def _train(args: argparse.Namespace) -> int:
    if args.kind == "det":
        from ..detector import train_detector as train
    else:
        from ..action import train_action as train

    ckpt = train(args.config, data_root=args.data, work_dir=args.work_dir,
                 resume=args.resume, cfg_options=parse_cfg_options(args.cfg_options),
                 launcher=args.launcher, quiet=not args.verbose)
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():  # under torchrun
        rank = dist.get_rank()
        dist.destroy_process_group()
        if rank != 0:
            return 0
    print(ckpt)
    return 0
