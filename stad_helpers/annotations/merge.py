"""One video annotated in several sources: keep each person once, refuse what conflicts.

The same video reaches an import twice when the same export is given twice
under two names, two annotators annotate it, two Label Studio tasks point at
it, or a CVAT task is exported job by job (jobs overlap by the task's
`overlap` frames). `merge_sources` compares the tubes of the sources of one
video, pair by pair, over the frames they share:

- same action and every box within `SAME_BOX_TOL_PX` px: the same tube, kept
  once (its frames the union of both), with a warning naming both sources;
- CVAT jobs of one task, over the frames their segments share: the best match
  (same action, mean IoU >= `SAME_PERSON_IOU`) is the track that continues from
  one job into the next; joined, the earlier job's boxes kept in the overlap.
  CVAT jobs without overlap, or tasks made from consecutive frame ranges of one
  video: a tube ending on the last frame of one continues into the best match
  starting on the first frame of the next (IoU of the two boxes);
- otherwise the same person (mean IoU >= `SAME_PERSON_IOU`) with another action
  or other boxes is a conflict: one `StadError` names the video, the frames and
  both sources of each, and nothing is written;
- tubes that do not meet (other people, other frames) are all kept.

Used in: 05_your_own_data (through `import_annotations`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import StadError
from .interpolate import track_tubes
from .tracks import MAX_LISTED, Problems, Track, VideoAnnotation

SAME_BOX_TOL_PX = 1.0  # largest coordinate difference of "identical" boxes
SAME_PERSON_IOU = 0.5  # mean IoU over shared frames above which it is one person


def merge_sources(
    video: str,
    sources: Sequence[VideoAnnotation],
    nframes: int,
    width: int,
    height: int,
    notes: list[str] | None = None,
) -> list[Track] | None:
    """The tracks of one video's `sources`, each tube once (see the module docstring).

    The sources' tracks must already be in pixels and carry `video`. Returns one
    track per tube (every frame a box, 1-based), or None when a source has a bad
    box (then `tracks_to_gt` on the original tracks reports it). What was merged
    is appended to `notes` ("warning: ..." for duplicates). Raises `StadError`
    listing every conflict.

    Args:
        video: The video key 'sport/name'.
        sources: Its annotations (one per file or task), boxes in pixels.
        nframes: The video's frame count.
        width: Frame width in pixels.
        height: Frame height in pixels.
        notes: List that receives what was merged, in words.

    Raises:
        StadError: Two sources disagree about a tube (every conflict listed).
    """
    notes = [] if notes is None else notes
    problems = Problems()
    tubes: list[tuple[int, str | None, np.ndarray, Track]] = []
    for s, ann in enumerate(sources):
        for track in ann.tracks:
            for action, tube in track_tubes(track, nframes, width, height, problems):
                tubes.append((s, action, tube, track))
    if problems.items:
        return None
    n = len(tubes)
    src = np.array([t[0] for t in tubes], np.int64)
    first = np.array([t[2][0, 0] for t in tubes], np.int64)
    last = np.array([t[2][-1, 0] for t in tubes], np.int64)
    meet = ((first[:, None] <= last[None]) & (first[None] <= last[:, None])
            & (src[:, None] != src[None]))
    meet &= np.triu(np.ones((n, n), bool), 1)

    same: list[tuple[int, int]] = []
    joins: list[tuple[float, int, int]] = []
    conflicts: list[str] = []
    for i, j in zip(*np.nonzero(meet)):
        (si, ai, ti, tri), (sj, aj, tj, trj) = tubes[i], tubes[j]
        lo, hi = max(first[i], first[j]), min(last[i], last[j])
        bi = ti[lo - first[i]:hi - first[i] + 1, 1:]
        bj = tj[lo - first[j]:hi - first[j] + 1, 1:]
        diff = float(np.abs(bi.astype(np.float64) - bj).max())
        if ai == aj and diff <= SAME_BOX_TOL_PX:
            same.append((i, j))
            continue
        iou = float(_paired_iou(bi, bj).mean())
        if iou < SAME_PERSON_IOU:
            continue  # other people
        if ai == aj and _within_shared_segment(sources[si], sources[sj], lo, hi):
            joins.append((iou, i, j))
            continue
        what = (f"labelled {_name(ai)} in one and {_name(aj)} in the other"
                if ai != aj else f"with boxes up to {diff:.0f} px apart")
        conflicts.append(f"video {video!r}, frames {lo}..{hi}: the same person "
                         f"{what}: {tri.where} and {trj.where}")
    # Jobs without overlap: tubes touching across the boundary of two segments.
    for i, j in zip(*np.nonzero((last[:, None] + 1 == first[None])
                                & (src[:, None] != src[None]))):
        (si, ai, ti, _), (sj, aj, tj, _) = tubes[i], tubes[j]
        a, b = sources[si].segment, sources[sj].segment
        if (ai != aj or a is None or b is None or last[i] != a[1]
                or first[j] != b[0]):
            continue
        iou = float(_paired_iou(ti[-1:, 1:], tj[:1, 1:])[0])
        if iou >= SAME_PERSON_IOU:
            joins.append((iou, i, j))

    if conflicts:
        lines = [f"{len(conflicts)} conflict(s) between annotations of the same "
                 "video (keep one file per video, or fix one):"]
        lines += [f"  {c}" for c in conflicts[:MAX_LISTED]]
        if len(conflicts) > MAX_LISTED:
            lines.append(f"  ... and {len(conflicts) - MAX_LISTED} more")
        raise StadError("\n".join(lines))

    # Segment joins: each tube continues into at most one tube of each other job.
    joined: set[tuple[int, int]] = set()
    for _, i, j in sorted(joins, reverse=True):
        if (i, src[j]) in joined or (j, src[i]) in joined:
            continue
        joined |= {(i, src[j]), (j, src[i])}
        same.append((i, j))

    parent = list(range(n))

    def root(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    identical: dict[tuple[int, int], int] = {}
    continued: dict[tuple[int, int], int] = {}
    for i, j in same:
        parent[root(j)] = root(i)
        pair = (min(src[i], src[j]), max(src[i], src[j]))
        whole = first[i] == first[j] and last[i] == last[j]
        (identical if whole else continued)[pair] = (
            (identical if whole else continued).get(pair, 0) + 1)
    for (a, b), count in identical.items():
        notes.append(f"warning: video {video!r}: {count} tube(s) identical in "
                     f"{sources[a].where} and {sources[b].where}, kept once (the "
                     "same video annotated twice?)")
    for (a, b), count in continued.items():
        sa, sb = sources[a].segment, sources[b].segment
        parts = sa is not None and sb is not None and sa != sb
        kind = "job segments" if sources[a].job and sources[b].job else "task ranges"
        notes.append(("" if parts else "warning: ") + f"video {video!r}: {count} "
                     f"tube(s) continue from {sources[a].where} into "
                     f"{sources[b].where}, joined"
                     + (f" (consecutive {kind})" if parts else ""))

    groups: dict[int, list[int]] = {}
    for k in range(n):
        groups.setdefault(root(k), []).append(k)
    out = []
    for members in sorted(groups.values(), key=lambda m: min(m)):
        # Earlier segment (else earlier source) first: its boxes win shared frames.
        members.sort(key=lambda k: (_start(sources[src[k]]), src[k], k))
        rows: dict[int, np.ndarray] = {}
        for k in members:
            for row in tubes[k][2]:
                rows.setdefault(int(row[0]), row)
        frames = sorted(rows)
        lead = tubes[members[0]]
        out.append(Track(video=video, track_id=str(len(out)), frames=frames,
                         boxes=np.stack([rows[f][1:] for f in frames]),
                         actions=[lead[1]] * len(frames), source=lead[3].source,
                         frame_base=lead[3].frame_base))
    return out


def _paired_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of box a[k] with b[k], (n, 4) xyxy each."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    w = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    h = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = w * h
    union = ((a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
             + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter)
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def _within_shared_segment(a: VideoAnnotation, b: VideoAnnotation, lo: int,
                           hi: int) -> bool:
    """Whether frames lo..hi lie where two different job segments overlap."""
    if not (a.job and b.job) or a.segment is None or b.segment is None \
            or a.segment == b.segment:
        return False
    start, stop = max(a.segment[0], b.segment[0]), min(a.segment[1], b.segment[1])
    return start <= lo and hi <= stop


def _start(ann: VideoAnnotation) -> int:
    return ann.segment[0] if ann.segment is not None else 0


def _name(action: str | None) -> str:
    return "as standing by" if action is None else repr(action)


__all__ = ["SAME_BOX_TOL_PX", "SAME_PERSON_IOU", "merge_sources"]
