"""`stad evaluate CONFIG CHECKPOINT`: section 3's evaluation.

Runs the action detector over the val split and prints frame-mAP (IoU 0.5) and
video-mAP@0.2/0.5 (MMAction2's MultiSports metric), with `--det-results` also the
person detector's bbox AP50; writes metrics.json and per_class_ap.csv into
`--out-dir`. Thin layer over `stad_helpers.evaluate.evaluate`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..data import layout
from ._common import (
    add_cfg_options,
    existing_dir,
    existing_file,
    file_or_url,
    parse_cfg_options,
)


def register(sub) -> None:
    p = sub.add_parser(
        "evaluate", help="frame-mAP, video-mAP (and detector AP50)",
        description="Score the action detector on the val split (the GT's "
        "test_videos): frame_map (frame-mAP, IoU 0.5 per frame), video_map_0.2 and "
        "video_map_0.5 (video-mAP of linked tubes), with --det-results det_ap50 "
        "(bbox AP50); fractions from 0 to 1 (MMAction2's logs print them in percent "
        "as frameAP, v_map@0.2, v_map@0.5).")
    p.add_argument("config", metavar="CONFIG", type=existing_file,
                   help="action detector config (configs/action/...)")
    p.add_argument("checkpoint", metavar="CHECKPOINT", type=file_or_url,
                   help="its trained checkpoint (file or URL)")
    p.add_argument("--data", type=existing_dir, metavar="DIR",
                   help="dataset folder replacing the config's data paths")
    p.add_argument("--out-dir", type=Path, default=Path("work_dirs/eval"),
                   metavar="D", help="where metrics.json, per_class_ap.csv and "
                                     "predictions.pkl go (default: work_dirs/eval)")
    p.add_argument("--det-results", type=existing_file, metavar="PKL",
                   help="`stad detect` results or proposals: also score the "
                        "person detector (bbox AP50)")
    p.add_argument("--det-anno", type=existing_file, metavar="JSON",
                   help="val COCO JSON for --det-results (default: "
                        f"{layout.det_anno_file('', 'test')} beside the GT)")
    p.add_argument("--predictions", type=existing_file, metavar="PKL",
                   help="score these saved predictions instead of running the model")
    add_cfg_options(p, help="override config settings (MMEngine's syntax)")
    p.add_argument("--device", default=None, metavar="DEVICE",
                   help="where the model runs: cpu, cuda or cuda:N (default: cuda "
                        "when torch sees a GPU, else cpu)")
    p.set_defaults(func=_evaluate)


def _evaluate(args: argparse.Namespace) -> int:
    from ..demo.models import check_model_files
    from ..evaluate import evaluate
    from ..train import use_device

    with use_device(args.device):
        check_model_files({"CONFIG": (args.config, "action"),  # a detector's: now
                           "CHECKPOINT": (args.checkpoint, "action")})
        result = evaluate(args.config, args.checkpoint, args.data, args.out_dir,
                          cfg_options=parse_cfg_options(args.cfg_options),
                          det_results=args.det_results, det_anno=args.det_anno,
                          predictions=args.predictions)
    names = ("det_ap50", "frame_map", "video_map_0.2", "video_map_0.5")
    print("  ".join(f"{k} {result.metrics[k]:.3f}" for k in names
                    if k in result.metrics))
    print(result.json_path)
    print(result.csv_path)
    return 0
