"""The demo's stream of frames: `_SegmentStream` holds a ring of about one
window of frames, predicts each segment once its clip is read, tracks people
from keyframe to keyframe (ByteTrack, `stad_helpers.tracking`) and hands out
`DemoFrame`s in order.

Used in: 04_inference_demo.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from ..predictions import Predictions
from .clips import _FAR

if TYPE_CHECKING:
    from .runner import Demo


class DemoFrame(NamedTuple):
    """One output frame of the demo: its number, the picture, its predictions."""

    number: int  # 1-based
    image: np.ndarray  # (H, W, 3) uint8: BGR, annotated (`Demo.frames`) or not
    predictions: Predictions  # this frame's boxes (pixels), from its keyframe


class _SegmentStream:
    """The demo's ring of frames: predicts each segment once its clip is read and
    releases frames once no clip or output needs them. People keep their track
    id from keyframe to keyframe (`tracking.PersonTracker`, ByteTrack)."""

    def __init__(self, demo: Demo, video: str, fps: float = 25.0):
        from ..tracking import PersonTracker

        self.demo, self.video = demo, video
        self.tracker = PersonTracker(fps, demo.predict_stepsize)
        self.buffer: dict[int, np.ndarray] = {}  # 0-based frame -> RGB frame
        self.segments: dict[int, Predictions] = {}
        self.next_seg = self.next_out = self.total = 0

    def push(self, frame: np.ndarray) -> list[DemoFrame]:
        """Take the next frame; return the output frames now ready."""
        step, i = self.demo.predict_stepsize, self.total
        self.buffer[i] = frame
        self.total += 1
        # A segment is ready once its whole clip has been read.
        while self.next_seg * step + step // 2 + self.demo.sampler.after <= i:
            self._predict(_FAR)
        ready = self._ready()
        keep_from = min(self.next_out,
                        self.next_seg * step + step // 2 - self.demo.sampler.before)
        for j in [j for j in self.buffer if j < keep_from]:
            del self.buffer[j]
        return ready

    def finish(self) -> list[DemoFrame]:
        """The end of the video: the last segments (clips clamp to the video)."""
        while self.next_seg * self.demo.predict_stepsize < self.total:
            self._predict(self.total)
        return self._ready()

    def _predict(self, total: int) -> None:
        key = self.demo.keyframe(self.next_seg, total)
        clip = [self.buffer[int(j)] for j in self.demo.sampler.indices(key, total)]
        self.segments[self.next_seg] = self.tracker.update(
            self.demo.predict(self.buffer[key], clip, key, self.video))
        self.next_seg += 1

    def _ready(self) -> list[DemoFrame]:
        step, out = self.demo.predict_stepsize, []
        while self.next_out < self.total and self.next_out // step in self.segments:
            f = self.next_out
            seg = self.segments[f // step]
            preds = seg[:]
            preds.frames = np.full(len(preds), f + 1, np.int64)
            out.append(DemoFrame(f + 1, self.buffer[f], preds))
            self.next_out = f + 1
            if self.next_out % step == 0:
                self.segments.pop(f // step, None)
        return out
