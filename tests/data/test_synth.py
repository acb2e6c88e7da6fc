"""stad_helpers.data.synth: layout, format, determinism, and that the task is real."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from stad_helpers.data import layout, synth_render
from stad_helpers.data.gt import MultiSportsGT
from stad_helpers.data.safe_pickle import safe_load
from stad_helpers.data.synth import (
    DEMO_KEY,
    LABELS,
    SPORTS,
    build_gt,
    make_synthetic_dataset,
    plan_dataset,
    plan_motion,
    render_video,
)
from stad_helpers.data.synth_render import _J
from stad_helpers.data.validate import raise_if_invalid
from stad_helpers.errors import StadError
from stad_helpers.fileio import OUTPUT_MARKER
from stad_helpers.video import iter_frames, probe

TINY = dict(videos=3, frames=40, width=160, height=120, progress=False)
REQUIRED = {"labels", "train_videos", "test_videos", "nframes", "resolution", "gttubes"}


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> Path:
    """A tiny synthetic dataset, built once; returns its root."""
    root = tmp_path_factory.mktemp("synth")
    make_synthetic_dataset(root, seed=7, **TINY)
    return root


def _gt_path(root: Path) -> Path:
    return layout.gt_file(root)


def _video_path(root: Path, video: str) -> Path:
    return root / "trainval" / f"{video}.mp4"  # both splits, as in MultiSports


def _all_tubes(raw: dict, video: str) -> list[np.ndarray]:
    return [t for ts in raw["gttubes"][video].values() for t in ts] + list(
        raw["idle_tubes"][video])


def test_layout_is_multisports_tiny(tiny):
    gt = MultiSportsGT.load(_gt_path(tiny))
    files = sorted(p.relative_to(tiny).as_posix() for p in tiny.rglob("*")
                   if p.is_file())
    # MultiSports-tiny: annotated videos of both splits in trainval/, one clip
    # that is not annotated in test/ (the demo's input).
    expected = sorted(
        ["annotations/multisports_GT.pkl", f"test/{DEMO_KEY}.mp4", OUTPUT_MARKER]
        + [f"trainval/{v}.mp4" for v in gt.videos]
    )
    assert files == expected  # nothing else: no temp files, no stray folders
    assert DEMO_KEY not in gt.nframes and DEMO_KEY not in gt.extra["idle_tubes"]
    demo = probe(tiny / "test" / f"{DEMO_KEY}.mp4")
    assert (demo.height, demo.width, demo.nframes) == (120, 160, TINY["frames"])
    assert gt.train_videos and gt.test_videos
    assert {v.split("/")[0] for v in gt.videos} <= set(SPORTS)
    assert len({v.split("/")[0] for v in gt.videos}) == 2  # two sports
    assert all(v.split("/")[1].startswith("v_") for v in gt.videos)


def test_keys_and_dtypes_match_the_real_file(tiny):
    raw = safe_load(_gt_path(tiny))
    assert set(raw) == REQUIRED | {"idle_tubes"}
    assert raw["labels"] == LABELS and all(isinstance(x, str) for x in raw["labels"])
    for key in ("train_videos", "test_videos"):
        assert isinstance(raw[key], list) and len(raw[key]) == 1  # wrapped once
        assert all(isinstance(v, str) for v in raw[key][0])
    videos = raw["train_videos"][0] + raw["test_videos"][0]
    assert set(raw["nframes"]) == set(raw["resolution"]) == set(raw["gttubes"]) == set(
        videos) == set(raw["idle_tubes"])
    for v in videos:
        assert type(raw["nframes"][v]) is int
        res = raw["resolution"][v]
        assert type(res) is tuple and res == (120, 160)
        assert all(type(x) is int for x in res)
        for label, tubes in raw["gttubes"][v].items():
            assert type(label) is int and 0 <= label < len(LABELS)
            assert isinstance(tubes, list) and tubes
        for tube in _all_tubes(raw, v):
            assert tube.dtype == np.float32 and tube.ndim == 2 and tube.shape[1] == 5


def test_gt_validates_against_its_videos(tiny):
    raw = safe_load(_gt_path(tiny))
    problems = raise_if_invalid(raw, source="synth", videos_root=tiny)
    assert problems == []


def test_tube_invariants(tiny):
    raw = safe_load(_gt_path(tiny))
    for v, n in raw["nframes"].items():
        h, w = raw["resolution"][v]
        for tube in _all_tubes(raw, v):
            f, x1, y1, x2, y2 = tube.T
            assert np.array_equal(f, np.arange(f[0], f[0] + len(f)))  # contiguous
            assert f[0] >= 1 and f[-1] <= n
            assert (x1 < x2).all() and (y1 < y2).all()
            assert (x1 >= 0).all() and (y1 >= 0).all()
            assert (x2 <= w).all() and (y2 <= h).all()
        for tubes in raw["gttubes"][v].values():
            for tube in tubes:  # actions start and end mid-video
                assert tube[0, 0] > 1 and tube[-1, 0] < n


def test_probe_agrees_with_annotation(tiny):
    gt = MultiSportsGT.load(_gt_path(tiny))
    for v in gt.videos:
        info = probe(_video_path(tiny, v))
        assert info.nframes == gt.nframes[v]
        assert (info.height, info.width) == gt.resolution[v]
        assert info.fps == 25.0


def test_same_seed_same_bytes_and_frames(tiny, tmp_path):
    # Two worker processes this time: the output must not depend on them.
    again = make_synthetic_dataset(tmp_path / "again", seed=7, workers=2, **TINY)
    assert again.read_bytes() == _gt_path(tiny).read_bytes()
    gt = MultiSportsGT.load(again)
    for v in gt.videos:
        a = list(iter_frames(_video_path(tiny, v)))
        b = list(iter_frames(_video_path(tmp_path / "again", v)))
        assert len(a) == len(b) == gt.nframes[v]
        assert all(np.array_equal(x, y) for x, y in zip(a, b))
        assert _video_path(tiny, v).read_bytes() == _video_path(
            tmp_path / "again", v).read_bytes()
    other = make_synthetic_dataset(tmp_path / "other", seed=8, write_videos=False,
                                   **TINY)
    assert other.read_bytes() != again.read_bytes()


def test_rerun_replaces_gt_and_stale_videos(tmp_path):
    make_synthetic_dataset(tmp_path, seed=1, videos=4, frames=24, width=64, height=64,
                           progress=False)
    stale = tmp_path / "trainval" / "synthetic_yard" / "v_0003_c001.mp4"
    assert stale.is_file()
    mine = tmp_path / "trainval" / "synthetic_yard" / "mine.mp4"
    mine.write_bytes(b"user file")
    gt_path = make_synthetic_dataset(tmp_path, seed=1, videos=2, frames=24, width=64,
                                     height=64, progress=False)
    gt = MultiSportsGT.load(gt_path)
    assert len(gt.videos) == 2 and not stale.exists() and mine.exists()
    assert raise_if_invalid(safe_load(gt_path), videos_root=tmp_path) == []


def test_bad_arguments_are_stad_errors(tmp_path):
    for kwargs in (dict(videos=1), dict(frames=10), dict(width=32), dict(seed=-1)):
        with pytest.raises(StadError):
            make_synthetic_dataset(tmp_path, write_videos=False, **kwargs)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("seed", range(5))
def test_default_size_has_every_class_in_both_splits(seed):
    plans = plan_dataset(seed)
    gt = build_gt(plans)
    assert len(gt.train_videos) == 7 and len(gt.test_videos) == 3
    for split in ("train", "test"):
        counts = Counter(label for v in gt.split_videos(split)
                         for label, tubes in gt.gttubes[v].items() for _ in tubes)
        assert set(counts) == set(range(len(LABELS)))
        assert max(counts.values()) - min(counts.values()) <= 1  # balanced
    # Some people never act: every video has an idle tube spanning all its frames.
    for v in gt.videos:
        spans = [(t[0, 0], t[-1, 0]) for t in gt.extra["idle_tubes"][v]]
        assert (1, gt.nframes[v]) in spans


def test_every_person_is_annotated_once_per_frame():
    plans = plan_dataset(3, videos=4, frames=60)
    gt = build_gt(plans)
    for plan in plans:
        raw = gt.to_dict()
        frames = np.concatenate([t[:, 0] for t in _all_tubes(raw, plan.key)])
        counts = np.bincount(frames.astype(int), minlength=plan.nframes + 1)[1:]
        assert (counts == len(plan.actors)).all()
        # An actor's actions are all different, so looks never give the label away.
        for actor in plan.actors:
            labels = [s[0] for s in actor.segments]
            assert len(set(labels)) == len(labels)


def test_actors_overlap_at_times_but_not_always():
    overlaps = []
    for plan in plan_dataset(0):
        b = plan_motion(plan).boxes.astype(np.float64)  # (A, T, 4)
        iw = np.minimum(b[:, None, :, 2], b[None, :, :, 2]) - np.maximum(
            b[:, None, :, 0], b[None, :, :, 0])
        ih = np.minimum(b[:, None, :, 3], b[None, :, :, 3]) - np.maximum(
            b[:, None, :, 1], b[None, :, :, 1])
        inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
        area = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
        cover = inter / area[:, None]  # share of actor a covered by actor o
        cover[np.arange(len(b)), np.arange(len(b))] = 0
        overlaps.append(cover.max(1).ravel())
    share = (np.concatenate(overlaps) > 0.1).mean()
    assert 0.05 < share < 0.6


def test_boxes_are_tight_around_the_drawn_figure(monkeypatch):
    # On a plain grey world every pixel that differs belongs to the figure.
    monkeypatch.setattr(synth_render, "make_background", lambda plan: np.full(
        (plan.canvas_size[1], plan.canvas_size[0], 3), 128, np.uint8))
    plan = plan_dataset(2, videos=2, frames=30, width=160, height=120)[0]
    for a, actor in enumerate(plan.actors):
        alone = dataclasses.replace(plan, actors=[actor])
        motion = plan_motion(alone)
        for t, frame in enumerate(render_video(alone, motion)):
            if t % 7:
                continue
            ys, xs = np.nonzero(np.abs(frame.astype(int) - 128).max(-1) > 8)
            # Pixel i spans i..i+1, as in the boxes.
            drawn = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
            box = motion.boxes[0, t]
            assert np.abs(box - drawn).max() <= 1.5, (a, t, box, drawn)
            assert box[2] - box[0] > 10 and box[3] - box[1] > 20


def _clip_features(seed: int, videos: int):
    """Per keyframe: one frame's normalized pose, and the motion of arms and legs
    over the 8 frames (interval 4) an action model samples around it."""
    static, motion, labels, tubes = [], [], [], []
    arms = [_J[j] for j in ("l_elbow", "l_hand", "r_elbow", "r_hand")]
    legs = [_J[j] for j in ("l_knee", "l_foot", "r_knee", "r_foot")]
    tube_id = 0
    for plan in plan_dataset(seed, videos=videos):
        m = plan_motion(plan)
        for a, actor in enumerate(plan.actors):
            height = m.boxes[a, :, 3] - m.boxes[a, :, 1]
            rel = (m.joints[a] - m.joints[a, :, _J["pelvis"]][:, None]) / height[
                :, None, None]
            for label, first, last in actor.segments:
                tube_id += 1
                for k in range(max(first, 14), min(last, plan.nframes - 15) + 1, 5):
                    clip = rel[k - 14:k + 15:4]  # 8 frames
                    step = np.abs(np.diff(clip, axis=0)).mean(0).sum(-1)  # (J,)
                    static.append(rel[k].ravel())
                    motion.append([max(step[arms[:2]].sum(), step[arms[2:]].sum()),
                                   min(step[arms[:2]].sum(), step[arms[2:]].sum()),
                                   step[legs].sum()])
                    labels.append(label)
                    tubes.append(tube_id)
    return (np.array(static), np.array(motion), np.array(labels), np.array(tubes))


def _nn_accuracy(x: np.ndarray, labels: np.ndarray, tubes: np.ndarray) -> float:
    """Leave-one-tube-out 1-nearest-neighbour accuracy."""
    x = (x - x.mean(0)) / (x.std(0) + 1e-9)
    d = ((x[:, None] - x[None]) ** 2).sum(-1)
    d[tubes[:, None] == tubes[None]] = np.inf
    return float((labels[d.argmin(1)] == labels).mean())


def test_one_frame_does_not_reveal_the_action_but_motion_does():
    static, motion, labels, tubes = _clip_features(seed=0, videos=30)
    assert len(labels) > 400 and set(labels) == set(range(len(LABELS)))
    chance = np.bincount(labels).max() / len(labels)
    # A nearest-neighbour classifier on one frame's pose is at chance level ...
    assert _nn_accuracy(static, labels, tubes) < chance + 0.08
    # ... and the per-class mean pose is the same for every class ...
    means = np.stack([static[labels == k].mean(0) for k in range(len(LABELS))])
    assert np.abs(means - static.mean(0)).max() < 0.08
    # ... while the same classifier on how the limbs move over the clip is near
    # perfect: the classes differ in motion only.
    assert _nn_accuracy(motion, labels, tubes) > 0.95
