"""stad_helpers.predictions: the one predictions object, its checks, its sources and
the demo JSON's one writer and one reader."""

from __future__ import annotations

import json

import numpy as np
import pytest

from stad_helpers.data.gt import MultiSportsGT
from stad_helpers.data.synth import make_synthetic_dataset
from stad_helpers.errors import StadError
from stad_helpers.predictions import DEMO_FORMAT, DEMO_VERSION, Predictions

NAMES = ["wave", "стоять", "café"]


def _preds(**kwargs) -> Predictions:
    """Two frames: frame 3 with two people (keyframe 4), frame 4 with one."""
    fields = dict(
        boxes=[[10, 10, 50, 60], [60, 10, 90, 80], [12, 11, 52, 61]],
        frames=[3, 3, 4],
        person_scores=[0.99, 0.9, 0.8],
        action_scores=[[0.6, 0.8, 0.0], [0.0, 0.0, 0.1], [0.7, 0.0, 0.0]],
        track_ids=[0, 1, 0],
        keyframes=[4, 4, 4],
        class_names=NAMES,
        video="clips/street.mp4",
        size=(120, 160),
    )
    fields.update(kwargs)
    return Predictions(**fields)


# ---------------------------------------------------------------------------
# construction checks
# ---------------------------------------------------------------------------
def test_fields_have_the_documented_dtypes_and_defaults():
    p = Predictions([[0, 0, 4, 5]], [1], class_names=["a", "b"])
    assert p.boxes.dtype == np.float32 and p.boxes.shape == (1, 4)
    assert p.frames.dtype == np.int64 and p.keyframes.tolist() == [1]
    assert p.person_scores.tolist() == [1.0] and p.track_ids.tolist() == [-1]
    assert p.action_scores.shape == (1, 2) and not p.action_scores.any()
    assert Predictions([[0, 0, 1, 1]], [31.0]).frames.tolist() == [31]  # 31.0 is 31
    assert len(Predictions.empty(NAMES)) == 0


@pytest.mark.parametrize("change, message", [
    (dict(boxes=[[1, 2, 3]]), "boxes: shape"),
    (dict(boxes=[["a", "b", "c", "d"]] * 3), "boxes: dtype"),
    (dict(boxes=[[50, 10, 10, 60]] * 3), "x2 < x1"),
    (dict(boxes=[[np.nan, 0, 1, 1]] * 3), "not all finite"),
    (dict(frames=[0, 1, 2]), "frames: 0 < 1"),
    (dict(frames=[1.5, 2, 3]), "frames: dtype"),
    (dict(frames=[1, 2]), r"frames: shape \(2,\), expected \(3,\)"),
    (dict(person_scores=[0.5, 1.5, 0.1]), "person_scores: values outside"),
    (dict(action_scores=[[0.1, 0.2]] * 3), r"expected \(N, C\) = \(3, 3\)"),
    (dict(action_scores=[[-0.1, 0, 0]] * 3), "action_scores: values outside"),
    (dict(track_ids=[0, -2, 1]), "track_ids"),
    (dict(keyframes=[0, 1, 1]), "keyframes: 0 < 1"),
])
def test_wrong_shapes_dtypes_and_ranges_are_refused(change, message):
    with pytest.raises(StadError, match=message):
        _preds(**change)


# ---------------------------------------------------------------------------
# per-frame access
# ---------------------------------------------------------------------------
def test_per_frame_access_and_actions():
    p = _preds()
    assert p.frame_numbers.tolist() == [3, 4]
    assert len(p.at(3)) == 2 and len(p.at(4)) == 1 and len(p.at(5)) == 0
    assert [(f, len(x)) for f, x in p.by_frame()] == [(3, 2), (4, 1)]
    assert p.actions(0) == [(1, pytest.approx(0.8)), (0, pytest.approx(0.6))]
    assert p.actions(0, 0.7) == [(1, pytest.approx(0.8))]
    best, score = p.best_actions(0.5)
    assert best.tolist() == [1, -1, 0] and score[1] == 0
    assert len(p.with_action(0.5)) == 2 and len(p.with_action(0.0)) == 3
    sub = p[np.array([False, True, False])]
    assert sub.track_ids.tolist() == [1] and sub.class_names == tuple(NAMES)


def test_no_predictions_have_no_frames():
    """A video where nobody was detected: every per-frame view is empty."""
    empty = _preds()[np.zeros(3, bool)]
    assert len(empty) == 0 and list(empty.by_frame()) == []
    best, score = empty.best_actions(0.5)
    assert best.shape == (0,) and score.shape == (0,)


def test_on_keyframes_keeps_one_frame_per_keyframe_at_the_keyframe():
    p = _preds()
    k = p.on_keyframes()  # keyframe 4 was written: its own frame is kept
    assert k.frames.tolist() == [4] and k.track_ids.tolist() == [0]
    p2 = _preds(frames=[3, 3, 5], keyframes=[4, 4, 4])  # keyframe 4 not written
    k2 = p2.on_keyframes()
    assert k2.frames.tolist() == [4, 4] and k2.boxes[1, 0] == 60


def test_concatenate_needs_the_same_classes():
    p = _preds()
    both = Predictions.concatenate([p.at(3), p.at(4)])
    np.testing.assert_array_equal(both.boxes, p.boxes)
    with pytest.raises(StadError, match="different classes"):
        Predictions.concatenate([p, _preds(class_names=["a", "b", "c"])])


# ---------------------------------------------------------------------------
# the demo JSON: one writer, one reader
# ---------------------------------------------------------------------------
def test_demo_json_round_trip_with_format_version_and_unicode(tmp_path):
    p = _preds()
    path = p.to_demo_json(tmp_path / "demo.json", action_score_thr=0.5,
                          frames=[2, 3, 4], meta={"fps": 25.0})
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert (raw["format"], raw["version"]) == (DEMO_FORMAT, DEMO_VERSION)
    assert raw["classes"] == {"0": "wave", "1": "стоять", "2": "café"}
    assert [r["frame"] for r in raw["frames"]] == [2, 3, 4]  # frame 2: nobody
    first = raw["frames"][1]["detections"][0]
    assert first["labels"] == [1, 0] and first["names"] == ["стоять", "wave"]
    assert raw["frames"][1]["detections"][1]["labels"] == []  # 0.1 < 0.5
    back = Predictions.from_demo_json(path)
    assert back.class_names == tuple(NAMES) and back.size == (120, 160)
    assert back.video == p.video and back.meta["fps"] == 25.0
    np.testing.assert_allclose(back.boxes, p.boxes)
    np.testing.assert_array_equal(back.frames, p.frames)
    np.testing.assert_array_equal(back.track_ids, p.track_ids)
    np.testing.assert_array_equal(back.keyframes, p.keyframes)
    expected = np.where(p.action_scores >= 0.5, p.action_scores, 0)
    np.testing.assert_allclose(back.action_scores, expected, atol=1e-4)


def test_demo_json_reader_names_the_file_and_the_record(tmp_path):
    good = _preds().to_demo_json(tmp_path / "good.json")
    raw = json.loads(good.read_text())
    cases = {
        "future.json": ({**raw, "version": DEMO_VERSION + 1}, "version"),
        "other.json": ({**raw, "format": "coco"}, "format 'coco'"),
        "noframes.json": ({"classes": raw["classes"]}, "'frames' list"),
        "nobox.json": ({**raw, "frames": [{"frame": 1, "detections": [
            {"labels": [], "scores": []}]}]}, r"frames\[0\].detections\[0\]: missing"),
        "badlabel.json": ({**raw, "frames": [{"frame": 1, "detections": [
            {"box": [0, 0, 1, 1], "labels": [7], "scores": [0.5]}]}]},
            "outside the 3 classes"),
        "frame0.json": ({**raw, "frames": [{"frame": 0, "detections": [
            {"box": [0, 0, 1, 1], "labels": [], "scores": []}]}]}, "frames: 0 < 1"),
    }
    for name, (data, message) in cases.items():
        path = tmp_path / name
        path.write_text(json.dumps(data))
        with pytest.raises(StadError, match=message) as info:
            Predictions.from_demo_json(path)
        assert name in str(info.value)
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(StadError, match="broken.json: not a JSON file"):
        Predictions.from_demo_json(tmp_path / "broken.json")


def test_demo_json_version_0_is_read(tmp_path):
    """The files earlier demos wrote: the same records, without format/version."""
    path = tmp_path / "old.json"
    path.write_text(json.dumps({
        "video": "v.mp4", "width": 160, "height": 120,
        "classes": {"0": "jump", "1": "wave"},
        "frames": [{"frame": 5, "keyframe": 4, "detections": [
            {"box": [1, 2, 30, 40], "person_score": 0.9, "labels": [1],
             "names": ["wave"], "scores": [0.7]}]}]}))
    p = Predictions.from_demo_json(path)
    assert p.frames.tolist() == [5] and p.keyframes.tolist() == [4]
    assert p.best_actions()[0].tolist() == [1]


# ---------------------------------------------------------------------------
# sources
# ---------------------------------------------------------------------------
def test_from_gt_has_every_box_one_hot(tmp_path):
    gt_path = make_synthetic_dataset(tmp_path, seed=3, videos=2, frames=24, width=160,
                                     height=120, progress=False)
    gt = MultiSportsGT.load(gt_path)
    video = gt.train_videos[0]
    p = Predictions.from_gt(gt, video)
    tubes = list(gt.tubes([video]))
    assert len(p) == sum(len(t.boxes) for t in tubes)
    assert (p.action_scores.sum(1) == 1).all() and p.class_names == tuple(gt.labels)
    assert len(np.unique(p.track_ids)) == len(tubes)
    tube = tubes[0]
    rows = p.at(int(tube.boxes[0, 0]))
    hit = np.isclose(rows.boxes, tube.boxes[0, 1:5]).all(1)
    assert (rows.best_actions()[0][hit] == tube.label).all() and hit.any()


def test_from_mmdet_keeps_people_above_the_threshold_best_first():
    import torch
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData

    sample = DetDataSample()
    sample.pred_instances = InstanceData(
        bboxes=torch.tensor([[0, 0, 10, 10], [5, 5, 20, 20], [1, 1, 9, 9.0]]),
        scores=torch.tensor([0.6, 0.9, 0.95]), labels=torch.tensor([0, 0, 3]))
    p = Predictions.from_mmdet(sample, 7, score_thr=0.5)
    assert p.frames.tolist() == [7, 7] and p.class_names == ()
    np.testing.assert_allclose(p.person_scores, [0.9, 0.6])
    np.testing.assert_allclose(p.boxes[0], [5, 5, 20, 20])
    # An MMAction2 proposal entry: normalized (N, 5).
    props = Predictions.from_mmdet(np.array([[0.5, 0.5, 1, 1, 0.8]]), 3,
                                   normalized=True, size=(100, 200))
    np.testing.assert_allclose(props.boxes, [[100, 50, 200, 100]])
    with pytest.raises(StadError, match="frame size"):
        Predictions.from_mmdet(np.array([[0.5, 0.5, 1, 1]]), 3, normalized=True)


def test_from_mmaction_scales_normalized_boxes_and_checks_the_classes():
    import torch
    from mmaction.structures import ActionDataSample
    from mmengine.structures import InstanceData

    sample = ActionDataSample()
    sample.pred_instances = InstanceData(
        bboxes=torch.tensor([[0.25, 0.5, 0.5, 1.0]]),
        scores=torch.tensor([[0.1, 0.7, 0.3]]))
    p = Predictions.from_mmaction(sample, NAMES, size=(120, 160), frame=9,
                                  person_scores=np.array([0.95]))
    np.testing.assert_allclose(p.boxes, [[40, 60, 80, 120]])
    assert p.frames.tolist() == [9] and p.person_scores.tolist() == [
        pytest.approx(0.95)]
    assert p.actions(0, 0.2) == [(1, pytest.approx(0.7)), (2, pytest.approx(0.3))]
    saved = {"video": "a/b", "frame": 4, "boxes": np.array([[0, 0, 0.5, 0.5]]),
             "scores": np.array([[0.2, 0.0, 0.9]], np.float32)}
    q = Predictions.from_mmaction(saved, NAMES, size=(10, 20))
    assert q.video == "a/b" and q.frames.tolist() == [4]
    np.testing.assert_allclose(q.boxes, [[0, 0, 10, 5]])
    video = Predictions.from_mmaction([saved, {**saved, "frame": 8}], NAMES,
                                      size=(10, 20))
    assert video.frames.tolist() == [4, 8] and video.video == "a/b"
    with pytest.raises(StadError, match="3 class scores per box but there are 2"):
        Predictions.from_mmaction(sample, NAMES[:2], size=(120, 160), frame=9)
