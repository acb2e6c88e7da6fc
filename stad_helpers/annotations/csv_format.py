"""Plain CSV annotations: one row per box, `video,frame,track_id,x1,y1,x2,y2,action`.

The simplest format to write from any tool or script. Boxes are in pixels;
numbers may be written `31` or `31.0` (a frame must be a whole number). The
delimiter is sniffed (`,` `;` tab or `|`; with `;`, a decimal comma is read as a
point) and the summary says when it is not a comma. Lines starting with `#` are
comments; a first comment `# labels: ["walk", "stand"]` (JSON) declares the
action labels in id order, as `export_csv` writes it. A header row is optional;
with one, columns may come in any order.

Frame numbering, declared or detected, and always stated in the summary:
- declared: `frame_base` (`--frame-base 0|1`), else a header column named
  `frame0` (counts from 0) or `frame1` (counts from 1);
- detected otherwise: a file with a frame 0 counts from 0; one without is taken
  to count from 1, with a warning (a 0-based file that happens to lack frame 0
  would be one frame off: declare it).

`video` is the video's file name or path relative to the videos folder (with or
without extension). The action `no_action` (default "no action") is a person
standing by; an empty action cell is too, and is reported (once per file). Rows
of one (video, track_id) are one track: frames missing between two rows are
interpolated; a track ends at its last row, so start a new track id where a
person leaves the picture. A track id reused after more than `max_gap` frames
without a row (default `DEFAULT_MAX_GAP`) starts a new track, reported.

Used in: 05_your_own_data.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Union

import numpy as np

from ..data.gt import MultiSportsGT
from ..errors import StadError
from ..fileio import atomic_open
from .floats import fmt_floats
from .tracks import IDLE_LABEL, Problems, Track, VideoAnnotation, as_gt, gt_to_tracks

PathLike = Union[str, os.PathLike]
COLUMNS = ("video", "frame", "track_id", "x1", "y1", "x2", "y2", "action")
_ALIASES = {"frame0": "frame", "frame1": "frame", "track": "track_id",
            "label": "action"}
DEFAULT_MAX_GAP = 50  # frames without a row after which a track id is a new track
LABELS_COMMENT = "# labels:"
DELIMITERS = ",;\t|"
MAX_QUOTED = 5  # line numbers quoted in one note


def read_csv(
    path: PathLike,
    frame_base: int | None = None,
    no_action: str | None = None,
    max_gap: int | None = DEFAULT_MAX_GAP,
    notes: list[str] | None = None,
) -> tuple[list[VideoAnnotation], list[str] | None]:
    """The tracks of a box-per-row CSV (one `VideoAnnotation` per video), its labels.

    Frames become 1-based (see the module docstring for how the file's numbering
    is found); boxes are pixels. The second value is the labels a `# labels:`
    comment declares, else None. `max_gap` (frames, None = never) splits a
    reused track id. The numbering, a delimiter other than a comma, empty action
    cells and split tracks are appended to `notes` in words. Raises one
    `StadError` listing every unreadable line.

    Raises:
        StadError: `max_gap < 0` or `frame_base` not 0/1; a file that cannot
            be read, is not UTF-8, is empty or lacks header columns; or bad rows
            (every one listed, with its line number).
    """
    notes = [] if notes is None else notes
    path = Path(path)
    if max_gap is not None and max_gap < 0:
        raise StadError(f"max gap must be >= 0 frames, got {max_gap}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise StadError(f"not UTF-8 text ({exc.reason} at byte {exc.start}); save "
                        "the CSV as UTF-8", path) from None
    except OSError as exc:
        raise StadError(f"cannot read CSV ({exc.strerror or exc})", path) from None
    declared = None
    lines: list[tuple[int, str]] = []
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    for number, line in enumerate(text.split("\n"), 1):
        if line.lstrip().startswith("#"):
            if line.strip().lower().startswith(LABELS_COMMENT) and declared is None:
                declared = _declared_labels(line, number, path)
            continue
        if line.strip():
            lines.append((number, line))
    if not lines:
        raise StadError("empty CSV", path)
    delimiter = _sniff([line for _, line in lines[:50]])
    if delimiter != ",":
        shown = {"\t": "tab", ";": "';'", "|": "'|'"}[delimiter]
        notes.append(f"{path}: read as {shown}-separated (sniffed)"
                     + ("; decimal commas read as points" if delimiter == ";"
                        else ""))
    rows = [(number, row) for (number, _), row in
            zip(lines, csv.reader([line for _, line in lines], delimiter=delimiter))]

    header = [c.strip().lower() for c in rows[0][1]]
    how = None
    if len(header) > 1 and not _is_number(header[1]):
        cols = {_ALIASES.get(c, c): i for i, c in enumerate(header)}
        missing = [c for c in COLUMNS[:7] if c not in cols]
        if missing:
            raise StadError(f"header lacks column(s) {', '.join(missing)}; "
                            f"expected {','.join(COLUMNS)}", path)
        for name, base in (("frame0", 0), ("frame1", 1)):
            if name in header:
                how = (base, f"declared by the header column {name!r}")
        rows = rows[1:]
    else:
        cols = {c: i for i, c in enumerate(COLUMNS)}
    if frame_base is not None:
        if int(frame_base) not in (0, 1):
            raise StadError(f"frame base must be 0 or 1, got {frame_base}")
        how = (int(frame_base), "declared (--frame-base)")

    problems = Problems()
    need = max(cols[c] for c in COLUMNS[:7]) + 1
    act_col = cols.get("action")
    idle = {no_action if no_action is not None else IDLE_LABEL}
    decimal_comma = delimiter == ";"
    parsed: list[tuple[str, str, int, list[float], str | None]] = []
    empty_action: list[int] = []
    for line, row in rows:
        if all(not c.strip() for c in row):
            continue
        if len(row) < need:
            problems.add(f"{path}, line {line}: {len(row)} columns, expected "
                         f"{','.join(COLUMNS)}" + (" (is the delimiter right?)"
                                                   if len(row) == 1 else ""))
            continue
        frame_text = row[cols["frame"]].strip()
        try:
            box = [_number(row[cols[c]], decimal_comma)
                   for c in ("x1", "y1", "x2", "y2")]
            frame = _number(frame_text, decimal_comma)
        except ValueError:
            problems.add(f"{path}, line {line}: frame or box is not a number")
            continue
        if not float(frame).is_integer():
            problems.add(f"{path}, line {line}: frame {frame_text!r} is not a whole "
                         "number")
            continue
        action = (row[act_col].strip() if act_col is not None
                  and act_col < len(row) else "")
        if not action:
            if act_col is not None:
                empty_action.append(line)
            action = None
        elif action in idle:
            action = None
        parsed.append((row[cols["video"]].strip(), row[cols["track_id"]].strip(),
                       int(frame), box, action))
    problems.raise_if_any(str(path))

    if how is None:
        first = min((p[2] for p in parsed), default=1)
        how = ((0, "detected: a row has frame 0") if first == 0 else
               (1, "assumed: no header 'frame0'/'frame1', no --frame-base and "
                   "no frame 0"))
    base = how[0]
    state = f"{path}: frames counted from {base} ({how[1]})"
    notes.append(("warning: " + state + "; declare it if the file counts from 0")
                 if how[1].startswith("assumed") else state)
    if act_col is None:
        notes.append(f"warning: {path}: no action column: every box is a person "
                     "standing by")
    elif empty_action:
        quoted = ", ".join(map(str, empty_action[:MAX_QUOTED]))
        more = " ..." if len(empty_action) > MAX_QUOTED else ""
        notes.append(f"warning: {path}: {len(empty_action)} row(s) with an empty "
                     f"action cell (line {quoted}{more}), taken as people standing "
                     f"by; write {sorted(idle)[0]!r} there to say so")

    groups: dict[tuple[str, str], list] = {}
    for video, tid, frame, box, action in parsed:
        groups.setdefault((video, tid), []).append((frame - base + 1, box, action))
    videos: dict[str, VideoAnnotation] = {}
    splits: list[str] = []
    for (video, tid), items in groups.items():
        ann = videos.setdefault(video, VideoAnnotation(
            names=[video], where=f"{path}, video {video!r}", tool="csv"))
        items.sort(key=lambda i: i[0])
        frames = np.array([i[0] for i in items])
        gaps = np.diff(frames) - 1
        cuts = (np.flatnonzero(gaps > max_gap) + 1 if max_gap is not None
                else np.zeros(0, np.int64))
        if len(cuts):
            splits.append(f"video {video!r}, track {tid} (gap of "
                          f"{int(gaps[cuts[0] - 1])} frames after frame "
                          f"{int(frames[cuts[0] - 1]) + base - 1})")
        for part, (a, b) in enumerate(zip(np.r_[0, cuts], np.r_[cuts, len(items)])):
            chunk = items[a:b]
            ann.tracks.append(Track(
                video=video, track_id=tid if not part else f"{tid}#{part + 1}",
                frames=[i[0] for i in chunk], boxes=[i[1] for i in chunk],
                actions=[i[2] for i in chunk], source=str(path), frame_base=base))
    if splits:
        notes.append(f"{path}: {len(splits)} track id(s) reused after more than "
                     f"{max_gap} frames without a row, each part a new track "
                     "(--max-gap to change): " + "; ".join(splits[:MAX_QUOTED])
                     + (" ..." if len(splits) > MAX_QUOTED else ""))
    return list(videos.values()), declared


def _declared_labels(line: str, number: int, path: Path) -> list[str]:
    text = line.strip()[len(LABELS_COMMENT):].strip()
    try:
        labels = json.loads(text)
    except json.JSONDecodeError:
        labels = None
    if not (isinstance(labels, list) and all(isinstance(x, str) for x in labels)):
        raise StadError(f"line {number}: '{LABELS_COMMENT}' must be followed by a "
                        'JSON list of names, e.g. # labels: ["walk", "stand"]', path)
    return labels


def _sniff(lines: list[str]) -> str:
    """The delimiter of `lines`: csv.Sniffer among `DELIMITERS`, else a comma."""
    sample = "\n".join(lines)
    try:
        found = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","
    if found != "," and all(len(next(csv.reader([x]))) >= 7 for x in lines[:5]):
        return ","  # every row already splits into the columns on commas
    return found


def _number(text: str, decimal_comma: bool = False) -> float:
    text = text.strip()
    if decimal_comma:
        text = text.replace(",", ".")
    return float(text)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def export_csv(gt: MultiSportsGT | PathLike, out_csv: PathLike) -> Path:
    """Write every tube (and idle tube, as "no action") as box-per-row CSV.

    The first line declares the labels in id order (`# labels: [...]`), so an
    import gives the same label ids; frames are 1-based (header `frame1`);
    coordinates are written in full, so importing the file back gives exactly
    the same GT.

    Args:
        gt: A `MultiSportsGT` or its file.
        out_csv: The CSV to write (whole or not at all).

    Returns:
        `out_csv`.

    Raises:
        StadError: The GT is unreadable or invalid, or an action has the name
            kept for "no action".
    """
    gt = as_gt(gt)
    out_csv = Path(out_csv)
    if IDLE_LABEL in gt.labels:
        raise StadError(f"an action is called {IDLE_LABEL!r}, the name kept for "
                        "people standing by; rename it")
    with atomic_open(out_csv, "w", newline="", encoding="utf-8") as fh:
        fh.write(f"{LABELS_COMMENT} {json.dumps(list(gt.labels), ensure_ascii=False)}"
                 "\r\n")
        writer = csv.writer(fh)
        writer.writerow(["video", "frame1", *COLUMNS[2:]])
        for video in gt.videos:
            for track in gt_to_tracks(gt, video):
                action = track.actions[0] or IDLE_LABEL
                coords = fmt_floats(track.boxes)
                writer.writerows([video, int(frame), track.track_id, *xyxy, action]
                                 for frame, xyxy in zip(track.frames, coords))
    return out_csv


def iter_csv_sources(paths: list[PathLike]) -> Iterator[Path]:
    """The CSV files of `paths`: a folder gives every `*.csv` below it (sorted),
    a file itself (its existence is checked by the reader).
    """
    for p in map(Path, paths):
        if p.is_dir():
            yield from sorted(q for q in p.rglob("*.csv") if q.is_file())
        else:
            yield p
