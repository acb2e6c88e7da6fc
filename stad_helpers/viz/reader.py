"""Frames of a video by number, decoded on demand (the player, single pictures).

`FrameReader` gives random access to an mp4's frames (1-based, as in the
MultiSports annotation): it seeks to the nearest keyframe and keeps a small
byte-bounded cache, so long videos are never held in memory. `read_frame` is
one frame, for a picture. Frames are BGR like the rest of the project (or RGB),
upright and numbered as players show them (issue 14): the display rotation is
applied (`video.upright`), packets an edit list discards are not frames, and a
file whose last packets do not decode ends at its last decodable frame (asking
for a later one gives that frame, as a player holds its last picture).

Used in: 01_dataset, 02_person_detector, 04_inference_demo.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Union

import numpy as np

from ..errors import StadError

PathLike = Union[str, os.PathLike]


class FrameReader:
    """Frames of a video by 1-based number, decoded on demand; BGR (or RGB).

    `reader[n]` is frame n; `len(reader)` the frame count; a context manager
    (closes the file). Raises `StadError` when `path` is not a readable video.

    Sequential reads continue decoding; a jump seeks to the keyframe before the
    target and decodes forward. Recently decoded frames are kept in an LRU cache
    bounded by `cache_mb`, so long videos are never held in memory.

    Raises:
        StadError: On construction, `path` is missing or not a readable video
            (`video.probe`).
    """

    def __init__(self, path: PathLike, cache_mb: float = 96, rgb: bool = False):
        import av

        from ..video import probe

        self.path = Path(path)
        self.info = probe(self.path)  # raises StadError for unreadable files
        self._fmt = "rgb24" if rgb else "bgr24"
        self._container = av.open(str(self.path))
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        from ..video import _picture_test  # what video.probe counts as a frame

        holds_picture = _picture_test(self._stream)
        pts = [p.pts for p in self._container.demux(self._stream)  # not hidden by
               if p.size and not p.is_discard and holds_picture(p)]  # an edit list
        self._pts = sorted(pts) if pts and None not in pts else None
        self._end = None  # the last decodable frame, once decoding ran past it
        self._held = None  # (number, VideoFrame): the last frame decoded
        self._index = {p: i + 1 for i, p in enumerate(self._pts or [])}
        frame_bytes = self.info.height * self.info.width * 3
        self._cache_max = max(2, int(cache_mb * 2**20 // max(frame_bytes, 1)))
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._decoder = None
        self._last = 0  # number of the last frame the decoder produced
        self._fresh = False  # True until the first frame after a seek is decoded
        self.decoded = 0  # frames decoded so far (for tests and curiosity)

    def __len__(self) -> int:
        if self._end is not None:
            return self._end
        return len(self._pts) if self._pts is not None else self.info.nframes

    def _declared(self) -> int:
        return len(self._pts) if self._pts is not None else self.info.nframes

    def __enter__(self) -> FrameReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the video file (reads after this raise `ValueError`)."""
        self._decoder = None
        if self._container is not None:
            self._container.close()
            self._container = None

    def __getitem__(self, frame: int) -> np.ndarray:
        """Frame `frame` (1-based), (H, W, 3) uint8, BGR (or RGB); cached, do not
        modify it. Raises `IndexError` outside 1..len, `StadError` when the video
        cannot be decoded there.

        A frame the file lists but that does not decode (past the last
        decodable one) gives the last decodable frame, and `len` shrinks to it.

        Raises:
            IndexError: `frame` outside 1..len.
            ValueError: The reader was closed.
            StadError: The video cannot be decoded at `frame`, or no frame at
                all decodes up to it.
        """
        frame = int(frame)
        if not 1 <= frame <= self._declared():
            raise IndexError(f"frame {frame} not in 1..{len(self)} of {self.path}")
        if self._end is not None:
            frame = min(frame, self._end)
        if frame in self._cache:
            self._cache.move_to_end(frame)
            return self._cache[frame]
        if self._container is None:
            raise ValueError(f"FrameReader for {self.path} is closed")
        if self._decoder is None or not self._last < frame <= self._last + 48:
            self._seek(frame)
        import av

        try:
            while frame not in self._cache:
                try:
                    vf = next(self._decoder)
                except StopIteration:
                    return self._ended(frame)
                self.decoded += 1
                number = self._number(vf)
                self._held = (number, vf)
                if self._fresh:  # first frame after a seek: must not be past the target
                    self._fresh = False
                    if number > frame:
                        self._seek(1)
                        continue
                self._last = number
                if number >= frame - 4:  # keep a few before, for stepping back
                    self._put(number, self._image(vf))
                if number > frame:  # a gap in the timestamps: take the next frame
                    self._put(frame, self._cache[number])
        except av.error.FFmpegError as exc:
            raise StadError(f"cannot decode frame {frame} ({exc})", self.path) from None
        return self._cache[frame]

    def _image(self, vf) -> np.ndarray:
        from ..video import upright

        return upright(vf.to_ndarray(format=self._fmt), vf.rotation)

    def _ended(self, frame: int) -> np.ndarray:
        """Decoding ended before `frame`: the last frame decoded is the video's
        last (the file lists frames that do not decode)."""
        if self._held is None or self._held[0] >= frame:
            raise StadError(f"no frame decodes up to frame {frame}", self.path)
        number, vf = self._held
        self._end = number
        self._decoder = None
        if number not in self._cache:
            self._put(number, self._image(vf))
        return self._cache[number]

    def _number(self, vf) -> int:
        if self._pts is None or vf.pts is None:
            return self._last + 1
        return self._index.get(vf.pts) or int(np.searchsorted(self._pts, vf.pts)) + 1

    def _seek(self, frame: int) -> None:
        """Position the decoder at the keyframe at or before `frame`."""
        if self._pts is None or frame <= 1:
            self._container.seek(0)
            self._last = 0
        else:
            self._container.seek(self._pts[frame - 1], backward=True, any_frame=False,
                                 stream=self._stream)
        self._decoder = self._container.decode(self._stream)
        self._fresh = self._pts is not None and frame > 1
        self._held = None

    def _put(self, number: int, image: np.ndarray) -> None:
        self._cache[number] = image
        self._cache.move_to_end(number)
        while len(self._cache) > self._cache_max:
            self._cache.popitem(last=False)


def read_frame(path: PathLike, frame: int, rgb: bool = False) -> np.ndarray:
    """Frame number `frame` (1-based) of a video, HxWx3 uint8 BGR (or RGB)."""
    with FrameReader(path, cache_mb=1, rgb=rgb) as reader:
        return reader[frame]

