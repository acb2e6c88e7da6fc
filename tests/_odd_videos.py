"""Tiny videos as phones and `ffmpeg -c copy` make them (issue 14), built in-process.

Everything is written with PyAV (no ffmpeg CLI needed):

- `rotated_clip`: H.264 stored landscape plus a display matrix, as phones store
  portrait video. PyAV >= 15 writes the matrix itself
  (`VideoStream.set_display_rotation`, FFmpeg's mp4 muxer puts it in `tkhd`), so
  no box has to be patched by hand;
- `grey_clip` + `trimmed_clip`: a stream copy whose first packets an edit list
  discards, as `ffmpeg -ss ... -c copy` writes it: the packets are re-muxed with
  their timestamps shifted below zero, and the mp4 muxer writes the `elst` box
  that hides them (checked by `is_discard` in the tests);
- `shifted_clip`: the same packets starting at a non-zero time;
- `vfr_clip`: frames whose durations vary (a phone's variable frame rate).

Grey clips make frame identity easy to check: frame i (0-based, as coded) is
grey level `GREY_STEP * i`.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

GREY_STEP = 4
# The example: 320x240 coded, a white block at x 200-300, y 20-60.
BLOCK = (200, 20, 300, 60)  # x1, y1, x2, y2 in coded pixels


def _encoder(container, width: int, height: int, rate, gop: int,
             codec: str = "libx264"):
    stream = container.add_stream(codec, rate=rate)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    # Near-lossless, no B-frames: grey levels survive to +-1.
    stream.options = {"crf": "1", "g": str(gop), "keyint_min": str(gop),
                      "sc_threshold": "0", "bf": "0"}
    return stream


def rotated_clip(path: Path, rotation: int, nframes: int = 30,
                 size: tuple[int, int] = (320, 240), hflip: bool = False) -> Path:
    """A black H.264 clip, coded `size` (width, height), with a white block at
    `BLOCK` and a display matrix rotating it by `rotation` degrees
    counter-clockwise (FFmpeg's sign: -90 is the issue's portrait phone clip),
    mirrored too with `hflip`."""
    w, h = size
    x1, y1, x2, y2 = BLOCK
    image = np.zeros((h, w, 3), np.uint8)
    image[y1:y2, x1:x2] = 255
    fmt = "mov" if Path(path).suffix.lower() == ".mov" else "mp4"
    with av.open(str(path), "w", format=fmt) as container:
        stream = _encoder(container, w, h, 30, 30)
        stream.set_display_rotation(rotation, hflip=hflip)
        for i in range(nframes):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def grey_clip(path: Path, nframes: int = 60, size: tuple[int, int] = (160, 120),
              fps: int = 30, gop: int = 600,
              durations: Sequence[int] | None = None,
              codec: str = "libx264") -> Path:
    """H.264 mp4 whose frame i (0-based) is grey `GREY_STEP * i`; one keyframe
    unless `gop` is smaller. `durations`: each frame's duration in ms (a
    variable frame rate; time base 1/1000), else a constant `fps`. `codec`:
    `"libx265"` for HEVC."""
    w, h = size
    rate = Fraction(fps) if durations is None else Fraction(1000)
    with av.open(str(path), "w", format="mp4") as container:
        stream = _encoder(container, w, h, rate, gop, codec)
        if durations is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        pts = 0
        for i in range(nframes):
            image = np.full((h, w, 3), GREY_STEP * i % 256, np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = pts
            if durations is not None:
                frame.time_base = Fraction(1, 1000)
                pts += int(durations[i])
            else:
                pts += 1
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def _remux(src: Path, dst: Path, shift_ticks) -> Path:
    """Copy every packet of `src` to `dst` (mp4 unless the suffix says otherwise)
    with `shift_ticks(packet)` added to its timestamps: a stream copy."""
    fmt = {".mkv": "matroska", ".ts": "mpegts"}.get(dst.suffix, "mp4")
    with av.open(str(src)) as inp, av.open(str(dst), "w", format=fmt) as out:
        in_stream = inp.streams.video[0]
        out_stream = out.add_stream_from_template(in_stream)
        for packet in inp.demux(in_stream):
            if packet.dts is None:
                continue
            shift = shift_ticks(packet)
            packet.pts += shift
            packet.dts += shift
            packet.stream = out_stream
            out.mux(packet)
    return dst


def trimmed_clip(src: Path, dst: Path, discard: int = 10) -> Path:
    """`src` stream-copied with its first `discard` frames hidden by an mp4 edit
    list (what `ffmpeg -ss <t> -i src -c copy dst` writes when `t` falls after
    a keyframe): the packets stay, players start at frame `discard` + 1."""
    return _remux(src, dst, lambda p: -discard * p.duration)


def shifted_clip(src: Path, dst: Path, seconds: float) -> Path:
    """`src` stream-copied to start `seconds` late (a non-zero start time)."""
    def shift(packet) -> int:
        return round(seconds / float(packet.time_base))

    return _remux(src, dst, shift)


def vfr_clip(path: Path, nframes: int = 40, size: tuple[int, int] = (160, 120)
             ) -> tuple[Path, np.ndarray]:
    """A grey clip whose first half runs at 30 fps, the second at 10 fps; also
    returns every frame's time in seconds (from the first frame)."""
    durations = [33] * (nframes // 2) + [100] * (nframes - nframes // 2)
    times = np.concatenate([[0], np.cumsum(durations)[:-1]]) / 1000.0
    return grey_clip(path, nframes, size, durations=durations), times


def tail_clip(src: Path, dst: Path) -> Path:
    """`src` stream-copied plus one last packet that holds no picture (an H.264
    access unit delimiter): the file lists one frame more than decodes, like the
    mp4 whose player slider reaches frame 456 while 455 decode."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", format="mp4") as out:
        in_stream = inp.streams.video[0]
        out_stream = out.add_stream_from_template(in_stream)
        last = None
        for packet in inp.demux(in_stream):
            if packet.dts is None:
                continue
            last = (packet.pts, packet.dts, packet.duration)
            packet.stream = out_stream
            out.mux(packet)
        hevc = in_stream.codec_context.name == "hevc"  # an access unit delimiter
        extra = av.Packet(b"\x00\x00\x00\x03\x46\x01\x50" if hevc
                          else b"\x00\x00\x00\x02\x09\xf0")  # length-prefixed
        extra.pts, extra.dts = last[0] + last[2], last[1] + last[2]
        extra.duration, extra.time_base = last[2], in_stream.time_base
        extra.stream = out_stream
        out.mux(extra)
    return dst
