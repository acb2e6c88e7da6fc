"""Tracks -> the MultiSports GT (`tracks_to_gt`), the last step of every import.

Each track is cut into tubes by `interpolate.track_tubes` (see its rules);
tubes with an action go to the GT's `gttubes` under the action's label id,
stretches with no action (a person standing by) to its `idle_tubes`, which
`stad convert det-anno` gives the person detector as people. Every rejected box
and keyframe of every track is reported in one `StadError`.

Used in: 05_your_own_data (through `import_annotations`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ..data.gt import MultiSportsGT
from ..data.layout import video_path
from ..errors import StadError
from .interpolate import track_tubes
from .tracks import PathLike, Problems, Track


def tracks_to_gt(
    tracks: Iterable[Track],
    videos_root: PathLike | None,
    labels: Sequence[str],
    test_videos: Iterable[str],
    *,
    videos: Sequence[str] | None = None,
    info: Mapping[str, Any] | None = None,
) -> MultiSportsGT:
    """Build the MultiSports GT of `tracks` (see `interpolate` for the rules).

    Frame counts and resolutions come from `info` (video key -> `VideoInfo` or
    (nframes, height, width)), else from probing `video_path(videos_root, key)`.
    `videos` lists every video to include (default: those of the tracks), sorted
    in the output; those not in `test_videos` form the train split. Raises one
    `StadError` listing every rejected box and keyframe.

    Args:
        tracks: Annotated tracks (boxes in pixels, frames 1-based).
        videos_root: The folder whose `trainval/`/`test/` hold the videos (for
            probing), or None when `info` covers every video.
        labels: Action names; a track's label ids index this list.
        test_videos: Video keys of the GT's test (= validation) split.
        videos: Every video key to include.
        info: Per-video frame count and size, instead of probing.

    Returns:
        A `MultiSportsGT` (format: https://github.com/MCG-NJU/MultiSports).

    Raises:
        StadError: A test video that is not annotated, a video that cannot be
            probed, or boxes and keyframes that the rules reject (all listed).
        ValueError: A track of a video not in `videos` (a programming error).
    """
    tracks = list(tracks)
    keys = sorted(set(videos if videos is not None else [t.video for t in tracks]))
    test = set(test_videos)
    unknown = sorted(test - set(keys))
    if unknown:
        raise StadError(f"test videos not among the annotated videos: "
                        f"{', '.join(unknown)}")
    sizes = _video_sizes(keys, videos_root, info or {})
    label_index = {name: i for i, name in enumerate(labels)}
    gttubes: dict[str, dict[int, list[np.ndarray]]] = {k: {} for k in keys}
    idle: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    problems = Problems()
    for track in tracks:
        if track.video not in sizes:
            raise ValueError(f"track {track.track_id!r} is of video {track.video!r}, "
                             "which is not in `videos`")
        nframes, height, width = sizes[track.video]
        for action, tube in track_tubes(track, nframes, width, height, problems):
            if action is None:
                idle[track.video].append(tube)
            elif action not in label_index:
                problems.add(f"{track.where}: action {action!r} at frame "
                             f"{track.shown(tube[0, 0])} is not one of the labels "
                             f"({', '.join(map(repr, labels))})")
            else:
                gttubes[track.video].setdefault(label_index[action], []).append(tube)
    problems.raise_if_any("the annotations")
    return MultiSportsGT(
        labels=list(labels),
        train_videos=[k for k in keys if k not in test],
        test_videos=[k for k in keys if k in test],
        nframes={k: int(sizes[k][0]) for k in keys},
        resolution={k: (int(sizes[k][1]), int(sizes[k][2])) for k in keys},
        gttubes={k: dict(sorted(v.items())) for k, v in gttubes.items()},
        extra={"idle_tubes": idle},
    )


def _video_sizes(keys: list[str], root: PathLike | None,
                 info: Mapping[str, Any]) -> dict[str, tuple[int, int, int]]:
    """(nframes, height, width) of each video, from `info` or by probing."""
    out = {}
    for key in keys:
        item = info.get(key)
        if item is None:
            if root is None:
                raise StadError(f"video {key!r}: no frame count or size given and no "
                                "videos folder to read them from")
            from ..video import probe  # PyAV: heavy

            item = probe(video_path(root, key))
        if hasattr(item, "nframes"):
            item = (item.nframes, item.height, item.width)
        out[key] = tuple(int(v) for v in item)
    return out
