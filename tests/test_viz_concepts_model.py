"""stad_helpers.viz.tables, clip_window, model_diagram, matching: the action
model's tables and pictures on tiny data (03_action_detector, 04_inference_demo)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from stad_helpers.action import person_det_score_thr  # noqa: E402
from stad_helpers.convert import ava  # noqa: E402
from stad_helpers.data import layout  # noqa: E402
from stad_helpers.data.gt import MultiSportsGT  # noqa: E402
from stad_helpers.data.synth import make_synthetic_dataset  # noqa: E402
from stad_helpers.errors import StadError  # noqa: E402
from stad_helpers.predictions import Predictions  # noqa: E402
from stad_helpers.viz import (  # noqa: E402
    ava_table,
    clip_indices,
    config_changes,
    frame_matches,
    linked_tubes,
    metric_table,
    plot_box_scores,
    plot_clip_window,
    plot_frame_matches,
    plot_model_diagram,
    plot_tubes,
    threshold_table,
    tube_iou,
)

ROOT = Path(__file__).resolve().parents[1]
CPU_ACTION = (ROOT / "configs/action/"
              "slowonly_r18-slim_8x4x1-8e_synth-multisports-rgbdiff.py")
GPU_ACTION = (ROOT / "configs/action/"
              "slowonly_k400-pretrained-r50_1xb2-4x16x1-8e_multisports-rgb.py")
CPU_DET = (ROOT / "configs/det/"
           "faster-rcnn_r18-slim_fpn_256px-600it_synth-multisports-person.py")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> tuple[Path, MultiSportsGT]:
    root = tmp_path_factory.mktemp("concepts_model")
    gt_path = make_synthetic_dataset(root, seed=5, videos=3, frames=40, width=160,
                                     height=120, progress=False)
    return root, MultiSportsGT.load(gt_path)


def test_ava_table_names_the_columns_of_the_written_csv(synth, tmp_path):
    root, gt = synth
    ava(gt.source, tmp_path)
    csv_path = layout.ava_csv(tmp_path, "train")
    table = ava_table(csv_path, rows=5)
    assert list(table.columns) == ["video", "frame", "x1", "y1", "x2", "y2", "label",
                                   "entity_id"]
    first = csv_path.read_text().splitlines()[0].split(",")
    assert table.rows[0][0] == first[0] and table.rows[0][1] == int(first[1])
    assert len(table) == 5 and "<th>entity_id</th>" in table._repr_html_()
    assert all(0 <= v <= 1 for row in table.rows for v in row[2:6])
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,c\n")
    with pytest.raises(StadError, match="bad.csv"):
        ava_table(bad)


def test_config_changes_lists_only_what_differs(tmp_path):
    (tmp_path / "base.py").write_text("a = 1\nmodel = dict(x=1, y=2)\n"
                                      "pipeline = [dict(type='A'), dict(type='B')]\n")
    (tmp_path / "child.py").write_text(
        "_base_ = 'base.py'\nmodel = dict(y=3, z=4)\n"
        "pipeline = [dict(type='A'), dict(type='C')]\n")
    table = config_changes(tmp_path / "child.py")
    assert table.records() == [
        {"key": "model.y", "base": "2", "this config": "3"},
        {"key": "model.z", "base": "-", "this config": "4"},
        {"key": "pipeline", "base": "A -> B", "this config": "A -> C"},
    ]
    assert [r["key"] for r in config_changes(tmp_path / "child.py",
                                             only=("pipeline",)).records()] == [
        "pipeline"]
    with pytest.raises(StadError, match="config file not found"):
        config_changes(tmp_path / "nope.py")


def test_config_changes_of_the_cpu_action_config():
    rows = {r["key"]: r for r in config_changes(CPU_ACTION).records()}
    assert rows["model.backbone.depth"]["this config"] == "18"
    assert "TemporalDiff" in rows["val_pipeline"]["this config"]
    assert "TemporalDiff" not in rows["val_pipeline"]["base"]


@pytest.mark.parametrize("config, clip_len, interval", [(CPU_ACTION, 8, 4),
                                                         (GPU_ACTION, 4, 16)])
def test_clip_indices_centre_on_the_keyframe(config, clip_len, interval):
    frames = clip_indices(config, 50, 100)
    # SampleAVAFrames, test mode: clip_len frames `interval` apart, starting
    # clip_len // 2 intervals before the keyframe
    expected = 50 + interval * (np.arange(clip_len) - clip_len // 2)
    assert frames.tolist() == expected.tolist()
    assert frames.min() >= 1 and frames.max() <= 100
    near_start = clip_indices(config, 2, 100)
    assert near_start.min() >= 1 and len(near_start) == clip_len
    with pytest.raises(StadError):
        clip_indices(config, 0, 100)


def test_plot_clip_window_marks_each_frame_and_the_keyframe():
    windows = {"8x4x1": clip_indices(CPU_ACTION, 30, 60),
               "4x16x1": clip_indices(GPU_ACTION, 30, 60)}
    fig = plot_clip_window(windows, keyframe=30, nframes=60)
    ax = fig.axes[0]
    ticks = [len(c.get_offsets()) for c in ax.collections]
    assert ticks == [8, 4]
    assert any(np.allclose(line.get_xdata(), 30) for line in ax.lines)
    with pytest.raises(StadError):
        plot_clip_window({}, 3)


def test_plot_model_diagram_reads_the_config():
    fig = plot_model_diagram(CPU_ACTION)
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "8 frames" in texts and "4 apart" in texts and "4 classes" in texts
    assert "SlowOnly R18" in texts and "no action" in texts
    assert "RoIAlign" in texts


def test_plot_box_scores_keeps_what_reaches_the_threshold():
    names = ["wave", "march", "jump"]
    preds = Predictions([[10, 10, 50, 90], [60, 10, 100, 90]], [5, 5],
                        person_scores=[0.9, 0.7],
                        action_scores=[[0.1, 0.6, 0.3], [0.35, 0.3, 0.35]],
                        class_names=names)
    fig = plot_box_scores(preds, score_thr=0.4, image=np.zeros((100, 120, 3), np.uint8))
    image_ax, first, second = fig.axes
    assert len(image_ax.patches) == 2
    assert [p.get_width() for p in first.patches] == pytest.approx([0.1, 0.6, 0.3])
    assert "kept: march" in first.get_title()
    assert "kept: none" in second.get_title()
    empty = Predictions.empty(names)
    fig = plot_box_scores(empty)
    assert "no person" in fig.axes[0].texts[0].get_text()


def _predictions_from_gt(gt: MultiSportsGT, video: str, wrong_frame: int):
    """One perfect box per GT box of `video` (one-hot on its class), plus a
    wrong-class box at `wrong_frame`."""
    h, w = gt.resolution[video]
    scale = np.array([w, h, w, h], np.float32)
    frames: dict[int, tuple[list, list]] = {}
    for tube in gt.tubes([video]):
        for row in tube.boxes:
            boxes, scores = frames.setdefault(int(row[0]), ([], []))
            boxes.append(row[1:5] / scale)
            one = np.zeros(len(gt.labels), np.float32)
            one[tube.label] = 0.9
            scores.append(one)
    boxes, scores = frames[wrong_frame]
    boxes.append(np.array([0.0, 0.0, 0.2, 0.2], np.float32))
    wrong = np.zeros(len(gt.labels), np.float32)
    wrong[0] = 0.5
    scores.append(wrong)
    return [{"video": video, "frame": f, "boxes": np.array(b, np.float32),
             "scores": np.array(s, np.float32)} for f, (b, s) in sorted(frames.items())]


def _test_tube(gt: MultiSportsGT):
    tubes = [t for t in gt.tubes(gt.test_videos) if len(t.boxes) >= 15]
    if not tubes:
        pytest.skip("no test tube of 15 frames in this synthetic set")
    return tubes[0]


def test_linked_tubes_of_perfect_predictions_match_the_gt(synth):
    _, gt = synth
    tube = _test_tube(gt)
    preds = _predictions_from_gt(gt, tube.video, int(tube.boxes[0, 0]))
    linked = linked_tubes(preds, gt, tube.video)
    same = [t for t in linked if t.label == tube.label]
    assert same and max(tube_iou(t.boxes, tube.boxes) for t in same) > 0.95
    assert all(len(t.boxes) >= 15 for t in linked)
    fig = plot_tubes(gt, tube.video, linked, keyframes=[p["frame"] for p in preds])
    n_gt = len(list(gt.tubes([tube.video])))
    assert len(fig.axes[0].patches) == n_gt + len(linked)
    with pytest.raises(StadError):
        linked_tubes(preds, gt, "no/such_video")


def test_tube_iou_is_temporal_times_spatial():
    a = np.array([[f, 0, 0, 10, 10] for f in range(1, 11)], np.float32)
    b = np.array([[f, 0, 0, 10, 5] for f in range(6, 16)], np.float32)
    # MMAction2's iou3dt_voc: temporal IoU of the spans (last - first frame),
    # (10 - 6) / (15 - 1), times the mean box IoU on the shared frames, 0.5
    assert tube_iou(a, b) == pytest.approx(4 / 14 * 0.5)
    assert tube_iou(a, a) == pytest.approx(1.0)
    far = b.copy()
    far[:, 0] += 20
    assert tube_iou(a, far) == 0.0


def test_frame_matches_counts_tp_fp_and_misses(synth):
    _, gt = synth
    tube = _test_tube(gt)
    frame = int(tube.boxes[0, 0])
    preds = _predictions_from_gt(gt, tube.video, frame)
    n_gt = sum(int((t.boxes[:, 0] == frame).any()) for t in gt.tubes([tube.video]))
    matches = frame_matches(preds, gt, tube.video, frame)
    assert len(matches.true_positives) == n_gt
    assert len(matches.false_positives) == 1 and len(matches.misses) == 0
    assert matches.false_positives[0, 0] == 0  # the wrong-class box
    # drop the predictions of that frame: every GT box is a miss
    others = [p for p in preds if p["frame"] != frame]
    missed = frame_matches(others, gt, tube.video, frame)
    assert len(missed.misses) == n_gt and len(missed.true_positives) == 0
    h, w = gt.resolution[tube.video]
    fig = plot_frame_matches(matches, np.zeros((h, w, 3), np.uint8), gt.labels)
    assert len(fig.axes[0].patches) == n_gt + 1
    assert f"{n_gt} TP, 1 FP" in fig.axes[0].get_title()


def test_threshold_table_reads_the_values_where_they_live():
    table = threshold_table(CPU_ACTION, CPU_DET, det_score_thr=0.85)
    values = dict(zip(table.column("threshold"), table.column("value")))
    assert values["person_det_score_thr"] == person_det_score_thr(CPU_ACTION)
    assert values["demo det_score_thr"] == 0.85
    assert values["demo action_score_thr"] == 0.4  # demo()'s default
    assert values["frame IoU"] == 0.5
    assert values["minimum tube length"] == "15 frames"
    assert values["assigner pos_iou_thr / neg_iou_thr"] == "0.5 / 0.3"


def test_metric_table_maps_names_and_percent():
    table = metric_table({"frame_map": 0.7486, "video_map_0.2": 0.6325})
    rows = {r["ours (metrics.json)"]: r for r in table.records()}
    assert rows["frame_map"]["MMAction2 log"] == "frameAP"
    assert rows["frame_map"]["percent"] == pytest.approx(74.86)
    assert rows["video_map_0.2"]["MMAction2 log"] == "v_map@0.2"
    assert rows["video_map_0.5"]["value"] == "-"
