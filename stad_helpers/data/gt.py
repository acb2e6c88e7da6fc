"""One typed object for a MultiSports-format annotation (`multisports_GT.pkl`).

Load once, validate once, then iterate tubes or take every box as one
vectorized table (`MultiSportsGT.box_table`), which is what the conversions use
so that the full MultiSports (~900k boxes) converts in seconds.

The file format (same keys and dtypes as the real MultiSports release):

    labels        list[str]                        action names, index = label id
    train_videos  [list[str]]                      one list of video keys 'sport/name'
    test_videos   [list[str]]
    nframes       dict[video, int]
    resolution    dict[video, (height, width)]
    gttubes       dict[video, dict[label, list[float32 array (n, 5)]]]
                  rows are (frame, x1, y1, x2, y2), frames numbered from 1, pixels

Used in: 01_dataset, 02_person_detector, 03_action_detector, 05_your_own_data.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import StadError
from ..fileio import dump_pickle
from .layout import SPLITS as SPLITS  # re-exported: the layout is the one place
from .layout import VIDEO_DIRS as VIDEO_DIRS
from .layout import video_path as video_path
from .safe_pickle import safe_load
from .validate import REQUIRED_KEYS, decode_byte_strings, raise_if_invalid


@dataclass(frozen=True)
class Tube:
    """One action tube: one person doing one action over consecutive frames.

    A MultiSports tube is one array of `gttubes[video][label]` (format:
    https://github.com/MCG-NJU/MultiSports, `multisports_GT.pkl`); the AVA files
    made from it use `index` as the person's entity id.

    Attributes:
        video: Video key `'sport/name'` (the mp4 is `trainval/<video>.mp4`).
        label: 0-based index into `MultiSportsGT.labels`.
        index: Position of this tube in `gttubes[video][label]`.
        boxes: `(n, 5)` float32 array, one row per frame, `(frame, x1, y1, x2,
            y2)`: frame numbers 1-based, corners in pixels of the original video
            (not normalized), x to the right, y down.
    """

    video: str
    label: int
    index: int  # position in gttubes[video][label], the AVA entity id
    boxes: np.ndarray  # (n, 5) float32: frame, x1, y1, x2, y2


@dataclass(frozen=True)
class BoxTable:
    """Every box of a set of videos as parallel numpy columns (one row per box).

    Made by `MultiSportsGT.box_table`; the conversions (`stad convert det-anno`,
    `stad convert ava`) work on these columns instead of looping over tubes.

    Attributes:
        videos: Video keys `'sport/name'`; `video` indexes this list.
        video: `(N,)` int32, index into `videos`.
        label: `(N,)` int32, 0-based label id (index into the GT's `labels`).
        tube: `(N,)` int32, the tube's index within `gttubes[video][label]`.
        frame: `(N,)` int32, 1-based frame number.
        xyxy: `(N, 4)` float32, x1, y1, x2, y2 in pixels of the original video.
    """

    videos: list[str]  # video keys; `video` below indexes this list
    video: np.ndarray  # (N,) int32
    label: np.ndarray  # (N,) int32
    tube: np.ndarray  # (N,) int32, the tube's index within (video, label)
    frame: np.ndarray  # (N,) int32, 1-based
    xyxy: np.ndarray  # (N, 4) float32, pixels

    def __len__(self) -> int:
        return len(self.frame)


@dataclass
class MultiSportsGT:
    """A MultiSports-format annotation (`multisports_GT.pkl`), loaded and checked.

    The fields are the keys of the MultiSports release
    (https://github.com/MCG-NJU/MultiSports, also read by MMAction2's
    `tools/data/multisports` and `projects/stad_tutorial`); see the module
    docstring for their dtypes. Build one with `MultiSportsGT.load(path)` (file)
    or `MultiSportsGT.from_dict(raw)` (an unpickled dict); `to_dict()`/`save()`
    give the exact release structure back.

    Attributes:
        labels: Action names; a label id is an index into this list.
        train_videos: Video keys `'sport/name'` of the training split.
        test_videos: Video keys of the GT's "test" split, which MultiSports and
            the tutorial use as the validation set (files made from it end in
            `_val`, see `stad_helpers.data.layout.FILE_SPLIT`).
        nframes: Video key -> number of frames (frames are numbered 1..n).
        resolution: Video key -> `(height, width)` in pixels.
        gttubes: Video key -> label id -> list of `(n, 5)` float32 arrays of
            `(frame, x1, y1, x2, y2)` rows (1-based frames, pixels), one per tube.
        source: The file it was read from, for error messages (None if built
            in memory).
        extra: Keys beyond the six above (e.g. `idle_tubes`), kept unchanged.

    Raises:
        StadError: From `load` and `from_dict`, for a file or dict that is not a
            MultiSports GT (see them); constructing one directly checks nothing.
    """

    labels: list[str]
    train_videos: list[str]
    test_videos: list[str]
    nframes: dict[str, int]
    resolution: dict[str, tuple[int, int]]
    gttubes: dict[str, dict[int, list[np.ndarray]]]
    source: str | None = field(default=None, compare=False)
    # Extra keys carried through unchanged (e.g. `idle_tubes`: people present but
    # not acting).
    extra: dict = field(default_factory=dict, compare=False)

    # ---- loading and saving -------------------------------------------------
    @classmethod
    def from_dict(cls, raw: object, source: str | None = None) -> MultiSportsGT:
        """Wrap an unpickled MultiSports dict without validating its contents.

        Args:
            raw: The dict of a `multisports_GT.pkl`; split lists may be wrapped
                in one list (`[[video, ...]]`, the release's form) or not.
            source: File name used in error messages.

        Returns:
            The annotation; `gttubes` is the same object as `raw["gttubes"]`.

        Raises:
            StadError: `raw` is not a dict, lacks one of the six keys, or a split
                list is neither `[[video, ...]]` nor `[video, ...]`. Use
                `load(..., validate=True)` or `data.validate.validate_gt` to check
                boxes, frames and labels as well.
        """
        raw = decode_byte_strings(raw)  # Python 2 GTs re-saved with bytes
        if not isinstance(raw, dict):
            raise StadError(
                f"expected a dict with keys {', '.join(REQUIRED_KEYS)}, "
                f"got {type(raw).__name__}",
                source,
            )
        missing = [k for k in REQUIRED_KEYS if k not in raw]
        if missing:
            raise StadError(f"missing key(s): {', '.join(missing)}", source)
        return cls(
            labels=list(raw["labels"]),
            train_videos=list(_split_list(raw["train_videos"])),
            test_videos=list(_split_list(raw["test_videos"])),
            nframes=dict(raw["nframes"]),
            resolution=dict(raw["resolution"]),
            gttubes=raw["gttubes"],
            source=source,
            extra={k: v for k, v in raw.items() if k not in REQUIRED_KEYS},
        )

    @classmethod
    def load(cls, path: str | os.PathLike, validate: bool = True) -> MultiSportsGT:
        """Read a `multisports_GT.pkl`: safely unpickled, then checked.

        Args:
            path: The pickle (e.g. `DATA_ROOT/annotations/multisports_GT.pkl`).
            validate: Check every key, tube, frame number and box first
                (`stad data validate` shows the same problems); False skips
                that for speed on a file already checked.

        Returns:
            The annotation, `source` set to `path`.

        Raises:
            StadError: The file is missing, is a directory, is not a pickle, holds
                objects other than plain containers and numpy arrays
                (`safe_pickle`), or (with `validate`) breaks the MultiSports
                format; the message names the file and the first problems.
        """
        raw = decode_byte_strings(safe_load(path))
        if validate:
            raise_if_invalid(raw, source=str(path))
        return cls.from_dict(raw, str(path))

    def to_dict(self) -> dict:
        """The exact MultiSports structure (split lists wrapped in one list).

        Returns:
            A dict with `labels`, `train_videos`, `test_videos`, `nframes`,
            `resolution`, `gttubes` and the `extra` keys, as the release pickles
            it (https://github.com/MCG-NJU/MultiSports); arrays are shared, not
            copied.
        """
        out = {
            "labels": list(self.labels),
            "train_videos": [list(self.train_videos)],
            "test_videos": [list(self.test_videos)],
            "nframes": dict(self.nframes),
            "resolution": dict(self.resolution),
            "gttubes": self.gttubes,
        }
        out.update(self.extra)
        return out

    def save(self, path: str | os.PathLike) -> Path:
        """Pickle `to_dict()` into `path`, whole or not at all (temp file + rename).

        Returns:
            `path` as a Path.

        Raises:
            OSError: The folder cannot be written (nothing is left behind).
        """
        return dump_pickle(self.to_dict(), path)

    # ---- access ----------------------------------------------------------------
    @property
    def videos(self) -> list[str]:
        """Every video key, train split first then test split (a new list)."""
        return list(self.train_videos) + list(self.test_videos)

    def split_videos(self, split: str) -> list[str]:
        """The video keys of one split (a new list).

        Args:
            split: `"train"` (or `"trainval"`) for `train_videos`; `"test"` (or
                `"val"`, the file-name spelling) for `test_videos`.

        Raises:
            ValueError: Any other split name (a programming error, not a data
                one).
        """
        if split in ("train", "trainval"):
            return list(self.train_videos)
        if split in ("test", "val"):
            return list(self.test_videos)
        raise ValueError(f"unknown split {split!r}; expected train or test")

    def split_of(self, video: str) -> str | None:
        """`"train"`, `"test"` or None (in neither list) for a video key."""
        if video in set(self.train_videos):
            return "train"
        if video in set(self.test_videos):
            return "test"
        return None

    def tubes(self, videos: list[str] | None = None) -> Iterator[Tube]:
        """Yield every tube of `videos` (default: all, train first).

        Order: video as given, then label id ascending, then tube index. Videos
        without tubes yield nothing. Each `Tube.boxes` is the stored array
        (`(n, 5)` float32, 1-based frames, pixels), not a copy.
        """
        for video in self.videos if videos is None else videos:
            for label, tubes in sorted(self.gttubes.get(video, {}).items()):
                for i, boxes in enumerate(tubes):
                    yield Tube(video, int(label), i, np.asarray(boxes))

    def box_table(self, videos: list[str] | None = None) -> BoxTable:
        """All boxes of `videos` (default: all) as one vectorized table.

        Args:
            videos: Video keys to include, in this order; `BoxTable.video`
                indexes this list.

        Returns:
            A `BoxTable` with one row per box (N rows): int32 `video`, `label`,
            `tube` and 1-based `frame` columns (`(N,)`) and float32 `xyxy`
            (`(N, 4)`, pixels). Empty (N = 0) when the videos have no tubes.
        """
        videos = self.videos if videos is None else list(videos)
        arrays, meta = [], []
        for vi, video in enumerate(videos):
            for label, tubes in self.gttubes.get(video, {}).items():
                for ti, tube in enumerate(tubes):
                    arrays.append(tube)
                    meta.append((vi, int(label), ti, len(tube)))
        if not arrays:
            empty = np.zeros(0, np.int32)
            return BoxTable(videos, empty, empty, empty, empty,
                            np.zeros((0, 4), np.float32))
        rows = np.concatenate(arrays).astype(np.float32, copy=False)
        counts = np.array([m[3] for m in meta])
        rep = lambda col: np.repeat(np.array([m[col] for m in meta], np.int32), counts)  # noqa: E731
        return BoxTable(
            videos=videos,
            video=rep(0),
            label=rep(1),
            tube=rep(2),
            frame=np.rint(rows[:, 0]).astype(np.int32),
            xyxy=np.ascontiguousarray(rows[:, 1:5]),
        )

    def summary(self) -> dict:
        """Counts: `{"labels", "train_videos", "test_videos", "tubes", "boxes"}`
        -> int (all splits together for tubes and boxes)."""
        n_tubes = sum(len(t) for v in self.gttubes.values() for t in v.values())
        n_boxes = sum(len(b) for v in self.gttubes.values() for t in v.values()
                      for b in t)
        return {
            "labels": len(self.labels),
            "train_videos": len(self.train_videos),
            "test_videos": len(self.test_videos),
            "tubes": n_tubes,
            "boxes": n_boxes,
        }


def _split_list(value: object) -> list[str]:
    """MultiSports wraps each split list in a one-element list; accept both.

    JHMDB's ACT-format GT holds three splits (`[[...], [...], [...]]`): split 1
    is used, as ACT's and MOC's readers do by default (`validate` warns).
    """
    if (isinstance(value, (list, tuple)) and len(value) >= 1
            and all(isinstance(v, (list, tuple)) for v in value)):
        return list(value[0])
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise StadError(f"split list must be [[video, ...]], got {type(value).__name__}")
