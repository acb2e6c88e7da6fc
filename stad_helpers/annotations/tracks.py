"""The plain objects every importer and exporter shares: tracks, as tools store them.

Annotation tools store a person as a *track*: boxes at some frames (keyframes),
an action (or none) per box, and marks where the person leaves the picture.
`Track` is that, in one plain object whatever the tool; `VideoAnnotation` is the
tracks one file holds for one video; `Problems` collects every bad box of a file
so the user sees them all at once. `gt_to_tracks` turns a MultiSports GT back
into tracks (one per tube) for the exporters.

The rest of the path from tracks to tubes lives beside this module:
`interpolate` (keyframes -> one box per frame, cut into tubes), `build`
(`tracks_to_gt`: tracks -> `MultiSportsGT`), `linking` (`stad demo` boxes ->
tracks by person id) and `floats` (exact coordinate text for the exporters).

Used in: 05_your_own_data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Union

import numpy as np

from ..data.gt import MultiSportsGT
from ..errors import StadError

PathLike = Union[str, os.PathLike]

IDLE_LABEL = "no action"  # label/attribute value the exporters give idle people
MAX_LISTED = 20  # problems quoted in one StadError


@dataclass
class Track:
    """One person track as an annotation tool stores it (keyframes, not every frame).

    `frames` are MultiSports frame numbers (1-based) whatever the tool counts
    from; `frame_base` is the tool's numbering, used only to quote frames in
    error messages the way the user sees them. Outside keyframes carry a box too
    (CVAT interpolates toward it) but are not shown. With `open_end` the last
    visible keyframe holds until `end_frame` (1-based, inclusive), the last
    frame the export covers (a CVAT task's or job's stop frame, Label Studio's
    `framesCount`), else until the end of the video: CVAT and Label Studio show
    a track that was never closed to the end of what they were given.
    """

    video: str  # video key 'sport/name' once matched (the file's name before)
    track_id: str
    frames: np.ndarray  # (n,) int64, 1-based
    boxes: np.ndarray  # (n, 4) float64: x1, y1, x2, y2 in pixels
    actions: list[str | None]  # per keyframe; None = no action (idle)
    outside: np.ndarray = None  # (n,) bool: not shown from this keyframe on
    open_end: bool = False
    source: str = ""  # file (and place in it), for messages
    frame_base: int = 1  # the tool's first frame number, for messages
    end_frame: int | None = None  # 1-based last frame an open track holds to

    def __post_init__(self) -> None:
        self.frames = np.asarray(self.frames, np.int64).reshape(-1)
        self.boxes = np.asarray(self.boxes, np.float64).reshape(-1, 4)
        n = len(self.frames)
        self.outside = (np.zeros(n, bool) if self.outside is None
                        else np.asarray(self.outside, bool).reshape(-1))
        self.actions = list(self.actions)
        if not len(self.boxes) == len(self.actions) == len(self.outside) == n:
            raise ValueError(f"track {self.track_id!r}: frames, boxes, actions and "
                             "outside must have the same length")

    @property
    def where(self) -> str:
        """`"<source>: video '<key>', track <id>"`, for messages."""
        return f"{self.source}: video {self.video!r}, track {self.track_id}"

    def shown(self, frame: int) -> int:
        """`frame` (1-based) in the tool's numbering."""
        return int(frame) - 1 + self.frame_base


@dataclass
class VideoAnnotation:
    """The tracks an annotation file holds for one video, before the video is found.

    `names` are how the file refers to the video (tried in order when matching a
    file in the videos folder); `size` (width, height) and `nframes` are what the
    tool saw, checked against the video. Label Studio boxes are in percent of the
    frame (`percent`) until the video's size is known.
    """

    names: list[str]
    where: str
    tracks: list[Track] = field(default_factory=list)
    size: tuple[int, int] | None = None
    nframes: int | None = None
    percent: bool = False
    tool: str = ""  # "cvat", "label-studio", "csv": how strictly to check `nframes`
    segment: tuple[int, int] | None = None  # 1-based first, last frame of a CVAT
    job: bool = False  # task or job export; a job (jobs of one task overlap)
    end_frame: int | None = None  # 1-based last frame the export covers
    tool_fps: float | None = None  # Label Studio: its framerate (frame / time)


@dataclass
class Problems:
    """Collects every problem of a file, then raises them as one `StadError`.

    Raises:
        StadError: From `raise_if_any`, when any problem was added.
    """

    items: list[str] = field(default_factory=list)

    def add(self, message: str) -> None:
        """Record one problem (a line naming the place, e.g. `Track.where`)."""
        self.items.append(message)

    def raise_if_any(self, what: str) -> None:
        """Do nothing if no problem was added; else raise them all at once.

        Args:
            what: What was checked, for the first line ("3 problem(s) in <what>:").

        Raises:
            StadError: Listing the first `MAX_LISTED` problems (and how many more).
        """
        if not self.items:
            return
        lines = [f"{len(self.items)} problem(s) in {what}:"]
        lines += [f"  {p}" for p in self.items[:MAX_LISTED]]
        if len(self.items) > MAX_LISTED:
            lines.append(f"  ... and {len(self.items) - MAX_LISTED} more")
        raise StadError("\n".join(lines))



# ---------------------------------------------------------------------------
# GT -> tracks (for the exporters)
# ---------------------------------------------------------------------------
def as_gt(gt: MultiSportsGT | PathLike) -> MultiSportsGT:
    """A loaded, validated GT from an object or a path."""
    return gt if isinstance(gt, MultiSportsGT) else MultiSportsGT.load(gt)


def gt_to_tracks(gt: MultiSportsGT, video: str) -> list[Track]:
    """One track per tube of `video` (labels in order, then idle tubes), every frame."""
    tracks = []
    tubes = [(gt.labels[int(label)], t) for label, ts in
             sorted(gt.gttubes.get(video, {}).items()) for t in ts]
    tubes += [(None, t) for t in (gt.extra.get("idle_tubes") or {}).get(video, [])]
    for i, (action, tube) in enumerate(tubes):
        tube = np.asarray(tube, np.float64)
        if not len(tube):
            continue
        tracks.append(Track(video, str(i), np.rint(tube[:, 0]).astype(np.int64),
                            tube[:, 1:5], [action] * len(tube)))
    return tracks
