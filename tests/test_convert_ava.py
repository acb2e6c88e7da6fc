"""`stad convert ava`: CSVs equal to mmaction2's parse_anno.py's, read by AVADataset."""

from __future__ import annotations

import importlib
import importlib.util
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from stad_helpers.cli import main as cli
from stad_helpers.convert import ava
from stad_helpers.data import layout
from stad_helpers.data.gt import MultiSportsGT
from stad_helpers.errors import StadError

ava_module = importlib.import_module("stad_helpers.convert.to_ava")  # not the function

LABELS = ["aerobic_push_up", "aerobic_split", "volleyball_serve", "volleyball_block"]


def _tube(rng, start: int, n: int, h: int, w: int, dtype=np.float32) -> np.ndarray:
    x1 = rng.uniform(0, w * 0.6, n)
    y1 = rng.uniform(0, h * 0.5, n)
    return np.column_stack([np.arange(start, start + n), x1, y1,
                            x1 + rng.uniform(5, w * 0.3, n),
                            y1 + rng.uniform(5, h * 0.4, n)]).astype(dtype)


def make_raw() -> dict:
    """Random fractional boxes plus the rounding edge cases of '.3f'."""
    rng = np.random.default_rng(7)
    res = {"aerobic/v_a": (720, 1280), "aerobic/v_b": (360, 642),
           "volley/v_c": (480, 854)}
    tubes = {v: {} for v in res}
    for v, (h, w) in res.items():
        for label in rng.permutation(len(LABELS))[:3].tolist():  # keys out of order
            tubes[v][label] = [_tube(rng, 1 + 7 * i, 20, h, w) for i in range(2)]
    # Exact half-thousandths (ties), zeros, a negative x1 within the 1 px
    # tolerance, and boxes touching the right and bottom edges.
    h, w = res["aerobic/v_b"]
    edge = np.array([[1, 0.0, 0.0, w, h],
                     [2, -0.4, -0.1, w * 0.0015, h * 0.0025],
                     [3, w * 0.0005, h * 0.1235, w * 0.9995, h * 0.5555],
                     [4, w * 0.1115, h * 0.0045, w * 0.2225, h * 0.9985]], np.float32)
    tubes["aerobic/v_b"][1] = [edge]
    # float64 tubes are legal: parse_anno.py keeps their precision.
    tubes["volley/v_c"][3] = [_tube(rng, 5, 10, *res["volley/v_c"], dtype=np.float64)]
    return {
        "labels": LABELS,
        "train_videos": [["aerobic/v_a", "aerobic/v_b"]],
        "test_videos": [["volley/v_c"]],
        "nframes": {v: 60 for v in res},
        "resolution": res,
        "gttubes": tubes,
    }


def _packaged_parse_anno() -> Path:
    spec = importlib.util.find_spec("mmaction")
    script = Path(spec.origin).parent / ".mim/tools/data/multisports/parse_anno.py"
    if not script.is_file():
        pytest.skip(f"mmaction2 package has no {script}")
    return script


@pytest.fixture(scope="session")
def converted(tmp_path_factory):
    """(ours, upstream's) output folders for the same GT."""
    root = tmp_path_factory.mktemp("ava")
    data = root / "data"
    layout.annotations_dir(data).mkdir(parents=True)
    (data / layout.TEST).mkdir()  # parse_anno.py lists it
    with open(layout.gt_file(data), "wb") as fh:
        pickle.dump(make_raw(), fh)
    upstream = root / "upstream"  # must not exist: parse_anno.py creates it
    subprocess.run([sys.executable, str(_packaged_parse_anno()), "--data-root",
                    str(data), "--out-root", str(upstream)], check=True,
                   capture_output=True)
    ours = ava(layout.gt_file(data), root / "ours")
    return ours, layout.annotations_dir(upstream)


def test_csvs_equal_packaged_parse_anno(converted):
    ours, upstream = converted
    for split in ("train", "val"):
        expected = layout.ava_csv(upstream, split).read_bytes()
        assert ours[split].read_bytes() == expected
        assert len(expected) > 1000 and b"\r\n" in expected
    text = ours["train"].read_bytes().decode()
    assert "aerobic/v_b.mp4,1,0.000,0.000,1.000,1.000,1,0\r" in text
    assert ",-0.001,-0.000," in text  # the sign survives rounding to zero
    assert ours["val"].read_text().count("volley/v_c.mp4") > 0


def test_label_map_format_of_mmaction_demo(converted):
    ours, _ = converted
    lines = ours["label_map"].read_text().splitlines()
    # mmaction2 demo/demo_spatiotemporal_det.py: load_label_map
    label_map = {int(x[0]): x[1] for x in (line.strip().split(": ") for line in lines)}
    assert label_map == dict(enumerate(LABELS))
    assert ours["label_map"].read_bytes().endswith(b"volleyball_block\n")


def test_ava_dataset_loads_it(converted, tmp_path):
    from mmaction.datasets import AVADataset

    ours, _ = converted
    raw = make_raw()
    for split, videos in (("train", raw["train_videos"][0]),
                          ("val", raw["test_videos"][0])):
        ds = AVADataset(ann_file=str(ours[split]), pipeline=[], exclude_file=None,
                        label_file=None, proposal_file=None,
                        data_prefix={"img": str(tmp_path)}, num_classes=len(LABELS),
                        timestamp_start=1, start_index=0, use_frames=True, fps=1,
                        filename_tmpl="{:05}.jpg", test_mode=split == "val")
        # one sample per annotated (video, frame), with every box of that frame
        expected = {}
        for v in videos:
            h, w = raw["resolution"][v]
            for label, tubes in raw["gttubes"][v].items():
                for entity, tube in enumerate(tubes):
                    for row in tube:
                        key = layout.ava_key(v, int(row[0]))
                        box = row[1:] / np.array([w, h, w, h])
                        expected.setdefault(key, []).append((box, label, entity))
        assert len(ds) == len(expected)
        for i in range(len(ds)):
            info = ds.get_data_info(i)
            want = expected[info["img_key"]]
            assert info["frame_dir"] == str(tmp_path / info["img_key"].split(",")[0])
            assert len(info["gt_bboxes"]) == len(want)
            order = np.lexsort(np.array([b for b, _, _ in want]).T[::-1])
            got = np.lexsort(info["gt_bboxes"].T[::-1])
            assert np.allclose(info["gt_bboxes"][got],
                               np.array([b for b, _, _ in want])[order], atol=6e-4)
            assert info["gt_labels"].shape == (len(want), len(LABELS))
            assert sorted(np.flatnonzero(info["gt_labels"].sum(0)).tolist()) == \
                sorted({lab for _, lab, _ in want})


def test_invalid_gt_and_failure_write_nothing(tmp_path, monkeypatch):
    raw = make_raw()
    tubes = raw["gttubes"]["aerobic/v_a"]
    tubes[next(iter(tubes))][1][0, 0] = 99  # frame 99 > nframes
    bad = MultiSportsGT.from_dict(raw).save(tmp_path / "gt.pkl")
    with pytest.raises(StadError, match=r"aerobic/v_a.*tube 1.*nframes"):
        ava(bad, tmp_path / "out")
    assert not (tmp_path / "out").exists()

    real = ava_module.ava_csv_text

    def failing(gt, videos):
        pieces = real(gt, videos)

        def gen():
            yield from pieces[:1]
            raise OSError("disk full")

        return gen()

    monkeypatch.setattr(ava_module, "ava_csv_text", failing)
    with pytest.raises(OSError, match="disk full"):
        ava(MultiSportsGT.from_dict(make_raw()), tmp_path / "out")
    assert not any((tmp_path / "out").iterdir())  # no output, no temp file


def test_cli(converted, tmp_path, capsys):
    gt = layout.gt_file(converted[1].parent.parent / "data")
    assert cli(["convert", "ava", str(gt), str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert str(layout.ava_csv(tmp_path, "train")) in out
    assert str(layout.label_map_file(tmp_path)) in out
    assert layout.ava_csv(tmp_path, "val").read_bytes() == \
        converted[0]["val"].read_bytes()


def test_fixed3_text_is_exactly_pythons_format():
    """The vectorized '.3f' behind ava equals Python's, ties and signs included."""
    from stad_helpers.convert._text import Fixed3, Lit, render

    rng = np.random.default_rng(1)
    values = np.concatenate([
        rng.uniform(-0.01, 1.01, 200_000).astype(np.float32),
        (np.arange(0, 1000) + 0.5).astype(np.float32) / 1000,  # near-ties
        np.array([0.0, -0.0, -0.0004, 0.0005, 0.0015, 0.9995, 1.0, 150.25],
                 np.float32),
    ]).astype(np.float64)
    exact = np.ones(len(values), bool)
    wide = rng.uniform(0, 1, 1000)  # float64 values, formatted by Python
    values, exact = np.r_[values, wide, np.inf], np.r_[exact, np.zeros(1001, bool)]
    text = b"".join(render(len(values), [Fixed3(values, exact), Lit("|")])).decode()
    assert text.split("|")[:-1] == [f"{x:.3f}" for x in values.tolist()]


def test_int_text_is_exactly_pythons_format():
    """The vectorized integers behind ava (frames, labels, entity ids) equal str()."""
    from stad_helpers.convert._text import Int, Lit, render

    rng = np.random.default_rng(2)
    signed = rng.integers(-10**12, 10**12, 10_000)
    big = rng.integers(0, 300_000, 10_000)  # above the look-up table's range
    small = rng.integers(0, 100, 10_000)
    text = b"".join(render(10_000, [Int(signed), Lit(","), Int(big), Lit(","),
                                    Int(small), Lit("|")])).decode()
    assert text.split("|")[:-1] == [f"{a},{b},{c}" for a, b, c in zip(
        signed.tolist(), big.tolist(), small.tolist())]
