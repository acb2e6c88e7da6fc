"""The videos an import annotates: found by any name a file gives, and checked.

Annotation files name their video in many ways: a path, a file name with or
without its extension, a Label Studio URL (`/data/local-files/?d=...`, or an
upload renamed `1a2b3c4d-name.mp4`). `VideoIndex` finds the one file under the
videos folder that such a name means and gives it its video key `sport/name`:
`<sport>` is the video's folder under the videos folder (`custom` for videos at
its top; a leading `trainval/` or `test/` is dropped, so an existing MultiSports
root works as a videos folder); characters other than letters, digits and `.-_`
in names become `_` (`safe_name`). `check_against_video` compares what the tool
saw (size, frame count) with the video file.

Label Studio renames an upload: `My clip (1).mp4` is stored as
`<8 hex>-My_clip_1.mp4` (`upload_name_generator` in Label Studio's
`data_import/models.py` prefixes `uuid4()[:8]-`, and Django's file storage
passes the name through `django.utils.text.get_valid_filename`: spaces become
`_`, characters other than letters, digits, `-`, `_`, `.` are dropped). So a
name with that prefix is also matched against the user's file names put through
the same rule (`label_studio_upload_name`). When nothing matches, the error
lists the closest file names (difflib).

Used in: 05_your_own_data (through `import_annotations`).
"""

from __future__ import annotations

import difflib
import re
import urllib.parse
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from tqdm.auto import tqdm

from ..data.layout import VIDEO_DIRS
from ..errors import StadError
from .tracks import PathLike, VideoAnnotation

VIDEO_EXTS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")
_LS_UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{8}-")  # Label Studio's upload renaming


class VideoIndex:
    """The videos under a folder, found by any way an annotation file names them.

    Args:
        root: The folder searched (recursively) for video files.
        exclude: A folder below `root` to skip (e.g. the output dataset).

    Raises:
        StadError: On construction, `root` is not a folder or holds no videos;
            from `find`, a name that matches no video or several.
    """

    def __init__(self, root: PathLike, exclude: PathLike | None = None):
        self.root = Path(root)
        if not self.root.is_dir():
            raise StadError("videos folder not found", self.root)
        skip = Path(exclude).resolve() if exclude is not None else None
        self.files: list[Path] = []
        self._lookup: dict[str, list[Path]] = {}
        self._uploads: dict[str, list[Path]] = {}  # by Label Studio's upload name
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
            upload = label_studio_upload_name(p.name)
            for s in {upload, upload[: -len(p.suffix)]}:
                self._uploads.setdefault(s, []).append(p)
        if not self.files:
            raise StadError(f"no videos ({', '.join(VIDEO_EXTS)}) in the folder",
                            self.root)

    def key(self, path: Path) -> str:
        """'sport/name' of a video file (see the module docstring)."""
        parts = list(path.relative_to(self.root).parts)
        if len(parts) >= 3 and parts[0] in VIDEO_DIRS:
            parts = parts[1:]
        sport = safe_name("_".join(parts[:-1])) or "custom"
        return f"{sport}/{safe_name(Path(parts[-1]).stem)}"

    def find(self, names: Sequence[str], where: str) -> Path:
        """The one video file that `names` (tried in order) refer to.

        A Label Studio upload name (`1a2b3c4d-My_clip_1.mp4`) that names no
        file as it is is matched against the files' names as Label Studio
        renames them (`label_studio_upload_name`).

        Args:
            names: Candidate names (a key 'sport/name', a file name, a URL's
                last part, ...), tried in order.
            where: The annotation's place, for messages.

        Raises:
            StadError: A name matches several videos, or none matches any (the
                message lists the closest file names).
        """
        tried, ambiguous, uploads = [], [], []
        for name in names:
            for cand in _candidates(name):
                hits = sorted(set(self._lookup.get(cand, [])))
                if len(hits) == 1:
                    return hits[0]
                if hits:
                    ambiguous.append((cand, hits))
                tried.append(cand)
            uploads += _upload_candidates(name)
        for cand in [] if ambiguous else uploads:
            hits = sorted(set(self._uploads.get(cand, [])))
            if len(hits) == 1:
                return hits[0]
            if hits:
                ambiguous.append((cand, hits))
        if ambiguous:
            cand, hits = ambiguous[0]
            raise StadError(f"{where}: {cand!r} matches several videos in "
                            f"{self.root}: {', '.join(map(str, hits[:5]))}")
        raise StadError(f"{where}: no video in {self.root} matches "
                        + (", ".join(map(repr, dict.fromkeys(tried)))
                           or "(the file names no video)")
                        + self._close_to(uploads[:1] or tried[:1]))

    def _close_to(self, wanted: list[str]) -> str:
        """'; closest: ...' with the file names most like `wanted[0]`, or ''."""
        if not wanted:
            return ""
        target = PurePosixPath(wanted[0]).name.lower()
        names = {}
        for p in self.files:
            rel = p.relative_to(self.root).as_posix()
            for form in (p.name, label_studio_upload_name(p.name)):
                names.setdefault(form.lower(), rel)
        close = difflib.get_close_matches(target, list(names), n=3, cutoff=0.5)
        if not close:
            return ""
        return "; closest: " + ", ".join(dict.fromkeys(names[c] for c in close))


def safe_name(name: str) -> str:
    """`name` with runs of characters other than letters, digits, `.-_` as `_`.

    Video keys end up in CSV rows and frame folder names; a comma or a space
    there breaks MMAction2's annotation files.
    """
    return re.sub(r"[^\w.-]+", "_", name).strip("_")


def label_studio_upload_name(name: str) -> str:
    """The name Label Studio stores an uploaded file `name` under, less its
    `<8 hex>-` prefix: Django's `get_valid_filename` (spaces -> `_`, then every
    character other than a letter, digit, `-`, `_` or `.` dropped).

    `"My clip (1).mp4"` -> `"My_clip_1.mp4"`.
    """
    return re.sub(r"[^-\w.]", "", name.strip().replace(" ", "_"))


def _path_text(name: str) -> str:
    """The path a name means: a URL's path (or Label Studio's `?d=` local file),
    unquoted, `/`-separated, without leading or trailing `/`."""
    text = name.strip().replace("\\", "/")
    if "://" in text or "?" in text:
        parsed = urllib.parse.urlparse(text)
        query = urllib.parse.parse_qs(parsed.query)
        text = query["d"][0] if "d" in query else parsed.path
    return urllib.parse.unquote(text).strip("/")


def _upload_candidates(name: str) -> list[str]:
    """`name`'s file name without Label Studio's upload prefix (and without its
    extension), or [] when it has no such prefix."""
    base = PurePosixPath(_path_text(name)).name
    if not _LS_UPLOAD_PREFIX.match(base):
        return []
    stripped = PurePosixPath(base[9:])
    return list(dict.fromkeys(c for c in (str(stripped), stripped.stem) if c))


def _candidates(name: str) -> list[str]:
    """Ways to look `name` (a path, file name or URL) up, most specific first."""
    text = _path_text(name)
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


def probe_all(files: dict[str, Path], keys: list[str], progress: bool) -> dict:
    """`VideoInfo` (`video.probe`, frames counted exactly) of `files[key]` for
    each of `keys`, as `{key: VideoInfo}`, with a tqdm bar unless not `progress`.

    Raises:
        StadError: A video is missing or unreadable.
    """
    from ..video import probe  # PyAV: heavy

    return {k: probe(files[k]) for k in tqdm(keys, desc="reading videos", unit="video",
                                             disable=not progress)}


def check_against_video(ann: VideoAnnotation, info, path: Path) -> None:
    """Refuse an annotation made on another video than the one found.

    Args:
        ann: The annotation (its `size` (width, height) and `nframes`, when
            the tool recorded them).
        info: `VideoInfo` of the video file.
        path: The video file, for messages.

    Raises:
        StadError: The size differs (said so when the annotation was made on
            the unrotated picture of a video with rotation metadata); the task
            counts more frames than the video has; or Label Studio counted a
            different number (off by more than 2%) and gave no times to place
            boxes by (a wrong `framerate`).
    """
    if ann.size is not None and tuple(ann.size) != (info.width, info.height):
        if (getattr(info, "rotation", 0) or 0) % 180 and tuple(ann.size) == (
                info.height, info.width):
            raise StadError(
                f"{ann.where}: annotated on the sideways picture "
                f"({ann.size[0]}x{ann.size[1]}): {path} has rotation metadata "
                f"({info.rotation:g} degrees; players show it {info.width}x"
                f"{info.height}) and the annotation was made on the unrotated, "
                "coded frames; upload the video so the tool shows it upright (or "
                "re-encode it upright) and annotate again")
        raise StadError(f"{ann.where}: annotated on a {ann.size[0]}x{ann.size[1]} "
                        f"video, but {path} is {info.width}x{info.height} (wrong "
                        "video?)")
    if ann.nframes is None:
        return
    if ann.tool == "label-studio":
        if abs(ann.nframes - info.nframes) > max(1, 0.02 * info.nframes):
            if ann.tool_fps:  # counted at the video's rate (else retimed before)
                raise StadError(
                    f"{ann.where}: Label Studio counted {ann.nframes} frames at "
                    f"{ann.tool_fps:g} fps, {path} has {info.nframes} "
                    f"({info.fps:g} fps) (wrong video?)")
            raise StadError(
                f"{ann.where}: Label Studio counted {ann.nframes} frames, {path} has "
                f"{info.nframes} ({info.fps:g} fps), and the export gives no "
                "keyframe times to place boxes by: the project's framerate is "
                f"wrong; set framerate=\"{info.fps:g}\" on its <Video> tag and "
                "re-export (boxes drawn at other times may then move)")
    elif ann.nframes > info.nframes:
        raise StadError(f"{ann.where}: the task has {ann.nframes} frames, {path} "
                        f"only {info.nframes} (wrong video?)")
