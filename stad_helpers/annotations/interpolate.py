"""Keyframes <-> one box per frame: how a track becomes tubes, and back.

A tool stores boxes at keyframes; the frame-mAP metric and the AVA conversion
expect one box per frame. `track_tubes` fills the frames between keyframes and
cuts the result into tubes:

- between two keyframes the box is interpolated linearly, one box per frame;
- the action of a keyframe holds until the next keyframe, as in CVAT;
- a tube is cut wherever the action changes or the track leaves the picture (an
  `outside` keyframe ends the visible stretch before it, as in CVAT);
- boxes partly outside the frame are clipped to it; boxes wholly outside it,
  degenerate boxes and keyframes beyond the video are reported (`check_boxes`),
  naming the file, the track and the frame in the tool's own numbering.

`keyframe_indices` goes the other way for the exporters: which boxes of a
dense tube to keep as keyframes so that the tool's interpolation gives them back.

Used in: 05_your_own_data (through `import_annotations` and the exporters).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .tracks import Problems, Track


def track_tubes(track: Track, nframes: int, width: int, height: int,
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
    ok &= check_boxes(track, frames[vis], boxes[vis], nframes, width, height,
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


def check_boxes(track: Track, frames: np.ndarray, boxes: np.ndarray, nframes: int,
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
