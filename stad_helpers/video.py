"""Video I/O for the whole project: probe, stream frames, write browser-playable mp4.

Everything goes through PyAV (FFmpeg in-process), so reading and writing behave the
same on every machine: `probe` counts the frames a video really has (not what its
header claims), `iter_frames` streams decoded frames one at a time, and `VideoSink`
writes H.264 mp4 files whole or not at all (`stad_helpers.fileio.atomic_path`).

Videos are read the way players show them, which is not always how they are
stored (issue 14):

- rotation: a phone stores portrait video as landscape pixels plus a display
  matrix (mp4 `tkhd`) that rotates it. `probe` reports the displayed size and
  the rotation; every reader of the project yields upright frames (`upright`),
  as decord (MMAction2's video reader) and players do;
- the presentation timeline: a file cut with `ffmpeg -c copy` keeps packets an
  edit list tells players to discard; they are not frames (FFmpeg's decoder
  drops them, PyAV flags them `is_discard`), so frame 1 is the first one shown.
  `frame_times` gives each shown frame's real time (a non-zero start time
  removed), and `probe` says when frame numbers and `number / fps` disagree
  (`variable_frame_rate`, e.g. phone recordings).

Used in: 01_dataset, 02_person_detector, 04_inference_demo, 05_your_own_data.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Union

import av
import numpy as np

from .errors import StadError
from .fileio import atomic_path

PathLike = Union[str, os.PathLike]

# What PyAV raises for unreadable data: FFmpeg errors, and OSError subclasses
# (FileNotFoundError, PermissionError, IsADirectoryError) for the file itself.
_AV_ERRORS = (av.error.FFmpegError, OSError, EOFError)


@dataclass(frozen=True)
class VideoInfo:
    """What `probe` found in a video file.

    The same facts a MultiSports GT stores per video (`nframes[video]`,
    `resolution[video] = (height, width)`; https://github.com/MCG-NJU/MultiSports),
    so a GT can be checked against (or built from) its videos.

    Attributes:
        nframes: Number of frames; frames are numbered 1..nframes everywhere in
            the project (GT tubes, rawframes `00001.jpg`, AVA keys). With
            `probe(exact=False)` this is the header's claim (0 if unknown).
        height: Frame height in pixels.
        width: Frame width in pixels.
        fps: Average frame rate in frames per second (0.0 if the file gives
            none).
        rotation: The display rotation in degrees counter-clockwise (FFmpeg's
            sign: a phone's portrait clip is usually -90), one of 0, 90, 180,
            -90; `height` and `width` are already those of the rotated
            (displayed) picture. Apply it to decoded pixels with `upright`.
        variable_frame_rate: True when some frame's real time (`frame_times`)
            is more than half a frame away from `(number - 1) / fps`, i.e. the
            frame rate varies (phones, screen recordings) and a time must be
            turned into a frame through the timestamps. False with
            `exact=False` (not measured).
    """

    nframes: int
    height: int
    width: int
    fps: float
    rotation: int = 0
    variable_frame_rate: bool = False


@contextlib.contextmanager
def _open_video(path: PathLike) -> Iterator[tuple[av.container.InputContainer, object]]:
    """Open `path` for reading and yield (container, first video stream)."""
    path = Path(path)
    if not path.exists():
        raise StadError("video not found", path)
    if not path.is_file():
        raise StadError("not a video file (it is a directory or special file)", path)
    try:
        container = av.open(str(path), mode="r")
    except _AV_ERRORS as exc:
        raise StadError(
            f"cannot open video ({_reason(exc)}); truncated or not a video?", path
        ) from None
    try:
        if not container.streams.video:
            raise StadError("no video stream in file", path)
        yield container, container.streams.video[0]
    finally:
        container.close()


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _fps(stream) -> float:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return float(rate) if rate else 0.0


def upright(image: np.ndarray, rotation: float,
            path: PathLike | None = None) -> np.ndarray:
    """`image` (H, W, ...) turned by the display `rotation` (degrees
    counter-clockwise, `VideoInfo.rotation` or PyAV's `VideoFrame.rotation`), as
    players and decord show it; a C-contiguous array (the same one if 0).
    `path`: the video, named in the error.

    Raises:
        StadError: `rotation` is not a multiple of 90 degrees.
    """
    k = _quarter_turns(rotation, path)
    return image if k == 0 else np.ascontiguousarray(np.rot90(image, k))


def _quarter_turns(rotation: float, path: PathLike | None = None) -> int:
    """Counter-clockwise quarter turns (0..3) of a display rotation in degrees."""
    turns = round(float(rotation) / 90)
    if abs(float(rotation) - 90 * turns) > 0.5:
        raise StadError(f"display rotation {rotation:g} degrees is not a multiple of "
                        "90; re-encode the video upright (e.g. ffmpeg -i in.mp4 "
                        "out.mp4)", path)
    return turns % 4


def _first_rotation(frames, path: PathLike) -> int | None:
    """The display rotation (degrees, 0/90/180/-90) of the first of `frames`
    (decoded `VideoFrame`s; FFmpeg attaches the stream's display matrix to each),
    or None if none decodes. Raises `StadError` naming `path` for a rotation that
    is not a multiple of 90 degrees."""
    try:
        for frame in frames:
            rotation = int(round(frame.rotation or 0))
            break
        else:
            return None
    except _AV_ERRORS:
        return None  # an undecodable file is reported by whoever decodes it
    _quarter_turns(rotation, path)  # refuse 45 degrees and the like
    if _mirrored(frame):
        raise StadError("the display matrix mirrors the picture (a front camera?); "
                        "re-encode the video as shown (e.g. ffmpeg -i in.mp4 "
                        "out.mp4)", path)
    return {270: -90, -180: 180, -270: 90}.get(rotation, rotation)


def _mirrored(frame) -> bool:
    """True if the frame's display matrix flips it (negative determinant):
    `VideoFrame.rotation` gives only the angle, so a mirror would go unnoticed."""
    for data in frame.side_data:
        if "DISPLAYMATRIX" in str(getattr(data.type, "name", data.type)).upper():
            m = np.frombuffer(bytes(data), "<i4")
            return len(m) >= 5 and int(m[0]) * int(m[4]) - int(m[1]) * int(m[3]) < 0
    return False


def _displayed(width: int, height: int, rotation: int) -> tuple[int, int]:
    """(width, height) of the picture players show."""
    return (height, width) if _quarter_turns(rotation) % 2 else (width, height)


def _varies(times: np.ndarray, fps: float) -> bool:
    """True if frame number and time disagree by more than half a frame."""
    if len(times) < 3 or fps <= 0:
        return False
    nominal = np.arange(len(times)) / fps
    return bool(np.abs(times - nominal).max() > 0.5 / fps)


def frame_times(path: PathLike) -> np.ndarray:
    """The real time of every shown frame, in seconds from the first one.

    From the packets' presentation timestamps (demuxed, not decoded), without
    those an edit list discards, sorted, minus the first (a non-zero start time
    removed): `times[n - 1]` is when frame n (1-based) appears. For a constant
    frame rate this is `(n - 1) / fps`; for a variable one (phones) only this
    says which frame a time (Label Studio's `time`) falls on: `frame_at`.

    Args:
        path: The video file.

    Returns:
        `(nframes,)` float64, seconds, non-decreasing, `times[0] == 0`.

    Raises:
        StadError: The file is missing or not a readable video, has no frames,
            or packets without timestamps (e.g. raw H.264 streams).
    """
    with _open_video(path) as (container, stream):
        pts = []
        try:
            holds_picture = _picture_test(stream)
            for packet in container.demux(stream):
                if packet.size and not packet.is_discard and holds_picture(packet):
                    pts.append(packet.pts)
        except _AV_ERRORS as exc:
            raise StadError(f"cannot read frame {len(pts) + 1} ({_reason(exc)})",
                            path) from None
        base = stream.time_base
    if not pts:
        raise StadError("video has no frames", path)
    if None in pts or not base:
        raise StadError("video packets carry no timestamps; re-mux it (e.g. ffmpeg "
                        "-i in.h264 -c copy out.mp4)", path)
    ticks = np.sort(np.asarray(pts, np.int64))
    return (ticks - ticks[0]) * float(base)


def frame_at(times: np.ndarray, seconds: float) -> int:
    """The frame (1-based) shown at `seconds` after the first frame: the last one
    whose time (`frame_times`) is not after it (1 before the first frame).

    Args:
        times: `frame_times(path)`, `(nframes,)` seconds.
        seconds: A time in seconds from the first shown frame.

    Returns:
        A frame number in 1..len(times).
    """
    return max(1, int(np.searchsorted(times, seconds + 1e-6, side="right")))


def probe(path: PathLike, exact: bool = True) -> VideoInfo:
    """Frame count, size and frame rate of a video, raising `StadError` if unreadable.

    With `exact` the frames are counted by demuxing every video packet (fast:
    only the first frame is decoded, for the rotation; packets an edit list
    discards or that hold no picture are not frames), so a truncated or re-muxed
    file reports what it really holds; a packet cut short by truncation, or fewer
    packets than the container's own index declares, is an error rather than a
    silently wrong count. Without `exact` the
    count comes from the header (instant, but trusts the file).

    Args:
        path: A video file PyAV/FFmpeg reads (mp4, mkv, avi, ...).
        exact: Count the frames by demuxing (True) or trust the header (False).

    Returns:
        A `VideoInfo`: frames counted as shown (packets an edit list discards
        are not frames), the size in pixels of the displayed (rotated) picture,
        fps, the display rotation, and (exact) whether the frame rate varies.

    Raises:
        StadError: The file is missing, not a file, not a video, has no video
            stream or no frame size, is truncated or corrupt (fewer packets than
            declared, a cut packet), or (exact) has no frames; the message names
            the file and, where it applies, the frame number (1-based); or a
            display matrix that rotates by other than a multiple of 90 degrees
            or mirrors the picture.
    """
    with _open_video(path) as (container, stream):
        width, height = stream.codec_context.width, stream.codec_context.height
        fps = _fps(stream)
        declared = int(stream.frames or 0)
        if width <= 0 or height <= 0:
            raise StadError("video stream has no frame size (corrupt header?)", path)
        coded = (width, height)
        if not exact:
            rotation = _first_rotation(container.decode(stream), path) or 0
            if declared <= 0 and stream.duration and stream.time_base and fps:
                declared = round(float(stream.duration * stream.time_base) * fps)
            width, height = _displayed(*coded, rotation)
            return VideoInfo(declared, height, width, fps, rotation)
        packets = count = 0  # all frames in the file / those shown (not discarded)
        shown_pts, rotation = [], None
        holds_picture = _picture_test(stream)
        try:
            for packet in container.demux(stream):
                if packet.size == 0:  # the flush packet at the end of the stream
                    continue
                packets += 1
                if packet.is_corrupt:
                    raise StadError(
                        f"video data ends inside frame {packets}"
                        + (f" of {declared}" if declared else "")
                        + " (file truncated or corrupt)",
                        path,
                    )
                # Not a frame: cut by an mp4 edit list, or no picture in it.
                if not packet.is_discard and holds_picture(packet):
                    count += 1
                    shown_pts.append(packet.pts)
                if rotation is None:  # decode until the first frame comes out
                    rotation = _first_rotation(packet.decode(), path)
        except _AV_ERRORS as exc:
            raise StadError(f"cannot read frame {packets + 1} ({_reason(exc)})",
                            path) from None
        base = stream.time_base
        _check_complete(path, packets, declared)
        if count == 0:
            raise StadError("video has no frames", path)
        if rotation is None:  # the decoder held its frames back: flush it
            rotation = _first_rotation(stream.decode(None), path) or 0
        width, height = _displayed(*coded, rotation)
        varies = False
        if base and None not in shown_pts:
            ticks = np.sort(np.asarray(shown_pts, np.int64))
            times = (ticks - ticks[0]) * float(base)
            if count > 1 and times[-1] > 0:  # the rate the frames really have
                fps = fps or (count - 1) / times[-1]
            varies = _varies(times, fps)
        return VideoInfo(count, height, width, fps, rotation, varies)


def _picture_test(stream):
    """`holds(packet) -> bool`: False for a packet that holds no picture.

    A file can list more frames than decode (a player's slider that reaches 456
    where 455 decode): in mp4/mkv, H.264 and HEVC packets are NAL units behind
    length prefixes, and a packet of only parameter sets, SEI or delimiters
    (no VCL unit) gives no frame. Checked from the bytes (no decoding, ~1 us a
    packet); other codecs and Annex-B streams count every packet.
    """
    ctx = stream.codec_context
    extra = bytes(ctx.extradata or b"")
    if ctx.name == "h264" and len(extra) > 4 and extra[0] == 1:  # avcC
        size, vcl = (extra[4] & 3) + 1, lambda b: 1 <= (b & 0x1F) <= 5
    elif ctx.name == "hevc" and len(extra) > 21 and extra[0] == 1:  # hvcC
        size, vcl = (extra[21] & 3) + 1, lambda b: (b >> 1) & 0x3F < 32
    else:
        return lambda packet: True

    def holds(packet) -> bool:
        data = memoryview(packet)
        i, n = 0, len(data)
        while i + size < n:
            if vcl(data[i + size]):
                return True
            i += size + int.from_bytes(data[i:i + size], "big")
        return False  # parameter sets, SEI, delimiters only

    return holds


def _check_complete(path: PathLike, packets: int, declared: int) -> None:
    # mp4/mov index every frame up front: fewer frames in the file means truncation.
    if declared and packets < declared:
        raise StadError(
            f"only {packets} of the {declared} frames the file declares can be read "
            "(file truncated?)",
            path,
        )


def iter_frames(path: PathLike, rgb: bool = False) -> Iterator[np.ndarray]:
    """Yield the frames of a video one at a time as HxWx3 uint8 (BGR, or RGB).

    Streaming: only one frame is held at a time, so hour-long videos are fine. A
    frame that cannot be decoded raises `StadError` naming the file and the frame
    number (1-based), as does a file that ends before the frames it declares.

    Args:
        path: The video file.
        rgb: Yield RGB (for matplotlib/PIL) instead of BGR (OpenCV's order).

    Yields:
        `(height, width, 3)` uint8 arrays, frame 1 first: upright (the display
        rotation applied, `upright`), and only the frames players show
        (packets an edit list discards are dropped by the decoder).

    Raises:
        StadError: The file is missing or not a readable video, a frame cannot
            be decoded, the file ends early, or no frame decodes at all. Raised
            while iterating, after the frames before the problem were yielded.
    """
    fmt = "rgb24" if rgb else "bgr24"
    with _open_video(path) as (container, stream):
        stream.thread_type = "AUTO"
        declared = int(stream.frames or 0)
        packets = decoded = 0  # frames demuxed / decoded so far (decoding lags)
        try:
            for packet in container.demux(stream):
                if packet.size:
                    packets += 1
                if packet.is_corrupt:
                    raise StadError(
                        f"video data ends inside frame {packets}"
                        + (f" of {declared}" if declared else "")
                        + " (file truncated or corrupt)",
                        path,
                    )
                for frame in packet.decode():
                    decoded += 1
                    if decoded == 1:
                        _first_rotation([frame], path)  # refuses mirrors, 45 degrees
                    image = frame.to_ndarray(format=fmt)
                    yield upright(image, frame.rotation, path)
        except _AV_ERRORS as exc:
            raise StadError(f"cannot decode frame {max(packets, 1)} ({_reason(exc)})",
                            path) from None
        _check_complete(path, packets, declared)
        if decoded == 0:
            raise StadError("video has no decodable frames", path)


class VideoSink:
    """Write BGR frames to an H.264 mp4 that browsers play, whole or not at all.

    `size` is (width, height) in pixels; when None it is taken from the first frame.
    Odd sizes are padded by one pixel (yuv420p needs even dimensions), unless
    `exact_size`. If the `with` block raises, no file is left behind.

    Args:
        path: The mp4 to write (replaced only when the block ends without error).
        fps: Frame rate, > 0.
        size: `(width, height)` in pixels, or None for the first frame's size.
        crf: x264 constant rate factor (lower = better quality, larger file).
        preset: x264 speed preset (`"veryfast"`, `"medium"`, ...).
        threads: Encoder threads, 0 = FFmpeg's choice.
        exact_size: Keep an odd width or height exactly by encoding 4:4:4
            (`yuv444p`, H.264 High 4:4:4: no chroma subsampling, so any size is
            legal; PyAV, FFmpeg and decord read it, most browsers do not play
            it). For dataset videos, whose size the annotation records; even
            sizes are encoded `yuv420p` either way.

    Raises:
        ValueError: `fps <= 0` (at construction), a frame that is not
            `(H, W, 3)` uint8 or not the video's size (`write`), or a block that
            wrote no frame (on exit). These are programming errors, hence not
            `StadError`.

        with VideoSink("out.mp4", fps=25) as sink:
            for frame in frames:
                sink.write(frame)
    """

    def __init__(
        self,
        path: PathLike,
        fps: float,
        size: tuple[int, int] | None = None,
        *,
        crf: int = 20,
        preset: str = "veryfast",
        threads: int = 0,
        exact_size: bool = False,
    ):
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.path = Path(path)
        self.fps = float(fps)
        self.size = None if size is None else (int(size[0]), int(size[1]))
        self.frames_written = 0
        self._codec_options = {"crf": str(crf), "preset": preset}
        self._threads = int(threads)  # 0 = FFmpeg's choice; fix it for repeatability
        self._exact = bool(exact_size)
        self._stack: contextlib.ExitStack | None = None
        self._tmp: Path | None = None
        self._container = None
        self._stream = None

    # ---- context manager ---------------------------------------------------------
    def __enter__(self) -> VideoSink:
        self._stack = contextlib.ExitStack()
        self._tmp = self._stack.enter_context(atomic_path(self.path))
        if self.size is not None:
            self._open(*self.size)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        stack, self._stack = self._stack, None
        assert stack is not None, "VideoSink used outside a with-block"
        try:
            if exc_type is None:
                if self._container is None:
                    raise ValueError(f"no frames written to {self.path}")
                for packet in self._stream.encode(None):  # flush the encoder
                    self._container.mux(packet)
                self._container.close()
                self._container = None
        except BaseException:
            self._abort()
            stack.__exit__(*sys.exc_info())
            raise
        if exc_type is not None:
            self._abort()
        stack.__exit__(exc_type, exc, tb)  # renames on success, deletes on error
        return False

    def _abort(self) -> None:
        if self._container is not None:
            with contextlib.suppress(Exception):
                self._container.close()
            self._container = None

    # ---- writing -----------------------------------------------------------------
    def _open(self, width: int, height: int) -> None:
        if width <= 0 or height <= 0:
            raise ValueError(f"bad frame size {width}x{height}")
        self.size = (width, height)
        self._container = av.open(
            str(self._tmp), mode="w", format="mp4",
            options={"movflags": "+faststart"},  # index first: plays while loading
        )
        rate = Fraction(self.fps).limit_denominator(1001000)
        stream = self._container.add_stream("libx264", rate=rate)
        odd = bool(width % 2 or height % 2)
        if odd and self._exact:  # 4:4:4 has no 2x2 chroma blocks: any size
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv444p"
        else:
            stream.width, stream.height = width + width % 2, height + height % 2
            stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = 1 / rate
        options = dict(self._codec_options)
        if self._threads:
            options["threads"] = str(self._threads)
        stream.options = options
        self._stream = stream

    def write(self, frame_bgr: np.ndarray) -> None:
        """Append one frame: a `(height, width, 3)` uint8 BGR array whose size
        matches the video's (`size`, or the first frame's).

        Raises:
            RuntimeError: Called outside the `with` block.
            ValueError: Wrong shape, dtype or size (the message gives the frame
                number, 1-based).
        """
        if self._stack is None:
            raise RuntimeError("VideoSink.write() called outside its with-block")
        frame = np.asarray(frame_bgr)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(
                f"expected an HxWx3 uint8 frame, got {frame.dtype} {frame.shape}"
            )
        h, w = frame.shape[:2]
        if self._container is None:
            self._open(*(self.size or (w, h)))
        if (w, h) != self.size:
            raise ValueError(
                f"frame {self.frames_written + 1} is {w}x{h}, video is "
                f"{self.size[0]}x{self.size[1]}"
            )
        if (w % 2 or h % 2) and not self._exact:
            frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        vframe = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="bgr24")
        vframe.pts = self.frames_written
        for packet in self._stream.encode(vframe):
            self._container.mux(packet)
        self.frames_written += 1
