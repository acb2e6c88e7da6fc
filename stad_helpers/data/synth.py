"""The synthetic dataset: MultiSports-tiny layout, made offline in seconds.

Stick-figure actors (head, torso, arms, legs; random colours and sizes) stand on a
cluttered background that a moving camera pans and zooms over. Every actor's pose
is a function of three phases (left arm, right arm, legs), and each frame's
phases are uniformly distributed whatever the actor does. The four actions differ
only in which phases advance (`ACTIONS`), so a single frame says nothing
about the class: a model has to look at motion, as on the real data. Actors idle
(phases still, slight sway) before, between and after their actions, so tubes start
and end mid-video; some actors never act. Their boxes (and acting actors' idle
stretches) go to the extra GT key `idle_tubes`, not to `gttubes`, so the person
detector still learns them as people.

Layout written by `make_synthetic_dataset` (same as MultiSports-tiny, where
trainval/ holds the annotated videos of both GT splits and test/ an unannotated
clip for the demo):

    OUT/trainval/<sport>/<video>.mp4       train and test split videos
    OUT/test/synthetic_gym/v_demo_c001.mp4 a clip not in the GT, for the demo
    OUT/annotations/multisports_GT.pkl     written last, once every video exists

Everything is drawn from the seed: the same seed gives a byte-identical GT pickle
and identical decoded frames (the encoder runs single-threaded for that reason).

The work is split in three: `synth_plan` (what each video shows, decided from
the seed), `synth_render` (motion and pixels) and this module (the GT and the
files). The names below are re-exported here.

Used in: 01_dataset (and the small settings every notebook runs in CI).
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Union

import numpy as np
from tqdm.auto import tqdm

from ..fileio import claim_output_dir
from ..video import VideoSink
from . import layout
from .gt import MultiSportsGT
from .synth_plan import (
    ACTIONS,
    DEFAULT_FPS,
    DEFAULT_FRAMES,
    DEFAULT_HEIGHT,
    DEFAULT_VIDEOS,
    DEFAULT_WIDTH,
    DEMO_KEY,
    LABELS,
    SPORTS,
    ActorPlan,
    VideoPlan,
    plan_dataset,
    plan_demo,
)
from .synth_render import JOINTS, Motion, make_background, plan_motion, render_video

PathLike = Union[str, os.PathLike]

__all__ = ["ACTIONS", "DEMO_KEY", "JOINTS", "LABELS", "SPORTS", "ActorPlan", "Motion",
           "VideoPlan", "build_gt", "make_background", "make_synthetic_dataset",
           "plan_dataset", "plan_demo", "plan_motion", "render_video", "video_file",
           "write_video"]


# ---------------------------------------------------------------------------
# Annotation and files
# ---------------------------------------------------------------------------
def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) of each run of True in a 1-D bool array."""
    edges = np.flatnonzero(np.diff(np.r_[0, mask.astype(np.int8), 0]))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2])]


def _tube(boxes: np.ndarray, first: int, last: int) -> np.ndarray:
    frames = np.arange(first + 1, last + 2, dtype=np.float32)[:, None]  # 1-based
    return np.concatenate([frames, boxes[first:last + 1]], 1).astype(np.float32)


def build_gt(plans: list[VideoPlan],
             motions: list[Motion] | None = None) -> MultiSportsGT:
    """The MultiSports GT of planned videos, with `idle_tubes` for non-acting people."""
    motions = [plan_motion(p) for p in plans] if motions is None else motions
    gttubes: dict[str, dict[int, list[np.ndarray]]] = {}
    idle_tubes: dict[str, list[np.ndarray]] = {}
    for plan, motion in zip(plans, motions):
        by_label: dict[int, list[np.ndarray]] = {}
        idle: list[np.ndarray] = []
        for a, actor in enumerate(plan.actors):
            for label, first, last in actor.segments:
                by_label.setdefault(int(label), []).append(
                    _tube(motion.boxes[a], first, last))
            for first, last in _runs(motion.labels[a] < 0):
                idle.append(_tube(motion.boxes[a], first, last))
        gttubes[plan.key] = dict(sorted(by_label.items()))
        idle_tubes[plan.key] = idle
    return MultiSportsGT(
        labels=list(LABELS),
        train_videos=[p.key for p in plans if p.split == "train"],
        test_videos=[p.key for p in plans if p.split == "test"],
        nframes={p.key: int(p.nframes) for p in plans},
        resolution={p.key: (int(p.height), int(p.width)) for p in plans},
        gttubes=gttubes,
        extra={"idle_tubes": idle_tubes},
    )


def video_file(out_dir: PathLike, plan: VideoPlan) -> Path:
    """Where the MultiSports-tiny layout puts a planned video."""
    folder = layout.TEST if plan.split == "demo" else layout.TRAINVAL
    return Path(out_dir) / folder / f"{plan.key}{layout.VIDEO_SUFFIX}"


def write_video(out_dir: PathLike, plan: VideoPlan, fps: float = DEFAULT_FPS) -> Path:
    """Render one planned video and encode it to its place in the layout."""
    # One encoder thread: x264's output then depends only on the frames.
    with VideoSink(video_file(out_dir, plan), fps, threads=1) as sink:
        for frame in render_video(plan):
            sink.write(frame)
    return video_file(out_dir, plan)


def _synthetic_layout(out_dir: Path) -> bool:
    """True for a synthetic dataset written before output folders were marked:
    only the tutorial's folders, and only synthetic sports in the video folders."""
    top = {p.name for p in out_dir.iterdir() if not p.name.startswith(".")}
    if not top <= {*layout.VIDEO_DIRS, layout.ANNOTATIONS, layout.RAWFRAMES}:
        return False
    return all(p.name in SPORTS for folder in layout.VIDEO_DIRS
               if (out_dir / folder).is_dir() for p in (out_dir / folder).iterdir())


def make_synthetic_dataset(
    out_dir: PathLike,
    seed: int = 0,
    videos: int = DEFAULT_VIDEOS,
    frames: int = DEFAULT_FRAMES,
    width: int = DEFAULT_WIDTH,
    height: int = DEFAULT_HEIGHT,
    progress: bool = True,
    *,
    fps: float = DEFAULT_FPS,
    write_videos: bool = True,
    workers: int | None = None,
) -> Path:
    """Write the synthetic dataset in the MultiSports-tiny layout; return the GT path.

    Each video has between 7/8 of `frames` and `frames` frames. With
    `write_videos=False` only the annotation is written (instant; for tests and
    benchmarks). Videos are drawn in `workers` processes (default: one per core, at
    most 4, from 16 videos on; fewer do not repay starting them); the output does
    not depend on it. Every file is written whole or
    not at all, and the GT last: an old GT is removed first, so an interrupted run
    leaves no GT that would vouch for half-replaced videos. Synthetic videos of an
    earlier, larger run that this one does not list are removed too (nothing else
    in `out_dir` is touched).

    Args:
        out_dir: The dataset root to write (`trainval/`, `test/`,
            `annotations/multisports_GT.pkl`, as MultiSports-tiny of MMAction2's
            `projects/stad_tutorial`).
        seed: Random seed (>= 0); the same arguments give the same files.
        videos: Annotated videos, both splits together (>= 2).
        frames: Frames per video at most (>= 24).
        width: Frame width in pixels (>= 64).
        height: Frame height in pixels (>= 64).
        progress: Show a tqdm bar.
        fps: Frame rate of the mp4s.
        write_videos: Write the mp4s (False: the GT only).
        workers: Processes drawing videos.

    Returns:
        The path of `annotations/multisports_GT.pkl`.

    Raises:
        StadError: An argument out of range (see `plan_dataset`), or `out_dir`
            is a file or a folder this project did not make.
    """
    out_dir = Path(out_dir)
    plans = plan_dataset(seed, videos, frames, width, height)
    gt = build_gt(plans)
    # Only a folder this function made is written into: never one of the user's.
    claim_output_dir(out_dir, kind="synthetic dataset", legacy=_synthetic_layout)
    gt_path = layout.gt_file(out_dir)
    gt_path.unlink(missing_ok=True)
    if write_videos:
        plans = [*plans, plan_demo(seed, frames, width, height)]
        keep = {video_file(out_dir, p) for p in plans}
        for folder in layout.VIDEO_DIRS:
            for sport in SPORTS:
                for old in (out_dir / folder / sport).glob("v_*_c001.mp4"):
                    if old not in keep:
                        old.unlink()
        if workers is None:
            workers = min(os.cpu_count() or 1, 4) if len(plans) >= 16 else 1
        workers = max(1, min(workers, len(plans)))
        bar = dict(total=len(plans), desc="synthetic videos", unit="video",
                   disable=not progress)
        if workers == 1:
            for _ in tqdm((write_video(out_dir, p, fps) for p in plans), **bar):
                pass
        else:
            # spawn, not fork: a forked OpenCV/torch thread pool can hang the child.
            spawn = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(workers, mp_context=spawn) as pool:
                jobs = [pool.submit(write_video, out_dir, p, fps) for p in plans]
                for job in tqdm(as_completed(jobs), **bar):
                    job.result()
    return gt.save(gt_path)
