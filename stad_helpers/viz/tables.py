"""The tutorial's tables: the AVA CSV, a config's changes to its base, every
threshold, and the metric names.

A `Table` shows as an HTML table in a notebook and as plain text elsewhere (no
pandas needed).

| function          | what                                                   |
|-------------------|--------------------------------------------------------|
| `ava_table`       | the AVA CSV's first rows with named columns            |
| `config_changes`  | what a config changes in its `_base_` (dotted keys)    |
| `threshold_table` | every threshold: value, where it acts, why             |
| `metric_table`    | our metric names, MMAction2's log names, values        |

Used in: 03_action_detector.
"""

from __future__ import annotations

import csv
import html
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import StadError

PathLike = str | os.PathLike

AVA_COLUMNS = ("video", "frame", "x1", "y1", "x2", "y2", "label", "entity_id")


# ---------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------
@dataclass
class Table:
    """Rows under named columns; shows as an HTML table in a notebook.

    Attributes:
        columns: Column names.
        rows: One tuple of cells per row (any values; shown with `str`).
        caption: A line above the table.
    """

    columns: Sequence[str]
    rows: list[tuple]
    caption: str = ""

    def __len__(self) -> int:
        return len(self.rows)

    def column(self, name: str) -> list:
        """The cells of column `name`; KeyError if there is no such column."""
        if name not in self.columns:
            raise KeyError(name)
        i = list(self.columns).index(name)
        return [row[i] for row in self.rows]

    def records(self) -> list[dict[str, Any]]:
        """The rows as dicts keyed by column."""
        return [dict(zip(self.columns, row)) for row in self.rows]

    def _repr_html_(self) -> str:
        cap = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in self.columns)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>"
                                        for v in row) + "</tr>" for row in self.rows)
        return (f"<table>{cap}<thead><tr>{head}</tr></thead>"
                f"<tbody>{body}</tbody></table>")

    def __str__(self) -> str:
        cells = [list(map(str, self.columns))] + [[_cell(v) for v in r]
                                                  for r in self.rows]
        widths = [max(len(r[i]) for r in cells) for i in range(len(self.columns))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in cells]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(([self.caption] if self.caption else []) + lines)

    __repr__ = __str__


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def ava_table(csv_path: PathLike, rows: int = 8) -> Table:
    """The first `rows` rows of an AVA-style CSV under their names.

    Format (MMAction2's `AVADataset`, from `tools/data/multisports/parse_anno.py`;
    `stad convert ava` writes it): `video` ('sport/name.mp4'), `frame` (the
    keyframe: AVA's timestamp in seconds, here the 1-based frame number since
    the MultiSports configs set `fps=1`), `x1 y1 x2 y2` (box corners divided by
    the frame's width / height: normalized to [0, 1]), `label` (0-based action
    index into the label map) and `entity_id` (the index of the tube within its
    video and label, not a person id).

    Raises:
        StadError: the file is missing or a row does not have 8 columns.
    """
    path = Path(csv_path)
    if not path.is_file():
        raise StadError("AVA CSV not found", path)
    out: list[tuple] = []
    with open(path, newline="") as fh:
        for number, row in enumerate(csv.reader(fh), 1):
            if len(out) >= rows:
                break
            if len(row) != len(AVA_COLUMNS):
                raise StadError(f"line {number}: {len(row)} columns, expected 8 "
                                f"({', '.join(AVA_COLUMNS)})", path)
            out.append((row[0], int(row[1]), *map(float, row[2:6]), int(row[6]),
                        int(row[7])))
    return Table(AVA_COLUMNS, out, caption=f"{path.name}: first {len(out)} rows")


# ---------------------------------------------------------------------------
# Config vs its base
# ---------------------------------------------------------------------------
def _short(value: Any, width: int = 70) -> str:
    """`repr(value)` cut to `width` characters; a pipeline as its step types."""
    if isinstance(value, (list, tuple)) and value and all(
            isinstance(v, Mapping) and "type" in v for v in value):
        return " -> ".join(str(v["type"]) for v in value)  # a pipeline, whole
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def config_changes(config: PathLike, cfg_options: dict[str, Any] | None = None,
                   only: Sequence[str] | None = None) -> Table:
    """What `config` (with `cfg_options`) changes in its `_base_`, as a table.

    The table view of `stad_helpers.viz.config_diff` (one computation: both
    configs loaded as MMEngine loads them, compared leaf by leaf with dotted keys
    such as `model.backbone.depth` and `val_pipeline[2].clip_len`). The original
    tutorial showed the whole config (`cat`); this shows only what differs.

    Args:
        config: An MMEngine config file (`mmaction::...` bases work).
        cfg_options: Overrides applied to `config` only (the tutorial's data paths).
        only: Top-level keys to show (e.g. ("model", "train_cfg")); None: all.

    Returns:
        A `Table` with columns key, base, this config ("-": absent).

    Raises:
        StadError: the config or its base cannot be read.
    """
    from .concepts_data import config_diff, diff_absent

    diff = config_diff(config, cfg_options)
    rows = []
    for key, (old, new) in diff.items():
        if only is not None and key.split(".")[0].split("[")[0] not in only:
            continue
        rows.append((key, "-" if diff_absent(old) else _short(old),
                     "-" if diff_absent(new) else _short(new)))
    return Table(("key", "base", "this config"), rows,
                 caption=f"{Path(config).name} vs its _base_: {len(rows)} changes")


# ---------------------------------------------------------------------------
# Thresholds and metric names
# ---------------------------------------------------------------------------
def threshold_table(action_config: PathLike, det_config: PathLike | None = None,
                    cfg_options: dict[str, Any] | None = None,
                    det_score_thr: float | None = None,
                    action_score_thr: float | None = None) -> Table:
    """Every threshold of the tutorial: its value here, where it acts and why.

    Values are read where they live: `detect`'s default score (0.05, and the
    detector config's `test_cfg.rcnn.score_thr` when given), the action
    config's `person_det_score_thr` and training assigner IoUs, the demo's
    `det_score_thr` / `action_score_thr` (its defaults unless given),
    `action_eval`'s `FRAME_IOU`, `VIDEO_IOUS` and `TUBE_MIN_LEN`.

    Returns:
        A `Table` with columns threshold, value, acts on, why this value.

    Raises:
        StadError: a config is missing or unreadable.
    """
    import inspect

    from .. import demo as demo_module
    from ..action import person_det_score_thr
    from ..action_eval import FRAME_IOU, TUBE_MIN_LEN, VIDEO_IOUS
    from ..detector import detect
    from ..train import load_config

    demo_args = inspect.signature(demo_module.demo).parameters
    det_thr = det_score_thr if det_score_thr is not None else \
        demo_args["det_score_thr"].default
    act_thr = action_score_thr if action_score_thr is not None else \
        demo_args["action_score_thr"].default
    detect_thr = inspect.signature(detect).parameters["score_thr"].default
    cfg = load_config(action_config, cfg_options)
    person_thr = person_det_score_thr(action_config, cfg_options)
    assigner = cfg.model.get("train_cfg", {}).get("rcnn", {}).get("assigner", {})
    rows = []
    if det_config is not None:
        rcnn = load_config(det_config).model.test_cfg.rcnn
        rows.append(("detector test score_thr", rcnn.get("score_thr"),
                     "person detector, every frame (MMDetection's test_cfg)",
                     "keeps nearly every candidate; later thresholds choose"))
    rows += [
        ("detect score_thr", detect_thr, "`detect`: boxes saved in det_results.pkl",
         "low, so proposals and AP50 can pick their own threshold later"),
        ("person_det_score_thr", person_thr,
         "AVADataset: which proposals the action model trains and is tested on",
         "AVA's default 0.9 suits a pretrained detector; the slim CPU detector "
         "is less sure of itself and at 0.9 loses ~30% of acting people"),
        ("assigner pos_iou_thr / neg_iou_thr",
         f"{assigner.get('pos_iou_thr', '?')} / {assigner.get('neg_iou_thr', '?')}",
         "training only: a proposal learns a person's actions (>= pos) or "
         "'no action' (< neg)", "proposals of a detector only roughly fit GT boxes"),
        ("demo det_score_thr", det_thr, "demo: people kept at each keyframe",
         "the original demo used 0.85 with a pretrained R50 detector"),
        ("demo action_score_thr", act_thr,
         "demo and player: actions drawn on a box",
         "the original demo used 0.8; a softmax over few classes peaks lower"),
        ("frame IoU", FRAME_IOU, "frame-mAP: a box matches a GT box of its class",
         "PASCAL VOC's standard 0.5"),
        ("spatio-temporal IoU", " / ".join(map(str, VIDEO_IOUS)),
         "video-mAP: a linked tube matches a GT tube of its class",
         "MultiSports reports 0.2 (found it) and 0.5 (followed it well)"),
        ("minimum tube length", f"{TUBE_MIN_LEN} frames",
         "video-mAP: shorter linked tubes are dropped",
         "MMAction2's tube_thr default: drops flickers of a few frames"),
    ]
    return Table(("threshold", "value", "acts on", "why this value"), rows)


METRIC_NAMES = (
    ("frame_map", "frameAP", "frame-mAP@0.5: per keyframe, boxes at IoU >= 0.5"),
    ("video_map_0.2", "v_map@0.2", "video-mAP@0.2: linked tubes, ST-IoU >= 0.2"),
    ("video_map_0.5", "v_map@0.5", "video-mAP@0.5: linked tubes, ST-IoU >= 0.5"),
    ("det_ap50", "coco/bbox_mAP_50", "person detector AP at IoU 0.5"),
)


def metric_table(metrics: Mapping[str, Any] | None = None) -> Table:
    """Our metric names, MMAction2's / MMDetection's log names and (with
    `metrics`, e.g. `tutorial.metrics()`) the values as fractions and percent.

    `metrics.json` stores fractions in [0, 1]; MMAction2's `MultiSportsMetric`
    logs `frameAP` and `v_map@<iou>` in percent (0.7486 here is 74.86 there).

    Returns:
        A `Table` with columns ours, MMAction2 log, meaning, value, percent.
    """
    rows = []
    for ours, theirs, meaning in METRIC_NAMES:
        value = (metrics or {}).get(ours)
        rows.append((ours, theirs, meaning, "-" if value is None else round(value, 4),
                     "-" if value is None else round(100 * value, 2)))
    return Table(("ours (metrics.json)", "MMAction2 log", "meaning", "value",
                  "percent"), rows)
