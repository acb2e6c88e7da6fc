"""`stad demo` predictions -> tracks, so a user corrects tracks rather than boxes.

`load_predictions` reads the demo's JSON at its keyframes; `predictions_to_tracks`
makes one track per person id: the demo's own ids (`stad demo` tracks people
with ByteTrack, `stad_helpers.tracking`), or, for predictions without them,
ids from the same tracker. So the CVAT task of the pre-annotation step
(`export_cvat_predictions`) shows the people of the demo's video and JSON, by
the same ids.

Used in: 05_your_own_data.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import StadError
from ..predictions import Predictions
from ..tracking import track_people
from .tracks import PathLike, Track


def load_predictions(path: PathLike, score_thr: float = 0.0) -> Predictions:
    """`stad demo`'s JSON (`Predictions.from_demo_json`), one frame per keyframe.

    Every output frame of the demo repeats its keyframe's boxes, so only the
    keyframes are kept (`Predictions.on_keyframes`; CVAT interpolates between
    them). Actions scoring below `score_thr` are dropped (the box stays, a
    person doing none). Raises `StadError` for a file that is not the demo's.

    Raises:
        StadError: The file is missing or not `stad demo`'s JSON (the index of
            a many-video demo is named as such, with the JSONs it lists).
    """
    _refuse_demo_index(Path(path))
    preds = Predictions.from_demo_json(path).on_keyframes()
    preds.action_scores[preds.action_scores < score_thr] = 0.0
    return preds


def _refuse_demo_index(path: Path) -> None:
    """The index of `stad demo VIDEO... OUT_DIR` is not predictions: say so and
    list the per-video JSONs it names."""
    from ..demo.batch import INDEX_FORMAT

    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return  # `from_demo_json` says what is wrong
    if not isinstance(raw, dict) or raw.get("format") != INDEX_FORMAT:
        return
    listed = [str(path.parent / v["json"]) for v in raw.get("videos") or []
              if isinstance(v, dict) and v.get("json")]
    raise StadError("this is a demo index (many videos), not one video's "
                    "predictions; pass one of the per-video JSONs it lists: "
                    + (", ".join(listed[:10]) + (" ..." if len(listed) > 10 else "")
                       if listed else "(none)"), path)


def predictions_to_tracks(preds: Predictions, video: str, iou_thr: float = 0.1,
                          max_gap: int | None = None) -> list[Track]:
    """One track per person id of `preds`, in id order; `Track.track_id` is the id.

    Predictions that carry track ids (`stad demo`'s JSON) keep them; without
    any, `tracking.track_people` assigns them (ByteTrack; `iou_thr` is the
    least IoU between a box and its track's predicted box). A box left
    untracked (-1) becomes a one-box track with the next free id. `max_gap`
    (frames, 1-based numbering) splits a track where it goes unseen for longer,
    the later parts under the next free ids; default: never (the tracker
    already ends tracks lost for over a second).
    Each box keeps its best action (None: none scores above 0). Frames are
    the predictions' (1-based), boxes in pixels (x1, y1, x2, y2).
    """
    if len(preds) and (preds.track_ids < 0).all():
        preds = track_people(preds, min_iou=iou_thr)
    best, _ = preds.best_actions()
    names = [preds.class_names[c] if c >= 0 else None for c in best.tolist()]
    ids = preds.track_ids.copy()
    loose = np.flatnonzero(ids < 0)
    ids[loose] = ids.max(initial=-1) + 1 + np.arange(len(loose))
    parts = []
    for tid in np.unique(ids):
        rows = np.flatnonzero(ids == tid)
        rows = rows[np.argsort(preds.frames[rows], kind="stable")]
        cuts = (np.flatnonzero(np.diff(preds.frames[rows]) > max_gap) + 1
                if max_gap is not None else [])
        parts += [(int(tid) if k == 0 else None, part)
                  for k, part in enumerate(np.split(rows, cuts))]
    free = ids.max(initial=-1) + 1
    tracks = []
    for tid, part in parts:
        if tid is None:
            tid, free = free, free + 1
        tracks.append(Track(video, str(tid), preds.frames[part],
                            preds.boxes[part].astype(np.float64),
                            [names[r] for r in part]))
    tracks.sort(key=lambda t: int(t.track_id))
    return tracks
