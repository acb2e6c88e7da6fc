"""Plain CSV annotations: one row per box, `video,frame,track_id,x1,y1,x2,y2,action`.

The simplest format to write from any tool or script. Boxes are in pixels. A
header row is optional; with one, columns may come in any order and the frame
column's name sets the numbering: `frame0` counts from 0, `frame` or `frame1`
from 1 (the default; `frame_base` overrides both). `video` is the video's file
name or path relative to the videos folder (with or without extension). An
empty `action` (or `no_action`) is a person standing by. Rows of one
(video, track_id) are one track: frames missing between two rows are
interpolated; a track ends at its last row, so start a new track id where a
person leaves the picture.

Used in: 05_your_own_data.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Union

from ..data.gt import MultiSportsGT
from ..errors import StadError
from ..fileio import atomic_open
from .tracks import Problems, Track, VideoAnnotation, as_gt, fmt_floats, gt_to_tracks

PathLike = Union[str, os.PathLike]
COLUMNS = ("video", "frame", "track_id", "x1", "y1", "x2", "y2", "action")
_ALIASES = {"frame0": "frame", "frame1": "frame", "track": "track_id",
            "label": "action"}


def read_csv(
    path: PathLike, frame_base: int | None = None, no_action: str | None = None
) -> tuple[list[VideoAnnotation], None]:
    """The tracks of a box-per-row CSV, one `VideoAnnotation` per video named in it."""
    path = Path(path)
    try:
        fh = open(path, newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise StadError(f"cannot read CSV ({exc.strerror or exc})", path) from None
    problems = Problems()
    groups: dict[tuple[str, str], list] = {}
    with fh:
        reader = csv.reader(fh)
        first = next(reader, None)
        if first is None:
            raise StadError("empty CSV", path)
        header = [c.strip().lower() for c in first]
        if len(header) > 1 and not _is_number(header[1]):
            cols = {_ALIASES.get(c, c): i for i, c in enumerate(header)}
            missing = [c for c in COLUMNS[:7] if c not in cols]
            if missing:
                raise StadError(f"header lacks column(s) {', '.join(missing)}; "
                                f"expected {','.join(COLUMNS)}", path)
            if frame_base is None:
                frame_base = 0 if "frame0" in header else 1
            rows = reader
            start = 2
        else:
            cols = {c: i for i, c in enumerate(COLUMNS)}
            rows = _chain([first], reader)
            start = 1
        base = 1 if frame_base is None else int(frame_base)
        need = max(cols[c] for c in COLUMNS[:7]) + 1
        act_col = cols.get("action")
        for line, row in enumerate(rows, start):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) < need:
                problems.add(f"{path}, line {line}: {len(row)} columns, expected "
                             f"{','.join(COLUMNS)}")
                continue
            try:
                frame = int(row[cols["frame"]]) - base + 1
                box = [float(row[cols[c]]) for c in ("x1", "y1", "x2", "y2")]
            except ValueError:
                problems.add(f"{path}, line {line}: frame or box is not a number")
                continue
            action = (row[act_col].strip() if act_col is not None
                      and act_col < len(row) else "")
            if not action or action == no_action:
                action = None
            key = (row[cols["video"]].strip(), row[cols["track_id"]].strip())
            groups.setdefault(key, []).append((frame, box, action))
    problems.raise_if_any(str(path))

    videos: dict[str, VideoAnnotation] = {}
    for (video, tid), items in groups.items():
        ann = videos.setdefault(video, VideoAnnotation(
            names=[video], where=f"{path}, video {video!r}", tool="csv"))
        ann.tracks.append(Track(video=video, track_id=tid,
                                frames=[i[0] for i in items],
                                boxes=[i[1] for i in items],
                                actions=[i[2] for i in items],
                                source=str(path), frame_base=base))
    return list(videos.values()), None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _chain(*iterables) -> Iterator:
    for it in iterables:
        yield from it


def export_csv(gt: MultiSportsGT | PathLike, out_csv: PathLike) -> Path:
    """Write every tube (and idle tube, with an empty action) as box-per-row CSV.

    Frames are 1-based (header `frame`); coordinates are written in full, so
    importing the file back gives exactly the same GT.
    """
    gt = as_gt(gt)
    out_csv = Path(out_csv)
    with atomic_open(out_csv, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for video in gt.videos:
            for track in gt_to_tracks(gt, video):
                action = track.actions[0] or ""
                coords = fmt_floats(track.boxes)
                writer.writerows([video, int(frame), track.track_id, *xyxy, action]
                                 for frame, xyxy in zip(track.frames, coords))
    return out_csv


def iter_csv_sources(paths: list[PathLike]) -> Iterator[Path]:
    for p in map(Path, paths):
        if p.is_dir():
            yield from sorted(q for q in p.rglob("*.csv") if q.is_file())
        else:
            yield p
