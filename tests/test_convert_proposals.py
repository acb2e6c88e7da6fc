"""`stad convert proposals`: detector results -> AVA proposals, coverage checked."""

from __future__ import annotations

import importlib
import pickle

import numpy as np
import pytest

from stad_helpers.cli import main as cli
from stad_helpers.convert import ava, proposals
from stad_helpers.convert.to_proposals import keyframe_keys
from stad_helpers.data import layout
from stad_helpers.data.gt import MultiSportsGT
from stad_helpers.data.safe_pickle import safe_load
from stad_helpers.errors import StadError

fileio = importlib.import_module("stad_helpers.fileio")
H, W = 240, 320


def _tube(start: int, n: int, x: float) -> np.ndarray:
    t = np.arange(start, start + n)
    return np.column_stack([t, np.full(n, x), np.full(n, 40.0), np.full(n, x + 50),
                            np.full(n, 200.0)]).astype(np.float32)


@pytest.fixture(scope="session")
def gt(tmp_path_factory) -> MultiSportsGT:
    raw = {
        "labels": ["run", "jump"],
        "train_videos": [["gym/v_a", "gym/v_b"]],
        "test_videos": [["gym/v_c"]],
        "nframes": {"gym/v_a": 30, "gym/v_b": 30, "gym/v_c": 30},
        "resolution": {v: (H, W) for v in ("gym/v_a", "gym/v_b", "gym/v_c")},
        "gttubes": {"gym/v_a": {0: [_tube(1, 10, 10.0)], 1: [_tube(5, 10, 100.0)]},
                    "gym/v_b": {1: [_tube(3, 8, 200.0)]},
                    "gym/v_c": {0: [_tube(2, 12, 30.0)]}},
    }
    path = tmp_path_factory.mktemp("proposals") / "gt.pkl"
    return MultiSportsGT.load(MultiSportsGT.from_dict(raw).save(path))


def _results(gt: MultiSportsGT, frames_of=None, prefix="data/rawframes") -> list[dict]:
    """Fake MMDetection results: two boxes per annotated frame (plus frame 30)."""
    rng = np.random.default_rng(0)
    out = []
    for video in gt.videos:
        frames = sorted({int(f) for ts in gt.gttubes[video].values() for t in ts
                         for f in t[:, 0]} | {30})
        for f in frames if frames_of is None else frames_of(video, frames):
            x1 = rng.uniform(0, 200, 2)
            boxes = np.column_stack([x1, [30, 50], x1 + 60, [H, 220]])
            boxes = boxes.astype(np.float32)
            out.append({"img_path": f"{prefix}/{layout.rawframe_relpath(video, f)}",
                        "ori_shape": (H, W),
                        "img_id": len(out),
                        "pred_instances": {"bboxes": boxes,
                                           "scores": np.array([0.95, 0.4], np.float32),
                                           "labels": np.zeros(2, np.int64)}})
    return out


def test_keys_values_and_files(gt, tmp_path):
    results = _results(gt)
    det = tmp_path / "det.pkl"
    with open(det, "wb") as fh:
        pickle.dump(results, fh)
    report = proposals(det, gt, tmp_path / "props.pkl")
    assert report["train"] == tmp_path / "props_train.pkl"
    assert report["val"] == tmp_path / "props_val.pkl"
    assert report["coverage"] == {"train": 1.0, "val": 1.0}
    assert report["keyframes"] == {"train": 14 + 8, "val": 12}  # v_a: frames 1..14
    train, val = safe_load(report["train"]), safe_load(report["val"])
    assert "gym/v_a.mp4,0001" in train and "gym/v_c.mp4,0030" in val
    assert set(train) | set(val) == {
        f"{r['img_path'].split('/', 2)[2][:-10]}.mp4,{int(r['img_path'][-9:-4]):04d}"
        for r in results}
    first = results[0]
    value = train["gym/v_a.mp4,0001"]
    assert value.dtype == np.float32 and value.shape == (2, 5)
    boxes = first["pred_instances"]["bboxes"] / np.array([W, H, W, H], np.float32)
    assert np.array_equal(value[:, :4], np.clip(boxes, 0, 1))
    assert np.array_equal(value[:, 4], np.float32([0.95, 0.4]))
    assert value.min() >= 0 and value.max() <= 1


def test_ava_dataset_reads_the_proposals(gt, tmp_path):
    from mmaction.datasets import AVADataset

    csvs = ava(gt, tmp_path)
    report = proposals(_results(gt), gt, tmp_path / "props.pkl")
    props = safe_load(report["train"])
    ds = AVADataset(ann_file=str(csvs["train"]), pipeline=[], exclude_file=None,
                    proposal_file=str(report["train"]), data_prefix={"img": ""},
                    num_classes=2, timestamp_start=1, start_index=0, use_frames=True,
                    fps=1, filename_tmpl="{:05}.jpg")
    assert len(ds) == report["keyframes"]["train"]
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        # score >= 0.9 kept: the detector's box, not the whole-frame fallback
        assert np.allclose(info["proposals"], props[info["img_key"]][:1, :4])
        assert not np.array_equal(info["proposals"], [[0, 0, 1, 1]])


def test_low_coverage_is_an_error_and_writes_nothing(gt, tmp_path):
    half = _results(gt, frames_of=lambda v, fs: fs[::2])  # every other frame
    with pytest.raises(StadError) as err:
        proposals(half, gt, tmp_path / "p.pkl")
    msg = str(err.value)
    assert "coverage below 90%" in msg and "whole frame" in msg
    assert "gym/v_a.mp4,0002" in msg  # names missing keyframes
    assert list(tmp_path.iterdir()) == []
    report = proposals(half, gt, tmp_path / "p.pkl", min_coverage=0)
    assert 0.4 < report["coverage"]["train"] < 0.6


def test_empty_detections_are_left_out(gt, tmp_path):
    results = _results(gt)
    empty = results[0]
    empty["pred_instances"] = {"bboxes": np.zeros((0, 4), np.float32),
                               "scores": np.zeros(0, np.float32)}
    report = proposals(results, gt, tmp_path / "p.pkl")  # 1 of 22 missing: 95%
    key = "gym/v_a.mp4,0001"
    assert key not in safe_load(report["train"])
    assert report["coverage"]["train"] == pytest.approx(21 / 22)


def test_unknown_video_duplicate_and_bad_paths(gt, tmp_path):
    results = _results(gt)
    results[3]["img_path"] = "x/gym/v_zzz/00003.jpg"
    with pytest.raises(StadError, match=r"result 3 .*'gym/v_zzz'.* neither"):
        proposals(results, gt, tmp_path / "p.pkl")
    results = _results(gt)
    results.append(dict(results[0]))
    with pytest.raises(StadError, match="both for frame 'gym/v_a.mp4,0001'"):
        proposals(results, gt, tmp_path / "p.pkl")
    results = _results(gt)
    results[1]["img_path"] = "gym/v_a/frame.jpg"
    with pytest.raises(StadError, match="result 1: img_path"):
        proposals(results, gt, tmp_path / "p.pkl")
    with pytest.raises(StadError, match="result 0 is not a detection result"):
        proposals([{"img_path": "a/b/00001.jpg"}], gt, tmp_path / "p.pkl")
    assert list(tmp_path.iterdir()) == []


def test_mmdet_out_with_torch_tensors_converts(gt, tmp_path):
    """The original tutorial's `mim test ... --out det.pkl`: tensors, mmengine.dump."""
    torch = pytest.importorskip("torch")
    import mmengine

    results = _results(gt)
    with_tensors = [dict(r, pred_instances={k: torch.from_numpy(v) for k, v
                                            in r["pred_instances"].items()})
                    for r in results]
    det = tmp_path / "det.pkl"
    mmengine.dump(with_tensors, str(det))  # what DumpDetResults calls (protocol 2)
    assert b"torch._utils\n_rebuild_tensor_v2" in det.read_bytes()
    from_file = proposals(det, gt, tmp_path / "t.pkl")
    from_numpy = proposals(results, gt, tmp_path / "n.pkl")
    assert from_file["coverage"] == from_numpy["coverage"] == {"train": 1.0,
                                                               "val": 1.0}
    for split in ("train", "val"):
        a, b = safe_load(from_file[split]), safe_load(from_numpy[split])
        assert a.keys() == b.keys() and len(a) > 0
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])


def test_torch_objects_beyond_tensors_get_a_clear_error(gt, tmp_path):
    torch = pytest.importorskip("torch")
    results = _results(gt)
    results[0]["model"] = torch.nn.Linear(1, 1)  # a module: code, not data
    det = tmp_path / "det.pkl"
    with open(det, "wb") as fh:
        pickle.dump(results, fh)
    with pytest.raises(StadError, match="torch objects other than tensors.*stad "
                                        "detect"):
        proposals(det, gt, tmp_path / "p.pkl")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["det.pkl"]


def test_failure_mid_write_leaves_no_file(gt, tmp_path, monkeypatch):
    def failing(obj, fh, protocol=None):
        fh.write(b"\x80\x05partial")
        raise OSError("disk full")

    monkeypatch.setattr(fileio.pickle, "dump", failing)
    with pytest.raises(OSError, match="disk full"):
        proposals(_results(gt), gt, tmp_path / "p.pkl")
    assert list(tmp_path.iterdir()) == []


def test_keyframe_keys(gt):
    keys = keyframe_keys(gt, gt.test_videos)
    assert keys == [f"gym/v_c.mp4,{f:04d}" for f in range(2, 14)]


def test_cli(gt, tmp_path, capsys):
    det = tmp_path / "det.pkl"
    with open(det, "wb") as fh:
        pickle.dump(_results(gt, frames_of=lambda v, fs: fs[:1]), fh)
    args = ["convert", "proposals", str(det), gt.source, str(tmp_path / "p.pkl")]
    assert cli(args) == 1
    assert "coverage below 90%" in capsys.readouterr().err
    assert cli(args + ["--min-coverage", "0"]) == 0
    assert "p_train.pkl  (coverage" in capsys.readouterr().out


def _gt_box_results(gt: MultiSportsGT, score: float, decoy: float | None):
    """Per annotated frame: each annotated box itself scoring `score`, plus (unless
    None) a box elsewhere scoring `decoy`."""
    table = gt.box_table(gt.videos)
    out = []
    for v, f in sorted({(int(v), int(f)) for v, f in zip(table.video, table.frame)}):
        rows = (table.video == v) & (table.frame == f)
        boxes, scores = table.xyxy[rows], np.full(rows.sum(), score, np.float32)
        if decoy is not None:
            boxes = np.r_[boxes, [[0, 0, 5, 5]]].astype(np.float32)
            scores = np.r_[scores, decoy].astype(np.float32)
        out.append({"img_path": f"rawframes/{layout.rawframe_relpath(gt.videos[v], f)}",
                    "ori_shape": (H, W),
                    "pred_instances": {"bboxes": boxes, "scores": scores}})
    return out


def test_recall_counts_the_people_avadataset_keeps(gt, tmp_path):
    # Every annotated person has an exact box scoring 0.6.
    alone = _gt_box_results(gt, 0.6, decoy=None)
    report = proposals(alone, gt, tmp_path / "a.pkl", score_thr=0.9)
    # AVADataset keeps a frame's best proposal whatever its score: all matched.
    assert report["recall"] == {"train": 1.0, "val": 1.0}
    # A more confident box elsewhere in the frame: at 0.9 the people's boxes are
    # dropped (a warning says so), at 0.5 they stay.
    decoyed = _gt_box_results(gt, 0.6, decoy=0.95)
    with pytest.warns(UserWarning, match="person_det_score_thr"):
        report = proposals(decoyed, gt, tmp_path / "b.pkl", score_thr=0.9)
    assert report["recall"] == {"train": 0.0, "val": 0.0}
    assert report["coverage"] == {"train": 1.0, "val": 1.0}  # coverage cannot tell
    report = proposals(decoyed, gt, tmp_path / "c.pkl", score_thr=0.5)
    assert report["recall"] == {"train": 1.0, "val": 1.0}


def test_recall_needs_overlap(gt):
    from stad_helpers.convert.to_proposals import box_recall

    table = gt.box_table(gt.test_videos)
    scale = np.array([W, H, W, H], np.float32)
    shifted = {}
    for row in range(len(table)):
        box = table.xyxy[row] / scale
        width = box[2] - box[0]
        # Shifted right by 2/3 of its width: IoU 0.2, not a match.
        moved = box + np.float32([width * 2 / 3, 0, width * 2 / 3, 0])
        key = layout.ava_key(gt.test_videos[table.video[row]], table.frame[row])
        shifted[key] = np.r_[moved, 0.99][None].astype(np.float32)
    assert box_recall(shifted, gt, gt.test_videos) == 0.0
    assert box_recall({}, gt, gt.test_videos) == 0.0


def test_frame_past_the_end_of_its_video_is_refused(gt, tmp_path):
    results = _results(gt)
    results[2]["img_path"] = "data/rawframes/gym/v_a/00031.jpg"  # v_a has 30
    det = tmp_path / "det.pkl"
    with open(det, "wb") as fh:
        pickle.dump(results, fh)
    with pytest.raises(StadError, match="frame 31 of video 'gym/v_a', which has 30"
                       ) as err:
        proposals(det, gt, tmp_path / "p.pkl")
    assert str(det) in str(err.value) and gt.source in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["det.pkl"]


def test_recall_warning_names_its_threshold_and_the_one_that_would_do(gt, tmp_path):
    # Every person's box scores 0.6, a decoy elsewhere 0.95: at 0.9 AVADataset
    # keeps only the decoy; from 0.6 down everybody keeps a box.
    decoyed = _gt_box_results(gt, 0.6, decoy=0.95)
    with pytest.warns(UserWarning) as record:
        report = proposals(decoyed, gt, tmp_path / "a.pkl", score_thr=0.9,
                           score_thr_source="person_det_score_thr of my.py")
    text = str(record[0].message)
    assert "score >= 0.9 (person_det_score_thr of my.py)" in text
    assert "set person_det_score_thr = 0.6" in text
    assert report["score_thr_source"] == "person_det_score_thr of my.py"
    # Nobody has a box at any threshold: the advice is the detector.
    decoys_only = [{**r, "pred_instances": {"bboxes": np.float32([[0, 0, 5, 5]]),
                                            "scores": np.float32([0.95])}}
                   for r in decoyed]
    with pytest.warns(UserWarning, match="train the person detector longer") as rec:
        proposals(decoys_only, gt, tmp_path / "b.pkl", score_thr=0.5)
    assert "AVADataset's default" not in str(rec[0].message)
    with pytest.warns(UserWarning, match=r"0\.9 \(AVADataset's default"):
        proposals(decoys_only, gt, tmp_path / "c.pkl")
