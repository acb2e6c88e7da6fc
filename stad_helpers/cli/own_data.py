"""`stad data import|export ...`: your own videos' annotations in and out.

Adds two subcommands to the `data` group; `cli/data.py` calls `register` with
that group's subcommands:

    stad data import FORMAT SRC... --videos DIR OUT [--test-ratio R | --test-videos
        LIST] [--seed S] [--action-attribute NAME] [--no-action VALUE] ...
    stad data export cvat GT.pkl OUT_DIR [--action-attribute NAME]
    stad data export cvat --from-predictions demo.json VIDEO OUT_DIR
    stad data export label-studio GT.pkl OUT_DIR [--fps F] [--url-template T]
    stad data export csv GT.pkl OUT.csv

Each calls one function of `stad_helpers.annotations` and prints a short result.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..annotations.csv_format import DEFAULT_MAX_GAP
from ..data import layout
from ..fileio import check_not_input
from ._common import (
    existing_dir,
    existing_file,
    existing_path,
    nonnegative_int,
    positive_float,
    ratio_below_one,
    threshold,
)


def register(data) -> None:
    """Add `import` and `export` to `data`, the `stad data` group's subcommands."""

    i = data.add_parser(
        "import", help="annotations from CVAT, Label Studio or CSV -> a MultiSports "
                       "dataset",
        description="Import annotation exports of your own videos into the "
                    f"MultiSports layout (OUT/{layout.TRAINVAL}/, "
                    f"OUT/{layout.GT_REL}). Label ids: --labels if given, else the "
                    "order the files declare the labels in (CVAT's label list or "
                    "action attribute values, a CSV's '# labels: [...]' line), "
                    "else the action names sorted. A video annotated in several "
                    "files, tasks or jobs: identical tubes are kept once (warned), "
                    "conflicting ones are an error. The summary states every "
                    "choice made (frame numbering, label ids, duplicates).")
    i.add_argument("format", metavar="FORMAT",
                   choices=["cvat", "label-studio", "csv"],
                   help="cvat (CVAT for video 1.1 XML or zip), label-studio (JSON "
                        "export) or csv (video,frame,track_id,x1,y1,x2,y2,action)")
    i.add_argument("sources", metavar="SRC", nargs="+", type=existing_path,
                   help="annotation files, or folders holding them")
    i.add_argument("out", metavar="OUT", type=Path,
                   help="dataset folder to create (always the last positional "
                        "argument; options may come anywhere)")
    i.add_argument("--videos", required=True, type=existing_dir, metavar="DIR",
                   help="folder holding the annotated videos")
    split = i.add_mutually_exclusive_group()
    split.add_argument("--test-ratio", type=ratio_below_one, metavar="R",
                       help="fraction of videos drawn for the val split (the GT's "
                            "test_videos; default 0.2)")
    split.add_argument("--test-videos", metavar="LIST",
                       help="val videos (the GT's test_videos): comma-separated "
                            "names, or a file with one per line")
    i.add_argument("--seed", type=nonnegative_int, default=0,
                   help="seed of the val draw")
    i.add_argument("--action-attribute", metavar="NAME",
                   help="CVAT: the action is this per-box attribute of the tracks, "
                        "not their label (default: the attribute the file declares "
                        "for it, named 'action' or defaulting to 'no action', as "
                        "`stad data export cvat` writes it; else the label)")
    i.add_argument("--no-action", metavar="VALUE",
                   help="label/attribute value meaning 'no action' (default: the "
                        "attribute's default value, or the label 'no action')")
    i.add_argument("--labels", metavar="LIST",
                   help="action labels in id order: comma-separated, or a file "
                        "(one per line, a Label Studio label_config.xml, or "
                        "cvat_labels.json) (default: as the files declare them, "
                        "else sorted)")
    i.add_argument("--frame-base", type=int, choices=[0, 1],
                   help="CSV: the number of the video's first frame (default: a "
                        "header column 'frame0' or 'frame1' declares it; else 0 "
                        "if a row has frame 0, else 1, with a warning)")
    i.add_argument("--max-gap", type=nonnegative_int, default=DEFAULT_MAX_GAP,
                   metavar="FRAMES",
                   help="CSV: a track id reused after more than FRAMES frames "
                        f"without a row starts a new track (default "
                        f"{DEFAULT_MAX_GAP})")
    i.add_argument("--annotator", metavar="WHO",
                   help="Label Studio: of a task's several annotations use this "
                        "annotator's (user id, email or name; default: the "
                        "ground-truth one, else the latest)")
    i.add_argument("--overwrite", action="store_true",
                   help="replace OUT if it is a dataset stad made (never an "
                        "input, a file, or a folder stad did not make)")
    i.set_defaults(func=_import)

    e = data.add_parser("export", help="a MultiSports GT (or demo predictions) -> "
                                       "CVAT, Label Studio or CSV")
    fmt = e.add_subparsers(dest="export_format", metavar="FORMAT")
    fmt.required = True

    c = fmt.add_parser("cvat", help="one CVAT-for-video XML per video",
                       description="stad data export cvat GT.pkl OUT_DIR, or "
                                   "stad data export cvat --from-predictions "
                                   "demo.json VIDEO OUT_DIR")
    c.add_argument("src", metavar="GT.pkl|VIDEO", type=existing_file,
                   help="the GT to export, or with --from-predictions the video")
    c.add_argument("out", metavar="OUT_DIR", type=Path)
    c.add_argument("--from-predictions", metavar="demo.json", type=existing_file,
                   help="turn `stad demo` predictions on VIDEO into a task to "
                        "correct")
    c.add_argument("--action-attribute", metavar="NAME", default=None,
                   help="write the action as this attribute of 'person' tracks "
                        "(default for predictions: 'action')")
    c.add_argument("--score-thr", type=threshold, default=0.0,
                   help="predictions: below this score a box gets no action")
    c.set_defaults(func=_export_cvat)

    ls = fmt.add_parser("label-studio", help="Label Studio tasks JSON + labeling "
                                             "config")
    ls.add_argument("gt", metavar="GT.pkl", type=existing_file)
    ls.add_argument("out", metavar="OUT_DIR", type=Path)
    ls.add_argument("--fps", type=positive_float, default=25.0,
                    help="the videos' frame rate (Label Studio's framerate)")
    ls.add_argument("--url-template", default=None,
                    help="video URL per task; {video} is 'sport/name' (default: "
                         "Label Studio local storage of the dataset folder)")
    ls.set_defaults(func=_export_label_studio)

    cs = fmt.add_parser("csv", help="one row per box")
    cs.add_argument("gt", metavar="GT.pkl", type=existing_file)
    cs.add_argument("out", metavar="OUT.csv", type=Path)
    cs.set_defaults(func=_export_csv)


_LIST_FILE_SUFFIXES = (".txt", ".xml", ".json", ".csv")


def _list_arg(value: str | None, option: str = "--test-videos"
              ) -> list[str] | Path | None:
    """A comma-separated list, or the file `value` names.

    For `--labels`, a value that looks like a path (a path separator, or the
    suffix of a labels file) but names no file is an error, not a label name.
    """
    if value is None:
        return None
    if Path(value).is_file():
        return Path(value)
    if option == "--labels" and "," not in value and (
            "/" in value or os.sep in value
            or Path(value).suffix.lower() in _LIST_FILE_SUFFIXES):
        from ..errors import StadError

        raise StadError(f"{option}: labels file not found (a list of labels is "
                        "comma-separated names)", value)
    return [v.strip() for v in value.split(",") if v.strip()]


def _import(args: argparse.Namespace) -> int:
    from ..annotations import import_annotations
    from ..data import MultiSportsGT

    test_videos = _list_arg(args.test_videos)
    if isinstance(test_videos, Path):
        test_videos = [s.strip() for s in test_videos.read_text().splitlines()
                       if s.strip()]
    gt_path = import_annotations(
        args.format, args.sources, args.videos, args.out,
        test_ratio=args.test_ratio, test_videos=test_videos, seed=args.seed,
        action_attribute=args.action_attribute, no_action=args.no_action,
        labels=_list_arg(args.labels, "--labels"), frame_base=args.frame_base,
        max_gap=args.max_gap, annotator=args.annotator, overwrite=args.overwrite,
        notes=(notes := []))
    print(gt_path)
    gt = MultiSportsGT.load(gt_path)
    summary = gt.summary()
    summary["idle_tubes"] = sum(len(v) for v in gt.extra["idle_tubes"].values())
    summary["label names"] = ", ".join(gt.labels)
    width = max(map(len, summary))
    for key, value in summary.items():
        print(f"{key:<{width}}  {value}")
    for line in notes:  # what the import decided or assumed, warnings included
        print(f"- {line}")
    return 0


def _export_cvat(args: argparse.Namespace) -> int:
    from ..annotations import export_cvat, export_cvat_predictions

    src, out = args.src, args.out
    check_not_input([out], [src, args.from_predictions])
    if args.from_predictions is not None:
        path = export_cvat_predictions(
            args.from_predictions, src, out,
            action_attribute=args.action_attribute or "action",
            score_thr=args.score_thr)
        print(path)
        return 0
    paths = export_cvat(src, out, action_attribute=args.action_attribute)
    print(f"{len(paths)} CVAT task file(s) in {out}")
    return 0


def _export_label_studio(args: argparse.Namespace) -> int:
    from ..annotations import export_label_studio

    check_not_input([args.out], [args.gt])
    kwargs = {"fps": args.fps}
    if args.url_template:
        kwargs["url_template"] = args.url_template
    print(export_label_studio(args.gt, args.out, **kwargs))
    return 0


def _export_csv(args: argparse.Namespace) -> int:
    from ..annotations import export_csv

    check_not_input([args.out], [args.gt])
    print(export_csv(args.gt, args.out))
    return 0
