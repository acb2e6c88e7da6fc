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
from .safe_pickle import safe_load

# MultiSports keeps the annotated videos of BOTH splits in trainval/ (its GT's
# "test_videos" are the validation videos); test/ holds unannotated videos, like
# the demo clip of MultiSports-tiny. Datasets that put test-split videos in test/
# are found too.
VIDEO_DIRS = ("trainval", "test")
REQUIRED_KEYS = ("labels", "train_videos", "test_videos", "nframes", "resolution",
                 "gttubes")
SPLITS = ("train", "test")


@dataclass(frozen=True)
class Tube:
    video: str
    label: int
    index: int  # position in gttubes[video][label], the AVA entity id
    boxes: np.ndarray  # (n, 5) float32: frame, x1, y1, x2, y2


@dataclass(frozen=True)
class BoxTable:
    """Every box of a set of videos as parallel numpy columns (one row per box)."""

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
        """Safely unpickle `path`; with `validate`, raise on any format problem."""
        raw = safe_load(path)
        if validate:
            from .validate import raise_if_invalid

            raise_if_invalid(raw, source=str(path))
        return cls.from_dict(raw, str(path))

    def to_dict(self) -> dict:
        """The exact MultiSports structure (split lists wrapped in one list)."""
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
        return dump_pickle(self.to_dict(), path)

    # ---- access ----------------------------------------------------------------
    @property
    def videos(self) -> list[str]:
        return list(self.train_videos) + list(self.test_videos)

    def split_videos(self, split: str) -> list[str]:
        if split in ("train", "trainval"):
            return list(self.train_videos)
        if split in ("test", "val"):
            return list(self.test_videos)
        raise ValueError(f"unknown split {split!r}; expected train or test")

    def split_of(self, video: str) -> str | None:
        if video in set(self.train_videos):
            return "train"
        if video in set(self.test_videos):
            return "test"
        return None

    def tubes(self, videos: list[str] | None = None) -> Iterator[Tube]:
        for video in self.videos if videos is None else videos:
            for label, tubes in sorted(self.gttubes.get(video, {}).items()):
                for i, boxes in enumerate(tubes):
                    yield Tube(video, int(label), i, np.asarray(boxes))

    def box_table(self, videos: list[str] | None = None) -> BoxTable:
        """All boxes of `videos` (default: all) as one vectorized table."""
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


def video_path(root: str | os.PathLike, video: str) -> Path:
    """The mp4 of `video` under a MultiSports root (trainval/ first, then test/)."""
    for folder in VIDEO_DIRS:
        path = Path(root) / folder / f"{video}.mp4"
        if path.exists():
            return path
    return Path(root) / VIDEO_DIRS[0] / f"{video}.mp4"


def _split_list(value: object) -> list[str]:
    """MultiSports wraps each split list in a one-element list; accept both."""
    if isinstance(value, (list, tuple)) and len(value) == 1 and isinstance(
        value[0], (list, tuple)
    ):
        return list(value[0])
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise StadError(f"split list must be [[video, ...]], got {type(value).__name__}")
