"""Annotation tracks -> MultiSports tubes: the core every importer and exporter shares.

Annotation tools store a person as a *track*: boxes at some frames (keyframes),
an action (or none) per box, and marks where the person leaves the picture.
`Track` is that, in one plain object whatever the tool; `tracks_to_gt` turns
tracks into a `MultiSportsGT`:

- between two keyframes the box is interpolated linearly, one box per frame
  (the frame-mAP metric and the AVA conversion expect one box per frame);
- the action of a keyframe holds until the next keyframe, as in CVAT;
- a tube is cut wherever the action changes or the track leaves the picture (an
  `outside` keyframe ends the visible stretch before it, as in CVAT);
- stretches with no action (a person standing by) go to the GT's `idle_tubes`,
  which `stad convert det-anno` gives the person detector as people;
- boxes partly outside the frame are clipped to it; boxes wholly outside it,
  degenerate boxes and keyframes beyond the video are errors naming the file,
  the track and the frame (in the tool's own numbering), all reported at once.

`gt_to_tracks` goes the other way for the exporters (one track per tube) and
`predictions_to_tracks` links `stad demo` boxes into tracks by IoU, so a user
corrects tracks rather than single boxes.

Used in: 05_your_own_data.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np

from ..data.gt import MultiSportsGT, video_path
from ..errors import StadError
from ..predictions import Predictions

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


@dataclass
class Problems:
    """Collects every problem of a file, then raises them as one `StadError`."""

    items: list[str] = field(default_factory=list)

    def add(self, message: str) -> None:
        self.items.append(message)

    def raise_if_any(self, what: str) -> None:
        if not self.items:
            return
        lines = [f"{len(self.items)} problem(s) in {what}:"]
        lines += [f"  {p}" for p in self.items[:MAX_LISTED]]
        if len(self.items) > MAX_LISTED:
            lines.append(f"  ... and {len(self.items) - MAX_LISTED} more")
        raise StadError("\n".join(lines))


# ---------------------------------------------------------------------------
# Tracks -> GT
# ---------------------------------------------------------------------------
def tracks_to_gt(
    tracks: Iterable[Track],
    videos_root: PathLike | None,
    labels: Sequence[str],
    test_videos: Iterable[str],
    *,
    videos: Sequence[str] | None = None,
    info: Mapping[str, Any] | None = None,
) -> MultiSportsGT:
    """Build the MultiSports GT of `tracks` (see the module docstring for the rules).

    Frame counts and resolutions come from `info` (video key -> `VideoInfo` or
    (nframes, height, width)), else from probing `video_path(videos_root, key)`.
    `videos` lists every video to include (default: those of the tracks), sorted
    in the output; those not in `test_videos` form the train split. Raises one
    `StadError` listing every rejected box and keyframe.
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
        for action, tube in _track_tubes(track, nframes, width, height, problems):
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
            from ..video import probe

            item = probe(video_path(root, key))
        if hasattr(item, "nframes"):
            item = (item.nframes, item.height, item.width)
        out[key] = tuple(int(v) for v in item)
    return out


def _track_tubes(track: Track, nframes: int, width: int, height: int,
                 problems: Problems) -> list[tuple[str | None, np.ndarray]]:
    """(action, float32 (n, 5) tube) of every stretch of `track`, in time order."""
    order = np.argsort(track.frames, kind="stable")
    frames, boxes = track.frames[order], track.boxes[order]
    outside = track.outside[order]
    codes: dict[str | None, int] = {}
    code = np.array([codes.setdefault(track.actions[i], len(codes)) for i in order],
                    np.int64)
    names = list(codes)
    ok = True
    for i in np.flatnonzero(np.diff(frames) == 0):
        problems.add(f"{track.where}: two boxes at frame {track.shown(frames[i])}")
        ok = False
    vis = np.flatnonzero(~outside)
    ok &= _check_boxes(track, frames[vis], boxes[vis], nframes, width, height,
                       problems)
    if not ok or not len(vis):
        return []

    # Every shown frame: from each visible keyframe up to the next keyframe
    # (exclusive), interpolating toward it; the last one alone or, with
    # `open_end`, held to the end of the export's range (else of the video).
    # Vectorized over keyframes.
    f0 = frames[vis]
    has_next = vis + 1 < len(frames)
    nxt = np.where(has_next, vis + 1, vis)
    f1 = frames[nxt]
    end = nframes if track.end_frame is None else min(int(track.end_frame), nframes)
    stop = np.where(has_next, np.minimum(f1 - 1, nframes),
                    np.maximum(end, f0) if track.open_end else f0)
    length = stop - f0 + 1
    rep = np.repeat(np.arange(len(vis)), length)
    offset = np.arange(len(rep)) - np.repeat(np.cumsum(length) - length, length)
    span = np.where(has_next, f1 - f0, 1)[rep]
    t = (offset / span)[:, None]
    b0, b1 = boxes[vis][rep], boxes[nxt][rep]
    bx = b0 + (b1 - b0) * t
    fr = f0[rep] + offset
    bx[:, 0::2] = np.clip(bx[:, 0::2], 0, width)
    bx[:, 1::2] = np.clip(bx[:, 1::2], 0, height)
    act = code[vis][rep]

    # Cut where frames jump (outside) or the action changes.
    cuts = np.flatnonzero((np.diff(fr) != 1) | (np.diff(act) != 0)) + 1
    rows = np.concatenate([fr[:, None], bx], 1).astype(np.float32)
    return [(names[act[a]], rows[a:b])
            for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(fr)])]


def _check_boxes(track: Track, frames: np.ndarray, boxes: np.ndarray, nframes: int,
                 width: int, height: int, problems: Problems) -> bool:
    """Report every visible keyframe outside the video, or empty or off the frame."""
    x1, y1, x2, y2 = boxes.T
    with np.errstate(invalid="ignore"):
        bad_frame = (frames < 1) | (frames > nframes)
        not_finite = ~np.isfinite(boxes).all(1)
        empty = (x1 >= x2) | (y1 >= y2)
        off = (x2 <= 0) | (y2 <= 0) | (x1 >= width) | (y1 >= height)
    bad = bad_frame | not_finite | empty | off
    for i in np.flatnonzero(bad):
        where = f"{track.where}, frame {track.shown(frames[i])}"
        b = ", ".join(f"{v:g}" for v in boxes[i])
        if bad_frame[i]:
            problems.add(f"{where}: not in the video, whose {nframes} frames are "
                         f"numbered {track.shown(1)}..{track.shown(nframes)} here")
        elif not_finite[i]:
            problems.add(f"{where}: box coordinates are not finite numbers")
        elif empty[i]:
            problems.add(f"{where}: empty box (x1, y1, x2, y2 = {b})")
        else:
            problems.add(f"{where}: box ({b}) lies wholly outside the "
                         f"{width}x{height} frame")
    return not bad.any()


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


def keyframe_indices(boxes: np.ndarray, tol: float = 0.0,
                     force: Iterable[int] = (),
                     frames: np.ndarray | None = None) -> np.ndarray:
    """Indices of the boxes to keep as keyframes so interpolation stays within `tol` px.

    With `tol` 0, a box is dropped when it lies on the line between its
    neighbours (to 1e-4 px). Otherwise greedy: from each keyframe, extend to the
    furthest box such that linear interpolation reproduces every box in between
    within `tol`. The first and last box, and `force`d indices, are always kept.
    `frames` (default 0, 1, 2, ...) place the boxes in time.
    """
    n = len(boxes)
    if n <= 2:
        return np.arange(n)
    f = np.arange(n, dtype=np.float64) if frames is None else np.asarray(
        frames, np.float64)
    tol = max(tol, 1e-4)
    forced = np.zeros(n, bool)
    forced[[0, n - 1]] = True
    forced[list(force)] = True
    if tol <= 1e-4:
        w = ((f[1:-1] - f[:-2]) / (f[2:] - f[:-2]))[:, None]
        mid = boxes[:-2] + (boxes[2:] - boxes[:-2]) * w
        inner = np.abs(mid - boxes[1:-1]).max(1) > tol
        return np.flatnonzero(forced | np.r_[True, inner, True])
    keep = [0]
    i = 0
    while i < n - 1:
        j = i + 1
        while j + 1 < n and not forced[j]:
            k = j + 1
            w = ((f[i + 1:k] - f[i]) / (f[k] - f[i]))[:, None]
            interp = boxes[i] + (boxes[k] - boxes[i]) * w
            if np.abs(interp - boxes[i + 1:k]).max() > tol:
                break
            j = k
        keep.append(j)
        i = j
    return np.array(keep)


# ---------------------------------------------------------------------------
# `stad demo` predictions -> tracks
# ---------------------------------------------------------------------------
def load_predictions(path: PathLike, score_thr: float = 0.0) -> Predictions:
    """`stad demo`'s JSON (`Predictions.from_demo_json`), one frame per keyframe.

    Every output frame of the demo repeats its keyframe's boxes, so only the
    keyframes are kept (`Predictions.on_keyframes`; CVAT interpolates between
    them). Actions scoring below `score_thr` are dropped (the box stays, a
    person doing none). Raises `StadError` for a file that is not the demo's.
    """
    preds = Predictions.from_demo_json(path).on_keyframes()
    preds.action_scores[preds.action_scores < score_thr] = 0.0
    return preds


def predictions_to_tracks(preds: Predictions, video: str, iou_thr: float = 0.3,
                          max_gap: int | None = None) -> list[Track]:
    """Link per-frame boxes into tracks, greedily by IoU with each track's last box.

    Each box keeps its best action (None: none scores above 0). A track
    continues over at most `max_gap` frames without a box (default: twice the
    usual step between predicted frames, so `--predict-stepsize` gaps link).
    """
    best, _ = preds.best_actions()
    names = [preds.class_names[c] if c >= 0 else None for c in best.tolist()]
    if max_gap is None:
        steps = np.diff(preds.frame_numbers)
        max_gap = 2 * int(np.median(steps)) if len(steps) else 1
    open_tracks: list[dict] = []
    done: list[dict] = []
    order = np.argsort(preds.frames, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(preds.frames[order]) != 0])
    for rows in np.split(order, starts[1:]):
        if not len(rows):
            continue
        frame = int(preds.frames[rows[0]])
        boxes = preds.boxes[rows].astype(np.float64)
        actions = [names[r] for r in rows]
        alive = [t for t in open_tracks if frame - t["frames"][-1] <= max_gap]
        done += [t for t in open_tracks if frame - t["frames"][-1] > max_gap]
        open_tracks = alive
        taken_t, taken_b = set(), set()
        if alive and len(boxes):
            last = np.stack([t["boxes"][-1] for t in alive])
            iou = box_iou(last, boxes)
            for flat in np.argsort(-iou, axis=None, kind="stable"):
                ti, bi = divmod(int(flat), len(boxes))
                if iou[ti, bi] < iou_thr:
                    break
                if ti in taken_t or bi in taken_b:
                    continue
                taken_t.add(ti)
                taken_b.add(bi)
                t = alive[ti]
                t["frames"].append(frame)
                t["boxes"].append(boxes[bi])
                t["actions"].append(actions[bi])
        for bi in range(len(boxes)):
            if bi not in taken_b:
                open_tracks.append({"frames": [frame], "boxes": [boxes[bi]],
                                    "actions": [actions[bi]]})
    done += open_tracks
    done.sort(key=lambda t: t["frames"][0])
    return [Track(video, str(i), t["frames"], np.stack(t["boxes"]), t["actions"])
            for i, t in enumerate(done)]


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in `a` (n, 4) with every box in `b` (m, 4), xyxy."""
    a, b = np.asarray(a, np.float64)[:, None], np.asarray(b, np.float64)[None]
    w = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]),
                0, None)
    h = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]),
                0, None)
    inter = w * h
    area = lambda x: (x[..., 2] - x[..., 0]) * (x[..., 3] - x[..., 1])  # noqa: E731
    union = area(a) + area(b) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def fmt_float(value: float) -> str:
    """Shortest text that reads back as the same float32 (exact round trips)."""
    return np.format_float_positional(np.float32(value), unique=True, trim="-")


def fmt_floats(values: np.ndarray) -> np.ndarray:
    """`fmt_float` of every value (same shape, str); fast for 2-decimal values."""
    v32 = np.asarray(values, np.float32)
    flat = v32.ravel()
    texts = [f"{x:.2f}".rstrip("0").rstrip(".")
             for x in flat.astype(np.float64).tolist()]
    back = np.array([float(t) for t in texts], np.float64).astype(np.float32)
    for i in np.flatnonzero(back != flat):
        texts[i] = fmt_float(flat[i])
    return np.array(texts, dtype=object).reshape(v32.shape)
