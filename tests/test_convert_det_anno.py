"""`stad convert det-anno`: COCO person boxes equal to the tutorial script's."""

from __future__ import annotations

import importlib
import json
from collections import defaultdict

import numpy as np
import pytest

from stad_helpers.cli import main as cli
from stad_helpers.convert import det_anno
from stad_helpers.data.gt import MultiSportsGT
from stad_helpers.errors import StadError

# The module, not the function of the same name that the package re-exports.
det_anno_module = importlib.import_module("stad_helpers.convert.to_coco")


def _tube(start: int, n: int, x: float, y: float, w: float = 40.5, h: float = 90.25,
          dx: float = 1.37) -> np.ndarray:
    t = np.arange(n, dtype=np.float64)
    x1 = x + dx * t
    return np.column_stack([start + t, x1, np.full(n, y), x1 + w,
                            np.full(n, y + h)]).astype(np.float32)


def make_raw(idle: bool) -> dict:
    """Three videos, overlapping tubes, fractional, edge (0, < 1, at w/h) boxes."""
    raw = {
        "labels": ["jump", "turn", "spin"],
        "train_videos": [["gym/v_a", "gym/v_b"]],
        "test_videos": [["ball/v_c"]],
        "nframes": {"gym/v_a": 40, "gym/v_b": 30, "ball/v_c": 25},
        "resolution": {"gym/v_a": (240, 320), "gym/v_b": (240, 320),
                       "ball/v_c": (180, 300)},
        "gttubes": {
            # label keys not in order, tubes overlapping in time
            "gym/v_a": {2: [_tube(5, 12, 10.3, 20.6), _tube(8, 6, 0.0, 0.5)],
                        0: [_tube(1, 20, 100.1, 30.7, dx=-2.5)]},
            "gym/v_b": {1: [_tube(10, 15, 0.25, 100.0, w=33.3)]},
            "ball/v_c": {0: [_tube(3, 10, 250.5, 80.2, w=49.5, h=99.8, dx=0.0)],
                         1: [_tube(1, 25, 7.77, 7.77)]},
        },
    }
    if idle:
        raw["idle_tubes"] = {"gym/v_a": [_tube(30, 5, 200.0, 50.0)],  # own frames
                             "ball/v_c": [_tube(2, 4, 150.0, 60.0)]}  # shared frames
    return raw


def reference_coco(raw: dict, split: str) -> dict:
    """`generate_mmdet_anno.py`'s algorithm, idle tubes iterated after the labels."""
    videos = raw["train_videos" if split == "train" else "test_videos"][0]
    img_id = bbox_id = 0
    images, annotations = [], []
    for vid in videos:
        height, width = raw["resolution"][vid]
        frm2bbox = defaultdict(list)
        tubes = [t for ts in raw["gttubes"][vid].values() for t in ts]
        tubes += raw.get("idle_tubes", {}).get(vid, [])
        for tube in tubes:
            for row in tube:
                frm2bbox[row[0]].append(row[1:])
        for frm, boxes in frm2bbox.items():
            images.append({"file_name": f"{vid}/{int(frm):05d}.jpg", "height": height,
                           "width": width, "id": img_id})
            for x1, y1, x2, y2 in boxes:
                bbox = [x1, y1, x2 - x1, y2 - y1]
                annotations.append({"area": (bbox[2] * bbox[3]).item(),
                                    "image_id": img_id,
                                    "bbox": [float(v) for v in bbox],
                                    "category_id": 0, "iscrowd": 0, "id": bbox_id})
                bbox_id += 1
            img_id += 1
    return {"images": images, "annotations": annotations,
            "categories": [{"id": 0, "name": "person"}]}


@pytest.fixture(scope="session")
def gt_paths(tmp_path_factory):
    root = tmp_path_factory.mktemp("det_anno")
    paths = {}
    for idle in (False, True):
        paths[idle] = MultiSportsGT.from_dict(make_raw(idle)).save(
            root / f"gt_idle{int(idle)}.pkl")
    return paths


@pytest.mark.parametrize("idle", [False, True])
def test_equals_the_tutorial_script(gt_paths, tmp_path, idle):
    out = det_anno(gt_paths[idle], tmp_path / "det.json")
    assert out == {"train": tmp_path / "det_train.json",
                   "val": tmp_path / "det_val.json"}
    raw = make_raw(idle)
    for split, path in out.items():
        expected = reference_coco(raw, split)
        # Same content, and even the same bytes as json.dumps writes.
        assert json.loads(path.read_text()) == expected
        assert path.read_text() == json.dumps(expected)
    if idle:  # idle people are persons too, after the action boxes of their video
        train = json.loads(out["train"].read_text())
        names = [im["file_name"] for im in train["images"]]
        assert "gym/v_a/00030.jpg" in names and names.index("gym/v_a/00030.jpg") < \
            names.index("gym/v_b/00010.jpg")


def test_mmdet_coco_dataset_loads_it(gt_paths, tmp_path):
    from mmdet.datasets import CocoDataset

    out = det_anno(gt_paths[True], tmp_path / "det.json")
    raw = make_raw(True)
    for split, path in out.items():
        ds = CocoDataset(ann_file=str(path), metainfo={"classes": ("person",)},
                         data_prefix={"img": "rawframes/"}, pipeline=[],
                         filter_cfg=None)
        expected = reference_coco(raw, split)
        assert len(ds) == len(expected["images"])
        boxes = defaultdict(list)
        for ann in expected["annotations"]:
            x, y, w, h = ann["bbox"]
            boxes[ann["image_id"]].append([x, y, x + w, y + h])
        for i in range(len(ds)):
            info = ds.get_data_info(i)
            image = expected["images"][i]
            assert info["img_path"] == "rawframes/" + image["file_name"]
            assert (info["height"], info["width"]) == (image["height"], image["width"])
            got = [inst["bbox"] for inst in info["instances"]]
            assert np.allclose(got, boxes[image["id"]])
            assert all(inst["bbox_label"] == 0 and inst["ignore_flag"] == 0
                       for inst in info["instances"])


def test_bad_inputs_write_nothing(tmp_path):
    raw = make_raw(False)
    raw["gttubes"]["gym/v_b"][1][0][3, 3] = 999.0  # x2 beyond the 320 px width
    bad = MultiSportsGT.from_dict(raw).save(tmp_path / "bad.pkl")
    with pytest.raises(StadError, match=r"gym/v_b.*label 1, tube 0"):
        det_anno(bad, tmp_path / "out.json")
    with pytest.raises(StadError, match="must end with .json"):
        det_anno(MultiSportsGT.from_dict(make_raw(False)), tmp_path / "out.txt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.pkl"]


def test_failure_mid_write_leaves_no_file(gt_paths, tmp_path, monkeypatch):
    real = det_anno_module.coco_json

    def failing(gt, videos):
        pieces = real(gt, videos)

        def gen():
            yield pieces[0]
            raise OSError("disk full")

        return gen()

    monkeypatch.setattr(det_anno_module, "coco_json", failing)
    with pytest.raises(OSError, match="disk full"):
        det_anno(gt_paths[False], tmp_path / "det.json")
    assert list(tmp_path.iterdir()) == []  # no output, no temp file


def test_cli(gt_paths, tmp_path, capsys):
    assert cli(["convert", "det-anno", str(gt_paths[False]),
                str(tmp_path / "d.json")]) == 0
    assert "d_train.json" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:  # refused where it is parsed
        cli(["convert", "det-anno", str(tmp_path / "missing.pkl"),
             str(tmp_path / "d.json")])
    assert info.value.code == 2
    assert "missing.pkl" in capsys.readouterr().err


def test_orjson_float_text_is_pythons_repr():
    """coco_json writes boxes with orjson: its floats must read as repr() does
    (json.dumps), except where coco_json hands over to json.dumps."""
    import orjson

    rng = np.random.default_rng(0)
    any_bits = rng.integers(0, 2**32, 100_000, dtype=np.uint64).astype(np.uint32)
    values = np.concatenate([
        np.array([0.0, -0.0, 1.0, 0.5, 1e-4, -1e-4, 3.4e38, 8388607.5, 1e7, 1e15,
                  1e16, 1280.0, 123456.79, 0.1], np.float32),
        rng.uniform(-5, 1300, 100_000).astype(np.float32),
        # every float32 in a stretch of [1024, 2048), where 17 digits are common
        (np.arange(1 << 17, dtype=np.uint32) + np.uint32(137 << 23)).view(np.float32),
        any_bits[(any_bits >> 23) & 0xFF != 0xFF].view(np.float32),  # no nan/inf
    ]).astype(np.float64)
    handed_over = ~np.isfinite(values) | ((values != 0) & (np.abs(values) < 1e-4))
    floats = values[~handed_over].tolist()
    assert orjson.dumps(floats).replace(b",", b", ").decode() == json.dumps(floats)
    # ...and below 1e-4 they would not: that is why those go to json.dumps.
    assert orjson.dumps(3e-05) != json.dumps(3e-05).encode()


def test_tiny_boxes_still_give_json_dumps_bytes(tmp_path):
    """A box narrower than 1e-4 px: json.dumps writes it with an exponent."""
    raw = make_raw(False)
    tube = raw["gttubes"]["gym/v_b"][1][0]
    tube[0, 3] = np.nextafter(tube[0, 1], np.float32(np.inf))  # x2 one ulp past x1
    out = det_anno(MultiSportsGT.from_dict(raw), tmp_path / "det.json")
    text = out["train"].read_text()
    assert "e-0" in text  # the exponent form is really there
    assert text == json.dumps(reference_coco(raw, "train"))
