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

from stad_helpers.data.gt import MultiSportsGT  # noqa: E402
from stad_helpers.data.layout import video_path  # noqa: E402
from stad_helpers.data.synth import make_synthetic_dataset  # noqa: E402
from stad_helpers.errors import StadError  # noqa: E402
from stad_helpers.predictions import Predictions  # noqa: E402
from stad_helpers.video import VideoSink, iter_frames, probe  # noqa: E402
from stad_helpers.viz import (  # noqa: E402
    DEFAULT_PALETTE,
    GT_STYLE,
    PRED_STYLE,
    Annotator,
    FrameReader,
    Palette,
    annotate_frame,
    class_color,
    load_per_class_ap,
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
# predictions as the pictures take them
# ---------------------------------------------------------------------------
def _pred(boxes, scores, frame: int = 1, names=LABELS) -> Predictions:
    """Boxes of one frame with per-class action scores (N, C)."""
    return Predictions(np.asarray(boxes, np.float32), np.full(len(boxes), frame),
                       action_scores=np.asarray(scores, np.float32).reshape(
                           len(boxes), len(names)), class_names=names)


def _onehot(label: int, score: float, names=LABELS) -> list[float]:
    row = [0.0] * len(names)
    row[label] = score
    return row


def test_the_demo_json_is_drawn_as_written(tmp_path):
    """The JSON exactly as `stad demo` writes it (its one writer), read back and
    drawn: a box with several actions once, one label line per action."""
    preds = _pred([[10, 10, 50, 60], [60, 10, 90, 80]],
                  [[0.6, 0, 0.8, 0], [0, 0, 0, 0]], frame=4)
    path = preds.to_demo_json(tmp_path / "demo.json", frames=[3, 4])
    fig = show_frame(_blank(), 4, predictions=path)
    assert len(fig.axes[0].patches) == 2  # two people (the idle one grey)
    assert fig.axes[0].patches[0].get_edgecolor()[:3] == pytest.approx(
        DEFAULT_PALETTE.mpl(2))
    assert fig.axes[0].patches[1].get_edgecolor()[:3] == pytest.approx(
        DEFAULT_PALETTE.mpl(None))
    assert sorted(t.get_text() for t in fig.axes[0].texts) == [
        "march 0.80", "wave 0.60"]
    fig = show_frame(_blank(), 4, predictions=path, score_thr=0.7)
    assert [t.get_text() for t in fig.axes[0].texts] == ["march 0.80"]
    assert len(show_frame(_blank(), 3, predictions=path).axes[0].patches) == 0


def test_bad_predictions_file_names_the_file(tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text("{not json")
    with pytest.raises(StadError, match="broken.json"):
        show_frame(_blank(), 1, predictions=bad)
    with pytest.raises(TypeError, match="Predictions or the demo's JSON"):
        show_frame(_blank(), 1, predictions=[{"frame": 1}])


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
    gt = _pred([[20, 20, 80, 100]], [_onehot(2, 1.0)])
    pred = _pred([[90, 20, 150, 100], [10, 105, 60, 118]],
                 [_onehot(1, 0.8), _onehot(3, 0.1)])
    frame = _blank()
    out = annotate_frame(frame, gt, pred, score_thr=0.5)
    assert np.array_equal(frame, _blank())  # the input is not modified
    # GT: solid left edge, every pixel in the class colour.
    left = out[40:90, 20]
    assert (np.abs(left.astype(int) - DEFAULT_PALETTE.bgr(2)).max(axis=1) < 30).all()
    # Prediction: dashed right edge: some pixels in colour, some background.
    right = out[30:95, 150].astype(int)
    on = np.abs(right - DEFAULT_PALETTE.bgr(1)).max(axis=1) < 30
    assert 0.2 < on.mean() < 0.9
    # Below the threshold: the person stays, grey and without a label line.
    grey = np.abs(out[105:119, 10:61].astype(int) - DEFAULT_PALETTE.bgr(None)).max(-1)
    class3 = np.abs(out[105:119, 10:61].astype(int) - DEFAULT_PALETTE.bgr(3)).max(-1)
    assert (grey < 30).any() and not (class3 < 30).any()
    low = annotate_frame(frame, None, pred, score_thr=0.05)
    class3 = np.abs(low[105:119, 10:61].astype(int) - DEFAULT_PALETTE.bgr(3)).max(-1)
    assert (class3 < 30).any()


def test_one_annotator_for_the_demo_clips_and_player():
    """`annotate_frame`'s predictions are the plain `Annotator`'s drawing."""
    pred = _pred([[30, 20, 90, 70]], [_onehot(0, 0.9)])
    frame = _blank()
    np.testing.assert_array_equal(annotate_frame(frame, None, pred, score_thr=0.3),
                                  Annotator(score_thr=0.3).annotate(frame, pred))
    assert Annotator.for_ground_truth().labels_at == "above"
    with pytest.raises(ValueError, match="labels_at"):
        Annotator(labels_at="left")
    with pytest.raises(StadError, match="font file not found"):
        Annotator(fonts=["/no/such/font.ttf"])


def _ink(patch: np.ndarray, bg) -> np.ndarray:
    """Pixels of a label patch that are not its background."""
    return np.abs(patch.astype(int) - np.array(bg)).max(-1) > 60


@pytest.mark.parametrize("label", ["стоять", "café", "Ünïcödé", "ходьба 2"])
def test_unicode_labels_are_drawn_as_written(label):
    """Pillow with DejaVu Sans draws the letters; cv2's Hershey fonts drew '?'."""
    ann = Annotator()
    bg = DEFAULT_PALETTE.bgr(0)
    patch = ann.text_patch(label, 20, 0)
    qmarks = ann.text_patch("?" * len(label), 20, 0)
    assert _ink(patch, bg).sum() > 30  # glyphs, not an empty box
    assert patch.shape != qmarks.shape or not np.array_equal(patch, qmarks)
    # Each letter is drawn: dropping the last changes the picture.
    assert ann.text_patch(label[:-1], 20, 0).shape[1] < patch.shape[1]
    # And on a frame, through the annotator, the same patch lands below the box.
    preds = _pred([[10, 10, 60, 40]], [[0.9, 0]], names=[label, "x"])
    out = Annotator(text_size=0.1, show_scores=False).annotate(_blank(), preds)
    line = Annotator().text_patch(label, 12, 0)
    assert np.array_equal(out[40:40 + line.shape[0], 10:10 + line.shape[1]], line)


def test_missing_glyphs_fall_back_to_another_font(tmp_path):
    """A primary font without Cyrillic: its letters come from DejaVu Sans."""
    import matplotlib

    from stad_helpers.viz.annotate import _charmap

    cmr = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "cmr10.ttf"
    assert ord("я") not in _charmap(str(cmr)) and ord("a") in _charmap(str(cmr))
    bg = DEFAULT_PALETTE.bgr(0)
    mixed = _ink(Annotator(fonts=[cmr]).text_patch("стоять", 20, 0), bg)
    plain = _ink(Annotator().text_patch("стоять", 20, 0), bg)
    assert mixed.sum() == plain.sum() > 30  # the same DejaVu glyphs
    assert mixed.shape[1] == plain.shape[1]
    latin = Annotator(fonts=[cmr]).text_patch("walk", 20, 0)  # cmr10's own letters
    assert latin.shape != Annotator().text_patch("walk", 20, 0).shape or not (
        np.array_equal(latin, Annotator().text_patch("walk", 20, 0)))


def test_cjk_labels_use_an_installed_font_or_warn():
    from stad_helpers.viz.annotate import _fallback_font

    label = "走路"
    ann = Annotator()
    if _fallback_font("走") is None:  # no CJK font installed: say so, once
        with pytest.warns(UserWarning, match="no installed font has"):
            ann.text_patch(label, 21, 1)
    else:
        bg = DEFAULT_PALETTE.bgr(1)
        assert _ink(ann.text_patch(label, 21, 1), bg).sum() > 30


def test_text_size_follows_the_frame_size():
    small, large = _blank(120, 160), _blank(1080, 1440)
    ann = Annotator()
    assert ann.text_px(large.shape) > 3 * ann.text_px(small.shape)
    pred_s = _pred([[20, 20, 60, 50]], [_onehot(0, 0.9)])
    pred_l = _pred([[180, 180, 540, 450]], [_onehot(0, 0.9)])
    colour = np.array(DEFAULT_PALETTE.bgr(0))

    def label_rows(out, y2):  # rows below the box holding the label's fill
        fill = (np.abs(out[y2 + 3:].astype(int) - colour).max(-1) < 10).any(1)
        return int(fill.sum())

    assert label_rows(ann.annotate(large, pred_l), 450) > 3 * label_rows(
        ann.annotate(small, pred_s), 50)


def test_show_frame_patches_and_array(synth):
    root, gt = synth
    video = gt.train_videos[0]
    gt_preds = Predictions.from_gt(gt, video)
    counts = {f: len(p) for f, p in gt_preds.by_frame()}
    frame = max(counts, key=counts.get)
    n_gt = counts[frame]
    preds = _pred([[5, 5, 40, 60], [50, 5, 90, 60]],
                  [_onehot(0, 0.9, gt.labels), _onehot(1, 0.1, gt.labels)],
                  frame=frame, names=gt.labels)
    path = video_path(root, video)
    fig = show_frame(path, frame, gt=gt, predictions=preds, score_thr=0.5,
                     proposals=np.array([[0.1, 0.1, 0.5, 0.9, 0.99]]))
    ax = fig.axes[0]
    assert len(ax.patches) == n_gt + 2 + 1  # GT, two people predicted, proposal
    styles = [p.get_linestyle() for p in ax.patches]
    assert styles.count(GT_STYLE.linestyle) == n_gt  # GT solid
    assert styles.count(PRED_STYLE.linestyle) == 2  # predictions dashed
    assert [t.get_text() for t in ax.texts].count(f"{gt.labels[0]} 0.90") == 1
    gt_colours = {p.get_edgecolor()[:3] for p in ax.patches
                  if p.get_linestyle() == GT_STYLE.linestyle}
    expected = {DEFAULT_PALETTE.mpl(int(lab))
                for lab in gt_preds.at(frame).best_actions()[0]}
    assert {tuple(round(c, 4) for c in col) for col in gt_colours} == {
        tuple(round(c, 4) for c in col) for col in expected}
    arr = show_frame(path, frame, gt=gt, as_array=True)
    raw = next(f for i, f in enumerate(iter_frames(path), 1) if i == frame)
    assert arr.shape == raw.shape and not np.array_equal(arr, raw)
    # A bare frame and its boxes, no GT: one patch.
    fig2 = show_frame(_blank(), 1, predictions=_pred([[10, 10, 50, 50]],
                                                     [_onehot(2, 0.9)]))
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
    by_frame = dict(Predictions.from_gt(gt, video).by_frame())
    f = min(by_frame)
    x1, y1, x2, y2 = (int(v) for v in by_frame[f].boxes[0])
    drawn = next(a for i, a in enumerate(iter_frames(full), 1) if i == f)
    colour = np.array(DEFAULT_PALETTE.bgr(int(by_frame[f].best_actions()[0][0])))
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
    by_frame = dict(Predictions.from_gt(gt, video).by_frame())
    f = min(by_frame)
    box = by_frame[f].boxes[0].tolist()
    preds = _pred([box], [_onehot(1, 0.4, gt.labels)], frame=f, names=gt.labels)
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
    frames = [*range(3, 8), *range(12, 15), 20]
    scores = [_onehot(2, 0.9, gt.labels)] * 8 + [_onehot(1, 0.1, gt.labels)]
    preds = Predictions([[1, 1, 9, 9]] * 9, frames, action_scores=scores,
                        class_names=gt.labels)
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

    from stad_helpers.viz.inputs import model_input, plot_model_input

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

    from stad_helpers.viz.inputs import model_input

    with pytest.raises(StadError, match="keyframe 41"):
        model_input(ACTION_CONFIG, gray_video, keyframe=41)


def test_player_shows_by_default_what_the_demo_draws():
    """The player's threshold defaults to the demo's (it was 0.3 against 0.4)."""
    import inspect

    from stad_helpers.demo import Demo, demo
    from stad_helpers.viz.widget import Player

    def default(fn, name):
        return inspect.signature(fn).parameters[name].default

    assert (default(Player, "score_thr") == default(demo, "action_score_thr")
            == default(Demo, "action_score_thr"))
