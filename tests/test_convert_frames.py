"""`stad convert frames`: rawframes that are complete, resumable and checked."""

from __future__ import annotations

import importlib
import json
import os
import shutil
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from stad_helpers.cli import main as cli
from stad_helpers.convert import extract_frames
from stad_helpers.convert.frames import (
    MARKER,
    _index_video,
    find_videos,
    is_complete,
    plane_path_ok,
)
from stad_helpers.data import layout
from stad_helpers.data.synth import plan_demo, write_video
from stad_helpers.errors import StadError
from stad_helpers.video import iter_frames

frames_module = importlib.import_module("stad_helpers.convert.frames")

W, H = 96, 64


def _frame(t: int, seed: int) -> np.ndarray:
    """A frame whose content changes with t (a moving bar on a gradient)."""
    img = np.zeros((H, W, 3), np.uint8)
    img[..., 0] = np.linspace(0, 255, W, dtype=np.uint8)[None, :]
    img[..., 1] = (seed * 40) % 256
    x = (3 * t) % (W - 10)
    img[:, x:x + 10, 2] = 255
    return img


def _write_video(path: Path, n: int, seed: int = 0, gop: int = 250,
                 pix_fmt: str = "yuv420p", x264_params: str = "") -> Path:
    """An H.264 mp4 with a keyframe every `gop` frames (written with PyAV)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(25))
        stream.width, stream.height, stream.pix_fmt = W, H, pix_fmt
        stream.codec_context.gop_size = gop
        stream.options = {"preset": "ultrafast", "keyint_min": str(gop),
                          "sc_threshold": "0", "bf": "2"}
        if x264_params:
            stream.options = {**stream.options, "x264-params": x264_params}
        for t in range(n):
            frame = av.VideoFrame.from_ndarray(_frame(t, seed), format="bgr24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


@pytest.fixture(scope="session")
def videos(tmp_path_factory) -> Path:
    """A MultiSports-like root: trainval/ with two sports, test/ with one video."""
    root = tmp_path_factory.mktemp("videos")
    _write_video(root / "trainval/aerobics/v_a_c001.mp4", 30, seed=1)
    _write_video(root / "trainval/aerobics/v_a_c002.mp4", 45, seed=2)
    _write_video(root / "trainval/football/v_b_c001.mp4", 240, seed=3, gop=24)
    _write_video(root / "test/football/v_c_c001.mp4", 20, seed=4)
    (root / "trainval/football/notes.txt").write_text("not a video")
    return root


def _jpgs(folder: Path) -> list[str]:
    return sorted(n for n in os.listdir(folder) if n.endswith(".jpg"))


def test_extracts_every_sport_and_split_with_markers(videos, tmp_path):
    out = tmp_path / "rawframes"
    summary = extract_frames(videos, out, workers=2, progress=False)
    expected = {"aerobics/v_a_c001": 30, "aerobics/v_a_c002": 45,
                "football/v_b_c001": 240, "football/v_c_c001": 20}
    assert summary.videos == summary.extracted == 4 and summary.skipped == 0
    assert summary.frames == sum(expected.values())
    for key, n in expected.items():
        folder = out / key
        assert _jpgs(folder) == [f"{i:05d}.jpg" for i in range(1, n + 1)]
        marker = json.loads((folder / MARKER).read_text())
        assert marker["frames"] == n and (marker["height"], marker["width"]) == (H, W)
        assert is_complete(folder)
    # The content is the video's, frame by frame (JPEG is lossy: compare loosely).
    src = videos / "trainval/football/v_b_c001.mp4"
    for i, decoded in enumerate(iter_frames(src), 1):
        jpg = cv2.imread(str(layout.rawframe_path(out, "football/v_b_c001", i)))
        assert np.abs(jpg.astype(int) - decoded).mean() < 4, i


def test_chunked_extraction_equals_sequential(videos, tmp_path):
    src = videos / "trainval/football/v_b_c001.mp4"
    index = _index_video(str(src))
    assert index.nframes == 240 and len(index.keyframes) >= 5  # a keyframe every 24
    one, many = tmp_path / "one", tmp_path / "many"
    (one / "football").mkdir(parents=True)
    (many / "football").mkdir(parents=True)
    solo = tmp_path / "solo"
    (solo / "football").mkdir(parents=True)
    shutil.copy(src, solo / "football" / src.name)
    extract_frames(solo, one, workers=1, progress=False)
    extract_frames(solo, many, workers=4, progress=False)  # 1 video -> 2+ chunks
    names = _jpgs(one / "football/v_b_c001")
    assert names == _jpgs(many / "football/v_b_c001") and len(names) == 240
    for name in names:
        assert (one / "football/v_b_c001" / name).read_bytes() == \
            (many / "football/v_b_c001" / name).read_bytes(), name


def test_workers_started_without_fork(videos, tmp_path, monkeypatch):
    """Notebook kernels run threads, so workers then start by forkserver/spawn."""
    import multiprocessing

    method = "forkserver" if "forkserver" in \
        multiprocessing.get_all_start_methods() else "spawn"
    monkeypatch.setattr(frames_module, "_mp_context",
                        lambda: multiprocessing.get_context(method))
    summary = extract_frames(videos / "test", tmp_path / "f", workers=2,
                             progress=False)
    assert summary.frames == 20 and is_complete(tmp_path / "f/football/v_c_c001")


def test_resume_skips_complete_and_redoes_partial(videos, tmp_path):
    out = tmp_path / "rawframes"
    extract_frames(videos, out, workers=2, progress=False)
    done, partial = out / "aerobics/v_a_c001", out / "aerobics/v_a_c002"
    mtimes = {n: (done / n).stat().st_mtime_ns for n in _jpgs(done)}
    # An interrupted run: some frames there, no marker, a stale extra file.
    (partial / MARKER).unlink()
    for name in _jpgs(partial)[10:]:
        (partial / name).unlink()
    os.utime(partial / "00001.jpg", ns=(1, 1))
    (partial / "99999.jpg").write_bytes(b"stale")

    summary = extract_frames(videos, out, workers=2, progress=False)
    assert summary.extracted == 1 and summary.skipped == 3 and summary.frames == 45
    assert _jpgs(partial) == [f"{i:05d}.jpg" for i in range(1, 46)]  # redone whole
    assert (partial / "00001.jpg").stat().st_mtime_ns > 1
    assert {n: (done / n).stat().st_mtime_ns for n in _jpgs(done)} == mtimes


def test_marker_alone_is_not_enough(videos, tmp_path):
    out = tmp_path / "rawframes"
    extract_frames(videos, out, workers=1, progress=False)
    folder = out / "football/v_c_c001"
    (folder / "00020.jpg").unlink()  # a frame lost after the marker was written
    assert not is_complete(folder)
    assert extract_frames(videos, out, workers=1, progress=False).extracted == 1
    assert is_complete(folder)


def test_truncated_video_is_an_error_and_never_marked(videos, tmp_path):
    root = tmp_path / "videos"
    shutil.copytree(videos / "trainval", root)
    bad = root / "aerobics/v_a_c002.mp4"
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) * 2 // 3])
    out = tmp_path / "rawframes"
    with pytest.raises(StadError) as err:
        extract_frames(root, out, workers=2, progress=False)
    assert "v_a_c002.mp4" in str(err.value)
    assert not (out / "aerobics/v_a_c002" / MARKER).exists()
    assert not is_complete(out / "aerobics/v_a_c002")
    assert is_complete(out / "aerobics/v_a_c001")  # the others still finished
    assert is_complete(out / "football/v_b_c001")


def test_garbage_file_is_an_error_naming_it(tmp_path):
    root = tmp_path / "videos"
    (root / "sport").mkdir(parents=True)
    (root / "sport/v_x.mp4").write_bytes(b"\x00" * 1000)
    with pytest.raises(StadError, match="v_x.mp4"):
        extract_frames(root, tmp_path / "out", workers=1, progress=False)
    assert not (tmp_path / "out/sport/v_x" / MARKER).exists()


def test_plain_sport_root_and_errors(videos, tmp_path):
    keys = [v.key for v in find_videos(videos / "trainval")]
    assert keys == ["aerobics/v_a_c001", "aerobics/v_a_c002", "football/v_b_c001"]
    with pytest.raises(StadError, match="no videos found"):
        find_videos(tmp_path)
    with pytest.raises(StadError, match="not found"):
        find_videos(tmp_path / "missing")
    dup = tmp_path / "dup"
    for split in ("trainval", "test"):
        (dup / split / "s").mkdir(parents=True)
        shutil.copy(videos / "test/football/v_c_c001.mp4", dup / split / "s/v.mp4")
    with pytest.raises(StadError, match="both"):
        find_videos(dup)


def test_cli(videos, tmp_path, capsys):
    assert cli(["convert", "frames", str(videos / "test"), str(tmp_path / "f"),
                "--workers", "1", "--no-progress"]) == 0
    assert "1 extracted (20 frames" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:  # refused where it is parsed
        cli(["convert", "frames", str(tmp_path / "nope"), str(tmp_path / "f")])
    assert info.value.code == 2
    assert "argument videos_root: not found" in capsys.readouterr().err


# ---------------------------------------------------------------------------
# JPEG from the decoder's planes vs the tutorial's OpenCV loop
# ---------------------------------------------------------------------------
def _opencv_loop(src: Path, out: Path) -> int:
    """`generate_rgb.py`'s loop: cv2.VideoCapture read + cv2.imwrite defaults."""
    out.mkdir(parents=True)
    cap = cv2.VideoCapture(str(src), cv2.CAP_FFMPEG)
    n = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        n += 1
        cv2.imwrite(str(out / layout.rawframe_name(n)), frame)
    cap.release()
    return n


def _bt601(frame) -> np.ndarray:
    """A decoded limited-range yuv420p frame -> BGR by the BT.601 formula, in
    floats with nearest-neighbour chroma: a reference neither side computes."""
    w, h = frame.width, frame.height
    y, u, v = (np.frombuffer(p, np.uint8).reshape(-1, p.line_size)
               for p in frame.planes)
    y = y[:h, :w] - 16.0
    u, v = (np.repeat(np.repeat(c[:h // 2, :w // 2] - 128.0, 2, 0), 2, 1)
            for c in (u, v))
    bgr = [1.164383 * y + 2.017232 * u, 1.164383 * y - 0.391762 * u - 0.812968 * v,
           1.164383 * y + 1.596027 * v]
    return np.clip(np.stack(bgr, -1), 0, 255)


@pytest.fixture
def plane_calls(monkeypatch) -> list:
    """Counts the frames JPEG-encoded from planes (in-process: workers=1)."""
    import simplejpeg

    calls, real = [], simplejpeg.encode_jpeg_yuv_planes

    def spy(*args, **kwargs):
        calls.append(args[0].shape)
        return real(*args, **kwargs)

    monkeypatch.setattr(simplejpeg, "encode_jpeg_yuv_planes", spy)
    return calls


def test_plane_path_matches_the_opencv_loop(tmp_path, plane_calls):
    """The synthetic dataset's own video (untagged limited-range yuv420p, as
    VideoSink writes it): every frame takes the plane path, and the JPEGs decode
    to the OpenCV loop's pixels but for 1.5-1.7 grey levels on average (measured
    1.72 at most per frame here, 1.53 at 1280x720; without the range stretch,
    6.0). Most of it is OpenCV's: its YUV->BGR (swscale) comes out ~1.2 levels
    darker than the BT.601 formula, which the plane path's JPEGs are closer to
    than the OpenCV loop's (2.66 vs 2.94 levels here)."""
    src = write_video(tmp_path / "videos", plan_demo(0, 48, 320, 240))
    theirs = tmp_path / "opencv"
    n = _opencv_loop(src, theirs)
    summary = extract_frames(tmp_path / "videos", tmp_path / "ours", workers=1,
                             progress=False)
    assert summary.frames == n == 48 and len(plane_calls) == n
    assert set(plane_calls) == {(240, 320)}
    ours = tmp_path / "ours" / src.parent.name / src.stem
    with av.open(str(src)) as container:
        for i, frame in enumerate(container.decode(video=0), 1):
            assert frame.format.name == "yuv420p" and plane_path_ok(frame)
            a = cv2.imread(str(ours / layout.rawframe_name(i))).astype(float)
            b = cv2.imread(str(theirs / layout.rawframe_name(i))).astype(float)
            assert np.abs(a - b).mean() < 2.0, i
            exact = _bt601(frame)
            assert np.abs(a - exact).mean() <= np.abs(b - exact).mean(), i


def test_full_range_planes_are_not_stretched(tmp_path, plane_calls):
    """yuvj420p is JPEG's range already: measured 0.92 levels from the OpenCV
    loop at most; stretching it like limited range puts every frame 3.3+ off."""
    src = _write_video(tmp_path / "videos/s/v_j.mp4", 12, seed=3, pix_fmt="yuvj420p")
    n = _opencv_loop(src, tmp_path / "opencv")
    extract_frames(tmp_path / "videos", tmp_path / "ours", workers=1, progress=False)
    assert len(plane_calls) == n == 12
    for i in range(1, n + 1):
        a = cv2.imread(str(layout.rawframe_path(tmp_path / "ours", "s/v_j", i)))
        b = cv2.imread(str(tmp_path / "opencv" / layout.rawframe_name(i)))
        a, b = a.astype(float), b.astype(float)
        assert np.abs(a - b).mean() < 2.0, i


@pytest.mark.parametrize("pix_fmt, x264_params", [("yuv420p", "colormatrix=bt709"),
                                                  ("yuv444p", "")])
def test_other_streams_fall_back_to_bgr(tmp_path, monkeypatch, pix_fmt, x264_params):
    """BT.709-tagged and 4:4:4 streams are not JPEG's YCbCr 4:2:0: they go
    through BGR (the plane encoder must not be called), and the JPEGs still
    decode to the OpenCV loop's pixels. (OpenCV 4.11 ignores the BT.709 tag and
    decodes as BT.601, and so does this BGR path; PyAV's `to_ndarray` would not.)"""
    import simplejpeg

    def refuse(*args, **kwargs):
        raise AssertionError("plane path taken for a stream it cannot handle")

    monkeypatch.setattr(simplejpeg, "encode_jpeg_yuv_planes", refuse)
    src = _write_video(tmp_path / "videos/s/v_x.mp4", 12, seed=5, pix_fmt=pix_fmt,
                       x264_params=x264_params)
    with av.open(str(src)) as container:
        assert not plane_path_ok(next(container.decode(video=0)))
    n = _opencv_loop(src, tmp_path / "opencv")
    summary = extract_frames(tmp_path / "videos", tmp_path / "out", workers=1,
                             progress=False)
    assert summary.frames == n == 12
    for i in range(1, n + 1):
        a = cv2.imread(str(layout.rawframe_path(tmp_path / "out", "s/v_x", i)))
        b = cv2.imread(str(tmp_path / "opencv" / layout.rawframe_name(i)))
        a, b = a.astype(float), b.astype(float)
        assert np.abs(a - b).mean() < 2.0, i


def test_plane_path_ok_needs_even_sizes_and_bt601():
    assert plane_path_ok(av.VideoFrame(96, 64, "yuv420p"))  # untagged
    assert not plane_path_ok(av.VideoFrame(95, 64, "yuv420p"))
    assert not plane_path_ok(av.VideoFrame(96, 63, "yuv420p"))
    assert not plane_path_ok(av.VideoFrame(96, 64, "nv12"))
    tagged = av.VideoFrame(96, 64, "yuv420p")
    tagged.colorspace = 1  # BT.709
    assert not plane_path_ok(tagged)
    tagged.colorspace = 6  # SMPTE 170M: BT.601
    assert plane_path_ok(tagged)


def test_trimmed_video_extracts_the_shown_frames_in_chunks(tmp_path):
    """A stream copy whose edit list hides its first 10 frames (issue 14): 190 of
    the 200 coded frames are written, `00001.jpg` grey 40 (coded frame 10), and
    chunks cut at keyframes give the same bytes as one pass."""
    from _odd_videos import GREY_STEP, grey_clip, trimmed_clip

    root = tmp_path / "videos"
    (root / "cut").mkdir(parents=True)
    src = grey_clip(tmp_path / "grey.mp4", nframes=200, gop=30)
    video = trimmed_clip(src, root / "cut" / "trim.mp4", discard=10)
    index = _index_video(str(video))
    assert index.nframes == 190 and len(index.keyframes) >= 4
    one, many = tmp_path / "one", tmp_path / "many"
    extract_frames(root, one, workers=1, progress=False)
    extract_frames(root, many, workers=2, progress=False)  # 1 video -> chunks
    names = _jpgs(one / "cut/trim")
    assert names == _jpgs(many / "cut/trim") and len(names) == 190
    greys = [cv2.imread(str(one / "cut/trim" / n), 0).mean() for n in names]
    want = GREY_STEP * np.arange(10, 200) % 256
    assert np.abs(np.array(greys) - want).max() <= 1.5
    for name in names:
        assert (one / "cut/trim" / name).read_bytes() == \
            (many / "cut/trim" / name).read_bytes(), name
    assert json.loads((one / "cut/trim" / MARKER).read_text())["frames"] == 190
