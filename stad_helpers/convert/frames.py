"""Videos -> rawframes `<sport>/<video>/00001.jpg` (`stad convert frames`).

The tutorial's `generate_rgb.py` handles one hard-coded sport, one frame at a
time, and cannot tell a finished folder from one an interrupted run left
behind. Here:

- every sport folder is found (`<root>/<sport>/<video>.mp4`). If the root
  has `trainval/` or `test/` (a MultiSports root), the videos of both go into
  the same `OUT/<sport>/<video>/` folders: AVA keys and detector file names
  have no split in them, so one frames folder serves train and val;
- work is spread over processes (one per two cores), and within each over
  threads: FFmpeg decodes on frame threads while two threads encode and
  write. Each video is first indexed (its packets demuxed, no decoding: the
  frame count, and where the keyframes are), then cut at keyframes into chunks
  of similar size, so a few long videos still keep every process busy; a chunk
  decodes from its keyframe, no frame twice;
- frames are JPEG-encoded straight from the decoder's Y, U, V planes where
  they are 4:2:0 and BT.601 or untagged (which OpenCV decodes as BT.601 too),
  skipping the YUV->BGR->YCbCr round trip (`_JpegEncoder`); other frames go
  through BGR and OpenCV's encoder. Either way the JPEG is 4:2:0, like
  `cv2.imwrite`'s;
- a folder is complete only when its marker `.done` exists (JSON: frame count,
  size, source). It is written last, after every frame of every chunk, and the
  number of frames written must equal the number of frames in the file (a
  truncated or corrupt video is an error naming it, its folder removed). A
  later run skips complete folders and redoes any other from scratch;
- frames are written as players show them (issue 14): upright (a phone's
  display rotation applied, `video.upright`; the marker records the displayed
  size), and only the frames shown: packets an mp4 edit list discards (a file
  cut with `ffmpeg -c copy`) are not frames, so `00001.jpg` is the first frame
  shown, as in `video.iter_frames`, `video.probe` and decord.

JPEG quality 95 is OpenCV's default, i.e. what `generate_rgb.py` writes. The
pixels differ from its output by ~1.5 grey levels on average: OpenCV's
YUV->BGR conversion (swscale's) comes out ~1.2 levels darker than the BT.601
formula, which the plane path follows (see tests/test_convert_frames.py).

Used in: 02_person_detector, 03_action_detector.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import (
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from ..data import layout
from ..errors import StadError
from ..fileio import atomic_open, claim_output_dir

MARKER = ".done"
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm")
SPLIT_DIRS = layout.VIDEO_DIRS
JPEG_QUALITY = 95
MIN_CHUNK = 96  # frames; smaller pieces cost more in seeking than they balance
# Each process decodes and encodes on threads (both release the GIL), so one
# process fills about two cores and a process left alone at the end of a run
# still does. FFmpeg's frame threads wait on each other's reference frames:
# one more than the cores keeps them busy (measured: 3 beat 2 by ~8%).
CORES_PER_PROCESS = 2
DECODE_THREADS = 3
ENCODE_THREADS = 2


@dataclass
class FramesSummary:
    """What `extract_frames` did."""

    out_dir: Path
    videos: int = 0  # videos found
    extracted: int = 0  # extracted by this run
    skipped: int = 0  # already complete
    frames: int = 0  # frames written by this run
    seconds: float = 0.0

    @property
    def frames_per_second(self) -> float:
        """Frames written per second of wall time by this run (0.0 if none)."""
        return self.frames / self.seconds if self.seconds else 0.0

    def __str__(self) -> str:
        return (f"{self.videos} videos: {self.extracted} extracted ({self.frames} "
                f"frames, {self.frames_per_second:.0f} frames/s), {self.skipped} "
                f"already complete -> {self.out_dir}")


@dataclass(frozen=True)
class _Video:
    key: str  # 'sport/name'
    src: Path
    dest: Path


@dataclass(frozen=True)
class _Index:
    """What demuxing a video tells: frames in presentation order, keyframes."""

    nframes: int
    height: int  # as coded (before the display rotation)
    width: int
    pts: tuple  # presentation timestamps, sorted (frame i has pts[i]); () if unknown
    keyframes: tuple  # frame indices where decoding can start
    rotation: int = 0  # display rotation, degrees counter-clockwise (video.probe)

    @property
    def displayed(self) -> tuple[int, int]:
        """(height, width) of the upright frames written."""
        return ((self.width, self.height) if self.rotation % 180
                else (self.height, self.width))


def extract_frames(
    videos_root: str | os.PathLike,
    out_dir: str | os.PathLike,
    workers: int | None = None,
    progress: bool = True,
    quality: int = JPEG_QUALITY,
) -> FramesSummary:
    """Extract every video under `videos_root` to `out_dir/<sport>/<video>/%05d.jpg`.

    `workers`: processes (default: one per two cores; each decodes and
    encodes on threads, see `CORES_PER_PROCESS`).

    The rawframes layout of MMAction2's STAD tutorial and AVA configs
    (`filename_tmpl='{:05}.jpg'`, 1-based: `00001.jpg` is the first frame);
    videos already extracted completely are skipped.

    Args:
        videos_root: A folder of `<sport>/<video>.mp4`, or a MultiSports root
            (its `trainval/` and `test/`).
        out_dir: The rawframes folder to write (created, or one this project
            made before).
        workers: Processes (see above).
        progress: Show a tqdm bar.
        quality: JPEG quality, 1-100.

    Returns:
        A `FramesSummary` (videos found, extracted, skipped; frames written).

    Raises:
        StadError: No videos found, two videos that would share a folder,
            `out_dir` a file or a folder the project did not make (or an input),
            or videos that could not be decoded (all listed; the others are
            extracted).
    """
    start = time.perf_counter()
    out_dir = Path(out_dir)
    videos = find_videos(videos_root, out_dir)
    # Only a folder this function made is written into (its unfinished video
    # folders are removed): never an input or a folder of the user's.
    claim_output_dir(out_dir, kind="frames", inputs=[videos_root],
                     legacy=_frames_layout)
    summary = FramesSummary(out_dir, videos=len(videos))
    todo = [v for v in videos if not is_complete(v.dest, v.src)]
    summary.skipped = len(videos) - len(todo)
    workers = max(1, workers or -(-_cpu_count() // CORES_PER_PROCESS))

    from tqdm.auto import tqdm

    errors: list[str] = []
    with contextlib.closing(_run(todo, workers, quality)) as results:
        next(results)  # workers start before tqdm starts its monitor thread
        with tqdm(total=len(todo), unit="video", desc="extracting frames",
                  disable=not progress or not todo) as bar:
            for video, result in results:
                if isinstance(result, Exception):
                    shutil.rmtree(video.dest, ignore_errors=True)
                    errors.append(str(result))
                else:
                    summary.extracted += 1
                    summary.frames += result
                bar.update(1)
                rate = summary.frames / max(time.perf_counter() - start, 1e-9)
                bar.set_postfix_str(f"{rate:.0f} frames/s")
    summary.seconds = time.perf_counter() - start
    if errors:
        raise StadError(
            f"{len(errors)} of {len(todo)} videos could not be extracted (their "
            "folders were removed; the others are complete):\n  " + "\n  ".join(errors),
            videos_root)
    return summary


def find_videos(videos_root: str | os.PathLike,
                out_dir: str | os.PathLike = ".") -> list[_Video]:
    """Every `<sport>/<video>.<ext>` under `videos_root` (or its trainval/, test/).

    Args:
        videos_root: A folder of `<sport>/<video>.<ext>`, or one holding
            `trainval/` and `test/` such folders.
        out_dir: The rawframes folder the videos' frame folders go in.

    Returns:
        One entry per video (`key` 'sport/name', `src`, `dest`), sorted.

    Raises:
        StadError: `videos_root` is missing, holds no videos, or two videos with
            the same key (e.g. in both trainval/ and test/).
    """
    root = Path(videos_root)
    if not root.is_dir():
        raise StadError("videos folder not found", root)
    split_roots = [root / d for d in SPLIT_DIRS if (root / d).is_dir()]
    found: dict[str, Path] = {}
    for base in split_roots or [root]:
        for sport in sorted(p for p in base.iterdir() if p.is_dir()):
            for src in sorted(sport.iterdir()):
                if src.suffix.lower() not in VIDEO_SUFFIXES or src.name.startswith("."):
                    continue
                key = f"{sport.name}/{src.stem}"
                if key in found:
                    raise StadError(f"video {key!r} is both {found[key]} and {src}; "
                                    "their frames would share one folder", root)
                found[key] = src
    if not found:
        suffix = layout.VIDEO_SUFFIX
        raise StadError(f"no videos found (expected <sport>/<video>{suffix} files, or "
                        f"{layout.TRAINVAL}/ and {layout.TEST}/ folders holding them)",
                        root)
    return [_Video(k, s, Path(out_dir) / k) for k, s in found.items()]


def _frames_layout(out_dir: Path) -> bool:
    """True for a frames folder written before output folders were marked: only
    `<sport>/<video>/` folders, at least one of them finished (`MARKER`)."""
    sports = [p for p in out_dir.iterdir() if not p.name.startswith(".")]
    videos = [v for s in sports if s.is_dir() for v in s.iterdir()]
    return (all(s.is_dir() for s in sports) and all(v.is_dir() for v in videos)
            and any((v / MARKER).is_file() for v in videos))


def is_complete(dest: str | os.PathLike, src: str | os.PathLike | None = None) -> bool:
    """True if `dest` holds all frames of a finished extraction (of `src`, if given)."""
    marker = read_marker(dest)
    if marker is None:
        return False
    if src is not None and marker.get("source_bytes") != _size(src):
        return False  # the video changed since
    return _count_jpgs(dest) == marker.get("frames")


def read_marker(dest: str | os.PathLike) -> dict | None:
    """The `.done` marker of a frames folder, or None if absent or unreadable."""
    try:
        marker = json.loads((Path(dest) / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) and "frames" in marker else None


# ---------------------------------------------------------------------------
# scheduling
# ---------------------------------------------------------------------------
def _run(todo: list[_Video], workers: int, quality: int) -> Iterator[tuple | None]:
    """Yield None once the workers run, then (video, frames or exception) as
    videos finish."""
    if not todo or workers == 1:
        yield None
        for video in todo:
            try:
                yield video, _extract_whole(video, quality)
            except StadError as exc:
                yield video, exc
        return
    total_hint = len(todo)
    with ProcessPoolExecutor(workers, mp_context=_mp_context()) as pool:
        pending: dict[Future, tuple] = {}
        state: dict[str, dict] = {}
        # Index every video first (cheap); extraction chunks follow as they come in.
        for video in sorted(todo, key=lambda v: -_size(v.src)):
            pending[pool.submit(_index_video, str(video.src))] = ("index", video)
        try:
            yield None
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    kind, video, *rest = pending.pop(fut)
                    st = state.setdefault(video.key, {"failed": False, "left": 0,
                                                      "frames": 0})
                    if st["failed"]:
                        continue
                    try:
                        result = fut.result()
                    except StadError as exc:
                        st["failed"] = True
                        yield video, exc
                        continue
                    if kind == "index":
                        index: _Index = result
                        st["index"] = index
                        shutil.rmtree(video.dest, ignore_errors=True)
                        video.dest.mkdir(parents=True)
                        chunks = _chunks(index, workers, total_hint)
                        st["left"] = len(chunks)
                        for a, b in chunks:
                            f = pool.submit(_extract_chunk, str(video.src),
                                            str(video.dest), index, a, b, quality)
                            pending[f] = ("chunk", video)
                    else:
                        st["frames"] += result
                        st["left"] -= 1
                        if st["left"] == 0:
                            _finish(video, st["index"], st["frames"])
                            yield video, st["frames"]
        except BaseException:
            for fut in pending:
                fut.cancel()
            raise


def _chunks(index: _Index, workers: int, n_videos: int) -> list[tuple[int, int]]:
    """Frame ranges [a, b) starting at keyframes, about equal, for the pool."""
    n = index.nframes
    if not index.pts or n_videos >= 4 * workers:
        return [(0, n)]  # enough videos to balance the pool; no seeking
    per_video = -(-4 * workers // n_videos)  # about 4 pieces of work per process
    target = max(MIN_CHUNK, n // per_video)
    starts = [0]
    for k in index.keyframes:
        if k - starts[-1] >= target and n - k >= MIN_CHUNK // 2:
            starts.append(k)
    return list(zip(starts, starts[1:] + [n]))


def _finish(video: _Video, index: _Index, frames: int) -> None:
    if frames != index.nframes:  # pragma: no cover - chunks check their own counts
        raise StadError(f"wrote {frames} frames, the video has {index.nframes}",
                        video.src)
    height, width = index.displayed
    marker = {"frames": frames, "height": height, "width": width,
              "source": str(video.src), "source_bytes": _size(video.src)}
    with atomic_open(video.dest / MARKER, "w") as fh:
        json.dump(marker, fh)


def _extract_whole(video: _Video, quality: int) -> int:
    """The one-process path: index, extract, mark (the caller cleans up on error)."""
    index = _index_video(str(video.src))
    shutil.rmtree(video.dest, ignore_errors=True)
    video.dest.mkdir(parents=True)
    frames = _extract_chunk(str(video.src), str(video.dest), index, 0, index.nframes,
                            quality)
    _finish(video, index, frames)
    return frames


# ---------------------------------------------------------------------------
# work done in the worker processes
# ---------------------------------------------------------------------------
def _index_video(src: str) -> _Index:
    """Demux (not decode) every packet: frame count, pts order, keyframes.

    Packets an edit list discards are left out (the decoder drops their frames);
    the first frame is decoded for the display rotation."""
    import av

    from ..video import _first_rotation, _picture_test  # as video.probe does

    with _opened(src) as (container, stream):
        width, height = stream.codec_context.width, stream.codec_context.height
        declared = int(stream.frames or 0)
        pts, keys = [], []
        packets, rotation = 0, None
        holds_picture = _picture_test(stream)
        try:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                packets += 1
                if packet.is_corrupt:
                    raise StadError(f"video data ends inside frame {len(pts) + 1} "
                                    "(file truncated or corrupt)", src)
                if rotation is None:
                    rotation = _first_rotation(packet.decode(), src)
                # Not a frame: hidden by an edit list, or no picture in it.
                if packet.is_discard or not holds_picture(packet):
                    continue
                pts.append(packet.pts)
                keys.append(bool(packet.is_keyframe))
            if rotation is None:
                rotation = _first_rotation(stream.decode(None), src)
        except (av.error.FFmpegError, OSError, EOFError) as exc:
            raise StadError(f"cannot read frame {len(pts) + 1} ({exc})", src) from None
    if not pts:
        raise StadError("video has no frames", src)
    if declared and packets < declared:
        raise StadError(f"only {packets} of the {declared} frames the file declares "
                        "can be read (file truncated?)", src)
    if width <= 0 or height <= 0:
        raise StadError("video stream has no frame size (corrupt header?)", src)
    if any(p is None for p in pts) or len(set(pts)) != len(pts):
        return _Index(len(pts), height, width, (), (), rotation or 0)  # one chunk
    order = sorted(range(len(pts)), key=pts.__getitem__)
    rank = {i: r for r, i in enumerate(order)}
    # Decoding can start at keyframe packet i if it is also frame i and every
    # later packet shows a later frame (no open GOP reaching back over it).
    keyframes, later_min = [], len(pts)
    for i in range(len(pts) - 1, 0, -1):
        if keys[i] and rank[i] == i < later_min:
            keyframes.append(i)
        later_min = min(later_min, rank[i])
    return _Index(len(pts), height, width, tuple(pts[i] for i in order),
                  tuple(sorted(keyframes)), rotation or 0)


def _extract_chunk(src: str, dest: str, index: _Index, a: int, b: int,
                   quality: int) -> int:
    """Decode frames [a, b) (0-based) and write them as dest/%05d.jpg (1-based).

    FFmpeg decodes on `DECODE_THREADS` frame threads while `ENCODE_THREADS`
    threads encode and write; at most 2 * `ENCODE_THREADS` decoded frames wait
    for an encoder.
    """
    import av

    encode = _JpegEncoder(index.width, index.height, quality)
    position = {p: i for i, p in enumerate(index.pts)} if index.pts else None
    waiting: deque[Future] = deque()
    written = 0
    with _opened(src) as (container, stream):
        stream.codec_context.thread_count = DECODE_THREADS
        stream.codec_context.thread_type = "FRAME"
        pool = ThreadPoolExecutor(ENCODE_THREADS, thread_name_prefix="jpeg")
        i = a - 1
        try:
            if a > 0:
                container.seek(index.pts[a], stream=stream, backward=True)
            for frame in container.decode(stream):
                if position is None:
                    i += 1
                elif frame.pts in position:
                    i = position[frame.pts]
                else:
                    raise StadError(f"decoded a frame with timestamp {frame.pts}, "
                                    "which no packet has (corrupt video?)", src)
                if i < a:
                    continue
                if i >= b:
                    break
                waiting.append(pool.submit(_save, encode, frame, dest, i + 1))
                if len(waiting) > 2 * ENCODE_THREADS:
                    written += waiting.popleft().result()
            while waiting:
                written += waiting.popleft().result()
        except (av.error.FFmpegError, OSError, EOFError) as exc:
            raise StadError(f"cannot decode frame {i + 2} ({type(exc).__name__}: "
                            f"{exc})", src) from None
        finally:
            pool.shutdown(cancel_futures=True)
    if written != b - a:
        raise StadError(f"decoded {written} of frames {a + 1}..{b}; the file holds "
                        f"{index.nframes} frames (truncated or corrupt video?)", src)
    return written


def _save(encode: _JpegEncoder, frame, dest: str, number: int) -> int:
    """Encode a frame and write it as dest/<number>.jpg; 1 (frames written)."""
    data = encode(frame)
    try:
        with open(os.path.join(dest, layout.rawframe_name(number)), "wb") as fh:
            fh.write(data)
    except OSError as exc:
        raise StadError(f"could not write frame {number} ({exc})", dest) from None
    return 1


# AVColorSpace values whose YCbCr is JPEG's (BT.601), and 2: unspecified, which
# swscale (so OpenCV's VideoCapture, so `generate_rgb.py`) also decodes as BT.601.
# (OpenCV 4.11 decodes BT.709-tagged streams as BT.601 too, and so does
# `_BgrConverter`; PyAV's `to_ndarray` honours the tag.)
_BT601_SPACES = frozenset({2, 5, 6})  # unspecified, BT470BG, SMPTE170M
_FULL_RANGE = 2  # AVColorRange JPEG; 0 (unspecified) and 1 mean limited (MPEG)


def plane_path_ok(frame) -> bool:
    """True if `frame` can be JPEG-encoded from its own Y, U, V planes: 4:2:0,
    8-bit, BT.601 or untagged, even width and height."""
    return (frame.format.name in ("yuv420p", "yuvj420p")
            and frame.colorspace in _BT601_SPACES
            and frame.width % 2 == 0 and frame.height % 2 == 0)


class _JpegEncoder:
    """Decoded frame -> JPEG bytes, 4:2:0 at `quality` (what `cv2.imwrite` writes).

    A 4:2:0 BT.601 frame (`plane_path_ok`) goes to libjpeg-turbo as its Y, U, V
    planes (simplejpeg): no YUV->BGR->YCbCr round trip, no chroma downsampling.
    JPEG's YCbCr is full range; the usual limited-range H.264 planes (Y 16-235,
    C 16-240) are stretched to it first, into buffers reused from frame to frame,
    so the JPEG decodes to the BGR of the BT.601 formula (what `cv2.cvtColor`
    gives; OpenCV's VideoCapture comes out ~1.2 levels darker). Any other frame
    (BT.709-tagged, 4:2:2, 4:4:4, 10-bit, odd size: libjpeg-turbo wants planes
    padded to even sizes) is converted to BGR and encoded by OpenCV.
    """

    def __init__(self, width: int, height: int, quality: int):
        self.size = (width, height)
        self.quality = int(quality)
        self._local = threading.local()  # buffers, one set per encoding thread

    def __call__(self, frame) -> bytes | np.ndarray:
        import simplejpeg

        if not plane_path_ok(frame):
            return self._via_bgr(frame)
        planes = [np.frombuffer(p, np.uint8).reshape(-1, p.line_size)
                  for p in frame.planes]
        w, h = frame.width, frame.height
        y, u, v = (planes[0][:h, :w], planes[1][:h // 2, :w // 2],
                   planes[2][:h // 2, :w // 2])
        if frame.format.name == "yuv420p" and frame.color_range != _FULL_RANGE:
            y, u, v = self._stretch(y, u, v)
        if frame.rotation:  # upright: each 4:2:0 plane turns on its own
            from ..video import upright

            y, u, v = (upright(p, frame.rotation) for p in (y, u, v))
        return simplejpeg.encode_jpeg_yuv_planes(y, u, v, quality=self.quality)

    def _stretch(self, y, u, v) -> list[np.ndarray]:
        """Limited -> full range, to the nearest level (what a lookup table gives,
        checked for all 256 values; cv2.addWeighted is twice as fast as cv2.LUT)."""
        import cv2

        full = getattr(self._local, "full", None)
        if full is None or full[0].shape != y.shape:
            full = self._local.full = [np.empty(p.shape, np.uint8) for p in (y, u, v)]
        cy, cc = 255 / 219, 255 / 224
        cv2.addWeighted(y, cy, y, 0, -16 * cy, dst=full[0])
        cv2.addWeighted(u, cc, u, 0, 128 - 128 * cc, dst=full[1])
        cv2.addWeighted(v, cc, v, 0, 128 - 128 * cc, dst=full[2])
        return full

    def _via_bgr(self, frame) -> np.ndarray:
        import cv2

        to_bgr = getattr(self._local, "to_bgr", None)
        if to_bgr is None:
            to_bgr = self._local.to_bgr = _BgrConverter(*self.size)
        from ..video import upright

        ok, data = cv2.imencode(".jpg", upright(to_bgr(frame), frame.rotation),
                                [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:  # pragma: no cover - OpenCV encodes any 8-bit BGR image
            raise StadError("OpenCV could not encode a frame as JPEG")
        return data


class _BgrConverter:
    """Decoded frame -> BGR array, in buffers reused from frame to frame.

    A fresh 2.7 MB array per 720p frame (what `to_ndarray` returns) costs more
    than the colour conversion itself on machines where new memory is slow to
    fault in. For the usual limited-range yuv420p the planes are copied into one
    I420 buffer and converted by OpenCV (BT.601, as OpenCV's own VideoCapture
    does); any other format goes through PyAV.
    """

    def __init__(self, width: int, height: int):
        self.size = (width, height)
        self.fast = width % 2 == 0 and height % 2 == 0
        if self.fast:
            w, h = width, height
            self.yuv = np.empty((h * 3 // 2, w), np.uint8)
            flat = self.yuv.reshape(-1)
            q = (h // 2) * (w // 2)
            self.planes = (self.yuv[:h], flat[h * w:h * w + q].reshape(h // 2, w // 2),
                           flat[h * w + q:].reshape(h // 2, w // 2))
            self.bgr = np.empty((h, w, 3), np.uint8)

    def __call__(self, frame) -> np.ndarray:
        import cv2

        if not (self.fast and frame.format.name == "yuv420p"
                and (frame.width, frame.height) == self.size
                and frame.color_range != 2):  # 2: full ("JPEG") range
            return frame.to_ndarray(format="bgr24")
        for dst, plane in zip(self.planes, frame.planes):
            rows = np.frombuffer(plane, np.uint8).reshape(dst.shape[0], plane.line_size)
            np.copyto(dst, rows[:, :dst.shape[1]])
        return cv2.cvtColor(self.yuv, cv2.COLOR_YUV2BGR_I420, dst=self.bgr)


@contextlib.contextmanager
def _opened(src: str):
    """`with _opened(path) as (container, stream)`: the first video stream."""
    import av

    try:
        container = av.open(src)
    except (av.error.FFmpegError, OSError) as exc:
        raise StadError(f"cannot open video ({exc}); truncated or not a video?",
                        src) from None
    try:
        if not container.streams.video:
            raise StadError("no video stream in file", src)
        yield container, container.streams.video[0]
    finally:
        container.close()


# ---------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------
def _count_jpgs(dest: str | os.PathLike) -> int:
    try:
        return sum(1 for e in os.scandir(dest) if e.name.endswith(".jpg"))
    except OSError:
        return -1


def _size(path: str | os.PathLike) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return -1


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _mp_context():
    """fork when this process runs no other thread (fast: workers start with the
    modules loaded), else forkserver (forking a threaded process, e.g. a notebook
    kernel, can deadlock), else the platform's spawn."""
    import multiprocessing
    import threading

    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return get_context("fork")
    return get_context("forkserver" if "forkserver" in methods else "spawn")
