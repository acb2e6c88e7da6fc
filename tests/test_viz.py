"""stad_helpers.viz: colours, frames, clips, the player and plots on tiny data."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import av  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from stad_helpers.data.gt import MultiSportsGT, video_path  # noqa: E402
from stad_helpers.data.synth import make_synthetic_dataset  # noqa: E402
from stad_helpers.errors import StadError  # noqa: E402
from stad_helpers.video import VideoSink, iter_frames, probe  # noqa: E402
from stad_helpers.viz import (  # noqa: E402
    DEFAULT_PALETTE,
    GT_STYLE,
    PRED_STYLE,
    FrameBoxes,
    FrameReader,
    Palette,
    annotate_frame,
    class_color,
    gt_frames,
    load_per_class_ap,
    load_predictions,
    load_scalars,
    player,
    plot_dataset_stats,
    plot_per_class_ap,
    plot_training_curves,
    plot_tube_timeline,
    read_frame,
    show_frame,
    show_video,
    write_annotated_clip,
)

LABELS = ["wave", "swing arms", "march", "jumping jack"]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="session")
def synth(tmp_path_factory) -> tuple[Path, MultiSportsGT]:
    root = tmp_path_factory.mktemp("viz_synth")
    gt_path = make_synthetic_dataset(root, seed=3, videos=3, frames=32, width=160,
                                     height=120, progress=False)
    return root, MultiSportsGT.load(gt_path)


@pytest.fixture(scope="session")
def gray_video(tmp_path_factory) -> Path:
    """40 flat grey frames with the frame number written in the red channel."""
    path = tmp_path_factory.mktemp("viz_video") / "sport" / "clip.mp4"
    path.parent.mkdir()
    with VideoSink(path, 25) as sink:
        for i in range(40):
            frame = np.full((96, 128, 3), 100, np.uint8)
            frame[..., 2] = 4 * i  # red ramps with the frame number
            sink.write(frame)
    return path


def _blank(h: int = 120, w: int = 160) -> np.ndarray:
    return np.full((h, w, 3), 90, np.uint8)


# ---------------------------------------------------------------------------
# palette
# ---------------------------------------------------------------------------
def test_palette_is_deterministic_and_distinct():
    again = Palette()
    colours = [DEFAULT_PALETTE.rgb(i) for i in range(66)]  # MultiSports' 66 classes
    assert colours == [again.rgb(i) for i in range(66)]
    assert len(set(colours)) == 66
    assert DEFAULT_PALETTE.rgb(None) not in colours  # grey is for class-less boxes
    first = np.array(colours[:10], float)
    dist = np.linalg.norm(first[:, None] - first[None], axis=-1)
    assert dist[np.triu_indices(10, 1)].min() > 60  # the common case: clearly apart
    assert class_color(3, "bgr") == DEFAULT_PALETTE.rgb(3)[::-1]
    assert class_color(3, "mpl") == tuple(c / 255 for c in DEFAULT_PALETTE.rgb(3))
    with pytest.raises(ValueError):
        class_color(0, "hsv")


# ---------------------------------------------------------------------------
# predictions and boxes
# ---------------------------------------------------------------------------
def test_load_predictions_accepts_the_usual_shapes(tmp_path):
    parallel = {"labels": LABELS, "frames": [
        {"frame": 3, "boxes": [[10, 10, 50, 60], [60, 10, 90, 80]],
         "labels": [1, 2], "scores": [0.9, 0.2]}]}
    dicts = [{"frame": 3, "detections": [
        {"box": [10, 10, 50, 60], "label": "swing arms", "score": 0.9},
        {"bbox": [60, 10, 90, 80], "actions": [{"label": 2, "score": 0.2}]}]}]
    zero_based = {"frames": [{"frame_idx": 2, "boxes": [[10, 10, 50, 60],
                                                        [60, 10, 90, 80]],
                              "labels": [1, 2], "scores": [0.9, 0.2]}]}
    path = tmp_path / "demo.json"
    path.write_text(json.dumps(parallel))
    for src in (path, dicts, zero_based):
        preds = load_predictions(src, labels=list(LABELS))
        assert list(preds.frames) == [3], src
        fb = preds.get(3)
        np.testing.assert_allclose(fb.boxes, [[10, 10, 50, 60], [60, 10, 90, 80]])
        assert fb.labels.tolist() == [1, 2]
        np.testing.assert_allclose(fb.scores, [0.9, 0.2])
        assert len(preds.get(4)) == 0
    assert load_predictions(path).labels == LABELS
    # Normalized boxes are scaled by the frame size.
    norm = load_predictions([{"frame": 1, "boxes": [[0.5, 0.5, 1.0, 1.0]],
                              "labels": [0], "scores": [1]}], size=(100, 200))
    np.testing.assert_allclose(norm.get(1).boxes, [[100, 50, 200, 100]])


def test_load_predictions_reads_the_demo_json(tmp_path):
    """The JSON exactly as `stad demo` writes it (its own record function)."""
    from stad_helpers.demo import _frame_record, _Segment
    from stad_helpers.fileio import dump_json

    names = dict(enumerate(LABELS))
    seg = _Segment(keyframe=4, boxes=np.array([[10, 10, 50, 60], [60, 10, 90, 80]],
                                              np.float32),
                   person_scores=np.array([0.99, 0.9], np.float32),
                   labels=[[2, 0], []], scores=[[0.8, 0.6], []])
    meta = {"width": 160, "height": 120,
            "classes": {str(k): v for k, v in names.items()},
            "frames": [_frame_record(f, seg, names) for f in (3, 4)]}
    preds = load_predictions(dump_json(meta, tmp_path / "demo.json"))
    assert preds.labels == LABELS and sorted(preds.frames) == [4, 5]  # 1-based
    fb = preds.get(4)
    assert fb.labels.tolist() == [2, 0, -1]  # one row per action; idle person: -1
    np.testing.assert_allclose(fb.scores, [0.8, 0.6, 0.0])
    np.testing.assert_allclose(fb.boxes[:2], [[10, 10, 50, 60]] * 2)
    assert fb.above(0.7).labels.tolist() == [2]
    # Drawn once, in the best action's colour, with one label line per action.
    fig = show_frame(_blank(), 4, predictions=preds)
    assert len(fig.axes[0].patches) == 2  # two people (the idle one grey)
    assert fig.axes[0].patches[0].get_edgecolor()[:3] == pytest.approx(
        DEFAULT_PALETTE.mpl(2))
    assert sorted(t.get_text() for t in fig.axes[0].texts) == [
        "march 0.80", "wave 0.60"]


def test_bad_predictions_file_names_the_file(tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text("{not json")
    with pytest.raises(StadError, match="broken.json"):
        load_predictions(bad)
    nofr = tmp_path / "noframe.json"
    nofr.write_text(json.dumps([{"boxes": [[0, 0, 1, 1]]}]))
    with pytest.raises(StadError, match="entry 0"):
        load_predictions(nofr)


def test_gt_frames_matches_the_tubes(synth):
    _, gt = synth
    video = gt.train_videos[0]
    by_frame = gt_frames(gt, video)
    n_boxes = sum(len(t.boxes) for t in gt.tubes([video]))
    assert sum(len(fb) for fb in by_frame.values()) == n_boxes
    tube = next(gt.tubes([video]))
    row = tube.boxes[0]
    fb = by_frame[int(row[0])]
    hit = np.all(np.isclose(fb.boxes, row[1:5]), axis=1) & (fb.labels == tube.label)
    assert hit.any()


# ---------------------------------------------------------------------------
# reading frames on demand
# ---------------------------------------------------------------------------
def test_frame_reader_random_access_matches_streaming(gray_video):
    reference = list(iter_frames(gray_video))
    order = [1, 2, 3, 40, 39, 20, 5, 21, 22, 38, 1, 30]
    with FrameReader(gray_video, cache_mb=0.1) as reader:
        assert len(reader) == 40
        for i in order:
            np.testing.assert_array_equal(reader[i], reference[i - 1])
        assert len(reader._cache) <= reader._cache_max  # memory stays bounded
        with pytest.raises(IndexError):
            reader[41]


# ---------------------------------------------------------------------------
# drawing
# ---------------------------------------------------------------------------
def test_annotate_frame_draws_in_class_colours_and_styles():
    gt = FrameBoxes([[20, 20, 80, 100]], [2], 1.0)
    pred = FrameBoxes([[90, 20, 150, 100], [10, 105, 60, 118]], [1, 3], [0.8, 0.1])
    frame = _blank()
    out = annotate_frame(frame, gt, pred, LABELS, score_thr=0.5)
    assert np.array_equal(frame, _blank())  # the input is not modified
    # GT: solid left edge, every pixel in the class colour.
    left = out[40:90, 20]
    assert (np.abs(left.astype(int) - DEFAULT_PALETTE.bgr(2)).max(axis=1) < 30).all()
    # Prediction: dashed right edge: some pixels in colour, some background.
    right = out[30:95, 150].astype(int)
    on = np.abs(right - DEFAULT_PALETTE.bgr(1)).max(axis=1) < 30
    assert 0.2 < on.mean() < 0.9
    # Below the threshold: nothing drawn where the low-score box was.
    assert np.array_equal(out[108:116, 30], _blank()[108:116, 30])
    low = annotate_frame(frame, None, pred, LABELS, score_thr=0.05)
    assert not np.array_equal(low[108:116, 10], _blank()[108:116, 10])


def test_show_frame_patches_and_array(synth):
    root, gt = synth
    video = gt.train_videos[0]
    by_frame = gt_frames(gt, video)
    frame = max(by_frame, key=lambda f: len(by_frame[f]))
    n_gt = len(by_frame[frame])
    preds = [{"box": [5, 5, 40, 60], "label": 0, "score": 0.9},
             {"box": [50, 5, 90, 60], "label": 1, "score": 0.1}]
    path = video_path(root, video)
    fig = show_frame(path, frame, gt=gt, predictions=preds, score_thr=0.5,
                     proposals=np.array([[0.1, 0.1, 0.5, 0.9, 0.99]]))
    ax = fig.axes[0]
    assert len(ax.patches) == n_gt + 1 + 1  # GT, one prediction above 0.5, proposal
    styles = [p.get_linestyle() for p in ax.patches]
    assert styles.count(GT_STYLE.linestyle) == n_gt  # GT solid
    assert styles.count(PRED_STYLE.linestyle) == 1  # predictions dashed
    gt_colours = {p.get_edgecolor()[:3] for p in ax.patches
                  if p.get_linestyle() == GT_STYLE.linestyle}
    expected = {DEFAULT_PALETTE.mpl(int(lab)) for lab in by_frame[frame].labels}
    assert {tuple(round(c, 4) for c in col) for col in gt_colours} == {
        tuple(round(c, 4) for c in col) for col in expected}
    arr = show_frame(path, frame, gt=gt, as_array=True)
    raw = next(f for i, f in enumerate(iter_frames(path), 1) if i == frame)
    assert arr.shape == raw.shape and not np.array_equal(arr, raw)
    # A bare frame and boxes, no GT: one patch.
    fig2 = show_frame(_blank(), 1, predictions=np.array([[10, 10, 50, 50, 0.9, 2]]),
                      labels=LABELS)
    assert len(fig2.axes[0].patches) == 1


# ---------------------------------------------------------------------------
# clips
# ---------------------------------------------------------------------------
def test_write_annotated_clip_is_h264_with_the_right_frames(synth, tmp_path):
    root, gt = synth
    video = gt.train_videos[0]
    src = video_path(root, video)
    info = probe(src)
    out = write_annotated_clip(src, tmp_path / "out" / "clip.mp4", gt=gt,
                               start=2, end=21, step=2, max_width=120,
                               progress=False)
    assert out == tmp_path / "out" / "clip.mp4"
    with av.open(str(out)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
    got = probe(out)
    assert got.nframes == 10  # frames 2, 4, ..., 20
    assert got.width == 120 and got.height == round(info.height * 120 / info.width)
    assert got.fps == pytest.approx(info.fps / 2)
    # Whole: the full clip holds every frame, and boxes are drawn on it.
    full = write_annotated_clip(src, tmp_path / "full.mp4", gt=gt, max_width=None,
                                progress=False)
    assert probe(full).nframes == info.nframes
    by_frame = gt_frames(gt, video)
    f = min(by_frame)
    x1, y1, x2, y2 = (int(v) for v in by_frame[f].boxes[0])
    drawn = next(a for i, a in enumerate(iter_frames(full), 1) if i == f)
    colour = np.array(DEFAULT_PALETTE.bgr(int(by_frame[f].labels[0])))
    edge = drawn[y1 + 4:y2 - 4, max(x1, 1)].astype(int)
    assert np.median(np.abs(edge - colour).max(axis=1)) < 60


def test_show_video_embeds_a_video_element(gray_video):
    for use_moviepy in (True, False):
        obj = show_video(gray_video, width=320, use_moviepy=use_moviepy)
        html = obj.data if isinstance(obj.data, str) else obj._repr_html_()
        assert "<video" in html and "base64," in html
        assert len(html) < 2 * gray_video.stat().st_size + 2000  # just the file
    linked = show_video(gray_video, max_mb=1e-6)  # too big: linked, not embedded
    assert "base64" not in linked._repr_html_()
    with pytest.raises(StadError):
        show_video(gray_video.with_name("missing.mp4"))


# ---------------------------------------------------------------------------
# player
# ---------------------------------------------------------------------------
def test_player_rerenders_on_every_control(synth):
    root, gt = synth
    video = gt.train_videos[0]
    by_frame = gt_frames(gt, video)
    f = min(by_frame)
    box = by_frame[f].boxes[0].tolist()
    preds = {"frames": [{"frame": f, "boxes": [box], "labels": [1],
                         "scores": [0.4]}]}
    p = player(video_path(root, video), predictions=preds, gt=gt, score_thr=0.3)
    try:
        assert p.slider.max == p.play.max == probe(video_path(root, video)).nframes
        first = p.image.value
        assert first[:2] == b"\xff\xd8"  # JPEG
        p.slider.value = f
        at_f = p.image.value
        assert p.renders == 2 and at_f != first and p.status.value.startswith(f"{f}/")
        assert "1 predicted" in p.status.value
        with_pred = p.frame_image()
        p.threshold.value = 0.5  # hides the 0.4 box
        assert "0 predicted" in p.status.value
        assert not np.array_equal(p.frame_image(), with_pred)
        p.threshold.value = 0.3
        assert np.array_equal(p.frame_image(), with_pred)
        p.show_gt.value = False
        assert p.image.value != at_f and "ground truth" in p.show_gt.description
        p.show_pred.value = False
        no_boxes = p.frame_image()
        raw = read_frame(video_path(root, video), f)
        assert np.array_equal(no_boxes, raw)  # both toggles off: the plain frame
        assert p.renders == 6  # initial + one per change
    finally:
        p.close()


def test_player_without_annotations_disables_toggles(gray_video):
    p = player(gray_video)
    try:
        assert p.show_gt.disabled and p.show_pred.disabled
        p.slider.value = 40
        # The red channel encodes the frame number: the image is frame 40's.
        assert abs(int(p.frame_image()[50, 60, 2]) - 4 * 39) < 8
    finally:
        p.close()


# ---------------------------------------------------------------------------
# plots
# ---------------------------------------------------------------------------
def test_plot_dataset_stats_counts(synth):
    _, gt = synth
    fig = plot_dataset_stats(gt)
    ax_cls, ax_len, ax_bpf = fig.axes[:3]
    n = len(gt.labels)
    assert len(ax_cls.patches) == 2 * n  # train and test bar per class
    heights = [p.get_height() for p in ax_cls.patches]
    assert sum(heights) == gt.summary()["tubes"]
    bpf = [p.get_height() for p in ax_bpf.patches]
    assert sum(bpf) == sum(gt.nframes.values())  # every frame counted once
    assert sum(k * h for k, h in enumerate(bpf)) == gt.summary()["boxes"]
    assert ax_cls.patches[0].get_facecolor()[:3] == pytest.approx(
        DEFAULT_PALETTE.mpl(0))


def test_plot_tube_timeline_bars(synth):
    _, gt = synth
    video = gt.train_videos[0]
    tubes = list(gt.tubes([video]))
    fig = plot_tube_timeline(gt, video)
    ax = fig.axes[0]
    assert len(ax.patches) == len(tubes)  # tubes are contiguous: one bar each
    lengths = sorted(p.get_width() for p in ax.patches)
    assert lengths == sorted(float(len(t.boxes)) for t in tubes)
    preds = [{"frame": f, "boxes": [[1, 1, 9, 9]], "labels": [2], "scores": [0.9]}
             for f in (*range(3, 8), *range(12, 15))]
    preds.append({"frame": 20, "boxes": [[1, 1, 9, 9]], "labels": [1], "scores": [0.1]})
    fig = plot_tube_timeline(gt, video, predictions=preds, score_thr=0.3)
    extra = len(fig.axes[0].patches) - len(tubes)
    assert extra == 2  # class 2 in two runs; class 1's box is below the threshold
    with pytest.raises(StadError):
        plot_tube_timeline(gt, "no/such_video")


def test_plot_per_class_ap_from_evaluate_rows(tmp_path):
    rows = [
        {"label": 0, "name": "wave", "gt_boxes": 5, "gt_tubes": 1, "detections": 9,
         "frame_ap@0.5": 0.9, "video_ap@0.2": 1.0, "video_ap@0.5": 0.5},
        {"label": 1, "name": "march", "gt_boxes": 0, "gt_tubes": 0, "detections": 0,
         "frame_ap@0.5": None, "video_ap@0.2": None, "video_ap@0.5": None},
        {"label": 2, "name": "jump", "gt_boxes": 4, "gt_tubes": 1, "detections": 3,
         "frame_ap@0.5": 0.25, "video_ap@0.2": 0.5, "video_ap@0.5": 0.0},
    ]
    eval_dir = tmp_path / "eval"
    eval_dir.mkdir()
    (eval_dir / "metrics.json").write_text(json.dumps({"frame_map": 0.5,
                                                       "per_class": rows}))
    with open(tmp_path / "per_class_ap.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, list(rows[0]))
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in r.items()}
                         for r in rows)
    from_dir = load_per_class_ap(eval_dir)
    assert list(from_dir) == ["frame_ap@0.5", "video_ap@0.2", "video_ap@0.5"]
    assert from_dir["frame_ap@0.5"]["jump"] == 0.25
    assert np.isnan(from_dir["video_ap@0.5"]["march"])
    from_csv = load_per_class_ap(tmp_path / "per_class_ap.csv")
    assert from_csv.keys() == from_dir.keys()
    assert from_csv["video_ap@0.2"]["wave"] == 1.0
    fig = plot_per_class_ap(eval_dir)
    bars = fig.axes[0].patches
    assert len(bars) == 3 * 2  # 3 metrics x 2 scored classes ('march' has no AP)
    assert sorted(b.get_height() for b in bars) == [0.0, 0.25, 0.5, 0.5, 0.9, 1.0]
    # A plain dict label -> AP: one bar each, in the class colours.
    fig = plot_per_class_ap({"wave": 0.8, "march": 0.4})
    bars = fig.axes[0].patches
    assert [b.get_height() for b in bars] == [0.8, 0.4]
    assert bars[1].get_facecolor()[:3] == pytest.approx(DEFAULT_PALETTE.mpl(1))
    with pytest.raises(StadError):
        load_per_class_ap(tmp_path / "nothing_here")


def _log_run(work_dir: Path, stamp: str, rows: list[tuple[dict, int]]) -> None:
    """Write scalars the way MMEngine's LoggerHook does (LocalVisBackend)."""
    from mmengine.visualization import LocalVisBackend

    backend = LocalVisBackend(save_dir=str(work_dir / stamp / "vis_data"))
    for scalars, step in rows:
        backend.add_scalars(scalars, step=step)


def test_training_curves_from_mmengine_logs(tmp_path):
    wd = tmp_path / "work"

    def train(it: int, epoch: int | None = None) -> tuple[dict, int]:
        row = {"lr": 0.01, "data_time": 0.1, "loss": 2.0 / it, "loss_cls": 1.0 / it,
               "time": 0.5, "iter": it}
        if epoch is not None:
            row["epoch"] = epoch
        return row, it

    # Run 1 (killed at iteration 30), resumed by run 2 from 20; epoch = 10 iters.
    _log_run(wd, "20260101_000000", [train(10, 1), ({"coco/bbox_mAP_50": 0.2,
                                                     "data_time": 0.1, "time": 0.2}, 1),
                                     train(20, 2), train(30, 3)])
    _log_run(wd, "20260101_010000", [train(25, 3), train(30, 3),
                                     ({"coco/bbox_mAP_50": 0.7, "time": 0.2}, 3),
                                     train(40, 4)])
    scalars = load_scalars(wd)
    assert [r["x"] for r in scalars["train"]] == [10, 20, 25, 30, 40]
    # Validation after epochs 1 and 3, at their last iterations.
    assert [(r["x"], r["coco/bbox_mAP_50"]) for r in scalars["val"]] == [
        (10, 0.2), (30, 0.7)]
    assert [r["x"] for r in load_scalars(wd, all_runs=False)["train"]] == [25, 30, 40]
    fig = plot_training_curves(wd)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["training loss", "validation metrics", "learning rate"]
    loss_ax = fig.axes[0]
    assert {ln.get_label() for ln in loss_ax.get_lines()} == {"loss", "loss_cls"}
    assert len(loss_ax.get_lines()[0].get_xdata()) == 5
    assert list(fig.axes[1].get_lines()[0].get_ydata()) == [0.2, 0.7]
    # A later run from scratch is not joined to older ones.
    _log_run(wd, "20260102_000000", [train(10, 1), train(20, 2)])
    assert [r["x"] for r in load_scalars(wd)["train"]] == [10, 20]
    with pytest.raises(StadError, match="scalars.json"):
        plot_training_curves(tmp_path / "empty")


def test_model_input_is_the_configs_clip_of_differences(gray_video):
    from _action_data import ACTION_CONFIG

    from stad_helpers.viz.model_input import model_input, plot_model_input

    clip = model_input(ACTION_CONFIG, gray_video, keyframe=20)
    # SampleAVAFrames (test mode): clip_len 8, interval 4, centred on the keyframe.
    assert len(clip.frames) == 8 and np.all(np.diff(clip.indices) == 4)
    assert clip.indices.min() <= 19 <= clip.indices.max()
    # Resize to short side 128, then differences: each step is 4 frames, and the
    # red channel counts frames, so the differences are positive in red only.
    assert clip.inputs.shape[0] == 8 and clip.inputs.shape[1] == 128
    inner = clip.inputs[:-1, 10:-10, 10:-10]
    red, rest = inner[..., 0], inner[..., 1:]
    assert red.mean() > 2 and abs(rest.mean()) < 1
    fig = plot_model_input(ACTION_CONFIG, gray_video, keyframe=20, columns=4)
    assert len(fig.axes) == 8


def test_model_input_names_a_keyframe_outside_the_video(gray_video):
    from _action_data import ACTION_CONFIG

    from stad_helpers.viz.model_input import model_input

    with pytest.raises(StadError, match="keyframe 41"):
        model_input(ACTION_CONFIG, gray_video, keyframe=41)
