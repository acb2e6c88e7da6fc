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

Used in: 05_your_own_data.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import urllib.parse
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath
from typing import Union

import numpy as np

from ..data.gt import MultiSportsGT
from ..data.validate import raise_if_invalid
from ..errors import StadError
from .tracks import Track, VideoAnnotation, tracks_to_gt

PathLike = Union[str, os.PathLike]
GT_REL = Path("annotations") / "multisports_GT.pkl"
VIDEO_EXTS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")
FORMATS = ("cvat", "label-studio", "csv")
DEFAULT_TEST_RATIO = 0.2
_LS_UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{8}-")  # Label Studio's upload renaming


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
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Import annotation files of format `fmt` as a MultiSports dataset; return its GT.

    `sources` are files or folders (searched for the format's files). The test
    split is `test_videos` (keys 'sport/name', names or file names) or a random
    `test_ratio` of the videos (default 0.2, at least one when there are two),
    drawn with `seed`. Action labels are `labels` (a list or a text file with one
    per line), else those the files declare (CVAT), else all actions found,
    sorted. `action_attribute` and `no_action` are explained in
    `stad_helpers.annotations.cvat`; `frame_base` in `...csv_format`.
    """
    fmt = normalize_format(fmt)
    if test_ratio is not None and test_videos is not None:
        raise StadError("give either a test ratio or a list of test videos, not both")
    if action_attribute is not None and fmt != "cvat":
        raise StadError(f"--action-attribute is for CVAT exports, not {fmt}")
    out_dir = Path(out_dir)
    if out_dir.exists() and not overwrite and (not out_dir.is_dir()
                                               or any(out_dir.iterdir())):
        raise StadError("output folder exists and is not empty (choose another, "
                        "or overwrite)", out_dir)

    anns, declared = read_sources(fmt, sources, action_attribute, no_action,
                                  frame_base)
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
                tracks.append(track)

    names = _labels(labels, declared, tracks)
    test = _test_split(keys, index, test_ratio, test_videos, seed)
    gt = tracks_to_gt(tracks, None, names, test, videos=keys, info=info)
    raise_if_invalid(gt.to_dict(), source="the imported annotations")
    return _write_dataset(gt, files, info, out_dir, overwrite, progress)


def normalize_format(fmt: str) -> str:
    name = fmt.lower().replace("_", "-")
    name = {"ls": "label-studio", "labelstudio": "label-studio"}.get(name, name)
    if name not in FORMATS:
        raise StadError(f"unknown annotation format {fmt!r}; choose one of "
                        f"{', '.join(FORMATS)}")
    return name


def read_sources(fmt: str, sources, action_attribute: str | None = None,
                 no_action: str | None = None, frame_base: int | None = None
                 ) -> tuple[list[VideoAnnotation], list[str] | None]:
    """Every `VideoAnnotation` of the source files, and the labels they declare."""
    fmt = normalize_format(fmt)
    if fmt == "cvat":
        from .cvat import iter_xml_sources as expand
        from .cvat import read_cvat

        def read(p):
            return read_cvat(p, action_attribute, no_action)
    elif fmt == "label-studio":
        from .label_studio import iter_json_sources as expand
        from .label_studio import read_label_studio

        def read(p):
            return read_label_studio(p, no_action)
    else:
        from .csv_format import iter_csv_sources as expand
        from .csv_format import read_csv

        def read(p):
            return read_csv(p, frame_base, no_action)
    paths = list(expand(_as_list(sources)))
    if not paths:
        raise StadError(f"no {fmt} annotation files in "
                        + ", ".join(map(str, _as_list(sources))))
    anns: list[VideoAnnotation] = []
    declared: list[str] | None = None
    for p in paths:
        if not Path(p).is_file():
            raise StadError("annotation file not found", p)
        got, labels = read(p)
        anns += got
        if labels is not None:
            declared = list(dict.fromkeys([*(declared or []), *labels]))
    return anns, declared


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
def _labels(labels, declared: list[str] | None, tracks: list[Track]) -> list[str]:
    if labels is not None:
        if isinstance(labels, (str, os.PathLike)):
            path = Path(labels)
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except OSError as exc:
                raise StadError(f"cannot read labels file ({exc.strerror})",
                                path) from None
            labels = [s.strip() for s in lines if s.strip()]
        return list(dict.fromkeys(labels))
    if declared:
        return list(declared)
    return sorted({a for t in tracks for a in t.actions if a is not None})


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
                   out_dir: Path, overwrite: bool, progress: bool) -> Path:
    from tqdm.auto import tqdm

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.part-", dir=out_dir.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes it private; the dataset is not
    try:
        for key in tqdm(sorted(files), desc="placing videos", unit="video",
                        disable=not progress):
            place_video(files[key], tmp / "trainval" / f"{key}.mp4", info[key])
        gt.save(tmp / GT_REL)
        MultiSportsGT.load(tmp / GT_REL)  # validates what was written
        _swap_into_place(tmp, out_dir, overwrite)
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


def _swap_into_place(tmp: Path, out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists():
        if out_dir.is_dir() and not any(out_dir.iterdir()):
            out_dir.rmdir()
        elif overwrite:
            old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-",
                                        dir=out_dir.parent))
            old.rmdir()
            os.replace(out_dir, old)
            os.replace(tmp, out_dir)
            shutil.rmtree(old, ignore_errors=True)
            return
        else:
            raise StadError("output folder appeared while importing", out_dir)
    os.replace(tmp, out_dir)
