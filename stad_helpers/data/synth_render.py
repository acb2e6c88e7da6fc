"""The synthetic dataset, drawing: a plan's motion per frame, then its pixels.

`plan_motion` computes, vectorized over actors and frames, every joint of every
stick figure (its pose is a function of three phases: left arm, right arm,
legs), the line widths and the tight box around each figure, in view pixels.
`render_video` draws the camera's view of a cluttered background
(`make_background`) and the figures from far to near (OpenCV, sub-pixel).

Used in: 01_dataset (through `make_synthetic_dataset`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from .synth_plan import VideoPlan, camera_path

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
# Motion (vectorized over actors and frames)
# ---------------------------------------------------------------------------
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

    cx, cy, s = camera_path(plan)
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
    cx, cy, s = camera_path(plan)
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
