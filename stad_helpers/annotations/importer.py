"""`stad data import`: CVAT, Label Studio or CSV annotations -> a MultiSports dataset.

`import_annotations` reads every source file, finds each annotated video in the
videos folder, reads frame counts and sizes from the videos themselves, turns
tracks into tubes (`tracks.tracks_to_gt`), validates the result, and writes the
layout the rest of the tutorial reads:

    OUT/trainval/<sport>/<name>.mp4          videos of both splits (hard links or
                                             copies; other containers re-encoded)
    OUT/annotations/multisports_GT.pkl

`<sport>` is the video's folder under the videos folder (`custom` for videos at
its top; a leading `trainval/` or `test/` is dropped, so an existing MultiSports
root works as a videos folder); characters other than letters, digits and `.-_`
in names become `_`. Everything is built in a hidden folder beside OUT
and renamed into place at the end: a failed import leaves nothing behind.

Label ids, one rule for every format (`LABEL_ID_RULE`): `labels` when given (a
list, a text file with one name per line, a Label Studio labeling config XML or
a `cvat_labels.json`), else the order in which the files declare them (CVAT's
label list or action attribute values; a CSV's `# labels:` line; several files:
order of first declaration), else the action names sorted. Every exporter
declares its labels, so a round trip between formats keeps the ids.

A video annotated in several sources (files, tasks, jobs) is merged by
`merge.merge_sources`: identical tubes kept once with a warning, conflicts
refused. What the import decided or assumed (frame numbering, label ids,
duplicates, which annotation of a task) is appended to `notes` in words; the
CLI prints it in its summary. Without `notes`, the warnings among it are issued
with `warnings.warn` once the dataset is written.

Used in: 05_your_own_data.
"""

from __future__ import annotations

import os
import re
import shutil
import urllib.parse
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath
from typing import Union

import numpy as np

from ..data.gt import MultiSportsGT
from ..data.validate import raise_if_invalid
from ..errors import StadError
from ..fileio import check_output_dir, replace_output_dir, temp_dir_beside
from .csv_format import DEFAULT_MAX_GAP
from .merge import merge_sources
from .tracks import IDLE_LABEL, Track, VideoAnnotation, tracks_to_gt

PathLike = Union[str, os.PathLike]
GT_REL = Path("annotations") / "multisports_GT.pkl"
VIDEO_EXTS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")
FORMATS = ("cvat", "label-studio", "csv")
DEFAULT_TEST_RATIO = 0.2
_LS_UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{8}-")  # Label Studio's upload renaming
LABEL_ID_RULE = ("label ids: --labels if given, else the order the files declare "
                 "the labels in (CVAT label list or action attribute values, a "
                 "CSV's '# labels:' line), else the action names sorted")


def import_annotations(
    fmt: str,
    sources: Sequence[PathLike] | PathLike,
    videos_dir: PathLike,
    out_dir: PathLike,
    test_ratio: float | None = None,
    test_videos: Iterable[str] | None = None,
    seed: int = 0,
    action_attribute: str | None = None,
    no_action: str | None = None,
    *,
    labels: Sequence[str] | PathLike | None = None,
    frame_base: int | None = None,
    max_gap: int | None = DEFAULT_MAX_GAP,
    annotator: str | None = None,
    overwrite: bool = False,
    progress: bool = True,
    notes: list[str] | None = None,
) -> Path:
    """Import annotation files of format `fmt` as a MultiSports dataset; return its GT.

    `sources` are files or folders (searched for the format's files; a file
    given twice is read once). The test split is `test_videos` (keys
    'sport/name', names or file names) or a random `test_ratio` of the videos
    (default 0.2, at least one when there are two), drawn with `seed`. Label ids
    follow `LABEL_ID_RULE` (see the module docstring). `action_attribute` and
    `no_action` are explained in `stad_helpers.annotations.cvat`; `frame_base`
    and `max_gap` (frames) in `...csv_format`; `annotator` in `...label_studio`.
    What was decided or assumed is appended to `notes` (lines starting
    "warning: " are warnings). Raises `StadError` for bad input (one message
    listing every bad box, or every conflict between two annotations of a video).
    """
    own_notes = notes is None
    notes = [] if own_notes else notes
    fmt = normalize_format(fmt)
    if test_ratio is not None and test_videos is not None:
        raise StadError("give either a test ratio or a list of test videos, not both")
    if action_attribute is not None and fmt != "cvat":
        raise StadError(f"--action-attribute is for CVAT exports, not {fmt}")
    if annotator is not None and fmt != "label-studio":
        raise StadError(f"--annotator is for Label Studio exports, not {fmt}")
    out_dir = Path(out_dir)
    inputs = [*_as_list(sources), videos_dir]  # never replaced, whatever overwrite
    check_output_dir(out_dir, kind="dataset", inputs=inputs, overwrite=overwrite)

    anns, declared = read_sources(fmt, sources, action_attribute, no_action,
                                  frame_base, max_gap=max_gap, annotator=annotator,
                                  notes=notes)
    index = VideoIndex(videos_dir, exclude=out_dir)
    files: dict[str, Path] = {}
    by_key: dict[str, list[VideoAnnotation]] = {}
    for ann in anns:
        path = index.find(ann.names, ann.where)
        key = index.key(path)
        if files.setdefault(key, path) != path:
            raise StadError(f"videos {files[key]} and {path} would both become "
                            f"{key!r}; rename one")
        by_key.setdefault(key, []).append(ann)
    if not by_key:
        raise StadError("no annotated video found in "
                        + ", ".join(map(str, _as_list(sources))))
    keys = sorted(by_key)

    info = _probe_all(files, keys, progress)
    tracks: list[Track] = []
    for key in keys:
        for ann in by_key[key]:
            _check_against_video(ann, info[key], files[key])
            for track in ann.tracks:
                track.video = key
                if ann.percent:
                    scale = np.array([info[key].width, info[key].height] * 2) / 100.0
                    track.boxes = track.boxes * scale
        merged = None
        if len(by_key[key]) > 1:  # the same video in several sources
            merged = merge_sources(key, by_key[key], info[key].nframes,
                                   info[key].width, info[key].height, notes)
        tracks += (merged if merged is not None else
                   [t for ann in by_key[key] for t in ann.tracks])

    names = _labels(labels, declared, tracks, notes)
    test = _test_split(keys, index, test_ratio, test_videos, seed)
    gt = tracks_to_gt(tracks, None, names, test, videos=keys, info=info)
    raise_if_invalid(gt.to_dict(), source="the imported annotations")
    written = _write_dataset(gt, files, info, out_dir, overwrite, progress, inputs)
    if own_notes:
        for line in notes:
            if line.startswith("warning: "):
                warnings.warn(line[len("warning: "):], stacklevel=2)
    return written


def normalize_format(fmt: str) -> str:
    name = fmt.lower().replace("_", "-")
    name = {"ls": "label-studio", "labelstudio": "label-studio"}.get(name, name)
    if name not in FORMATS:
        raise StadError(f"unknown annotation format {fmt!r}; choose one of "
                        f"{', '.join(FORMATS)}")
    return name


def read_sources(fmt: str, sources, action_attribute: str | None = None,
                 no_action: str | None = None, frame_base: int | None = None, *,
                 max_gap: int | None = DEFAULT_MAX_GAP, annotator: str | None = None,
                 notes: list[str] | None = None,
                 ) -> tuple[list[VideoAnnotation], list[str] | None]:
    """Every `VideoAnnotation` of the source files, and the labels they declare.

    A file named twice (also through a folder) is read once, with a warning in
    `notes`. The declared labels of several files: in order of first declaration.
    """
    fmt = normalize_format(fmt)
    notes = [] if notes is None else notes
    start = len(notes)
    if fmt == "cvat":
        from .cvat import iter_xml_sources as expand
        from .cvat import read_cvat

        def read(p):
            return read_cvat(p, action_attribute, no_action, notes=notes)
    elif fmt == "label-studio":
        from .label_studio import iter_json_sources as expand
        from .label_studio import read_label_studio

        def read(p):
            return read_label_studio(p, no_action, annotator=annotator, notes=notes)
    else:
        from .csv_format import iter_csv_sources as expand
        from .csv_format import read_csv

        def read(p):
            return read_csv(p, frame_base, no_action, max_gap=max_gap, notes=notes)
    paths = list(expand(_as_list(sources)))
    if not paths:
        raise StadError(f"no {fmt} annotation files in "
                        + ", ".join(map(str, _as_list(sources))))
    anns: list[VideoAnnotation] = []
    declared: list[str] | None = None
    seen: dict[Path, Path] = {}
    for p in paths:
        if not Path(p).is_file():
            raise StadError("annotation file not found", p)
        real = Path(p).resolve()
        if real in seen:
            notes.append(f"warning: {p} given twice (as {seen[real]}): read once")
            continue
        seen[real] = Path(p)
        got, labels = read(p)
        anns += got
        if labels is not None:
            declared = list(dict.fromkeys([*(declared or []), *labels]))
    _count_repeats(notes, start)
    return anns, declared


def _count_repeats(notes: list[str], start: int) -> None:
    """Say a note that several files gave once, with how many: notes[start:]."""
    counts: dict[str, int] = {}
    for line in notes[start:]:
        counts[line] = counts.get(line, 0) + 1
    notes[start:] = [line if n == 1 else f"{line} ({n} files)"
                     for line, n in counts.items()]


def _as_list(sources) -> list:
    return [sources] if isinstance(sources, (str, os.PathLike)) else list(sources)


# ---------------------------------------------------------------------------
# Finding videos
# ---------------------------------------------------------------------------
class VideoIndex:
    """The videos under a folder, found by any way an annotation file names them."""

    def __init__(self, root: PathLike, exclude: PathLike | None = None):
        self.root = Path(root)
        if not self.root.is_dir():
            raise StadError("videos folder not found", self.root)
        skip = Path(exclude).resolve() if exclude is not None else None
        self.files: list[Path] = []
        self._lookup: dict[str, list[Path]] = {}
        for p in sorted(self.root.rglob("*")):
            rel = p.relative_to(self.root)
            if (p.suffix.lower() not in VIDEO_EXTS or not p.is_file()
                    or any(part.startswith(".") for part in rel.parts)
                    or (skip is not None and skip in p.resolve().parents)):
                continue
            self.files.append(p)
            parts = rel.parts
            for k in range(1, len(parts) + 1):
                suffix = "/".join(parts[-k:])
                for s in {suffix, suffix[: -len(p.suffix)]}:
                    self._lookup.setdefault(s, []).append(p)
        if not self.files:
            raise StadError(f"no videos ({', '.join(VIDEO_EXTS)}) in the folder",
                            self.root)

    def key(self, path: Path) -> str:
        """'sport/name' of a video file (see the module docstring)."""
        parts = list(path.relative_to(self.root).parts)
        if len(parts) >= 3 and parts[0] in ("trainval", "test"):
            parts = parts[1:]
        sport = _safe("_".join(parts[:-1])) or "custom"
        return f"{sport}/{_safe(Path(parts[-1]).stem)}"

    def find(self, names: Sequence[str], where: str) -> Path:
        """The one video file that `names` (tried in order) refer to."""
        tried, ambiguous = [], []
        for name in names:
            for cand in _candidates(name):
                hits = sorted(set(self._lookup.get(cand, [])))
                if len(hits) == 1:
                    return hits[0]
                if hits:
                    ambiguous.append((cand, hits))
                tried.append(cand)
        if ambiguous:
            cand, hits = ambiguous[0]
            raise StadError(f"{where}: {cand!r} matches several videos in "
                            f"{self.root}: {', '.join(map(str, hits[:5]))}")
        raise StadError(f"{where}: no video in {self.root} matches "
                        + (", ".join(map(repr, dict.fromkeys(tried)))
                           or "(the file names no video)"))


def _safe(name: str) -> str:
    """`name` with runs of characters other than letters, digits, `.-_` as `_`.

    Video keys end up in CSV rows and frame folder names; a comma or a space
    there breaks MMAction2's annotation files.
    """
    return re.sub(r"[^\w.-]+", "_", name).strip("_")


def _candidates(name: str) -> list[str]:
    """Ways to look `name` (a path, file name or URL) up, most specific first."""
    text = name.strip().replace("\\", "/")
    if "://" in text or "?" in text:
        parsed = urllib.parse.urlparse(text)
        query = urllib.parse.parse_qs(parsed.query)
        text = query["d"][0] if "d" in query else parsed.path
    text = urllib.parse.unquote(text).strip("/")
    if not text:
        return []
    out = []
    path = PurePosixPath(text)
    for k in range(len(path.parts), 0, -1):
        sub = "/".join(path.parts[-k:])
        out += [sub, sub[: -len(path.suffix)] if path.suffix else sub]
    base = path.name
    if _LS_UPLOAD_PREFIX.match(base):
        stripped = PurePosixPath(base[9:])
        out += [str(stripped), stripped.stem]
    return list(dict.fromkeys(c for c in out if c))


def _probe_all(files: dict[str, Path], keys: list[str], progress: bool) -> dict:
    from tqdm.auto import tqdm

    from ..video import probe

    return {k: probe(files[k]) for k in tqdm(keys, desc="reading videos", unit="video",
                                             disable=not progress)}


def _check_against_video(ann: VideoAnnotation, info, path: Path) -> None:
    if ann.size is not None and tuple(ann.size) != (info.width, info.height):
        raise StadError(f"{ann.where}: annotated on a {ann.size[0]}x{ann.size[1]} "
                        f"video, but {path} is {info.width}x{info.height} (wrong "
                        "video?)")
    if ann.nframes is None:
        return
    if ann.tool == "label-studio":
        if abs(ann.nframes - info.nframes) > max(1, 0.02 * info.nframes):
            raise StadError(
                f"{ann.where}: Label Studio counted {ann.nframes} frames, {path} has "
                f"{info.nframes} ({info.fps:g} fps): set framerate=\"{info.fps:g}\" "
                "on the project's <Video> tag and re-export, or frame numbers are off")
    elif ann.nframes > info.nframes:
        raise StadError(f"{ann.where}: the task has {ann.nframes} frames, {path} "
                        f"only {info.nframes} (wrong video?)")


# ---------------------------------------------------------------------------
# Labels and split
# ---------------------------------------------------------------------------
def _labels(labels, declared: list[str] | None, tracks: list[Track],
            notes: list[str]) -> list[str]:
    """The action labels in id order by `LABEL_ID_RULE`; says which part in `notes`."""
    if labels is not None:
        how = "as given"
        if isinstance(labels, (str, os.PathLike)):
            how = f"as listed in {labels}"
            labels = read_label_list(labels)
        names = list(dict.fromkeys(labels))
    elif declared:
        how, names = "in the order the files declare them", list(declared)
    else:
        how = "sorted (the files declare none; --labels to choose the order)"
        names = sorted({a for t in tracks for a in t.actions if a is not None})
    notes.append(f"label ids {how}: " + ", ".join(f"{i} {n}"
                                                  for i, n in enumerate(names)))
    return names


def read_label_list(path: PathLike) -> list[str]:
    """Action labels in id order from a file: one name per line (text), a Label
    Studio labeling config (XML: its `<Label value=...>`s) or CVAT's label JSON
    (`cvat_labels.json`: the label names, or the values of the attribute of a
    single label). The no-action name "no action" is left out of the last two.
    Raises `StadError` for an unreadable file or one that declares no labels.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise StadError(f"cannot read labels file ({exc})", path) from None
    head = text.lstrip()[:1]
    if head == "<":
        from xml.etree.ElementTree import ParseError

        import defusedxml
        import defusedxml.ElementTree as DET  # noqa: N814 (as the docs write it)

        try:
            root = DET.fromstring(text, forbid_dtd=True)
        except (ParseError, defusedxml.DefusedXmlException) as exc:
            raise StadError(f"not a Label Studio labeling config ({exc})",
                            path) from None
        names = [el.get("value") for el in root.iter("Label") if el.get("value")]
    elif head == "[":
        import json

        try:
            spec = json.loads(text)
            if (len(spec) == 1 and spec[0].get("attributes")
                    and spec[0]["attributes"][0].get("values")):
                names = list(spec[0]["attributes"][0]["values"])
            else:
                names = [item["name"] for item in spec]
        except (ValueError, TypeError, KeyError, AttributeError, IndexError):
            raise StadError('not a CVAT label JSON (a list of {"name": ...})',
                            path) from None
    else:
        return list(dict.fromkeys(s.strip() for s in text.splitlines() if s.strip()))
    names = [str(n) for n in names if n != IDLE_LABEL]
    if not names:
        raise StadError("the file declares no action labels", path)
    return list(dict.fromkeys(names))


def _test_split(keys: list[str], index: VideoIndex, ratio: float | None,
                names: Iterable[str] | None, seed: int) -> list[str]:
    if names is not None:
        out = []
        for name in names:
            if name in keys:
                out.append(name)
                continue
            key = index.key(index.find([name], "test videos"))
            if key not in keys:
                raise StadError(f"test video {name!r} ({key}) has no annotations")
            out.append(key)
        return out
    ratio = DEFAULT_TEST_RATIO if ratio is None else float(ratio)
    if not 0 <= ratio < 1:
        raise StadError(f"test ratio must be in [0, 1), got {ratio}")
    n = round(ratio * len(keys))
    if ratio > 0 and len(keys) >= 2:
        n = min(max(n, 1), len(keys) - 1)
    order = np.random.default_rng(seed).permutation(len(keys))
    return sorted(keys[i] for i in order[:n])


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------
def _write_dataset(gt: MultiSportsGT, files: dict[str, Path], info: dict,
                   out_dir: Path, overwrite: bool, progress: bool,
                   inputs: list) -> Path:
    from tqdm.auto import tqdm

    tmp = temp_dir_beside(out_dir)
    try:
        for key in tqdm(sorted(files), desc="placing videos", unit="video",
                        disable=not progress):
            place_video(files[key], tmp / "trainval" / f"{key}.mp4", info[key])
        gt.save(tmp / GT_REL)
        MultiSportsGT.load(tmp / GT_REL)  # validates what was written
        replace_output_dir(tmp, out_dir, kind="dataset", inputs=inputs,
                           overwrite=overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir / GT_REL


def place_video(src: Path, dst: Path, info) -> None:
    """Hard-link (or copy) an mp4 to `dst`; re-encode other containers to H.264 mp4."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.suffix.lower() == ".mp4":
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)
        return
    from ..video import VideoSink, iter_frames, probe

    with VideoSink(dst, fps=info.fps or 25.0) as sink:
        for frame in iter_frames(src):
            sink.write(frame)
    got = probe(dst).nframes
    if got != info.nframes:
        raise StadError(f"re-encoding to mp4 gave {got} frames instead of "
                        f"{info.nframes}; convert the video to mp4 yourself", src)

