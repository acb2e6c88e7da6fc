"""`stad convert infer-anno`: the COCO image list the person detector runs on."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from stad_helpers.cli import main as cli
from stad_helpers.convert import extract_frames, infer_anno
from stad_helpers.convert.frames import MARKER
from stad_helpers.data import layout
from stad_helpers.data.gt import MultiSportsGT
from stad_helpers.errors import StadError
from stad_helpers.video import VideoSink


@pytest.fixture(scope="session")
def frames_dir(tmp_path_factory) -> Path:
    """rawframes: one folder from `extract_frames` (with marker), two written by hand
    (no marker, different sizes), plus files that are not frames."""
    root = tmp_path_factory.mktemp("infer")
    videos = root / "videos"
    with VideoSink(videos / "gym/v_a.mp4", fps=25) as sink:
        for t in range(12):
            sink.write(np.full((48, 80, 3), 10 * t, np.uint8))
    out = root / "rawframes"
    extract_frames(videos, out, workers=1, progress=False)
    for name, (h, w), n in (("ball/v_b", (36, 64), 5), ("ball/v_c", (50, 30), 3)):
        (out / name).mkdir(parents=True)
        for i in range(1, n + 1):
            cv2.imwrite(str(layout.rawframe_path(out, name, i)),
                        np.zeros((h, w, 3), np.uint8))
    (out / "ball/v_b/notes.txt").write_text("not a frame")
    return out


def test_lists_every_frame_like_images2coco(frames_dir, tmp_path):
    path = infer_anno(frames_dir, tmp_path / "infer.json")
    coco = json.loads(path.read_text())
    assert list(coco) == ["images", "type", "categories", "annotations"]
    assert coco["type"] == "instance" and coco["annotations"] == []
    assert coco["categories"] == [{"supercategory": "none", "id": 0, "name": "person"}]
    names = [im["file_name"] for im in coco["images"]]
    assert names == ([layout.rawframe_relpath("ball/v_b", i) for i in range(1, 6)]
                     + [layout.rawframe_relpath("ball/v_c", i) for i in range(1, 4)]
                     + [layout.rawframe_relpath("gym/v_a", i) for i in range(1, 13)])
    assert [im["id"] for im in coco["images"]] == list(range(20))
    sizes = {im["file_name"].rsplit("/", 1)[0]: (im["height"], im["width"])
             for im in coco["images"]}
    assert sizes == {"ball/v_b": (36, 64), "ball/v_c": (50, 30), "gym/v_a": (48, 80)}


def test_mmdet_coco_dataset_loads_it(frames_dir, tmp_path):
    from mmdet.datasets import CocoDataset

    path = infer_anno(frames_dir, tmp_path / "infer.json")
    ds = CocoDataset(ann_file=str(path), metainfo={"classes": ("person",)},
                     data_prefix={"img": str(frames_dir) + "/"}, pipeline=[],
                     test_mode=True)
    assert len(ds) == 20
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        assert info["instances"] == []
        img = cv2.imread(info["img_path"])
        assert img.shape[:2] == (info["height"], info["width"])


def test_only_annotated_frames_with_gt(frames_dir, tmp_path):
    tube = np.array([[2, 1, 1, 20, 30], [3, 1, 1, 20, 30]], np.float32)
    gt = MultiSportsGT.from_dict({
        "labels": ["a"], "train_videos": [["gym/v_a"]], "test_videos": [["ball/v_b"]],
        "nframes": {"gym/v_a": 12, "ball/v_b": 5},
        "resolution": {"gym/v_a": (48, 80), "ball/v_b": (36, 64)},
        "gttubes": {"gym/v_a": {0: [tube]},
                    "ball/v_b": {0: [np.array([[5, 1, 1, 20, 30]], np.float32)]}}})
    coco = json.loads(infer_anno(frames_dir, tmp_path / "k.json", gt=gt).read_text())
    assert [im["file_name"] for im in coco["images"]] == [
        "ball/v_b/00005.jpg", "gym/v_a/00002.jpg", "gym/v_a/00003.jpg"]


def test_errors_and_incomplete_folders(frames_dir, tmp_path):
    with pytest.raises(StadError, match="frames folder not found"):
        infer_anno(tmp_path / "nope", tmp_path / "x.json")
    (tmp_path / "empty/sport").mkdir(parents=True)
    with pytest.raises(StadError, match="no frames found"):
        infer_anno(tmp_path / "empty", tmp_path / "x.json")
    # A folder whose frames do not match its marker is refused, not listed.
    broken = tmp_path / "broken/gym/v_a"
    broken.mkdir(parents=True)
    for src in (frames_dir / "gym/v_a").iterdir():
        if src.name != "00007.jpg":
            (broken / src.name).write_bytes(src.read_bytes())
    assert (broken / MARKER).exists()
    with pytest.raises(StadError, match=r"v_a: holds 11 frames.*says 12"):
        infer_anno(tmp_path / "broken", tmp_path / "x.json")
    assert not (tmp_path / "x.json").exists()


def test_cli(frames_dir, tmp_path, capsys):
    assert cli(["convert", "infer-anno", str(frames_dir), str(tmp_path / "i.json"),
                "--classes", "person", "referee"]) == 0
    assert str(tmp_path / "i.json") in capsys.readouterr().out
    coco = json.loads((tmp_path / "i.json").read_text())
    assert [c["name"] for c in coco["categories"]] == ["person", "referee"]
