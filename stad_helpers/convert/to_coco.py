"""GT tubes -> COCO person boxes to train the detector (`stad convert det-anno`).

The tutorial's `generate_mmdet_anno.py`, vectorized: one COCO image per
annotated frame (`file_name = 'sport/video/00017.jpg'`, relative to the rawframes
folder), one `person` box (category id 0, as upstream) per tube box on it, for the
train and the val split, the GT's `test_videos` (`OUT_train.json`,
`OUT_val.json`). Images, boxes and ids come out in the same order as upstream's,
so the JSON is equal to its output.
Boxes in the optional `idle_tubes` (people present but not acting) are added as
persons too, after the action boxes of their video: they are people, and a
detector trained without them learns that idle people are background.

Formats: COCO detection JSON (https://cocodataset.org/#format-data), as written by
MMAction2's `projects/stad_tutorial/tools/generate_mmdet_anno.py`
(https://github.com/open-mmlab/mmaction2/tree/main/projects/stad_tutorial);
boxes `[x, y, width, height]` in pixels.

Used in: 02_person_detector.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
import orjson

from ..data import layout
from ..data.gt import MultiSportsGT
from ..fileio import atomic_open
from ._common import as_gt, split_targets, warn_empty_splits

SPLITS = layout.GT_SPLIT  # output suffix -> GT split
CATEGORIES = [{"id": 0, "name": "person"}]


def det_anno(gt: MultiSportsGT | str | os.PathLike,
             out_json: str | os.PathLike) -> dict[str, Path]:
    """Write `OUT_train.json` and `OUT_val.json` (COCO, one class: person)."""
    gt = as_gt(gt)
    targets = split_targets(out_json, ".json")
    texts = {split: coco_json(gt, gt.split_videos(SPLITS[split])) for split in SPLITS}
    for split, path in targets.items():  # both computed first: no half set on error
        with atomic_open(path, "wb") as fh:
            fh.writelines(texts[split])
    warn_empty_splits(gt, targets)
    return targets


def coco_json(gt: MultiSportsGT, videos: list[str]) -> list[bytes]:
    """The COCO JSON for `videos`: the bytes `json.dumps` writes for upstream's dict.

    As pieces to write in order. Images (a string and ints) are f-strings, the
    video name escaped by `json.dumps`. Boxes (numbers only) are dicts, as
    upstream builds them, written by orjson: its float text is the shortest
    round-trip one, like `repr`, and only the separators differ from
    json.dumps's (put back here: no string in them but the fixed keys). Tables
    with values orjson writes otherwise (0 < |x| < 1e-4: no exponent; nan/inf:
    null) go through `json.dumps`. Figures: benchmarks/README.md.
    """
    rows = coco_rows(gt, videos)
    # '{"file_name": "sport/video/00017.jpg", "height": 720, "width": 1280, "id": 0}'
    heads = [json.dumps(v)[1:-1] for v in videos]
    tails = [f'", "height": {int(h)}, "width": {int(w)}, "id": '
             for h, w in (gt.resolution[v] for v in videos)]
    frames = rows.image_frame.tolist()
    # The layout's rawframe names, looked up (as fast as formatting in place).
    names = [layout.rawframe_name(f) for f in range(max(frames, default=0) + 1)]
    images = ", ".join([f'{{"file_name": "{heads[v]}/{names[f]}{tails[v]}{i}}}'
                        for i, (v, f) in enumerate(zip(rows.image_video.tolist(),
                                                       frames))])
    with _gc_paused():
        boxes = [{"area": a, "image_id": image, "bbox": [x, y, w, h],
                  "category_id": 0, "iscrowd": 0, "id": i}
                 for i, (image, (a, x, y, w, h)) in enumerate(zip(
                     rows.box_image.tolist(), rows.numbers.tolist()))]
    n = rows.numbers
    if (~np.isfinite(n) | ((n != 0) & (np.abs(n) < 1e-4))).any():
        box_text = json.dumps(boxes).encode()
    else:
        box_text = orjson.dumps(boxes).replace(b",", b", ").replace(b":", b": ")
    return [b'{"images": [', images.encode(), b'], "annotations": ', box_text,
            b', "categories": ', json.dumps(CATEGORIES).encode(), b"}"]


@contextlib.contextmanager
def _gc_paused():
    """Without the cyclic GC while building ~10^6 dicts (it rescans them: 2.6x)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class CocoRows(NamedTuple):
    """The numbers of a COCO file, in upstream's order (image ids and box ids are
    the row numbers). Floats are written as `repr` of their float64 value, as
    json writes upstream's numpy float32 scalars."""

    image_video: np.ndarray  # (I,) int: index into `videos` of each image
    image_frame: np.ndarray  # (I,) int: its 1-based frame number
    box_image: np.ndarray  # (B,) int: the image id of each box
    numbers: np.ndarray  # (B, 5) float32: area, x, y, w, h in pixels


def coco_rows(gt: MultiSportsGT, videos: list[str]) -> CocoRows:
    """Images and boxes of `videos` in the order `generate_mmdet_anno.py` writes."""
    table = gt.box_table(videos)
    video, frame, xyxy = table.video, table.frame, table.xyxy
    idle = _idle_rows(gt.extra.get("idle_tubes") or {}, videos)
    if idle is not None:
        # Idle boxes go after their video's action boxes (stable sort by video).
        order = np.argsort(np.r_[video, idle[0]], kind="stable")
        video = np.r_[video, idle[0]][order]
        frame = np.r_[frame, idle[1]][order]
        xyxy = np.concatenate([xyxy, idle[2]])[order]

    # One image per (video, frame), in order of first appearance like upstream.
    key = video.astype(np.int64) * (int(frame.max(initial=0)) + 1) + frame
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    image_order = np.argsort(first, kind="stable")
    rank = np.empty_like(image_order)
    rank[image_order] = np.arange(len(image_order))
    image_of_row = rank[inverse.ravel()]
    first_rows = first[image_order]

    # Boxes grouped by image, original order within an image; float32
    # arithmetic like upstream, whose numpy scalars json writes as float64.
    order = np.argsort(image_of_row, kind="stable")
    boxes = xyxy[order]
    x1, y1 = boxes[:, 0], boxes[:, 1]
    bw, bh = boxes[:, 2] - x1, boxes[:, 3] - y1
    return CocoRows(video[first_rows], frame[first_rows], image_of_row[order],
                    np.column_stack([bw * bh, x1, y1, bw, bh]))


def _idle_rows(idle_tubes: dict, videos: list[str]):
    """(video index, frame, xyxy) of the idle boxes of `videos`, or None."""
    arrays, owners = [], []
    for vi, v in enumerate(videos):
        for tube in idle_tubes.get(v, ()):
            if len(tube):
                arrays.append(np.asarray(tube, np.float32))
                owners.append(np.full(len(tube), vi, np.int32))
    if not arrays:
        return None
    rows = np.concatenate(arrays)
    return (np.concatenate(owners), np.rint(rows[:, 0]).astype(np.int32),
            np.ascontiguousarray(rows[:, 1:5]))
