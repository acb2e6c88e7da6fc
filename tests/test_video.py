"""stad_helpers.video: probe, iter_frames and VideoSink on tiny videos."""

from __future__ import annotations

import inspect
from pathlib import Path

import av
import numpy as np
import pytest

from stad_helpers.errors import StadError
from stad_helpers.video import VideoInfo, VideoSink, iter_frames, probe

N, W, H = 30, 96, 64


def _frames(n: int = N, w: int = W, h: int = H) -> list[np.ndarray]:
    """Smooth frames (H.264 keeps them close) that differ from frame to frame."""
    yy, xx = np.mgrid[0:h, 0:w]
    out = []
    for i in range(n):
        f = np.empty((h, w, 3), np.uint8)
        f[..., 0] = (xx * 255 // max(1, w - 1) + 3 * i) % 256  # B: ramp, moving
        f[..., 1] = yy * 255 // max(1, h - 1)  # G: vertical ramp
        f[..., 2] = (40 + 6 * i) % 256  # R: flat, frame-dependent
        out.append(f)
    return out


def _write(path: Path, frames: list[np.ndarray], fps: float = 25.0, **kw) -> Path:
    with VideoSink(path, fps, **kw) as sink:
        for f in frames:
            sink.write(f)
    return path


@pytest.fixture(scope="session")
def clip(tmp_path_factory) -> Path:
    return _write(tmp_path_factory.mktemp("video") / "clip.mp4", _frames())


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_sink_writes_browser_playable_h264(clip):
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert container.format.name.startswith("mov,mp4")
    # faststart: the index ('moov') comes before the media data ('mdat').
    data = clip.read_bytes()
    assert 0 <= data.find(b"moov") < data.find(b"mdat")


def test_probe_counts_frames(clip):
    info = probe(clip)
    assert info == VideoInfo(nframes=N, height=H, width=W, fps=25.0)
    assert probe(clip, exact=False).nframes == N


def test_iter_frames_round_trip(clip):
    gen = iter_frames(clip)
    assert inspect.isgenerator(gen)
    decoded = list(gen)
    assert len(decoded) == N
    originals = _frames()
    for got, want in zip(decoded, originals):
        assert got.shape == (H, W, 3) and got.dtype == np.uint8
        assert np.abs(got.astype(int) - want).mean() < 4
    # Frame order is kept: the red level steps by 6 per frame.
    reds = [f[..., 2].mean() for f in decoded]
    assert np.all(np.diff(reds) > 3)


def test_iter_frames_rgb(clip):
    bgr = next(iter_frames(clip))
    rgb = next(iter_frames(clip, rgb=True))
    assert np.abs(rgb[..., ::-1].astype(int) - bgr).max() <= 1


def test_sink_fractional_fps_and_odd_size(tmp_path):
    path = _write(tmp_path / "odd.mp4", _frames(5, 63, 47), fps=30000 / 1001)
    info = probe(path)
    assert (info.nframes, info.width, info.height) == (5, 64, 48)  # padded to even
    assert info.fps == pytest.approx(29.97, abs=0.01)
    first = next(iter_frames(path))
    assert np.abs(first[:47, :63].astype(int) - _frames(1, 63, 47)[0]).mean() < 4


def test_sink_leaves_nothing_when_block_raises(tmp_path):
    with pytest.raises(RuntimeError, match="boom"):
        with VideoSink(tmp_path / "bad.mp4", 25) as sink:
            for f in _frames(5):
                sink.write(f)
            raise RuntimeError("boom")
    assert _leftovers(tmp_path) == []


def test_sink_rejects_wrong_size_and_empty(tmp_path):
    with pytest.raises(ValueError, match="96x64"):
        with VideoSink(tmp_path / "size.mp4", 25, size=(96, 64)) as sink:
            sink.write(_frames(1, 80, 64)[0])
    with pytest.raises(ValueError, match="no frames"):
        with VideoSink(tmp_path / "empty.mp4", 25):
            pass
    assert _leftovers(tmp_path) == []


def test_sink_overwrites_atomically(tmp_path):
    path = _write(tmp_path / "v.mp4", _frames(4))
    with pytest.raises(RuntimeError):
        with VideoSink(path, 25) as sink:
            sink.write(_frames(1)[0])
            raise RuntimeError
    assert probe(path).nframes == 4  # the old file is untouched
    assert _leftovers(tmp_path) == ["v.mp4"]


@pytest.mark.parametrize("keep", [0.6, 0.97, 0.02])
def test_truncated_mp4_is_an_error_naming_the_file(clip, tmp_path, keep):
    data = clip.read_bytes()
    bad = tmp_path / "truncated.mp4"
    bad.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(StadError, match="truncated.mp4"):
        probe(bad)
    with pytest.raises(StadError, match="truncated.mp4") as exc:
        for _ in iter_frames(bad):
            pass
    if keep > 0.5:  # the index survived: the error says where the data stops
        assert "frame" in str(exc.value)


def test_truncated_between_frames_is_an_error(clip, tmp_path):
    # Cut exactly where frame 11 starts: every packet left is whole, but the index
    # declares more frames than the file holds.
    with av.open(str(clip)) as container:
        starts = [p.pos for p in container.demux(container.streams.video[0]) if p.size]
    bad = tmp_path / "short.mp4"
    bad.write_bytes(clip.read_bytes()[: starts[10]])
    with pytest.raises(StadError, match=r"short\.mp4: only 10 of the 30 frames"):
        probe(bad)
    with pytest.raises(StadError, match=r"short\.mp4: only 10 of the 30 frames"):
        list(iter_frames(bad))
    assert probe(bad, exact=False).nframes == N  # the header alone is fooled


def test_missing_and_non_video_files(tmp_path):
    with pytest.raises(StadError, match="nope.mp4"):
        probe(tmp_path / "nope.mp4")
    with pytest.raises(StadError, match="nope.mp4"):
        next(iter_frames(tmp_path / "nope.mp4"))
    text = tmp_path / "notes.mp4"
    text.write_text("not a video at all\n" * 50)
    with pytest.raises(StadError, match="notes.mp4"):
        probe(text)
    with pytest.raises(StadError, match="notes.mp4"):
        list(iter_frames(text))
