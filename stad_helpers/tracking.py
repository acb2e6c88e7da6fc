"""Stable person ids: ByteTrack over the demo's keyframes.

`track_people(predictions)` gives every person box a track id (`Predictions.
track_ids`) that stays with that person across the video; `PersonTracker` does
the same a keyframe at a time, as `stad demo` predicts them. The tracker is
ByteTrack (Zhang et al., ECCV 2022) as roboflow's `trackers` package keeps it
(`trackers.ByteTrackTracker`, on `supervision.Detections`): a Kalman filter
predicts each person's box at the next keyframe, and boxes are matched to those
predictions by IoU (Hungarian), high-scoring boxes first. The demo predicts
every `predict_stepsize` frames, so the motion model steps from keyframe to
keyframe (one Kalman step per keyframe; a keyframe with nobody on it still
counts). `benchmarks/bench_tracking.py` measures it against the greedy IoU
linker it replaced (benchmarks/README.md, "Person tracks: linker vs
ByteTrack").

Deterministic: the same predictions give the same ids (ids count from the first
track, in the order people appear).

Used in: 04_inference_demo (`stad demo`'s JSON), 05_your_own_data
(`stad data export cvat --from-predictions`).
"""

from __future__ import annotations

import numpy as np

from .errors import StadError
from .predictions import Predictions

DEFAULT_FPS = 25.0  # when the predictions do not say (MultiSports videos are 25 fps)


class PersonTracker:
    """ByteTrack for one video, fed one predicted frame at a time, in order.

    Args:
        fps: The video's frame rate (frames per second).
        step: Frames between predicted frames (the demo's `predict_stepsize`);
            the motion model takes one step per `step` frames. (Stepping it
            frame by frame over the gap was worse: 22-31 id switches against 1
            on the benchmark at step 8.)
        lost_seconds: How long (seconds) a person may go unseen and come back
            with the same id.
        min_iou: The least IoU between a box and a track's predicted box that
            continues the track.
        high_score: Boxes whose `person_scores` reach it are matched first and
            may start a track; lower ones only continue tracks (ByteTrack's
            second stage) and are left untracked (-1) otherwise.

    Raises:
        StadError: `fps`, `step` or `lost_seconds` not positive, or a frame
            given out of order to `update`.
    """

    def __init__(self, fps: float = DEFAULT_FPS, step: int = 1,
                 lost_seconds: float = 1.0, min_iou: float = 0.1,
                 high_score: float = 0.5) -> None:
        from trackers import ByteTrackTracker  # imports supervision: heavy

        if not (np.isfinite(fps) and fps > 0):
            raise StadError(f"tracking: fps must be > 0, got {fps}")
        if int(step) < 1:
            raise StadError(f"tracking: step must be >= 1 frame, got {step}")
        if not (np.isfinite(lost_seconds) and lost_seconds > 0):
            raise StadError(f"tracking: lost_seconds must be > 0, got {lost_seconds}")
        self.fps, self.step = float(fps), int(step)
        # ByteTrack counts its lost-track buffer in frames at 30 fps, and scales
        # it by `frame_rate`: here the rate of predicted frames.
        self._tracker = ByteTrackTracker(
            lost_track_buffer=max(1, round(30 * lost_seconds)),
            frame_rate=self.fps / self.step,
            track_activation_threshold=high_score, minimum_consecutive_frames=1,
            minimum_iou_threshold=min_iou, high_conf_det_threshold=high_score)
        self._last_frame = 0

    def update(self, preds: Predictions) -> Predictions:
        """Set the track ids of one frame's boxes (`preds.frames` all equal).

        Returns a copy of `preds` with `track_ids` (int64, >= 0; -1 for a
        low-scoring box that continues no track), rows in the same order.
        Frames are 1-based; a frame `k * step` after the last one counts `k - 1`
        predicted frames with nobody on them (an empty `preds` changes nothing).

        Raises:
            StadError: `preds` spans several frames, or its frame is not after
                the last one given.
        """
        import supervision as sv

        out = preds[:]
        if not len(preds):
            return out
        frames = np.unique(preds.frames)
        if len(frames) != 1:
            raise StadError(f"tracking: one frame at a time, got frames "
                            f"{frames.tolist()[:5]}")
        frame = int(frames[0])
        if frame <= self._last_frame:
            raise StadError(f"tracking: frame {frame} after frame "
                            f"{self._last_frame} (frames must come in order)")
        if self._last_frame:  # predicted frames with nobody on them
            for _ in range(round((frame - self._last_frame) / self.step) - 1):
                self._tracker.update(sv.Detections.empty())
        self._last_frame = frame
        dets = sv.Detections(
            xyxy=preds.boxes.astype(np.float64),
            confidence=preds.person_scores.astype(np.float64),
            class_id=np.zeros(len(preds), int),
            data={"row": np.arange(len(preds))})
        tracked = self._tracker.update(dets)
        ids = np.full(len(preds), -1, np.int64)
        ids[np.asarray(tracked.data["row"], int)] = np.asarray(tracked.tracker_id)
        self._name_new_tracks(preds, ids)
        out.track_ids = ids  # the tracker counts from 0, as Predictions does
        return out

    def _name_new_tracks(self, preds: Predictions, ids: np.ndarray) -> None:
        """Give the tracks this frame started their id now, as their first box's.

        `trackers` 2.x names a track on its second box (`minimum_consecutive_
        frames` counts from there), so a person's first keyframe, a whole demo
        segment, would have no id. A new track still holds its first box as its
        state; it is found by that box and named with the tracker's own counter
        (ids stay consecutive and deterministic).
        """
        new = [t for t in self._tracker.tracks
               if t.tracker_id == -1 and t.time_since_update == 0]
        for row in np.flatnonzero(ids < 0):
            for t in new:
                if t.tracker_id == -1 and np.allclose(
                        t.get_state_bbox(), preds.boxes[row], atol=1e-3):
                    t.tracker_id = self._tracker._allocate_tracker_id()
                    ids[row] = t.tracker_id
                    break


def track_people(predictions: Predictions, fps: float | None = None,
                 step: int | None = None, lost_seconds: float = 1.0,
                 min_iou: float = 0.1, high_score: float = 0.5) -> Predictions:
    """`predictions` of one video with a person track id on every box.

    Each keyframe is tracked once (`Predictions.keyframes`; the demo repeats a
    keyframe's boxes on every frame of its segment, and those copies get the
    same ids). `fps` defaults to `predictions.meta["fps"]` (the demo writes it),
    else 25; `step` (frames between keyframes) to `meta["predict_stepsize"]`,
    else the most common gap between keyframes. The other arguments are
    `PersonTracker`'s. Returns a copy with `track_ids` set (int64, >= 0, or -1
    for a low-scoring box on no track); boxes, frames (1-based) and scores
    unchanged. Raises `StadError` for a non-positive `fps` or `step`.
    """
    fps = fps or predictions.meta.get("fps") or DEFAULT_FPS
    if step is None:
        step = predictions.meta.get("predict_stepsize")
    if not isinstance(step, (int, np.integer)):
        gaps = np.diff(np.unique(predictions.keyframes))
        values, counts = np.unique(gaps, return_counts=True)
        step = int(values[counts.argmax()]) if len(gaps) else 1
    tracker = PersonTracker(float(fps), int(step), lost_seconds, min_iou,
                            high_score)
    out = predictions[:]
    ids = np.full(len(out), -1, np.int64)
    for key in np.unique(out.keyframes):
        rows = np.flatnonzero(out.keyframes == key)
        frames = out.frames[rows]
        pick = key if (frames == key).any() else frames.min()  # as on_keyframes
        ref = rows[frames == pick]
        one = out[ref]
        one.frames = np.full(len(one), int(key), np.int64)
        ref_ids = tracker.update(one).track_ids
        ids[ref] = ref_ids
        # Copies of the keyframe's boxes on the other frames of its segment.
        for r in rows[frames != pick]:
            same = np.flatnonzero((out.boxes[ref] == out.boxes[r]).all(1))
            if len(same):
                ids[r] = ref_ids[same[0]]
    out.track_ids = ids
    return out
