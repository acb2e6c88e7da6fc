"""`stad convert ...`: the tutorial's data conversions (see `stad_helpers.convert`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..data import layout
from ..fileio import check_not_input
from ._common import (
    existing_dir,
    existing_file,
    jpeg_quality,
    positive_int,
    threshold,
)


def register(sub) -> None:
    parser = sub.add_parser("convert",
                            help="convert annotations, videos and detections",
                            description="Convert data between the tutorial's formats.")
    conv = parser.add_subparsers(dest="conversion", metavar="CONVERSION")
    conv.required = True

    p = conv.add_parser("det-anno", help="GT tubes -> COCO person boxes "
                        "(OUT_train.json, OUT_val.json)")
    p.add_argument("gt", type=existing_file, help=layout.GT_FILE)
    p.add_argument("out", help="OUT.json; writes OUT_train.json and OUT_val.json")
    p.set_defaults(func=_det_anno)

    p = conv.add_parser("frames", help="videos -> rawframes <sport>/<video>/00001.jpg")
    p.add_argument("videos_root", type=existing_dir,
                   help="folder of <sport>/<video>.mp4 files, or a MultiSports root "
                   "with trainval/ and test/")
    p.add_argument("out_dir", help="frames folder: new, empty, or one this command "
                   "made (complete videos in it are skipped)")
    p.add_argument("--workers", type=positive_int, default=None,
                   help="worker processes (default: one per two CPU cores; each "
                   "decodes and encodes on threads)")
    p.add_argument("--quality", type=jpeg_quality, default=95,
                   help="JPEG quality, 1-100 (default: 95, OpenCV's)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_frames)

    p = conv.add_parser("infer-anno", help="rawframes -> COCO image list for the "
                        "person detector")
    p.add_argument("frames_dir", type=existing_dir)
    p.add_argument("out", help="OUT.json")
    p.add_argument("--classes", nargs="+", default=["person"])
    p.add_argument("--gt", type=existing_file, default=None,
                   help=f"list only the annotated frames of this {layout.GT_FILE} "
                   "(all the action detector needs)")
    p.set_defaults(func=_infer_anno)

    p = conv.add_parser("proposals", help="detector results -> AVA proposals "
                        "(OUT_train.pkl, OUT_val.pkl)")
    p.add_argument("det_results", type=existing_file,
                   help="results pickle (list of per-image dicts)")
    p.add_argument("gt", type=existing_file, help=layout.GT_FILE)
    p.add_argument("out", help="OUT.pkl; writes OUT_train.pkl and OUT_val.pkl")
    p.add_argument("--min-coverage", type=threshold, default=None,
                   help="fail if fewer annotated keyframes have a proposal "
                   "(default 0.9)")
    p.add_argument("--score-thr", type=threshold, default=None,
                   help="the action config's person_det_score_thr, to report how "
                   "many annotated people keep a proposal (default 0.9, "
                   "AVADataset's)")
    p.set_defaults(func=_proposals)

    csvs = ", ".join(layout.ava_csv("", s).name for s in layout.SPLITS)
    p = conv.add_parser("ava", help=f"GT tubes -> {csvs} and the label map "
                        f"{layout.LABEL_MAP_FILE}")
    p.add_argument("gt", type=existing_file, help=layout.GT_FILE)
    p.add_argument("out_dir")
    p.set_defaults(func=_ava)


def _det_anno(args: argparse.Namespace) -> int:
    from ..convert import det_anno

    check_not_input(_split_names(args.out, ".json"), [args.gt])
    for path in det_anno(args.gt, args.out).values():
        print(path)
    return 0


def _frames(args: argparse.Namespace) -> int:
    from ..convert import extract_frames

    print(extract_frames(args.videos_root, args.out_dir, workers=args.workers,
                         progress=not args.no_progress, quality=args.quality))
    return 0


def _infer_anno(args: argparse.Namespace) -> int:
    from ..convert import infer_anno

    check_not_input([args.out], [args.frames_dir, args.gt])
    print(infer_anno(args.frames_dir, args.out, classes=args.classes, gt=args.gt))
    return 0


def _proposals(args: argparse.Namespace) -> int:
    from ..convert import proposals
    from ..convert.to_proposals import AVA_SCORE_THR, MIN_COVERAGE

    check_not_input(_split_names(args.out, ".pkl"), [args.det_results, args.gt])
    cov = MIN_COVERAGE if args.min_coverage is None else args.min_coverage
    thr = AVA_SCORE_THR if args.score_thr is None else args.score_thr
    report = proposals(args.det_results, args.gt, args.out, min_coverage=cov,
                       score_thr=thr)
    for split in ("train", "val"):
        print(f"{report[split]}  (coverage {report['coverage'][split]:.1%} of "
              f"{report['keyframes'][split]} keyframes; "
              f"{report['recall'][split]:.1%} of the annotated people have a "
              f"proposal scoring >= {thr:g})")
    return 0


def _ava(args: argparse.Namespace) -> int:
    from ..convert import ava

    out_dir = Path(args.out_dir)
    outputs = [*(layout.ava_csv(out_dir, s) for s in layout.SPLITS),
               layout.label_map_file(out_dir)]
    check_not_input(outputs, [args.gt])
    for path in ava(args.gt, args.out_dir).values():
        print(path)
    return 0


def _split_names(out: str, suffix: str) -> list[str | Path]:
    """OUT and the OUT_train / OUT_val files a conversion writes from it."""
    if not out.endswith(suffix):
        return [out]  # the conversion refuses the name itself
    return [out, *(layout.split_file(out, s, suffix) for s in layout.SPLITS)]
