"""Evaluation on hand-made detections whose frame-AP, video-AP and AP50 are known.

The GT: one test video of 40 frames (100x100 px) with two people standing still,
A doing label 0 and B doing label 1 over the whole video. The detections (every
frame, both people found):

- A: label 0 at 0.9 on every frame;
- B: label 1 at 0.8 on frames 1-20, then (wrongly) label 0 at 0.95 on 21-40.

frame-AP: label 0 ranks B's 20 false positives (0.95) before A's 40 true
positives, so the precision at full recall is 40/60 and VOC AP is 2/3; label 1
finds 20 of 40 boxes at precision 1: AP 1/2. frame-mAP = 7/12.

video-AP: tube linking gives label 0 two tubes, B's wrong one (score 0.95, no
spatial overlap with A: false positive) ranked before A's (true positive): AP
1/2 at any threshold. Label 1 gets B's tube over frames 1-20; its temporal IoU
with the GT tube (frames 1-40) is (20-1)/(40-1) = 0.487: a hit at 0.2, a miss at
0.5. video-mAP@0.2 = (1/2 + 1)/2 = 3/4, video-mAP@0.5 = (1/2 + 0)/2 = 1/4.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from stad_helpers.data import layout
from stad_helpers.data.gt import MultiSportsGT
from stad_helpers.errors import StadError
from stad_helpers.evaluate import (
    action_metrics,
    detector_ap50,
    evaluate,
    read_predictions,
)
from stad_helpers.fileio import dump_pickle
from stad_helpers.predictions import Predictions

N = 40
BOX_A = np.array([10, 10, 50, 90], np.float32)
BOX_B = np.array([60, 10, 95, 90], np.float32)
CONFIG = "configs/action/slowonly_r18-slim_8x4x1-8e_synth-multisports-rgbdiff.py"  # noqa: E501


def _tube(box) -> np.ndarray:
    frames = np.arange(1, N + 1, dtype=np.float32)[:, None]
    return np.concatenate([frames, np.tile(box, (N, 1))], 1)


@pytest.fixture(scope="module")
def gt() -> MultiSportsGT:
    return MultiSportsGT(
        labels=["lift", "throw"],
        train_videos=["s/v0"],
        test_videos=["s/v1"],
        nframes={"s/v0": N, "s/v1": N},
        resolution={"s/v0": (100, 100), "s/v1": (100, 100)},
        gttubes={"s/v0": {0: [_tube(BOX_A)]},
                 "s/v1": {0: [_tube(BOX_A)], 1: [_tube(BOX_B)]}},
    )


def _keyframe(frame: int, rows: list[tuple[np.ndarray, list[float]]]) -> dict:
    return {"video": "s/v1.mp4", "frame": frame,
            "boxes": np.array([b / 100 for b, _ in rows], np.float32),
            "scores": np.array([s for _, s in rows], np.float32)}


def _mixed() -> list[dict]:
    return [_keyframe(f, [(BOX_A, [0.9, 0.1]),
                          (BOX_B, [0.2, 0.8] if f <= 20 else [0.95, 0.05])])
            for f in range(1, N + 1)]


def _perfect() -> list[dict]:
    return [_keyframe(f, [(BOX_A, [1.0, 0.0]), (BOX_B, [0.0, 1.0])])
            for f in range(1, N + 1)]


def test_perfect_detections_score_one(gt):
    m = action_metrics(_perfect(), gt)
    assert m.frame_map == pytest.approx(1.0)
    assert m.video_map == {0.2: pytest.approx(1.0), 0.5: pytest.approx(1.0)}
    assert m.keyframes == N and m.detections == 2 * N


def test_known_mix(gt):
    m = action_metrics(_mixed(), gt)
    assert m.frame_map == pytest.approx(7 / 12, abs=1e-4)
    assert m.video_map[0.2] == pytest.approx(3 / 4, abs=1e-4)
    assert m.video_map[0.5] == pytest.approx(1 / 4, abs=1e-4)
    by_name = {row["name"]: row for row in m.per_class}
    assert by_name["lift"]["frame_ap@0.5"] == pytest.approx(2 / 3, abs=1e-4)
    assert by_name["throw"]["frame_ap@0.5"] == pytest.approx(1 / 2, abs=1e-4)
    assert by_name["lift"]["video_ap@0.2"] == pytest.approx(1 / 2, abs=1e-4)
    assert by_name["throw"]["video_ap@0.2"] == pytest.approx(1.0, abs=1e-4)
    assert by_name["throw"]["video_ap@0.5"] == pytest.approx(0.0, abs=1e-4)
    # Only each box's best class counts (MultiSportsMetric's argmax).
    assert by_name["lift"]["detections"] == N + 20
    assert by_name["throw"]["detections"] == 20
    # The per-class APs average to the headline numbers.
    headline = {"frame_ap@0.5": m.frame_map, "video_ap@0.2": m.video_map[0.2],
                "video_ap@0.5": m.video_map[0.5]}
    for key, value in headline.items():
        assert np.mean([row[key] for row in m.per_class]) == pytest.approx(value,
                                                                           abs=1e-5)


def test_no_detections_scores_zero(gt):
    empty = [{"video": "s/v1", "frame": 1, "boxes": np.zeros((0, 4), np.float32),
              "scores": np.zeros((0, 2), np.float32)}]
    m = action_metrics(empty, gt)
    assert m.frame_map == 0.0 and m.video_map == {0.2: 0.0, 0.5: 0.0}
    assert m.keyframes == 1 and m.detections == 0  # the keyframe ran, found nobody
    assert m == action_metrics(empty, gt, reference=True)


def test_saved_predictions_come_back_as_one_predictions_per_video(gt, tmp_path):
    path = dump_pickle({"version": 1, "labels": gt.labels, "detections": _mixed()},
                       tmp_path / "preds.pkl")
    (video,) = read_predictions(path, gt)
    assert isinstance(video, Predictions) and video.video == "s/v1"
    assert video.size == (100, 100) and list(video.class_names) == gt.labels
    assert len(video) == 2 * N and video.frame_numbers.tolist() == list(range(1, N + 1))
    np.testing.assert_allclose(video.at(1).boxes, [BOX_A, BOX_B])  # pixels
    # The file, its dicts and the Predictions score the same.
    assert action_metrics([video], gt) == action_metrics(path, gt) == action_metrics(
        _mixed(), gt)


def test_prediction_for_unknown_video_is_a_clear_error(gt):
    bad = _perfect()[:1]
    bad[0]["video"] = "s/v0.mp4"  # a training video
    with pytest.raises(StadError, match="s/v0.*val split"):
        action_metrics(bad, gt)


def test_evaluate_writes_json_and_csv_from_saved_predictions(gt, tmp_path, root):
    data = tmp_path / "data"
    gt.save(layout.gt_file(data))
    preds = dump_pickle({"version": 1, "labels": gt.labels, "detections": _mixed()},
                        tmp_path / "preds.pkl")
    result = evaluate(root / CONFIG, "unused.pth", data, tmp_path / "eval",
                      predictions=preds, progress=False)
    saved = json.loads(result.json_path.read_text())
    assert saved["frame_map"] == pytest.approx(7 / 12, abs=1e-4)
    assert saved["video_map_0.5"] == pytest.approx(1 / 4, abs=1e-4)
    with open(result.csv_path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["name"] for r in rows] == ["lift", "throw"]
    assert float(rows[1]["video_ap@0.2"]) == pytest.approx(1.0, abs=1e-4)
    assert not list((tmp_path / "eval").glob(".*part*"))  # no temp files left


def test_predictions_of_other_classes_are_refused_before_writing(gt, tmp_path, root):
    data = tmp_path / "data"
    gt_file = gt.save(layout.gt_file(data))
    preds = dump_pickle({"version": 1, "labels": ["throw", "lift"],
                         "detections": _mixed()}, tmp_path / "preds.pkl")
    with pytest.raises(StadError, match="predictions made for 2 classes") as err:
        evaluate(root / CONFIG, "unused.pth", data, tmp_path / "eval",
                 predictions=preds, progress=False)
    assert str(preds) in str(err.value) and str(gt_file) in str(err.value)
    assert not (tmp_path / "eval").exists()


# ---------------------------------------------------------------------------
# Person detector AP50 (COCO, 101-point interpolation)
# ---------------------------------------------------------------------------
def _det_anno(path) -> None:
    images = [{"file_name": layout.rawframe_relpath("s/v1", i), "height": 100,
               "width": 100, "id": i} for i in (1, 2)]
    annotations = [{"id": i, "image_id": i, "category_id": 0, "iscrowd": 0,
                    "area": 40.0 * 80.0, "bbox": [10.0, 10.0, 40.0, 80.0]}
                   for i in (1, 2)]
    path.write_text(json.dumps({"images": images, "annotations": annotations,
                                "categories": [{"id": 0, "name": "person"}]}))


def test_detector_ap50_by_hand(tmp_path, gt):
    """TP 0.9 (image 1), FP 0.8 and TP 0.7 (image 2): precision 1 up to recall 1/2,
    then 2/3, so AP = (51 * 1 + 50 * 2/3) / 101 on COCO's 101 recall points."""
    anno = tmp_path / "val.json"
    _det_anno(anno)
    results = [
        {"img_path": layout.rawframe_relpath("s/v1", 1), "ori_shape": (100, 100),
         "pred_instances": {"bboxes": np.array([BOX_A]), "scores": np.array([0.9]),
                            "labels": np.array([0])}},
        {"img_path": layout.rawframe_relpath("s/v1", 2), "ori_shape": (100, 100),
         "pred_instances": {"bboxes": np.array([BOX_B, BOX_A]),
                            "scores": np.array([0.8, 0.7]),
                            "labels": np.array([0, 0])}},
        # not in the JSON:
        {"img_path": layout.rawframe_relpath("s/v1", 3), "ori_shape": (100, 100),
         "pred_instances": {"bboxes": np.array([BOX_B]), "scores": np.array([0.99]),
                            "labels": np.array([0])}},
    ]
    expected = (51 + 50 * 2 / 3) / 101
    assert detector_ap50(results, anno) == pytest.approx(expected, abs=1e-3)
    # The same detections as proposals (normalized boxes + score) score the same.
    proposals = {layout.ava_key("s/v1", 1): np.array([[*BOX_A / 100, 0.9]]),
                 layout.ava_key("s/v1", 2): np.array([[*BOX_B / 100, 0.8],
                                                      [*BOX_A / 100, 0.7]])}
    assert detector_ap50(proposals, anno, gt) == pytest.approx(expected, abs=1e-3)
