"""`multisports_map` gives MMAction2's frame-mAP and video-mAP bit for bit.

The reference is MMAction2's own `frameAP`, `link_tubes` and `videoAP` (with
`stad_helpers.compat`'s fixes), run on predictions generated from a scaled-down
full-statistics GT (`benchmarks/make_full_gt.py`): jittered boxes, misses,
bystanders linked into false tubes, random false positives. A second case
rounds every score to 0.05 so that ties are everywhere (both sides must break
them the same way).
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from _paths import ROOT

from stad_helpers import multisports_map as msm
from stad_helpers.action_eval import (
    TUBE_MIN_LEN,
    action_metrics,
    frame_detections,
)
from stad_helpers.action_predict import video_predictions
from stad_helpers.data.gt import MultiSportsGT
from stad_helpers.errors import StadError
from stad_helpers.predictions import Predictions


def _make_full_gt():
    spec = importlib.util.spec_from_file_location(
        "make_full_gt", ROOT / "benchmarks" / "make_full_gt.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _case(n_videos: int, seed: int, ties: bool = False):
    gen = _make_full_gt()
    gt = MultiSportsGT.from_dict(gen.make_full_gt(seed, n_videos=n_videos), "gen")
    records = gen.make_predictions(gt.to_dict(), seed)
    if ties:
        for r in records:
            r["scores"] = np.round(r["scores"] * 20).astype(np.float32) / 20
    return gt, records


@pytest.fixture(scope="module")
def mid():
    """8 val videos, ~2,800 boxes (MMAction2 links them in ~10 s)."""
    gt, records = _case(16, seed=1)
    return gt, frame_detections(video_predictions(records, gt), gt)


def _upstream(raw, dets):
    from mmaction.evaluation.functional import multisports_utils as mu

    mu_track, mu.track = mu.track, lambda seq, **_: seq  # no progress bar
    try:
        tubes = mu.link_tubes(raw, dets, len_thre=TUBE_MIN_LEN)
    finally:
        mu.track = mu_track
    return (mu.frameAP(raw, dets, 0.5, print_info=False), tubes,
            {t: mu.videoAP(raw, tubes, t, print_info=False) for t in (0.2, 0.5)})


def _same_tubes(a, b):
    assert a.keys() == b.keys()
    for label in a:
        assert len(a[label]) == len(b[label]), label
        for x, y in zip(a[label], b[label]):
            assert x[0] == y[0] and x[1] == y[1]
            assert x[2].dtype == y[2].dtype and np.array_equal(x[2], y[2])


def test_equal_to_mmaction2_bit_for_bit(mid):
    gt, dets = mid
    raw = gt.to_dict()
    frame_map, tubes, video_map = _upstream(raw, dets)
    assert sum(len(t) for t in tubes.values()) > 20  # real tubes were linked
    assert 10 < frame_map < 90 and 5 < video_map[0.2] < 90  # neither 0 nor perfect

    ours = msm.link_tubes(raw, dets, len_thre=TUBE_MIN_LEN)
    _same_tubes(tubes, ours)
    assert msm.mean_percent(msm.frame_ap(raw, dets, 0.5)) == frame_map
    aps = msm.video_ap(raw, ours, (0.2, 0.5))
    assert {t: msm.mean_percent(aps[t]) for t in (0.2, 0.5)} == video_map


def test_equal_with_tied_scores():
    gt, records = _case(8, seed=2, ties=True)
    dets = frame_detections(video_predictions(records, gt), gt)
    assert len(np.unique(dets[:, 3])) < 25  # ties everywhere
    raw = gt.to_dict()
    frame_map, tubes, video_map = _upstream(raw, dets)
    ours = msm.link_tubes(raw, dets, len_thre=TUBE_MIN_LEN)
    _same_tubes(tubes, ours)
    assert msm.mean_percent(msm.frame_ap(raw, dets, 0.5)) == frame_map
    aps = msm.video_ap(raw, ours, (0.2, 0.5))
    assert {t: msm.mean_percent(aps[t]) for t in (0.2, 0.5)} == video_map


def test_action_metrics_fast_equals_reference_with_the_per_class_table():
    gt, records = _case(8, seed=3)
    predictions = video_predictions(records, gt)
    fast = action_metrics(predictions, gt)
    reference = action_metrics(predictions, gt, reference=True)
    assert fast == reference  # headline, every per-class AP, the counts
    assert fast.frame_map > 0 and any(r["video_ap@0.5"] for r in fast.per_class)


def test_linking_in_two_processes_gives_the_same_tubes(mid):
    gt, dets = mid
    raw = gt.to_dict()
    _same_tubes(msm.link_tubes(raw, dets, workers=1),
                msm.link_tubes(raw, dets, workers=2))


def test_ap_voc_equals_upstream():
    from mmaction.evaluation.functional import multisports_utils as mu

    rng = np.random.default_rng(0)
    tp = rng.random(500) < 0.4
    precision = np.cumsum(tp) / np.arange(1, 501)
    recall = np.cumsum(tp) / 300
    assert msm.ap_voc(precision, recall) == mu.pr_to_ap_voc(
        np.column_stack([precision, recall]))
    assert msm.ap_voc(np.empty(0), np.empty(0)) == 0.0


# ---------------------------------------------------------------------------
# Predictions in, checked
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small():
    return _case(8, seed=4)


def test_records_become_one_predictions_per_video(small):
    gt, records = small
    predictions = video_predictions(records, gt)
    assert [p.video for p in predictions] == list(dict.fromkeys(
        r["video"] for r in records))
    first = predictions[0]
    rows = [r for r in records if r["video"] == first.video]
    h, w = gt.resolution[first.video]
    assert first.size == (h, w) and list(first.class_names) == gt.labels
    assert first.meta["keyframes_run"] == [r["frame"] for r in rows]
    np.testing.assert_allclose(first.boxes[0], rows[0]["boxes"][0] * [w, h, w, h],
                               rtol=1e-6)


def test_a_frame_beyond_the_video_is_a_clear_error(small):
    gt, records = small
    bad = [dict(records[0], frame=gt.nframes[records[0]["video"]] + 1)]
    with pytest.raises(StadError, match="frame .*gives the video"):
        video_predictions(bad, gt)


def test_predictions_of_other_frame_sizes_or_classes_are_refused(small):
    gt, records = small
    p = video_predictions(records[:3], gt)[0]
    other_size = Predictions(p.boxes, p.frames, action_scores=p.action_scores,
                             class_names=p.class_names, video=p.video, size=(10, 10))
    with pytest.raises(StadError, match="frames of"):
        action_metrics([other_size], gt)
    other_classes = Predictions(p.boxes, p.frames,
                                action_scores=p.action_scores[:, :2],
                                class_names=["a", "b"], video=p.video, size=p.size)
    with pytest.raises(StadError, match="labels"):
        action_metrics([other_classes], gt)


def _tiny_case(seed: int):
    """3 videos of 30 frames, 3 labels; boxes on a coarse grid and scores in
    steps of 0.1, so that identical boxes, tied scores, tubes from frame 1 to
    the last frame, gaps and crowded frames (NMS) all occur."""
    rng = np.random.default_rng(seed)
    n, videos = 30, ["s/a", "s/b", "s/c"]
    gttubes = {}
    for v in videos:
        gttubes[v] = {}
        for label in rng.choice(3, 2, replace=False).tolist():
            start = int(rng.integers(1, 10))
            stop = int(rng.integers(start + 12, n + 1))
            x = float(rng.integers(0, 6) * 10)
            tube = np.array([[f, x, 10, x + 30, 70] for f in range(start, stop + 1)],
                            np.float32)
            gttubes[v][label] = [tube]
    gt = MultiSportsGT(labels=["x", "y", "z"], train_videos=[], test_videos=videos,
                       nframes={v: n for v in videos},
                       resolution={v: (100, 100) for v in videos}, gttubes=gttubes)
    rows = []
    for iv in range(len(videos)):
        tracks = [(int(rng.integers(0, 3)), float(rng.integers(0, 6) * 10))
                  for _ in range(3)]
        for f in range(1, n + 1):
            for label, x in tracks:  # people followed, with gaps and label flips
                if rng.random() < 0.93:
                    lab = label if rng.random() < 0.9 else int(rng.integers(0, 3))
                    dx = float(rng.choice([0, 2]))
                    rows.append([iv, f, lab, float(rng.integers(1, 11)) / 10,
                                 x + dx, 10, x + dx + 30, 70])
                    if rng.random() < 0.2:  # a near-duplicate box (NMS)
                        rows.append([iv, f, lab, float(rng.integers(1, 11)) / 10,
                                     x, 12, x + 30, 70])
            for _ in range(int(rng.integers(0, 2))):  # clutter
                x = float(rng.integers(0, 7) * 10)
                rows.append([iv, f, int(rng.integers(0, 3)),
                             float(rng.integers(1, 11)) / 10, x, 10, x + 30, 70])
    return gt, np.array(rows, np.float64)


@pytest.mark.parametrize("seed", range(12))
def test_equal_on_crowded_tiny_cases(seed):
    gt, dets = _tiny_case(seed)
    raw = gt.to_dict()
    frame_map, tubes, video_map = _upstream(raw, dets)
    assert any(tubes.values())  # tubes were linked
    ours = msm.link_tubes(raw, dets, len_thre=TUBE_MIN_LEN)
    _same_tubes(tubes, ours)
    assert msm.mean_percent(msm.frame_ap(raw, dets, 0.5)) == frame_map
    aps = msm.video_ap(raw, ours, (0.2, 0.5))
    assert {t: msm.mean_percent(aps[t]) for t in (0.2, 0.5)} == video_map
