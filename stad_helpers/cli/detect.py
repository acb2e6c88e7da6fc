"""`stad detect DET_CONFIG DET_CKPT --data D --out DET.pkl`: section 2's inference.

Runs the person detector over every frame of every annotated video and writes the
detection results (the tutorial's `ms_det_proposals.pkl`, which `stad convert
proposals` turns into the action detector's proposal files). `--proposals OUT.pkl`
does that conversion too, in the same command. Under torchrun (`--launcher
pytorch`) or srun (`--launcher slurm`) the videos are shared out between the
processes and rank 0 writes the results; an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ..data import layout
from ._common import existing_dir, existing_file, file_or_url, positive_int, threshold


def register(sub) -> None:
    p = sub.add_parser(
        "detect", help="run the person detector over every frame of the dataset")
    p.add_argument("det_config", metavar="DET_CONFIG", type=existing_file)
    p.add_argument("det_checkpoint", metavar="DET_CKPT", type=file_or_url,
                   help="checkpoint file (or URL) of the detector")
    p.add_argument("--data", type=existing_dir, required=True, metavar="D",
                   help=f"dataset folder ({layout.GT_REL}, {layout.TRAINVAL}/)")
    p.add_argument("--out", type=Path, required=True, metavar="DET_RESULTS.pkl",
                   help="detection results, one entry per frame (the input of "
                        "`stad convert proposals`)")
    p.add_argument("--proposals", type=Path, metavar="OUT.pkl",
                   help="also convert the results into OUT_train.pkl / OUT_val.pkl")
    p.add_argument("--min-coverage", type=threshold, default=None, metavar="F",
                   help="with --proposals: fail if fewer annotated keyframes have "
                        "a proposal (default: the converter's, 0.9)")
    thr = p.add_mutually_exclusive_group()
    thr.add_argument("--action-config", type=existing_file, metavar="CONFIG",
                     help="with --proposals: the action config that will use them; "
                          "recall is reported at its person_det_score_thr")
    thr.add_argument("--person-det-score-thr", type=threshold, metavar="T",
                     help="with --proposals: report recall at this proposal score "
                          "threshold (default: --action-config's, else "
                          "AVADataset's 0.9)")
    p.add_argument("--source", choices=["video", "rawframes"], default="video",
                   help="read frames from the videos (default, no rawframes "
                        "needed) or from D/rawframes")
    p.add_argument("--score-thr", type=threshold, default=0.05, metavar="T",
                   help="drop boxes scoring below this (default: 0.05)")
    p.add_argument("--batch-size", type=positive_int, default=8, metavar="N",
                   help="frames per forward pass (default: 8)")
    p.add_argument("--device", default=None, metavar="DEVICE",
                   help="where the model runs: cpu, cuda or cuda:N (default: cuda "
                        "when torch sees a GPU, else cpu; with --launcher each "
                        "process takes its own GPU)")
    p.add_argument("--launcher", choices=["none", "pytorch", "slurm"],
                   default="none",
                   help="'pytorch' under torchrun, 'slurm' under srun: the videos "
                        "are shared out by frame count and rank 0 writes --out")
    p.set_defaults(func=_detect)


def _detect(args: argparse.Namespace) -> int:
    from ..detector import detect, make_proposals
    from ..distributed import close_distributed, init_distributed
    from ..errors import StadError
    from ..fileio import check_not_input
    from ..train import resolve_device

    if args.proposals is None and (args.action_config is not None
                                   or args.person_det_score_thr is not None):
        raise StadError("--action-config and --person-det-score-thr only matter "
                        "with --proposals OUT.pkl")

    if args.launcher != "none" and args.device is not None:
        raise StadError("--device is for one process; under torchrun each process "
                        "takes its own GPU (or the CPU without one)")
    check_not_input([args.out, args.proposals],
                    [args.det_config, args.det_checkpoint, args.data])
    start = time.perf_counter()
    init_distributed(args.launcher)
    try:
        out = detect(args.det_config, args.det_checkpoint, args.data, args.out,
                     source=args.source, score_thr=args.score_thr,
                     batch_size=args.batch_size,
                     device=(resolve_device(args.device) if args.launcher == "none"
                             else None))
    finally:
        rank = close_distributed()
    if rank != 0:
        return 0  # rank 0 reports, and converts the proposals
    print(f"{out}  ({time.perf_counter() - start:.1f} s)")
    if args.proposals is not None:
        report = make_proposals(out, args.data, args.proposals, args.min_coverage,
                                action_config=args.action_config,
                                score_thr=args.person_det_score_thr)
        for split in ("train", "val"):
            print(f"{report[split]}  (proposals for "
                  f"{report['coverage'][split]:.1%} of "
                  f"{report['keyframes'][split]} annotated keyframes; "
                  f"{report['recall'][split]:.1%} of the annotated people keep one "
                  f"at score >= {report['score_thr']:g})")
        print(f"recall measured at {report['score_thr']:g}: "
              f"{report['score_thr_source']}")
    return 0
