"""`stad demo VIDEO OUT.mp4`: section 4's inference demo, with the tutorial's flags.

Detects people, recognizes their actions, and writes an H.264 mp4 with boxes and
labels plus OUT.json with every output frame's boxes, labels and scores. Thin
layer over `stad_helpers.demo.demo`; with several videos, a folder or a glob
(`stad demo VIDEO... OUT_DIR`) over `stad_helpers.demo.demo_many`: one mp4 + JSON
per video and OUT_DIR/index.json, `--workers` processes, sharded under torchrun.
"""

from __future__ import annotations

import argparse
import glob
import time
from pathlib import Path

from ..predictions import ACTION_SCORE_THR, DET_SCORE_THR
from ._common import (
    add_cfg_options,
    existing_dir,
    existing_file,
    existing_path,
    file_or_url,
    parse_cfg_options,
    positive_float,
    positive_int,
    threshold,
)


def video_source(text: str) -> str:
    """A video file, a folder of videos, or a glob pattern (checked later)."""
    return text if glob.has_magic(text) else str(existing_path(text))


def register(sub) -> None:
    p = sub.add_parser("demo", help="annotate a video with people and their actions")
    p.add_argument("videos", metavar="VIDEO", nargs="+", type=video_source,
                   help="input video (any mp4); several, a folder (searched "
                        "recursively) or a quoted glob ('videos/*.mp4') for many")
    p.add_argument("out", metavar="OUT", type=Path,
                   help="OUT.mp4 for one video (OUT.json gets the detections); a "
                        "folder for many: one mp4 + JSON per video and index.json")
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
    p.add_argument("--workers", type=positive_int, default=1,
                   help="processes on this machine for many videos, each loading "
                        "the models once (default: 1; under torchrun: per rank)")
    add_cfg_options(p, help="override action config settings (MMEngine's syntax)")
    p.set_defaults(func=_demo)


def _one_video(args: argparse.Namespace) -> bool:
    """One video to OUT.mp4 (the classic form), or many to the folder OUT."""
    from ..errors import StadError

    (only, *more) = args.videos
    single = not more and Path(only).is_file()
    folder = args.out.is_dir() or args.out.suffix == "" or str(args.out).endswith(
        ("/", "\\"))
    if single and not folder:
        from ..demo.writer import check_out_mp4

        check_out_mp4(args.out)  # out.avi would hold mp4 data
        return True
    if not folder:
        raise StadError("OUT must be a folder when the demo takes several videos, "
                        "a folder or a glob (one mp4 + JSON per video inside)",
                        args.out)
    return False


def _demo(args: argparse.Namespace) -> int:
    from ..action import data_options
    from ..demo import demo, demo_many
    from ..demo.models import check_model_files
    from ..distributed import dist_env
    from ..train import resolve_device

    options = data_options(args.data) if args.data is not None else {}
    options.update(parse_cfg_options(args.cfg_options))
    settings = dict(
        det_score_thr=args.det_score_thr, action_score_thr=args.action_score_thr,
        label_map=args.label_map, predict_stepsize=args.predict_stepsize,
        output_stepsize=args.output_stepsize, output_fps=args.output_fps,
        device=resolve_device(args.device), cfg_options=options)
    models = (args.config, args.checkpoint, args.det_config, args.det_checkpoint)
    check_model_files({  # swapped arguments: said before the models are read
        "--config": (args.config, "action"), "--det-config": (args.det_config,
                                                              "detector"),
        "--checkpoint": (args.checkpoint, "action"),
        "--det-checkpoint": (args.det_checkpoint, "detector")})
    start = time.perf_counter()
    rank = dist_env()[0]
    if _one_video(args):
        if rank != 0:  # under torchrun one video is rank 0's alone
            return 0
        mp4, json_path = demo(args.videos[0], args.out, *models, **settings)
        print(f"{mp4}  ({time.perf_counter() - start:.1f} s)")
        print(json_path)
        return 0
    index = demo_many(args.videos, args.out, *models, workers=args.workers,
                      **settings)
    if rank == 0:
        print(f"{index}  ({time.perf_counter() - start:.1f} s)")
    return 0
