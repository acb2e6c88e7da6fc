"""GT tubes -> AVA-style CSVs for MMAction2's `AVADataset` (`stad convert ava`).

Writes `multisports_train.csv` and `multisports_val.csv` byte for byte equal to
those of `tools/data/multisports/parse_anno.py` shipped in the mmaction2 package
(a test runs both), one row per box:

    sport/video.mp4,frame,x1,y1,x2,y2,label,entity_id

with boxes divided by the frame size and printed with 3 decimals, and the label
map `multisports_label_map.txt` (`0: aerobic_push_up`, ...), the format of
mmaction2's `tools/data/multisports/label_map.txt` that its demo reads. The row
format is AVA's (https://research.google.com/ava/download.html), with the 1-based
frame number in the timestamp column.

Upstream formats every number in a Python loop; here the whole table is
formatted with numpy (`_text`). Exactness: upstream divides the float32 box in
place by int64 (w, h, w, h), i.e. rounds float64(x) / w to float32, then prints
that float32 with '.3f'; the same float32 values are computed here and printed
with the same digits.

Used in: 03_action_detector.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..data import layout
from ..data.gt import BoxTable, MultiSportsGT
from ..fileio import atomic_open
from . import _text
from ._common import as_gt, warn_empty_splits

SPLITS = layout.GT_SPLIT  # output name -> GT split
LABEL_MAP = layout.LABEL_MAP_FILE


def ava(gt: MultiSportsGT | str | os.PathLike,
        out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write `multisports_{train,val}.csv` and the label map into `out_dir`."""
    gt = as_gt(gt)
    out_dir = Path(out_dir)
    paths = {split: layout.ava_csv(out_dir, split) for split in SPLITS}
    texts = {split: ava_csv_text(gt, gt.split_videos(SPLITS[split]))
             for split in SPLITS}
    texts["label_map"] = ["".join(f"{i}: {n}\n" for i, n in enumerate(gt.labels))
                          .encode()]
    paths["label_map"] = layout.label_map_file(out_dir)
    for key, path in paths.items():  # everything computed first: no half set on error
        with atomic_open(path, "wb") as fh:
            fh.writelines(texts[key])
    warn_empty_splits(gt, paths)
    return paths


def ava_csv_text(gt: MultiSportsGT, videos: list[str]) -> list[bytes]:
    """The CSV parse_anno.py writes for `videos` (rows end with '\\r\\n'), in pieces."""
    rows = ava_rows(gt, videos)
    table, boxes, is32 = rows.table, rows.boxes, rows.is32
    fields: list[_text.Field] = [
        _text.Pick([name + "," for name in rows.names], table.video),
        _text.Int(table.frame),
    ]
    for k in range(4):
        fields += [_text.Lit(","), _text.Fixed3(boxes[:, k], exact=is32)]
    fields += [_text.Lit(","), _text.Int(table.label), _text.Lit(","),
               _text.Int(table.tube), _text.Lit("\r\n")]
    return _text.render(len(table), fields)


class AvaRows(NamedTuple):
    """The values of the CSV rows, before formatting."""

    names: list[str]  # per video: 'sport/video.mp4' as csv.writer writes it
    table: BoxTable  # video index, frame, label, tube (entity id) per row
    boxes: np.ndarray  # (N, 4) float64: x1, y1, x2, y2 divided by the frame size
    is32: np.ndarray  # (N,) bool: the row's tube is float32 (`boxes` holds float32s)


def ava_rows(gt: MultiSportsGT, videos: list[str]) -> AvaRows:
    """The rows parse_anno.py writes for `videos`, with its float32 arithmetic."""
    table = gt.box_table(videos)
    size = np.array([(w, h, w, h) for h, w in (gt.resolution[v] for v in videos)],
                    np.float64).reshape(-1, 4)
    pixels, is32 = _pixels(gt, videos, table)
    boxes = pixels / size[table.video]
    boxes[is32] = boxes[is32].astype(np.float32)  # upstream's in-place float32 division
    names = [_csv_field(v + layout.VIDEO_SUFFIX) for v in videos]
    return AvaRows(names, table, boxes, is32)


def _pixels(gt: MultiSportsGT, videos: list[str],
            table) -> tuple[np.ndarray, np.ndarray]:
    """Boxes in pixels as float64, and per row whether its tube is float32."""
    tubes = [t for v in videos for ts in gt.gttubes.get(v, {}).values() for t in ts]
    if all(np.asarray(t).dtype == np.float32 for t in tubes):
        return table.xyxy.astype(np.float64), np.ones(len(table), bool)
    # float64 tubes are legal (and rare): keep their precision, as upstream does.
    tubes = [np.asarray(t) for t in tubes if len(t)]
    if not tubes:
        return table.xyxy.astype(np.float64), np.ones(len(table), bool)
    rows = np.concatenate([t[:, 1:5].astype(np.float64) for t in tubes])
    is32 = np.concatenate([np.full(len(t), t.dtype == np.float32) for t in tubes])
    return rows, is32


def _csv_field(value: str) -> str:
    """`value` as csv.writer writes it (quoted only if it must be)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow([value])
    return buf.getvalue()
