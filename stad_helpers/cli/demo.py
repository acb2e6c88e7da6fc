"""`stad demo VIDEO OUT.mp4`: section 4's inference demo, with the tutorial's flags.

Detects people, recognizes their actions, and writes an H.264 mp4 with boxes and
labels plus OUT.json with every output frame's boxes, labels and scores. Thin
layer over `stad_helpers.demo.demo`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ..predictions import ACTION_SCORE_THR, DET_SCORE_THR
from ._common import (
    add_cfg_options,
    existing_dir,
    existing_file,
    file_or_url,
    parse_cfg_options,
    positive_float,
    positive_int,
    threshold,
)


def register(sub) -> None:
    p = sub.add_parser("demo", help="annotate a video with people and their actions")
    p.add_argument("video", metavar="VIDEO", type=existing_file,
                   help="input video (any mp4)")
    p.add_argument("out", metavar="OUT.mp4", type=Path,
                   help="annotated video (OUT.json gets the detections)")
    p.add_argument("--config", required=True, type=existing_file,
                   help="action detector config")
    p.add_argument("--checkpoint", required=True, type=file_or_url,
                   help="action detector checkpoint (file or URL)")
    p.add_argument("--det-config", required=True, type=existing_file,
                   help="person detector config")
    p.add_argument("--det-checkpoint", required=True, type=file_or_url,
                   help="person detector checkpoint (file or URL)")
    p.add_argument("--det-score-thr", type=threshold, default=DET_SCORE_THR,
                   help=f"keep people scoring at least this (default: {DET_SCORE_THR})")
    p.add_argument("--action-score-thr", type=threshold, default=ACTION_SCORE_THR,
                   help="show actions scoring at least this "
                        f"(default: {ACTION_SCORE_THR})")
    p.add_argument("--label-map", type=existing_file,
                   help="'id: name' lines (default: the labels of the config's GT)")
    p.add_argument("--predict-stepsize", type=positive_int, default=8,
                   help="one prediction per this many frames (default: 8)")
    p.add_argument("--output-stepsize", type=positive_int, default=1,
                   help="write one frame per this many (default: 1)")
    p.add_argument("--output-fps", type=positive_float, default=None,
                   help="frame rate of OUT.mp4 (default: real time)")
    p.add_argument("--device", default=None, metavar="DEVICE",
                   help="where the model runs: cpu, cuda or cuda:N (default: cuda "
                        "when torch sees a GPU, else cpu)")
    p.add_argument("--data", type=existing_dir, metavar="DIR",
                   help="the dataset the action model was trained on (--data of "
                        "`stad train action`): its classes and label names")
    add_cfg_options(p, help="override action config settings (MMEngine's syntax)")
    p.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    from ..action import data_options
    from ..demo import demo
    from ..train import resolve_device

    options = data_options(args.data) if args.data is not None else {}
    options.update(parse_cfg_options(args.cfg_options))
    start = time.perf_counter()
    mp4, json_path = demo(
        args.video, args.out, args.config, args.checkpoint, args.det_config,
        args.det_checkpoint, det_score_thr=args.det_score_thr,
        action_score_thr=args.action_score_thr, label_map=args.label_map,
        predict_stepsize=args.predict_stepsize,
        output_stepsize=args.output_stepsize, output_fps=args.output_fps,
        device=resolve_device(args.device), cfg_options=options)
    print(f"{mp4}  ({time.perf_counter() - start:.1f} s)")
    print(json_path)
    return 0
