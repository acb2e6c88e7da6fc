"""The synthetic dataset, planning: every video's camera, actors and actions, no pixels.

A plan (`VideoPlan`, one `ActorPlan` per person) fixes everything a video shows
before anything is drawn, from the seed alone: the camera's slow pans and zooms
(`camera_path`), each actor's looks, depth, wander and action segments (idle
before, between and after them), and the labels, dealt so each split gets every
class. `synth_render` turns a plan into motion and pixels, `synth` into the GT
and the files. The four actions (`ACTIONS`) differ only in which limbs move.

Used in: 01_dataset (through `make_synthetic_dataset`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..errors import StadError

# Label name -> speeds of (one arm, the other arm, legs). Each limb group moves
# through its own cycle of poses; speeds in cycles per frame are drawn per action
# from `SPEEDS` (at 25 fps "fast" is 1.8-2.3 Hz: frames sampled 4 apart see a fast
# limb a third of a cycle on). "still" limbs only sway like an idle person's, and
# rest at a uniformly random phase, so a single frame of any action looks like a
# single frame of any other: the actions differ in which limbs move, over time.
# "wave" moves the left or the right arm, at random.
ACTIONS: dict[str, tuple[str, str, str]] = {
    "wave": ("fast", "still", "still"),
    "swing arms": ("fast", "fast", "still"),
    "march": ("still", "still", "fast"),
    "jumping jack": ("fast", "fast", "fast"),
}
LABELS = list(ACTIONS)
SPEEDS = {"fast": (1 / 14, 1 / 11), "still": (0.0, 0.0)}
SPORTS = ("synthetic_gym", "synthetic_yard")
DEMO_KEY = "synthetic_gym/v_demo_c001"

DEFAULT_VIDEOS = 10
DEFAULT_FRAMES = 96
DEFAULT_WIDTH = 320
DEFAULT_HEIGHT = 240
DEFAULT_FPS = 25.0
TEST_FRACTION = 0.3
MAX_SEGMENTS = 3  # actions per actor and video
MIN_GAP = 6  # idle frames between two actions of one actor

@dataclass
class ActorPlan:
    """One person in one video: looks, path, phases and action segments."""

    height: float  # world pixels, head top to feet when standing
    foot_y: float  # world y of the ground under this actor (its depth)
    x0: float  # world x of the pelvis, centre of its wander
    x_amp: float
    x_period: float
    x_phase: float
    colors: dict[str, tuple[int, int, int]]  # shirt, pants, skin (BGR)
    phase0: tuple[float, float, float]  # left arm, right arm, legs; cycles
    sway: tuple[float, float, float]  # amplitude (cycles), period (frames), phase
    # (label, first, last) 0-based inclusive frames; label is -1 until assigned.
    segments: list[list[int]] = field(default_factory=list)
    speeds: list[tuple[float, ...]] = field(default_factory=list)  # per segment


@dataclass
class VideoPlan:
    """Everything needed to draw one video, decided before any pixel is drawn."""

    key: str  # 'sport/name'
    split: str  # 'train' | 'test' | 'demo' (not annotated)
    nframes: int
    width: int
    height: int
    seed: tuple[int, ...]  # for the background
    canvas_size: tuple[int, int]  # (width, height) of the world the camera sees
    camera: dict[str, float]
    actors: list[ActorPlan]


# ---------------------------------------------------------------------------
# Planning (cheap, no pixels)
# ---------------------------------------------------------------------------
def plan_dataset(
    seed: int = 0,
    videos: int = DEFAULT_VIDEOS,
    frames: int = DEFAULT_FRAMES,
    width: int = DEFAULT_WIDTH,
    height: int = DEFAULT_HEIGHT,
) -> list[VideoPlan]:
    """Decide every video's camera, actors and labelled action segments.

    Labels are dealt per split, balanced, so each split gets every class as soon
    as it has at least as many action segments as classes (always true at the
    default size); one actor's actions all differ.

    Raises:
        StadError: `seed < 0`, fewer than 2 videos, fewer than 24 frames, or a
            frame size below 64x64 pixels.
    """
    _check_args(seed, videos, frames, width, height)
    n_test = max(1, round(videos * TEST_FRACTION))
    plans = []
    for i in range(videos):
        rng = np.random.default_rng([seed, 1, i])
        split = "test" if i >= videos - n_test else "train"
        key = f"{SPORTS[i % len(SPORTS)]}/v_{i:04d}_c001"
        nframes = int(frames - rng.integers(0, frames // 8 + 1))
        plans.append(_plan_video(rng, key, split, nframes, width, height, (seed, 2, i)))

    rng = np.random.default_rng([seed, 0])
    for split in ("train", "test"):
        split_plans = [p for p in plans if p.split == split]
        _ensure_segments(rng, split_plans, len(LABELS))
        _deal_labels(rng, split_plans)
    for i, plan in enumerate(plans):
        _set_speeds(np.random.default_rng([seed, 3, i]), plan)
    return plans


def plan_demo(
    seed: int = 0,
    frames: int = DEFAULT_FRAMES,
    width: int = DEFAULT_WIDTH,
    height: int = DEFAULT_HEIGHT,
) -> VideoPlan:
    """The unannotated clip in test/ (MultiSports-tiny has one, for the demo).

    Raises:
        StadError: `seed < 0`, fewer than 24 frames, or a frame size below 64x64.
    """
    _check_args(seed, 2, frames, width, height)
    rng = np.random.default_rng([seed, 4])
    plan = _plan_video(rng, DEMO_KEY, "demo", frames, width, height, (seed, 5))
    _deal_labels(rng, [plan])
    _set_speeds(rng, plan)
    return plan


def _set_speeds(rng: np.random.Generator, plan: VideoPlan) -> None:
    for actor in plan.actors:
        actor.speeds = [_speeds(rng, label) for label, _, _ in actor.segments]


def _check_args(seed: int, videos: int, frames: int, width: int, height: int) -> None:
    if seed < 0:
        raise StadError(f"seed must be a non-negative integer, got {seed}")
    if videos < 2:
        raise StadError(f"need at least 2 videos (one per split), got {videos}")
    if frames < 24:
        raise StadError(f"need at least 24 frames per video, got {frames}")
    if width < 64 or height < 64:
        raise StadError(f"frame size must be at least 64x64, got {width}x{height}")


def _speeds(rng: np.random.Generator, label: int) -> tuple[float, float, float]:
    left, right, legs = (float(rng.uniform(*SPEEDS[k])) for k in ACTIONS[LABELS[label]])
    if rng.random() < 0.5:  # either arm may be "the one arm"
        left, right = right, left
    return left, right, legs


def _plan_video(rng, key, split, nframes, width, height, seed) -> VideoPlan:
    cw, ch = math.ceil(width * 1.4), math.ceil(height * 1.4)
    # Slow pans and zooms (at most ~0.3 px per frame): the camera moves visibly over
    # a video, but far less than a limb does, so motion still points at the actor.
    camera = {
        "ax": rng.uniform(0.02, 0.05) * width, "px": rng.uniform(300, 500),
        "fx": rng.uniform(0, 2 * np.pi),
        "ay": rng.uniform(0.01, 0.03) * height, "py": rng.uniform(300, 500),
        "fy": rng.uniform(0, 2 * np.pi),
        "az": rng.uniform(0.02, 0.06), "pz": rng.uniform(300, 500),
        "fz": rng.uniform(0, 2 * np.pi),
        "cx": cw / 2, "cy": ch / 2,
    }
    plan = VideoPlan(key, split, nframes, width, height, seed, (cw, ch), camera, [])
    cx, cy, s = camera_path(plan)
    # World region seen in every frame: actors stay inside it, so no box is clipped.
    x_lo, x_hi = np.max(cx - width / (2 * s)), np.min(cx + width / (2 * s))
    y_lo, y_hi = np.max(cy - height / (2 * s)), np.min(cy + height / (2 * s))
    vis_h = y_hi - y_lo

    n_actors = int(rng.integers(3, 5))
    n_idle = 1  # never acts; the others act 1-3 times, idle in between
    # Spread actors over the width (one slot each, shuffled); their wander makes
    # them cross and occlude each other at times.
    slots = rng.permutation(n_actors)
    for k in range(n_actors):
        depth = rng.uniform(0, 1)
        h = (0.30 + 0.15 * depth) * vis_h
        # Feet at depth; the head (1.2 h up, arms raised) and the foot's line width
        # (0.06 h) stay inside the always-visible region.
        foot_y = y_lo + 1.2 * h + depth * (vis_h - 1.26 * h - 3)
        half_w = 0.5 * h  # arms out sideways reach 0.42 h, plus line widths
        lo, hi = x_lo + half_w, x_hi - half_w
        x_mid = lo + (hi - lo) * (slots[k] + rng.uniform(0.25, 0.75)) / n_actors
        x_period = rng.uniform(150, 350)
        x_amp = min(rng.uniform(0.3, 1.0) * min(x_mid - lo, hi - x_mid),
                    0.25 * x_period / (2 * np.pi))  # at most 0.25 px per frame
        actor = ActorPlan(
            height=float(h), foot_y=float(foot_y), x0=float(x_mid), x_amp=float(x_amp),
            x_period=float(x_period),
            x_phase=float(rng.uniform(0, 2 * np.pi)),
            colors=_actor_colors(rng),
            phase0=tuple(float(x) for x in rng.uniform(size=3)),
            sway=(float(rng.uniform(0.004, 0.012)), float(rng.uniform(40, 80)),
                  float(rng.uniform(0, 2 * np.pi))),
        )
        if k >= n_idle:
            actor.segments = _plan_segments(rng, nframes)
        plan.actors.append(actor)
    return plan


def _segment_bounds(nframes: int) -> tuple[int, int, int]:
    """(idle margin at each end, shortest, longest) action for a video of `nframes`."""
    margin = max(2, nframes // 16)
    shortest = max(8, min(20, nframes // 4))
    longest = max(shortest, min(40, nframes // 2))
    return margin, shortest, longest


def _max_segments(nframes: int) -> int:
    margin, shortest, _ = _segment_bounds(nframes)
    return max(1, min(MAX_SEGMENTS, (nframes - 2 * margin + MIN_GAP)
                      // (shortest + MIN_GAP)))


def _plan_segments(rng: np.random.Generator, nframes: int,
                   count: int | None = None) -> list[list[int]]:
    """Action segments [label, first, last] (label -1 until dealt) with idle frames
    before, between and after them, so every tube starts and ends mid-video."""
    margin, shortest, longest = _segment_bounds(nframes)
    most = _max_segments(nframes)
    if count is None:
        count = int(rng.integers(max(1, most - 1), most + 1))
    count = min(count, most)
    room = nframes - 2 * margin - (count - 1) * MIN_GAP
    lengths: list[int] = []
    for i in range(count):
        top = min(longest, room - sum(lengths) - (count - 1 - i) * shortest)
        lengths.append(int(rng.integers(shortest, top + 1)))
    slack = room - sum(lengths)
    cuts = np.sort(rng.integers(0, slack + 1, count))
    extra = np.diff(np.r_[0, cuts, slack])  # count + 1 idle stretches
    segments, start = [], margin + int(extra[0])
    for length, pause in zip(lengths, extra[1:]):
        segments.append([-1, start, start + length - 1])
        start += length + MIN_GAP + int(pause)
    return segments


def _ensure_segments(rng, plans: list[VideoPlan], needed: int) -> None:
    """Give a split at least `needed` action segments (matters only for tiny sets)."""
    actors = [(p, a) for p in plans for a in p.actors if a.segments]
    while sum(len(a.segments) for _, a in actors) < needed:
        growable = [(p, a) for p, a in actors
                    if len(a.segments) < _max_segments(p.nframes)]
        if not growable:
            return  # best effort: too few, too short videos
        plan, actor = min(growable, key=lambda pa: len(pa[1].segments))
        actor.segments = _plan_segments(rng, plan.nframes, len(actor.segments) + 1)


def _deal_labels(rng: np.random.Generator, plans: list[VideoPlan]) -> None:
    """Label every segment of a split: classes stay balanced (least used first, so
    each class appears once there are enough segments), and one actor's actions
    are all different, so an actor's looks never give its action away."""
    used = np.zeros(len(LABELS), np.int64)
    for plan in plans:
        for actor in plan.actors:
            k = len(actor.segments)
            order = np.lexsort((rng.random(len(LABELS)), used))  # MAX_SEGMENTS <= 4
            for seg, label in zip(actor.segments, rng.permutation(order[:k])):
                seg[0] = int(label)
                used[label] += 1


def _actor_colors(rng: np.random.Generator) -> dict[str, tuple[int, int, int]]:
    def hsv(h, s, v) -> tuple[int, int, int]:
        px = np.uint8([[[h * 179, s * 255, v * 255]]])
        return tuple(int(c) for c in cv2.cvtColor(px, cv2.COLOR_HSV2BGR)[0, 0])

    skins = [(0.06, 0.45, 0.95), (0.07, 0.55, 0.75), (0.06, 0.6, 0.55),
             (0.08, 0.35, 0.9), (0.05, 0.65, 0.4)]
    skin = skins[int(rng.integers(0, len(skins)))]
    return {
        "shirt": hsv(rng.uniform(), rng.uniform(0.5, 1), rng.uniform(0.55, 1)),
        "pants": hsv(rng.uniform(), rng.uniform(0.3, 0.9), rng.uniform(0.3, 0.75)),
        "skin": hsv(skin[0], skin[1] * rng.uniform(0.85, 1.15),
                    min(1.0, skin[2] * rng.uniform(0.9, 1.1))),
    }


def camera_path(plan: VideoPlan) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame camera centre (world px) and zoom."""
    c, t = plan.camera, np.arange(plan.nframes, dtype=np.float64)
    cx = c["cx"] + c["ax"] * np.sin(2 * np.pi * t / c["px"] + c["fx"])
    cy = c["cy"] + c["ay"] * np.sin(2 * np.pi * t / c["py"] + c["fy"])
    s = 1 + c["az"] * np.sin(2 * np.pi * t / c["pz"] + c["fz"])
    return cx, cy, s
