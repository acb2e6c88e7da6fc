"""Check a MultiSports-format annotation and report every problem, not just the first.

`validate_gt` returns a list of `Problem`s, each naming the video key, label and
tube (and frames) it is about, e.g. ``video 'a/b', label 4, tube 2: x1 >= x2 at
frame 17``. `raise_if_invalid` turns the errors into one `StadError`; loading a
`MultiSportsGT` and every conversion call it, so a broken file stops a step
before anything is written.

Per-box checks run on all tubes at once with numpy: the full MultiSports
(3,200 videos, ~37,700 tubes, ~900k boxes) validates in well under a second
(`benchmarks/bench_validate.py`).

Box bounds: a box may overhang the frame by up to `BORDER_TOLERANCE_PX` (1 px)
in each direction, since annotation tools store boxes that touch the right or
bottom edge as x2 == width (or width + 1 with inclusive pixel conventions).
Anything further out is an error. Degenerate boxes (x1 >= x2 or y1 >= y2) are
errors. A tube with the same label, frames and boxes (within `DUPLICATE_TOL_PX`)
as another of its video is a warning: the same video annotated twice.

With `videos_root`, each split's videos must exist as
`videos_root/trainval/<key>.mp4` (train) or `videos_root/test/<key>.mp4` (test),
and decode to the annotated resolution and at least `nframes` frames (more frames
is only a warning: every annotated frame index still exists).

Used in: 01_dataset (and every notebook through `MultiSportsGT.load`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import StadError
from .layout import GT_SPLIT_KEY, video_path

REQUIRED_KEYS = ("labels", "train_videos", "test_videos", "nframes", "resolution",
                 "gttubes")
SPLIT_KEYS = tuple(GT_SPLIT_KEY.values())  # 'train_videos', 'test_videos'
BORDER_TOLERANCE_PX = 1.0
DUPLICATE_TOL_PX = 1.0  # tubes closer than this (same label, frames) are duplicates
MAX_LISTED_FRAMES = 3  # frames quoted per problem; the rest are counted
MAX_RAISED = 20  # problems quoted by `raise_if_invalid`


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an annotation: where it is and what it is.

    `str(problem)` is the line `stad data validate` prints.

    Attributes:
        severity: `"error"` (the file cannot be used; `raise_if_invalid` raises)
            or `"warning"` (usable, but probably not what was meant).
        where: `"video 'sport/name', label 4, tube 2"`, or the file for
            file-wide problems.
        message: What is wrong, with the values (`"x1 >= x2 at frame 17"`).
    """

    severity: str  # 'error' | 'warning'
    where: str  # "video 'a/b', label 4, tube 2", or the file for file-wide problems
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message

    @property
    def is_error(self) -> bool:
        """True for an error (the file cannot be used), False for a warning."""
        return self.severity == "error"


def _err(where: str, message: str) -> Problem:
    return Problem("error", where, message)


def _warn(where: str, message: str) -> Problem:
    return Problem("warning", where, message)


def _where(video: Any, label: Any = None, tube: int | None = None,
           idle: bool = False) -> str:
    parts = [f"video {video!r}"]
    if idle:
        parts.append(f"idle tube {tube}")
    else:
        if label is not None:
            parts.append(f"label {label!r}" if not _is_int(label) else f"label {label}")
        if tube is not None:
            parts.append(f"tube {tube}")
    return ", ".join(parts)


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool,
                                                                           np.bool_))


def _fmt(value: float) -> str:
    if np.isfinite(value) and value == int(value):
        return str(int(value))
    return f"{value:g}"


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------
def decode_byte_strings(raw: Any) -> Any:
    """`raw` with every byte string in its containers decoded to `str`.

    Python 2 wrote the GTs of UCF101-24 and JHMDB (ACT format, the same keys as
    MultiSports); `safe_load` reads their strings as `str` already (latin1),
    but a file re-saved from `pickle.load(f, encoding='bytes')` holds `bytes`
    keys, labels and video names. They are decoded as UTF-8, else latin1.
    Numpy arrays are left alone.

    Args:
        raw: An unpickled GT (any object).

    Returns:
        `raw` itself when it holds no byte string (so arrays and dicts stay the
        same objects), else a copy of its containers with `str` in place of
        `bytes`.
    """
    if not _has_bytes(raw):
        return raw
    return _decode(raw)


def _has_bytes(obj: Any) -> bool:
    if isinstance(obj, (bytes, bytearray)):
        return True
    if isinstance(obj, dict):
        return any(_has_bytes(k) or _has_bytes(v) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return any(_has_bytes(v) for v in obj)
    return False


def _decode(obj: Any) -> Any:
    if isinstance(obj, (bytes, bytearray)):
        try:
            return bytes(obj).decode("utf-8")
        except UnicodeDecodeError:
            return bytes(obj).decode("latin1")
    if isinstance(obj, dict):
        return {_decode(k): _decode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_decode(v) for v in obj)
    return obj


def validate_gt(
    raw: Any,
    source: str | None = None,
    videos_root: str | os.PathLike | None = None,
) -> list[Problem]:
    """Every problem in a raw MultiSports GT dict (and, with `videos_root`, its videos).

    `source` names the file in file-wide problems. Nothing is raised for bad
    content; only an unreadable `videos_root` itself is a `StadError`.

    Checked against the MultiSports format (https://github.com/MCG-NJU/MultiSports;
    see `data.gt`): the six keys and their types; every video of a split listed in
    `nframes` and `resolution`; every tube a numeric `(n, 5)` array of 1-based
    frames inside the video and boxes of positive size inside the frame (pixels);
    label ids inside `labels`.

    Args:
        raw: The unpickled dict (`data.safe_pickle.safe_load`).
        source: The file name for file-wide problems.
        videos_root: A dataset root; each video's mp4 (`trainval/` or `test/`) is
            probed and its frame count and `(height, width)` compared with the GT.

    Returns:
        Every `Problem` found, errors and warnings; empty when the annotation is
        clean.

    Raises:
        StadError: `videos_root` is given but is not a folder.
    """
    top = source or "annotation"
    raw = decode_byte_strings(raw)
    if not isinstance(raw, dict):
        return [_err(top, f"expected a dict with keys {', '.join(REQUIRED_KEYS)}, "
                          f"got {type(raw).__name__}")]
    problems: list[Problem] = []
    for key in REQUIRED_KEYS:
        if key not in raw:
            problems.append(_err(top, f"missing key {key!r}"))

    # Each check runs only if its key is there (a missing key is reported once).
    n_labels = (_check_labels(raw["labels"], top, problems)
                if "labels" in raw else None)
    splits = {key: _check_split(raw[key], key, top, problems)
              for key in SPLIT_KEYS if key in raw}
    nframes = (_check_nframes(raw["nframes"], top, problems)
               if "nframes" in raw else {})
    resolution = (_check_resolution(raw["resolution"], top, problems)
                  if "resolution" in raw else {})

    # Tube arrays: gather them, check containers here, boxes vectorized below.
    entries: list[tuple[Any, Any, int, bool, Any]] = []  # video, label, idx, idle, arr
    gttubes = raw.get("gttubes")
    if "gttubes" in raw and not isinstance(gttubes, dict):
        problems.append(_err(top, "'gttubes' must be a dict video -> {label: [tubes]}, "
                                  f"got {type(gttubes).__name__}"))
        gttubes = None
    for video, by_label in (gttubes or {}).items():
        if not isinstance(by_label, dict):
            problems.append(_err(_where(video), "gttubes entry must be a dict "
                                 f"label -> [tubes], got {type(by_label).__name__}"))
            continue
        for label, tubes in by_label.items():
            if not _is_int(label):
                problems.append(_err(_where(video, label), "label key is "
                                     f"{type(label).__name__}, expected an int index "
                                     "into 'labels'"))
            elif n_labels is not None and not 0 <= int(label) < n_labels:
                problems.append(_err(_where(video, label), "label index outside "
                                     f"'labels' (0..{n_labels - 1})"))
            if not isinstance(tubes, (list, tuple)):
                problems.append(_err(_where(video, label), "tubes must be a list of "
                                     f"(n, 5) arrays, got {type(tubes).__name__}"))
                continue
            entries.extend((video, label, i, False, t) for i, t in enumerate(tubes))

    idle = raw.get("idle_tubes")
    if "idle_tubes" in raw and not isinstance(idle, dict):
        problems.append(_err(top, "'idle_tubes' must be a dict video -> [tubes], got "
                                  f"{type(idle).__name__}"))
        idle = None
    for video, tubes in (idle or {}).items():
        if not isinstance(tubes, (list, tuple)):
            problems.append(_err(_where(video), "idle_tubes entry must be a list of "
                                 f"(n, 5) arrays, got {type(tubes).__name__}"))
            continue
        entries.extend((video, None, i, True, t) for i, t in enumerate(tubes))

    tables = {k: raw[k] for k in ("gttubes", "nframes", "resolution")
              if isinstance(raw.get(k), dict)}
    _check_videos(splits, tables, idle, problems)
    problems.extend(_check_tubes(entries, nframes, resolution))

    if videos_root is not None:
        problems.extend(_check_video_files(Path(videos_root), splits, nframes,
                                           resolution))
    return problems


def raise_if_invalid(
    raw: Any,
    source: str | None = None,
    videos_root: str | os.PathLike | None = None,
) -> list[Problem]:
    """Raise one `StadError` listing the first errors; return the warnings otherwise.

    Args:
        raw: An unpickled `multisports_GT.pkl` (format:
            https://github.com/MCG-NJU/MultiSports; see `data.gt`).
        source: The file name put in the error.
        videos_root: A dataset root; when given, each video's frame count and
            resolution are also checked against its mp4 (slower).

    Returns:
        The warnings (`Problem`s with `is_error` False); empty if none.

    Raises:
        StadError: Any error-severity problem; the message lists the first
            `MAX_RAISED` of them, each naming video, label and tube.
    """
    problems = validate_gt(raw, source=None, videos_root=videos_root)
    errors = [p for p in problems if p.is_error]
    if not errors:
        return problems
    lines = [f"{len(errors)} error(s) in the annotation"
             + (f" (and {len(problems) - len(errors)} warning(s))"
                if len(problems) > len(errors) else "") + ":"]
    lines += [f"  {p}" for p in errors[:MAX_RAISED]]
    if len(errors) > MAX_RAISED:
        lines.append(f"  ... and {len(errors) - MAX_RAISED} more; "
                     f"`stad data validate {source or 'GT.pkl'}` lists them all")
    raise StadError("\n".join(lines), source)


# ---------------------------------------------------------------------------
# Container checks (small, per key)
# ---------------------------------------------------------------------------
def _check_labels(labels: Any, top: str, problems: list[Problem]) -> int | None:
    if not isinstance(labels, (list, tuple)):
        problems.append(_err(top, f"'labels' must be a list of str, got "
                                  f"{type(labels).__name__}"))
        return None
    for i, name in enumerate(labels):
        if not isinstance(name, str):
            problems.append(_err(top, f"'labels'[{i}] is {type(name).__name__}, "
                                      "expected str"))
    dupes = sorted({n for n in labels if isinstance(n, str) and labels.count(n) > 1})
    if dupes:
        problems.append(_warn(top, f"duplicate label names: {', '.join(dupes)}"))
    return len(labels)


def _check_split(value: Any, key: str, top: str,
                 problems: list[Problem]) -> list[str]:
    """The video keys of one split; MultiSports wraps the list in a one-item list."""
    if (isinstance(value, (list, tuple)) and len(value) == 1
            and isinstance(value[0], (list, tuple))):
        videos = list(value[0])
    elif (isinstance(value, (list, tuple)) and len(value) > 1
          and all(isinstance(v, (list, tuple)) for v in value)):
        problems.append(_warn(top, f"{key!r} holds {len(value)} splits (JHMDB's "
                                   "ACT-format GT has three); split 1 is used, as "
                                   "ACT's and MOC's readers do by default"))
        videos = list(value[0])
    elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        problems.append(_warn(top, f"{key!r} is a plain list; MultiSports wraps it "
                                   "in one list ([[video, ...]]) and mmaction2's "
                                   "scripts read [0]"))
        videos = list(value)
    else:
        problems.append(_err(top, f"{key!r} must be [[video, ...]], got "
                                  f"{type(value).__name__}"
                                  + (f" of length {len(value)}"
                                     if isinstance(value, (list, tuple)) else "")))
        return []
    good = []
    for i, video in enumerate(videos):
        if isinstance(video, str):
            good.append(video)
        else:
            problems.append(_err(top, f"{key!r}[{i}] is {type(video).__name__}, "
                                      "expected a video key str"))
    if len(set(good)) < len(good):
        seen, dupes = set(), []
        for v in good:
            (dupes.append(v) if v in seen else seen.add(v))
        problems.append(_warn(top, f"{key!r} lists {len(dupes)} video(s) twice: "
                                   + ", ".join(map(repr, dupes[:5]))))
    return good


def _check_nframes(value: Any, top: str, problems: list[Problem]) -> dict[Any, int]:
    if not isinstance(value, dict):
        problems.append(_err(top, f"'nframes' must be a dict video -> int, got "
                                  f"{type(value).__name__}"))
        return {}
    good = {}
    for video, n in value.items():
        if not _is_int(n) or n < 1:
            problems.append(_err(_where(video), f"nframes is {n!r}, expected a "
                                 "positive int"))
        else:
            good[video] = int(n)
    return good


def _check_resolution(value: Any, top: str,
                      problems: list[Problem]) -> dict[Any, tuple[int, int]]:
    if not isinstance(value, dict):
        problems.append(_err(top, f"'resolution' must be a dict video -> (height, "
                                  f"width), got {type(value).__name__}"))
        return {}
    good = {}
    for video, hw in value.items():
        if (isinstance(hw, (list, tuple)) and len(hw) == 2
                and all(_is_int(x) and x > 0 for x in hw)):
            good[video] = (int(hw[0]), int(hw[1]))
        else:
            problems.append(_err(_where(video), f"resolution is {hw!r}, expected "
                                 "(height, width) positive ints"))
    return good


def _check_videos(splits: dict[str, list[str]], tables: dict[str, dict],
                  idle: dict | None, problems: list[Problem]) -> None:
    """Every split video has tubes, nframes and resolution; no video in two splits.

    `tables` holds those of gttubes/nframes/resolution that are dicts (a missing or
    mistyped key is reported once, not once per video).
    """
    for key, videos in splits.items():
        for video in videos:
            absent = [name for name, table in tables.items() if video not in table]
            if absent:
                problems.append(_err(_where(video), f"listed in {key!r} but missing "
                                     f"from {', '.join(absent)}"))
    train, test = (set(splits.get(k, ())) for k in SPLIT_KEYS)
    for video in sorted(train & test):
        problems.append(_err(_where(video), "listed in both 'train_videos' and "
                                            "'test_videos'"))
    if len(splits) == len(SPLIT_KEYS):
        listed = train | test
        for name, table in (("gttubes", tables.get("gttubes")), ("idle_tubes", idle)):
            for video in table or {}:
                if video not in listed:
                    problems.append(_warn(_where(video), f"in {name!r} but in neither "
                                          "split, so every conversion ignores it"))


# ---------------------------------------------------------------------------
# Tube checks (vectorized over all boxes of all tubes)
# ---------------------------------------------------------------------------
def _check_tubes(entries: list, nframes: dict,
                 resolution: dict) -> list[Problem]:
    found: list[tuple[int, int, Problem]] = []  # (entry, check order, problem)
    arrays, keep = [], []
    for e, (video, label, i, idle, arr) in enumerate(entries):
        where = _where(video, label, i, idle)
        if not isinstance(arr, np.ndarray):
            found.append((e, 0, _err(where, f"is a {type(arr).__name__}, expected a "
                                     "numpy array of shape (n, 5)")))
        elif arr.dtype.kind not in "fiu":
            found.append((e, 0, _err(where, f"is not numeric (dtype {arr.dtype})")))
        elif arr.ndim != 2 or arr.shape[1] != 5:
            found.append((e, 0, _err(where, f"has shape {arr.shape}, expected (n, 5): "
                                     "frame, x1, y1, x2, y2")))
        elif arr.shape[0] == 0:
            found.append((e, 0, _warn(where, "is empty (no boxes)")))
        else:
            if arr.dtype.kind != "f":
                found.append((e, 0, _warn(where, f"has dtype {arr.dtype}; MultiSports "
                                          "uses float32 (mmaction2's parse_anno.py "
                                          "divides it in place)")))
            arrays.append(arr)
            keep.append(e)

    if arrays:
        rows = np.concatenate(arrays).astype(np.float64, copy=False)
        lengths = np.fromiter((len(a) for a in arrays), np.int64, len(arrays))
        keep_arr = np.asarray(keep, np.int64)
        row_entry = np.repeat(keep_arr, lengths)
        # Per-entry limits; NaN where the video's nframes/resolution is unknown,
        # so comparisons against them are False and only the known ones are checked.
        lim = np.full((len(entries), 3), np.nan)
        for e in keep:
            video = entries[e][0]
            if video in nframes:
                lim[e, 0] = nframes[video]
            if video in resolution:
                lim[e, 1:] = resolution[video]
        n_max, h, w = (lim[row_entry, k] for k in range(3))
        frame, x1, y1, x2, y2 = rows.T
        tol = BORDER_TOLERANCE_PX
        finite = np.isfinite(rows).all(axis=1)
        with np.errstate(invalid="ignore"):
            same_tube = np.r_[False, row_entry[1:] == row_entry[:-1]]
            not_increasing = same_tube & (np.r_[np.inf, np.diff(frame)] <= 0)
            checks = [
                # (rows, severity, message for entry e, quote the boxes?)
                (~finite, "error", lambda _: "non-finite value (nan or inf)", False),
                (finite & (frame != np.round(frame)), "error",
                 lambda _: "frame index is not a whole number", False),
                # frame < 1 is caught even where nframes is unknown (NaN: False).
                (finite & ((frame < 1) | (frame > n_max)), "error",
                 lambda e: f"frame index outside 1..nframes ({_fmt(lim[e, 0])})"
                 if np.isfinite(lim[e, 0]) else "frame index below 1", False),
                (finite & (x1 >= x2), "error", lambda _: "x1 >= x2", False),
                (finite & (y1 >= y2), "error", lambda _: "y1 >= y2", False),
                (finite & ((x1 < -tol) | (y1 < -tol) | (x2 > w + tol)
                           | (y2 > h + tol)), "error",
                 lambda e: f"box outside the {_fmt(lim[e, 2])}x{_fmt(lim[e, 1])} "
                           f"frame (by more than {_fmt(tol)} px)", True),
                (finite & not_increasing, "warning",
                 lambda _: "frame indices not strictly increasing", False),
            ]
        for order, (mask, severity, describe, show_box) in enumerate(checks, 1):
            bad = np.flatnonzero(mask)
            if not len(bad):
                continue
            owner = row_entry[bad]
            starts = np.flatnonzero(owner[1:] != owner[:-1]) + 1
            for group in np.split(bad, starts):
                e = int(row_entry[group[0]])
                video, label, i, idle, _ = entries[e]
                msg = describe(e) + _at_frames(frame[group], rows[group], show_box)
                found.append((e, order, Problem(severity, _where(video, label, i, idle),
                                                msg)))
        found += _duplicate_tubes(entries, keep_arr, lengths, rows)
    found.sort(key=lambda t: (t[0], t[1]))
    return [p for _, _, p in found]


def _duplicate_tubes(entries: list, keep: np.ndarray, lengths: np.ndarray,
                     rows: np.ndarray) -> list[tuple[int, int, Problem]]:
    """A warning for each tube with the same video, label, frames and boxes (within
    `DUPLICATE_TOL_PX`) as an earlier one: the same video annotated twice.

    Candidates are found at once (one sort by video, label, first and last frame
    and length); only tubes sharing all of those are compared box by box.
    """
    groups: dict[tuple, int] = {}
    code = np.fromiter((groups.setdefault((entries[e][0], entries[e][3],
                                           entries[e][1]), len(groups))
                        for e in keep.tolist()), np.int64, len(keep))
    ends = np.cumsum(lengths)
    starts = ends - lengths
    first, last = rows[starts, 0], rows[ends - 1, 0]
    order = np.lexsort((last, first, lengths, code))
    key = np.stack([code, lengths, first, last], 1)[order]
    same_as_prev = np.r_[False, (key[1:] == key[:-1]).all(1)]
    run_starts = np.flatnonzero(~same_as_prev)
    found = []
    for a, b in zip(run_starts, np.r_[run_starts[1:], len(order)]):
        if b - a < 2:
            continue
        members = sorted(order[a:b].tolist())
        for j, k in enumerate(members):
            tube_k = rows[starts[k]:ends[k]]
            for m in members[:j]:
                diff = np.abs(rows[starts[m]:ends[m]] - tube_k)
                if (diff[:, 0] == 0).all() and diff[:, 1:].max() <= DUPLICATE_TOL_PX:
                    e, earlier = int(keep[k]), entries[int(keep[m])]
                    video, label, i, idle, _ = entries[e]
                    what = "idle tube" if idle else "tube"
                    same = "same frames" if idle else "same label, frames"
                    found.append((e, 99, _warn(
                        _where(video, label, i, idle),
                        f"{same} and boxes (within {_fmt(DUPLICATE_TOL_PX)} px) as "
                        f"{what} {earlier[2]}: a duplicate (the same video annotated "
                        "twice?)")))
                    break
    return found


def _at_frames(frames: np.ndarray, rows: np.ndarray, show_box: bool) -> str:
    shown = [
        _fmt(f) + (" (" + ", ".join(_fmt(v) for v in r[1:]) + ")" if show_box else "")
        for f, r in zip(frames[:MAX_LISTED_FRAMES], rows[:MAX_LISTED_FRAMES])
    ]
    text = (" at frame " if len(frames) == 1 else " at frames ") + ", ".join(shown)
    if len(frames) > MAX_LISTED_FRAMES:
        text += f" and {len(frames) - MAX_LISTED_FRAMES} more"
    return text


# ---------------------------------------------------------------------------
# Video file checks
# ---------------------------------------------------------------------------
def _probe_one(path: str) -> tuple[Any, str | None]:
    """(VideoInfo, None) or (None, why it could not be read); runs in a worker."""
    from ..video import probe

    try:
        return probe(path), None
    except StadError as exc:  # drop the "path: " prefix; the problem names the path
        why = str(exc)
        return None, why[len(f"{exc.path}: "):] if exc.path else why
    except Exception as exc:  # noqa: BLE001 - a corrupt file must not stop the rest
        return None, f"{type(exc).__name__}: {exc}"


def _map_probe(paths: list[str]) -> Iterable[tuple[Any, str | None]]:
    from tqdm.auto import tqdm

    bar = dict(total=len(paths), desc="probing videos", unit="video",
               disable=len(paths) < 20, leave=False)
    workers = min(os.cpu_count() or 1, 8, len(paths))
    if workers <= 1 or len(paths) < 8:
        return list(tqdm(map(_probe_one, paths), **bar))
    with ProcessPoolExecutor(workers) as pool:
        return list(tqdm(pool.map(_probe_one, paths, chunksize=4), **bar))


def _check_video_files(root: Path, splits: dict[str, list[str]], nframes: dict,
                       resolution: dict) -> list[Problem]:
    if not root.is_dir():
        raise StadError("videos root is not a folder", root)
    problems: list[Problem] = []
    todo: list[tuple[str, Path]] = []
    for videos in splits.values():
        for video in videos:
            path = video_path(root, video)
            if not path.is_file():
                problems.append(_err(_where(video), f"video file missing: {path}"))
            else:
                todo.append((video, path))
    infos = _map_probe([str(p) for _, p in todo])
    for (video, path), (info, why) in zip(todo, infos):
        if info is None:
            problems.append(_err(_where(video), f"cannot read {path}: {why}"))
            continue
        if video in resolution and (info.height, info.width) != resolution[video]:
            h, w = resolution[video]
            problems.append(_err(_where(video), f"{path} is {info.width}x"
                                 f"{info.height}, the annotation says {w}x{h}"))
        if video in nframes and info.nframes != nframes[video]:
            shorter = info.nframes < nframes[video]
            problems.append(Problem(
                "error" if shorter else "warning", _where(video),
                f"{path} has {info.nframes} frames, the annotation says nframes = "
                f"{nframes[video]}" + (" (annotated frames past the end cannot be "
                                       "read)" if shorter else "")))
    return problems


SPLIT_LOADERS = {"train_dataloader": "train", "val_dataloader": "val"}


def check_split_annotations(cfg, config: str | os.PathLike) -> None:
    """Refuse, before a training starts, a train or val split with no data.

    The annotation file (`ann_file`, under the dataset's `data_root` when
    relative) of `train_dataloader` and `val_dataloader` is read: a COCO JSON
    (`stad convert det-anno`) must list images, an AVA CSV (`stad convert ava`)
    must have a row. An empty split (e.g. an import of one video, whose val
    split `--test-ratio` rounded to 0 videos) otherwise fails deep in MMEngine
    (`build_val_loop`: "need at least one array to concatenate"). Missing files
    are left to the training's own checks.

    Args:
        cfg: The MMEngine `Config` about to be trained (data options applied).
        config: Its path, for messages.

    Raises:
        StadError: A split's annotation file holds no image or row (naming the
            file and what to do), or a JSON one cannot be read.
    """
    import json

    for loader, split in SPLIT_LOADERS.items():
        dataset = (cfg.get(loader) or {}).get("dataset") or {}
        while "dataset" in dataset and "ann_file" not in dataset:  # wrappers
            dataset = dataset.dataset
        ann = dataset.get("ann_file")
        if not ann:
            continue
        path = Path(ann)
        if not path.is_absolute() and dataset.get("data_root"):
            path = Path(dataset["data_root"]) / path
        if not path.is_file():
            continue
        if path.suffix.lower() == ".json":
            try:
                empty = not json.loads(path.read_text(encoding="utf-8")).get("images")
            except (OSError, UnicodeDecodeError, ValueError, AttributeError) as exc:
                raise StadError(f"cannot read COCO JSON ({exc})", path) from None
        else:
            with open(path, encoding="utf-8", errors="replace") as f:
                empty = not any(line.strip() for line in f)
        if empty:
            raise StadError(
                f"the {split} split is empty ({loader} of {config}): the dataset's "
                f"{'test_videos' if split == 'val' else 'train_videos'} list no "
                "video; re-import with more videos (at least 2) or another "
                "--test-ratio / --test-videos, then convert again", path)
