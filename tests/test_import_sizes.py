"""Odd frame sizes survive `stad data import` (issue 14, item 3).

An MJPEG .avi is re-encoded to the dataset's H.264 mp4. Its size must stay the
annotated one (odd widths and heights included), so that the GT, the boxes, the
mp4 and every reader agree and `stad data validate --videos-root` accepts what
the import made.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from stad_helpers.annotations import import_annotations
from stad_helpers.cli import main as cli
from stad_helpers.data import layout
from stad_helpers.data.gt import MultiSportsGT
from stad_helpers.data.validate import validate_gt
from stad_helpers.video import VideoSink, iter_frames, probe

NFRAMES = 20


def _frame(i: int, w: int, h: int) -> np.ndarray:
    """BGR frame i: grey 10 * i, a white last row and a mid-grey last column."""
    image = np.full((h, w, 3), 10 * i, np.uint8)
    image[h // 4:h // 2, w // 4:w // 2] = (0, 0, 255)
    image[-1, :] = 255
    image[:, -1] = 160
    return image


def _mjpeg_avi(path: Path, w: int, h: int) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mjpeg", rate=25)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuvj420p"
        stream.options = {"q:v": "2"}
        for i in range(NFRAMES):
            frame = av.VideoFrame.from_ndarray(_frame(i, w, h), format="bgr24")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


@pytest.mark.parametrize("size", [(321, 241), (321, 240), (320, 241)],
                         ids=["odd-both", "odd-width", "odd-height"])
def test_odd_size_import_keeps_size_and_validates(tmp_path, size, capsys):
    w, h = size
    videos = tmp_path / "videos"
    videos.mkdir()
    src = _mjpeg_avi(videos / "clip.avi", w, h)
    assert (probe(src).width, probe(src).height) == (w, h)
    box = (w - 41.0, h - 61.0, float(w), float(h))  # touches the right/bottom edge
    csv = tmp_path / "boxes.csv"
    csv.write_text("".join(f"clip.avi,{f},p1,{box[0]},{box[1]},{box[2]},{box[3]},"
                           "wave\n" for f in range(1, NFRAMES + 1)))
    out = tmp_path / "ds"
    gt_path = import_annotations("csv", [csv], videos, out, frame_base=1,
                                 test_ratio=0.0, progress=False)
    gt = MultiSportsGT.load(gt_path)
    (video,) = gt.videos
    assert gt.resolution[video] == (h, w)
    assert gt.nframes[video] == NFRAMES
    (tube,) = gt.gttubes[video][0]
    np.testing.assert_array_equal(tube[:, 1:], np.tile(box, (NFRAMES, 1)))

    mp4 = layout.video_path(out, video)
    info = probe(mp4)
    assert (info.width, info.height, info.nframes) == (w, h, NFRAMES)
    problems = validate_gt(gt.to_dict(), videos_root=out)
    assert [p for p in problems if p.is_error] == []
    assert cli(["data", "validate", str(gt_path), "--videos-root", str(out)]) == 0
    assert "0 error(s)" in capsys.readouterr().out

    # Same pixels, not shifted or stretched: the edge rows/columns stay the edge.
    for i, (got, want) in enumerate(zip(iter_frames(mp4), iter_frames(src))):
        assert got.shape == want.shape == (h, w, 3)
        diff = np.abs(got.astype(int) - want.astype(int))
        assert diff.mean() < 2.0, i
        # The white last row and the grey last column, where the source has them
        # (a padded or cropped video would move or lose them).
        for y, x in ((-1, w // 2), (h // 2, -1)):
            assert abs(int(got[y, x, 1]) - int(want[y, x, 1])) <= 16, (i, y, x)
        assert want[-1, w // 2, 1] > 230 and abs(int(want[h // 2, -1, 1]) - 160) < 24
    assert i == NFRAMES - 1

    # Rawframes (`stad convert frames`) have the annotated size too.
    from PIL import Image

    from stad_helpers.convert.frames import extract_frames

    extract_frames(out, tmp_path / "rawframes", workers=1, progress=False)
    jpgs = sorted((tmp_path / "rawframes").rglob("*.jpg"))
    assert len(jpgs) == NFRAMES
    with Image.open(jpgs[-1]) as image:
        assert image.size == (w, h)

    decord = pytest.importorskip("decord")  # the training reader agrees
    reader = decord.VideoReader(str(mp4))
    assert len(reader) == NFRAMES
    assert reader[0].shape == (h, w, 3)


def test_sink_pads_unless_exact(tmp_path):
    """Default: padded to even yuv420p (browsers); exact_size: the size itself."""
    frames = [_frame(i, 33, 25) for i in range(3)]
    for exact, want in ((False, (34, 26)), (True, (33, 25))):
        path = tmp_path / f"{exact}.mp4"
        with VideoSink(path, fps=25, exact_size=exact) as sink:
            for frame in frames:
                sink.write(frame)
        info = probe(path)
        assert (info.width, info.height, info.nframes) == (*want, 3)
        with av.open(str(path)) as container:
            pix_fmt = container.streams.video[0].codec_context.pix_fmt
        assert pix_fmt == ("yuv444p" if exact else "yuv420p")
    even = tmp_path / "even.mp4"
    with VideoSink(even, fps=25, exact_size=True) as sink:
        sink.write(_frame(0, 32, 24))
    with av.open(str(even)) as container:
        assert container.streams.video[0].codec_context.pix_fmt == "yuv420p"
