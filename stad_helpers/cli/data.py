"""`stad data ...`: section 1 of the tutorial (validate, synth, download, stats).

Each subcommand calls one function of `stad_helpers.data` and prints a short result.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..data import layout
from . import own_data
from ._common import (
    existing_dir,
    existing_file,
    existing_path,
    nonnegative_int,
    positive_int,
)


def register(sub) -> None:
    p = sub.add_parser("data", help="MultiSports-format data: validate, synth, "
                                    "download, stats")
    data = p.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    data.required = True
    own_data.register(data)  # `stad data import|export`

    v = data.add_parser("validate", help="report every problem in a dataset: its GT "
                                         "file and, for a folder or with "
                                         "--videos-root, its videos")
    v.add_argument("gt", metavar="DATA|GT.pkl", type=existing_path,
                   help="a MultiSports-layout dataset folder (its "
                        f"{layout.GT_REL} and videos are checked) or a GT file")
    v.add_argument("--videos-root", type=existing_dir, metavar="DIR",
                   help="folder holding trainval/ and test/ to check the videos too "
                        "(default: the dataset folder, given or holding the GT "
                        f"in its {layout.ANNOTATIONS}/)")
    v.set_defaults(func=_validate)

    s = data.add_parser("synth", help="write the synthetic dataset (MultiSports-tiny "
                                      "layout)")
    s.add_argument("out", metavar="OUT", type=Path)
    s.add_argument("--seed", type=nonnegative_int, default=0)
    s.add_argument("--videos", type=positive_int, default=None, metavar="N",
                   help="number of videos (default: the small tutorial size)")
    s.set_defaults(func=_synth)

    d = data.add_parser("download", help="download and unpack a real dataset")
    d.add_argument("name", choices=["multisports-tiny"])
    d.add_argument("out", metavar="OUT", type=Path,
                   help="dataset folder to create (gets trainval/, test/, "
                        "annotations/)")
    d.add_argument("--from-tar", type=existing_file, metavar="FILE",
                   help="use this already downloaded tar instead of downloading")
    d.add_argument("--url", default=None, help="download from this URL instead")
    d.add_argument("--sha256", default=None, help="expected SHA-256 of the tar")
    d.set_defaults(func=_download)

    st = data.add_parser("stats", help="count labels, videos, tubes and boxes")
    st.add_argument("gt", metavar="GT.pkl", type=existing_file)
    st.set_defaults(func=_stats)


def _validate(args: argparse.Namespace) -> int:
    from ..data import safe_load, validate_gt
    from ..notebook import check_data_folder

    if args.gt.is_dir():  # a dataset folder: its GT, and its videos by default
        folder = check_data_folder(args.gt, "DATA")
        args.gt = layout.gt_file(folder)
        args.videos_root = args.videos_root or folder
    elif args.videos_root is None:  # a GT file: its dataset's videos, if it has any
        args.videos_root = _layout_root(args.gt)
        if args.videos_root is None:
            print(f"videos not checked: {args.gt} is not in a dataset folder's "
                  f"{layout.ANNOTATIONS}/ beside {'/ or '.join(layout.VIDEO_DIRS)}/; "
                  "pass --videos-root DIR to check them")
        else:
            print(f"checking the videos in {args.videos_root} (the GT's dataset "
                  "folder; --videos-root DIR for others)")
    problems = validate_gt(safe_load(args.gt), source=str(args.gt),
                           videos_root=args.videos_root)
    for p in problems:
        print(f"{p.severity}: {p}")
    errors = sum(p.is_error for p in problems)
    warnings = len(problems) - errors
    status = "INVALID" if errors else "OK"
    print(f"{args.gt}: {status}, {errors} error(s), {warnings} warning(s)")
    return 1 if errors else 0


def _layout_root(gt: Path) -> Path | None:
    """The dataset folder a GT file sits in (`DATA/annotations/x.pkl` with
    `DATA/trainval/` or `DATA/test/`), or None."""
    parent = gt.resolve().parent
    if parent.name != layout.ANNOTATIONS:
        return None
    root = gt.parent.parent if gt.parent.name == layout.ANNOTATIONS else parent.parent
    return root if any((root / d).is_dir() for d in layout.VIDEO_DIRS) else None


def _synth(args: argparse.Namespace) -> int:
    from ..data import MultiSportsGT, make_synthetic_dataset

    kwargs = {"seed": args.seed}
    if args.videos is not None:
        kwargs["videos"] = args.videos
    result = make_synthetic_dataset(args.out, **kwargs)
    gt_path = layout.gt_file(args.out)
    if isinstance(result, (str, os.PathLike)) and Path(result).is_file():
        gt_path = Path(result)
    print(gt_path)
    _print_summary(MultiSportsGT.load(gt_path).summary())
    return 0


def _download(args: argparse.Namespace) -> int:
    from ..data import MultiSportsGT, download_multisports_tiny
    from ..data.download import TUTORIAL_URL

    out = download_multisports_tiny(args.out, url=args.url or TUTORIAL_URL,
                                    from_tar=args.from_tar, sha256=args.sha256)
    gt_path = layout.gt_file(out)
    print(gt_path)
    _print_summary(MultiSportsGT.load(gt_path).summary())
    return 0


def _stats(args: argparse.Namespace) -> int:
    from ..data import MultiSportsGT

    _print_summary(MultiSportsGT.load(args.gt).summary())
    return 0


def _print_summary(summary: dict) -> None:
    width = max(map(len, summary), default=0)
    for key, value in summary.items():
        print(f"{key:<{width}}  {value}")
