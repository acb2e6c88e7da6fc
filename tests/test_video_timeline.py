"""Videos as phones and `ffmpeg -c copy` make them (issue 14, items 1-2).

Rotation metadata, edit lists, a non-zero start time, a variable frame rate and
a file listing a frame that does not decode: every reader of the project
(`video.probe`/`iter_frames`, `viz.FrameReader`, `stad convert frames`) must see
the frames players show, numbered alike, and agree with decord (MMAction2's video
reader, which applies the display rotation itself): the independent source.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from _odd_videos import (
    GREY_STEP,
    grey_clip,
    rotated_clip,
    shifted_clip,
    tail_clip,
    trimmed_clip,
    vfr_clip,
)

from stad_helpers.convert.frames import extract_frames
from stad_helpers.errors import StadError
from stad_helpers.video import frame_at, frame_times, iter_frames, probe, upright
from stad_helpers.viz.reader import FrameReader

decord = pytest.importorskip("decord")

ROTATIONS = (-90, 90, 180)


@pytest.fixture(scope="module")
def odd(tmp_path_factory) -> dict[str, Path]:
    """Every odd video once, as `<root>/odd/<name>.<ext>` (a frames-ready tree)."""
    root = tmp_path_factory.mktemp("odd_videos")
    sport = root / "videos" / "odd"
    sport.mkdir(parents=True)
    src = grey_clip(root / "grey60.mp4")  # 60 frames, one keyframe
    v = {f"rot{r}": rotated_clip(sport / f"rot{r}.mp4".replace("-", "m"), r)
         for r in ROTATIONS}
    v["trim"] = trimmed_clip(src, sport / "trim.mp4", discard=10)
    v["trim_gop"] = trimmed_clip(grey_clip(root / "grey_gop.mp4", nframes=100, gop=20),
                                 root / "trim_gop.mp4", discard=10)
    v["late"] = shifted_clip(src, sport / "late.mp4", 2.5)
    v["late_mkv"] = shifted_clip(src, sport / "late_mkv.mkv", 2.5)
    v["tail"] = tail_clip(grey_clip(root / "grey20.mp4", nframes=20),
                          sport / "tail.mp4")
    v["vfr"], _ = vfr_clip(sport / "vfr.mp4")
    v["grey"] = src
    v["root"] = root / "videos"
    return v


@pytest.fixture(scope="module")
def frames(odd, tmp_path_factory) -> Path:
    """`stad convert frames` of every odd video (one process: no fork cost)."""
    out = tmp_path_factory.mktemp("odd_frames") / "rawframes"
    extract_frames(odd["root"], out, workers=1, progress=False)
    return out / "odd"


def _grey(image: np.ndarray) -> float:
    return float(image.mean())


def _block(image: np.ndarray) -> tuple[int, int, int, int]:
    """(x1, y1, x2, y2) of the white pixels, x2/y2 exclusive."""
    gray = image if image.ndim == 2 else image.mean(axis=2)
    ys, xs = np.nonzero(gray > 128)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def _decord_frames(path: Path) -> list[np.ndarray]:
    reader = decord.VideoReader(str(path))
    return [reader[i].asnumpy() for i in range(len(reader))]


# ---- 1. rotation -------------------------------------------------------------------
@pytest.mark.parametrize("rotation,shape", [(-90, (320, 240)), (90, (320, 240)),
                                            (180, (240, 320))])
def test_probe_reports_the_displayed_size(odd, rotation, shape):
    info = probe(odd[f"rot{rotation}"])
    assert (info.height, info.width) == shape
    assert info.rotation == rotation
    assert probe(odd[f"rot{rotation}"], exact=False).rotation == rotation


def test_phone_clip_block_lands_where_players_show_it(odd, frames):
    """The issue's example: coded block x 200-300, y 20-60 rotated by the tkhd
    matrix shows at x 180-220, y 200-300 of a 240x320 picture."""
    want = (180, 200, 220, 300)
    first = next(iter_frames(odd["rot-90"]))
    assert first.shape == (320, 240, 3)
    assert _block(first) == want
    x1, y1, x2, y2 = want
    assert first[y1:y2, x1:x2].min() > 240  # white inside the box
    assert _block(decord.VideoReader(str(odd["rot-90"]))[0].asnumpy()) == want
    jpg = cv2.imread(str(frames / "rotm90" / "00001.jpg"))
    assert jpg.shape == (320, 240, 3)
    assert _block(jpg) == want
    marker = json.loads((frames / "rotm90" / ".done").read_text())
    assert (marker["height"], marker["width"]) == (320, 240)


@pytest.mark.parametrize("rotation", ROTATIONS)
def test_every_reader_agrees_with_decord(odd, frames, rotation):
    path = odd[f"rot{rotation}"]
    ours = list(iter_frames(path, rgb=True))
    theirs = _decord_frames(path)
    assert len(ours) == len(theirs) == 30
    assert np.abs(ours[4].astype(int) - theirs[4]).max() <= 2
    with FrameReader(path, rgb=True) as reader:
        assert np.array_equal(reader[5], ours[4])
    name = f"rot{rotation}".replace("-", "m")
    jpg = cv2.imread(str(frames / name / "00005.jpg"))[..., ::-1]
    assert jpg.shape == theirs[4].shape
    assert _block(jpg) == _block(theirs[4])


def test_annotated_clip_and_person_detection_frames_are_upright(odd, tmp_path):
    """The other readers go through `iter_frames`: the annotated clip is written
    at the displayed size, the detector's video frames are upright."""
    from stad_helpers.person_detection import _video_frames
    from stad_helpers.viz.clip import write_annotated_clip

    out = write_annotated_clip(odd["rot-90"], tmp_path / "clip.mp4", end=3,
                               progress=False)
    info = probe(out)
    assert (info.nframes, info.height, info.width, info.rotation) == (3, 320, 240, 0)
    assert _block(next(iter_frames(out))) == (180, 200, 220, 300)

    class _GT:  # what _video_frames reads of a MultiSportsGT
        nframes = {"odd/rotm90": 30}

    data_root = tmp_path / "data"
    (data_root / "trainval" / "odd").mkdir(parents=True)
    (data_root / "trainval" / "odd" / "rotm90.mp4").write_bytes(
        odd["rot-90"].read_bytes())
    first = next(_video_frames(_GT(), data_root, ["odd/rotm90"]))
    assert first.index == 1 and _block(first.image) == (180, 200, 220, 300)


def test_rotation_not_a_multiple_of_90_is_refused(tmp_path):
    with pytest.raises(StadError, match="45 degrees"):
        upright(np.zeros((4, 6, 3), np.uint8), 45)
    path = rotated_clip(tmp_path / "tilted.mp4", 45, nframes=2, size=(64, 48))
    with pytest.raises(StadError, match=r"tilted\.mp4.*not a multiple of 90"):
        probe(path)
    with pytest.raises(StadError, match=r"tilted\.mp4.*not a multiple of 90"):
        list(iter_frames(path))


def test_mirrored_display_matrix_is_refused(tmp_path):
    """A mirror cannot be told from `VideoFrame.rotation` alone; refused rather
    than read unmirrored (boxes would land on the wrong side)."""
    path = rotated_clip(tmp_path / "selfie.mp4", -90, nframes=2, size=(64, 48),
                        hflip=True)
    for read in (probe, lambda p: list(iter_frames(p)), FrameReader):
        with pytest.raises(StadError, match=r"selfie\.mp4.*mirrors"):
            read(path)
    root = tmp_path / "videos"
    (root / "s").mkdir(parents=True)
    (root / "s" / "selfie.mp4").write_bytes(path.read_bytes())
    with pytest.raises(StadError, match=r"selfie\.mp4.*mirrors"):
        extract_frames(root, tmp_path / "frames", workers=1, progress=False)
    assert not (tmp_path / "frames" / "s" / "selfie").exists()


# ---- 2. the presentation timeline ----------------------------------------------
def test_edit_list_hides_frames_from_every_reader(odd, frames):
    path = odd["trim"]
    assert probe(path).nframes == 50
    ours = list(iter_frames(path))
    assert len(ours) == 50
    assert abs(_grey(ours[0]) - 40) <= 1.5  # the first frame shown
    assert abs(_grey(ours[-1]) - 59 * GREY_STEP) <= 1.5
    with FrameReader(path) as reader:
        assert len(reader) == 50
        for n in (1, 25, 50):
            assert np.array_equal(reader[n], ours[n - 1])
    with FrameReader(path, cache_mb=0.01) as reader:  # seeks, no cache to help
        for n in (50, 5, 49, 1):
            assert np.array_equal(reader[n], ours[n - 1]), n
    jpgs = sorted((frames / "trim").glob("*.jpg"))
    assert len(jpgs) == 50
    assert abs(_grey(cv2.imread(str(jpgs[0]))) - 40) <= 1.5


def test_random_access_in_a_trimmed_video_with_many_keyframes(odd):
    path = odd["trim_gop"]
    ours = list(iter_frames(path))
    assert len(ours) == probe(path).nframes == 90
    assert abs(_grey(ours[0]) - 40) <= 1.5
    with FrameReader(path, cache_mb=0.01) as reader:
        for n in (90, 11, 70, 31, 1, 60):
            assert np.array_equal(reader[n], ours[n - 1]), n


def test_decord_counts_hidden_packets_but_shows_the_same_frames(odd):
    """decord's len() counts the 10 hidden packets, its frame 0 is the first
    shown; past the 50 shown it repeats the last. A training pipeline reading the
    video with decord (the rgbdiff config) therefore sees our frame N at index
    N - 1, and its indices clamped to len() - 1 give the last frame, as ours do."""
    ours = list(iter_frames(odd["trim"], rgb=True))
    reader = decord.VideoReader(str(odd["trim"]))
    assert len(reader) == 60  # the quirk: hidden packets counted
    for n in (1, 2, 30, 50):
        assert np.abs(reader[n - 1].asnumpy().astype(int) - ours[n - 1]).max() <= 2
    assert np.abs(reader[59].asnumpy().astype(int) - ours[-1]).max() <= 2


@pytest.mark.parametrize("name", ["late", "late_mkv"])
def test_non_zero_start_time(odd, frames, name):
    path = odd[name]
    info = probe(path)
    assert info.nframes == 60 and not info.variable_frame_rate
    times = frame_times(path)
    assert times[0] == 0 and times[1] == pytest.approx(1 / 30, abs=1e-3)
    ours = list(iter_frames(path))
    assert len(ours) == 60 and _grey(ours[0]) <= 1.5
    with FrameReader(path) as reader:
        assert _grey(reader[1]) <= 1.5
        assert np.array_equal(reader[60], ours[59])
    theirs = _decord_frames(path)
    assert len(theirs) == 60
    assert np.abs(theirs[30].astype(int) - ours[30][..., ::-1]).max() <= 2
    jpgs = sorted((frames / name).glob("*.jpg"))
    assert len(jpgs) == 60


def test_variable_frame_rate_is_flagged_and_timed(odd):
    path = odd["vfr"]
    _, want = vfr_clip(path.with_name("again.mp4"))
    info = probe(path)
    assert info.variable_frame_rate
    assert not probe(odd["grey"]).variable_frame_rate
    times = frame_times(path)
    np.testing.assert_allclose(times, want, atol=1e-3)
    # 1.0 s: 20 frames of 33 ms (0.66 s) then 100 ms frames -> frame 24 (1-based).
    assert frame_at(times, 1.0) == 24
    assert frame_at(times, 0.0) == 1 and frame_at(times, 99.0) == 40
    ours = list(iter_frames(path, rgb=True))
    theirs = _decord_frames(path)
    assert len(ours) == len(theirs) == 40
    assert np.abs(theirs[30].astype(int) - ours[30]).max() <= 2


def test_listed_frame_that_does_not_decode(odd, frames):
    """21 frames listed, 20 decode: the count is what decodes, and the player's
    slider (`len(FrameReader)`) ends at 20."""
    path = odd["tail"]
    import av

    with av.open(str(path)) as container:
        assert container.streams.video[0].frames == 21
    assert probe(path).nframes == 20
    assert len(frame_times(path)) == 20
    ours = list(iter_frames(path))
    assert len(ours) == 20
    with FrameReader(path) as reader:
        assert len(reader) == 20
        assert np.array_equal(reader[20], ours[19])
    assert len(list((frames / "tail").glob("*.jpg"))) == 20


def test_hevc_packet_without_a_picture_is_not_a_frame(tmp_path):
    src = grey_clip(tmp_path / "hevc.mp4", nframes=12, codec="libx265")
    path = tail_clip(src, tmp_path / "hevc_tail.mp4")
    assert probe(path).nframes == 12
    ours = list(iter_frames(path))
    assert len(ours) == 12
    with FrameReader(path) as reader:
        assert len(reader) == 12
        assert np.array_equal(reader[12], ours[11])


def test_player_holds_the_last_frame_when_decoding_ends_early(odd, monkeypatch):
    """Whatever else makes a file list more frames than decode (here: the
    packet check switched off), asking past the end gives the last decodable
    frame and the reader's length shrinks to it; no "video ends before" error."""
    import stad_helpers.video as video_module

    monkeypatch.setattr(video_module, "_picture_test", lambda stream: lambda p: True)
    ours = list(iter_frames(odd["tail"]))
    with FrameReader(odd["tail"]) as reader:
        assert len(reader) == 21
        assert np.array_equal(reader[21], ours[19])
        assert len(reader) == 20
        assert np.array_equal(reader[21], ours[19])  # still the last one
        assert np.array_equal(reader[3], ours[2])


# ---- importers: the displayed size is the GT resolution --------------------------
def _phone_dataset(odd, tmp_path: Path, suffix: str = ".mp4") -> Path:
    """A videos folder holding only the issue's phone clip (.mov: as an iPhone
    writes it, which the import re-encodes)."""
    videos = tmp_path / "phone_videos"
    videos.mkdir()
    if suffix == ".mov":
        rotated_clip(videos / "phone.mov", -90)
    else:
        (videos / "phone.mp4").write_bytes(odd["rot-90"].read_bytes())
    return videos


def _check_phone_gt(gt_path: Path, out: Path) -> None:
    from stad_helpers.data.gt import MultiSportsGT
    from stad_helpers.data.validate import raise_if_invalid

    gt = MultiSportsGT.load(gt_path)
    (video,) = gt.videos
    assert tuple(gt.resolution[video]) == (320, 240)  # (h, w) as displayed
    (tube,) = gt.gttubes[video][0]
    np.testing.assert_array_equal(tube[:, 0], np.arange(1, 31))
    np.testing.assert_allclose(tube[0, 1:], [180, 200, 220, 300], atol=0.01)
    raise_if_invalid(gt.to_dict(), videos_root=out)  # sizes match the video
    x1, y1, x2, y2 = np.round(tube[0, 1:]).astype(int)
    placed = probe(out / "trainval" / f"{video}.mp4")  # linked, or re-encoded upright
    assert (placed.height, placed.width, placed.nframes) == (320, 240, 30)
    with FrameReader(out / "trainval" / f"{video}.mp4") as reader:
        assert reader[1][y1:y2, x1:x2].min() > 240  # the box covers the white block


@pytest.mark.parametrize("suffix", [".mp4", ".mov"])
def test_label_studio_rectangle_on_a_phone_clip(odd, tmp_path, suffix):
    """The issue's rectangle (x 75%, y 62.5%, w 16.667%, h 31.25%, frames 1-30)
    drawn on the upright picture imports as (180, 200, 220, 300); a .mov is
    re-encoded upright."""
    from stad_helpers.annotations import import_annotations

    videos = _phone_dataset(odd, tmp_path, suffix)
    seq = [{"frame": f, "enabled": f < 30, "rotation": 0, "x": 75, "y": 62.5,
            "width": 16.667, "height": 31.25, "time": f / 30} for f in (1, 30)]
    region = {"id": "r1", "type": "videorectangle", "from_name": "box",
              "to_name": "video",
              "value": {"framesCount": 30, "labels": ["wave"], "sequence": seq}}
    task = {"id": 1, "data": {"video": f"/data/upload/1/0a1b2c3d-phone{suffix}"},
            "annotations": [{"result": [region]}]}
    src = tmp_path / "ls.json"
    src.write_text(json.dumps([task]))
    out = tmp_path / "ds_ls"
    _check_phone_gt(import_annotations("label-studio", [src], videos, out,
                                       test_ratio=0.0, progress=False), out)


def test_cvat_track_on_a_phone_clip(odd, tmp_path):
    """CVAT shows (and exports the size of) the upright picture."""
    from stad_helpers.annotations import import_annotations

    videos = _phone_dataset(odd, tmp_path)
    boxes = "".join(
        f'<box frame="{f}" keyframe="1" outside="{int(f == 30)}" occluded="0" '
        'xtl="180" ytl="200" xbr="220" ybr="300" z_order="0"></box>'
        for f in (0, 29, 30))
    xml = f"""<?xml version="1.0" encoding="utf-8"?>
<annotations><version>1.1</version><meta><task>
<id>7</id><name>phone</name><size>30</size><mode>interpolation</mode>
<start_frame>0</start_frame><stop_frame>29</stop_frame>
<labels><label><name>wave</name><attributes></attributes></label></labels>
<original_size><width>240</width><height>320</height></original_size>
</task><source>phone.mp4</source></meta>
<track id="0" label="wave" source="manual">{boxes}</track></annotations>
"""
    src = tmp_path / "cvat.xml"
    src.write_text(xml)
    out = tmp_path / "ds_cvat"
    _check_phone_gt(import_annotations("cvat", [src], videos, out, test_ratio=0.0,
                                       progress=False), out)


def test_label_studio_times_on_a_variable_rate_video(odd, tmp_path):
    """Label Studio counts frames by time at its framerate (30 here): on a clip of
    20 frames at 30 fps then 20 at 10 fps, its frame 30 (1.0 s) is the video's
    frame 24 (shown 0.96-1.06 s) and its 80 frames are the video's 40."""
    from stad_helpers.annotations import import_annotations
    from stad_helpers.data.gt import MultiSportsGT

    videos = tmp_path / "vfr_videos"
    videos.mkdir()
    (videos / "phone.mp4").write_bytes(odd["vfr"].read_bytes())

    def key(frame, x):
        return {"frame": frame, "enabled": True, "rotation": 0, "x": x, "y": 10,
                "width": 20, "height": 50, "time": frame / 30}

    region = {"id": "r1", "type": "videorectangle", "from_name": "box",
              "to_name": "video",
              "value": {"framesCount": 80, "labels": ["wave"],
                        "sequence": [key(1, 10), key(30, 40)]}}
    task = {"id": 1, "data": {"video": "phone.mp4"},
            "annotations": [{"result": [region]}]}
    src = tmp_path / "ls.json"
    src.write_text(json.dumps([task]))
    notes: list[str] = []
    gt = MultiSportsGT.load(import_annotations(
        "label-studio", [src], videos, tmp_path / "ds", test_ratio=0.0,
        progress=False, notes=notes))
    (video,) = gt.videos
    (tube,) = gt.gttubes[video][0]
    np.testing.assert_array_equal(tube[:, 0], np.arange(1, 41))  # held to the end
    np.testing.assert_allclose(tube[0, 1], 0.10 * 160)
    np.testing.assert_allclose(tube[23:, 1], 0.40 * 160)  # frame 24 on
    assert tube[22, 1] < 0.40 * 160  # still moving at frame 23
    assert any("variable frame rate" in line for line in notes)
