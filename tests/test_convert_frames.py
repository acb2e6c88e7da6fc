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
from stad_helpers.convert.frames import MARKER, _index_video, find_videos, is_complete
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


def _write_video(path: Path, n: int, seed: int = 0, gop: int = 250) -> Path:
    """An H.264 mp4 with a keyframe every `gop` frames (written with PyAV)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(25))
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.codec_context.gop_size = gop
        stream.options = {"preset": "ultrafast", "keyint_min": str(gop),
                          "sc_threshold": "0", "bf": "2"}
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
        jpg = cv2.imread(str(out / "football/v_b_c001" / f"{i:05d}.jpg"))
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
    assert cli(["convert", "frames", str(tmp_path / "nope"), str(tmp_path / "f")]) == 1
    assert "videos folder not found" in capsys.readouterr().err
