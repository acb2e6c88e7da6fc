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

Used in: 01_dataset (and the small settings every notebook runs in CI).
"""

from __future__ import annotations

import math
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

import cv2
import numpy as np

from ..errors import StadError
from ..fileio import claim_output_dir
from ..video import VideoSink
from . import layout
from .gt import MultiSportsGT

PathLike = Union[str, os.PathLike]

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

# Skeleton. Joints (image coordinates, y down) relative to the pelvis.
JOINTS = ("head", "neck", "pelvis", "l_shoulder", "l_elbow", "l_hand", "r_shoulder",
          "r_elbow", "r_hand", "l_hip", "l_knee", "l_foot", "r_hip", "r_knee", "r_foot")
_J = {name: i for i, name in enumerate(JOINTS)}
# Bones in drawing order: (joint a, joint b, colour slot, thickness slot).
_BONES = [
    ("l_hip", "l_knee", "pants", "limb"), ("l_knee", "l_foot", "pants", "limb"),
    ("r_hip", "r_knee", "pants", "limb"), ("r_knee", "r_foot", "pants", "limb"),
    ("l_hip", "r_hip", "pants", "limb"),
    ("pelvis", "neck", "shirt", "torso"),
    ("l_shoulder", "r_shoulder", "shirt", "limb"),
    ("l_shoulder", "l_elbow", "shirt", "limb"),
    ("r_shoulder", "r_elbow", "shirt", "limb"),
    ("l_elbow", "l_hand", "skin", "limb"), ("r_elbow", "r_hand", "skin", "limb"),
]
_BONE_IDX = [(_J[a], _J[b], c, t) for a, b, c, t in _BONES]
_OUTLINE = (24, 24, 24)  # BGR, drawn 1 px around every figure
_SHIFT = 4  # cv2 fixed-point bits: sub-pixel drawing, so motion is smooth
_LIMB, _TORSO, _HEAD = 0.07, 0.13, 0.09  # thicknesses / head radius, x height


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


@dataclass
class Motion:
    """Per-frame geometry of a video's actors, in view pixels (A actors, T frames)."""

    joints: np.ndarray  # (A, T, J, 2) float64
    limb: np.ndarray  # (A, T) int, line thickness of limbs
    torso: np.ndarray  # (A, T) int
    head: np.ndarray  # (A, T) float, head radius
    boxes: np.ndarray  # (A, T, 4) float32 x1, y1, x2, y2, tight around the figure
    labels: np.ndarray  # (A, T) int, action label or -1 when idle
    phases: np.ndarray  # (A, T, 3) cycles (left arm, right arm, legs)
    order: np.ndarray  # (A,) drawing order, far to near


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
    """The unannotated clip in test/ (MultiSports-tiny has one, for the demo)."""
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
    cx, cy, s = _camera_path(plan)
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


# ---------------------------------------------------------------------------
# Motion (vectorized over actors and frames)
# ---------------------------------------------------------------------------
def _camera_path(plan: VideoPlan) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame camera centre (world px) and zoom."""
    c, t = plan.camera, np.arange(plan.nframes, dtype=np.float64)
    cx = c["cx"] + c["ax"] * np.sin(2 * np.pi * t / c["px"] + c["fx"])
    cy = c["cy"] + c["ay"] * np.sin(2 * np.pi * t / c["py"] + c["fy"])
    s = 1 + c["az"] * np.sin(2 * np.pi * t / c["pz"] + c["fz"])
    return cx, cy, s


def pose(phases: np.ndarray) -> np.ndarray:
    """Joint offsets from the pelvis for unit height; `phases` (..., 3) -> (..., J, 2).

    Each arm lifts from the side to over the head and back, its elbow bending more
    on the way up; the legs alternate, lifting a bent knee outward. The torso stays
    upright, so limbs are the only parts that move.
    """
    rad = np.pi / 180
    u = 2 * np.pi * phases[..., 0:2]  # (..., 2): left arm, right arm
    v = 2 * np.pi * phases[..., 2:3]  # (..., 1): legs
    alpha = (15 + 150 * (1 - np.cos(u)) / 2) * rad  # upper arm, from straight down
    beta = (10 + 50 * (1 + np.sin(u)) / 2) * rad  # elbow bend
    lift = np.clip(np.concatenate([np.sin(v), -np.sin(v)], -1), 0, None)  # l, r
    gamma = (6 + 65 * lift) * rad  # thigh, outward from straight down
    delta = 100 * lift * rad  # knee bend

    def vec(x, y):
        return np.stack(np.broadcast_arrays(x, y), -1)

    zero = np.zeros(phases.shape[:-1])
    j = {"pelvis": vec(zero, zero), "neck": vec(zero, zero - 0.30),
         "head": vec(zero, zero - 0.43)}
    for k, (sign, p) in enumerate(((-1, "l"), (1, "r"))):
        a, b, g, d = alpha[..., k], beta[..., k], gamma[..., k], delta[..., k]
        j[f"{p}_shoulder"] = j["neck"] + vec(sign * 0.09 + zero, zero)
        j[f"{p}_elbow"] = j[f"{p}_shoulder"] + 0.17 * vec(sign * np.sin(a), np.cos(a))
        j[f"{p}_hand"] = j[f"{p}_elbow"] + 0.16 * vec(sign * np.sin(a + b),
                                                      np.cos(a + b))
        j[f"{p}_hip"] = vec(sign * 0.06 + zero, zero)
        j[f"{p}_knee"] = j[f"{p}_hip"] + 0.25 * vec(sign * np.sin(g), np.cos(g))
        j[f"{p}_foot"] = j[f"{p}_knee"] + 0.25 * vec(sign * np.sin(g - d),
                                                     np.cos(g - d))
    return np.stack([j[name] for name in JOINTS], -2)


def plan_motion(plan: VideoPlan) -> Motion:
    """Joints, line widths and tight boxes of every actor in every frame (view px)."""
    T, A = plan.nframes, len(plan.actors)
    t = np.arange(T, dtype=np.float64)
    labels = np.full((A, T), -1, np.int64)
    speed = np.zeros((A, T, 3))
    for a, actor in enumerate(plan.actors):
        for (label, first, last), sp in zip(actor.segments, actor.speeds):
            labels[a, first:last + 1] = label
            speed[a, first:last + 1] = sp
    # Phase advances only while acting; idle actors sway slightly around theirs.
    phase0 = np.array([a.phase0 for a in plan.actors]).reshape(A, 1, 3)
    sway = np.array([a.sway for a in plan.actors]).reshape(A, 3)
    phases = phase0 + np.cumsum(speed, axis=1) - speed
    phases += (sway[:, 0:1] * np.sin(2 * np.pi * t / sway[:, 1:2] + sway[:, 2:3]))[
        ..., None]
    phases %= 1.0

    h = np.array([a.height for a in plan.actors])[:, None]  # (A, 1)
    local = pose(phases) * h[..., None, None]  # (A, T, J, 2)
    x = np.array([[a.x0, a.x_amp, a.x_period, a.x_phase] for a in plan.actors])
    pelvis_x = x[:, :1] + x[:, 1:2] * np.sin(2 * np.pi * t / x[:, 2:3] + x[:, 3:4])
    feet = local[..., [_J["l_foot"], _J["r_foot"]], 1].max(-1)  # lowest foot on ground
    pelvis_y = np.array([a.foot_y for a in plan.actors])[:, None] - feet
    world = local + np.stack([pelvis_x, pelvis_y], -1)[..., None, :]

    cx, cy, s = _camera_path(plan)
    centre = np.stack([cx, cy], -1)[None, :, None, :]
    half = np.array([plan.width / 2, plan.height / 2])
    joints = (world - centre) * s[None, :, None, None] + half
    h_view = h * s[None, :]
    limb = np.maximum(2, np.rint(_LIMB * h_view)).astype(np.int64)
    torso = np.maximum(3, np.rint(_TORSO * h_view)).astype(np.int64)
    head = _HEAD * h_view

    # Tight boxes: each joint's reach is the half-width of the widest line ending
    # there, or the head's radius, +1 px outline +1 px anti-aliasing. Joints are
    # at pixel centres; boxes use pixel edges (pixel i spans i..i+1), hence +0.5.
    reach = np.zeros((A, T, len(JOINTS)))
    for ja, jb, _, slot in _BONE_IDX:
        r = (torso if slot == "torso" else limb) / 2 + 2
        reach[..., ja] = np.maximum(reach[..., ja], r)
        reach[..., jb] = np.maximum(reach[..., jb], r)
    reach[..., _J["head"]] = head + 2
    lo = (joints - reach[..., None]).min(-2) + 0.5
    hi = (joints + reach[..., None]).max(-2) + 0.5
    boxes = np.concatenate([lo, hi], -1)
    boxes[..., 0::2] = boxes[..., 0::2].clip(0, plan.width)  # (never needed: actors
    boxes[..., 1::2] = boxes[..., 1::2].clip(0, plan.height)  # stay in view)
    boxes = np.round(boxes, 2).astype(np.float32)  # stable across machines
    order = np.argsort([a.foot_y for a in plan.actors], kind="stable")
    return Motion(joints, limb, torso, head, boxes, labels, phases, order)


# ---------------------------------------------------------------------------
# Pixels
# ---------------------------------------------------------------------------
def make_background(plan: VideoPlan) -> np.ndarray:
    """A cluttered world canvas (BGR) larger than the view: wall, floor, shapes."""
    rng = np.random.default_rng(list(plan.seed))
    cw, ch = plan.canvas_size
    img = np.empty((ch, cw, 3), np.float32)
    horizon = int(ch * rng.uniform(0.3, 0.5))
    img[:horizon] = rng.uniform(60, 220, 3)
    img[horizon:] = rng.uniform(40, 200, 3)
    blobs = rng.uniform(-40, 40, (max(2, ch // 24), max(2, cw // 24), 3))
    img += cv2.resize(blobs.astype(np.float32), (cw, ch), interpolation=cv2.INTER_CUBIC)
    img = np.clip(img, 0, 255).astype(np.uint8)
    scale = min(cw, ch)
    for _ in range(int(rng.integers(30, 55))):
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        kind = int(rng.integers(0, 5))
        x, y = int(rng.integers(0, cw)), int(rng.integers(0, ch))
        size = int(rng.uniform(0.02, 0.15) * scale) + 2
        fill = -1 if rng.random() < 0.6 else int(rng.integers(1, 4))
        if kind == 0:
            w2, h2 = int(size * rng.uniform(0.4, 2)), int(size * rng.uniform(0.4, 2))
            cv2.rectangle(img, (x, y), (x + w2, y + h2), color, fill, cv2.LINE_AA)
        elif kind == 1:
            cv2.circle(img, (x, y), size // 2, color, fill, cv2.LINE_AA)
        elif kind == 2:
            axes = (size, int(size * rng.uniform(0.2, 0.8)))
            cv2.ellipse(img, (x, y), axes, float(rng.uniform(0, 180)), 0, 360, color,
                        fill, cv2.LINE_AA)
        elif kind == 3:
            pts = (np.array([x, y]) + rng.integers(-size, size + 1, (3, 2))).astype(
                np.int32)
            cv2.fillPoly(img, [pts], color, cv2.LINE_AA)
        else:
            x2, y2 = x + int(rng.integers(-2 * size, 2 * size)), y + int(
                rng.integers(-size, size))
            cv2.line(img, (x, y), (x2, y2), color, int(rng.integers(1, 3)), cv2.LINE_AA)
    noise = rng.integers(-5, 6, img.shape, dtype=np.int16)
    return np.clip(img.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def render_video(plan: VideoPlan, motion: Motion | None = None) -> Iterator[np.ndarray]:
    """Yield the video's BGR frames: the camera's view of the background, then the
    actors from far to near (nearer ones occlude farther ones)."""
    motion = plan_motion(plan) if motion is None else motion
    canvas = make_background(plan)
    cx, cy, s = _camera_path(plan)
    size = (plan.width, plan.height)
    one = 1 << _SHIFT
    for t in range(plan.nframes):
        m = np.array([[s[t], 0, plan.width / 2 - s[t] * cx[t]],
                      [0, s[t], plan.height / 2 - s[t] * cy[t]]])
        frame = cv2.warpAffine(canvas, m, size, flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REFLECT)
        for a in motion.order:
            colors = plan.actors[a].colors
            pts = np.rint(motion.joints[a, t] * one).astype(np.int64).tolist()
            widths = {"limb": int(motion.limb[a, t]), "torso": int(motion.torso[a, t])}
            head = int(round(motion.head[a, t] * one))
            for outline in (True, False):
                for ja, jb, slot, width in _BONE_IDX:
                    cv2.line(frame, pts[ja], pts[jb],
                             _OUTLINE if outline else colors[slot],
                             widths[width] + 2 * outline, cv2.LINE_AA, _SHIFT)
                cv2.circle(frame, pts[_J["head"]], head + one * outline,
                           _OUTLINE if outline else colors["skin"], -1, cv2.LINE_AA,
                           _SHIFT)
        yield frame


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
    """
    from tqdm.auto import tqdm

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
