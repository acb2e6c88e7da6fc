"""`Predictions`: the one object for boxes and their actions, between every step.

The demo makes it, the pictures and the player draw it, the CVAT export turns it
into tracks, and ground truth can take the same shape for drawing beside it. One
row per person box (the shape of roboflow/supervision's `Detections`):

| field           | shape    | dtype   | meaning                                       |
|-----------------|----------|---------|-----------------------------------------------|
| `boxes`         | (N, 4)   | float32 | x1, y1, x2, y2 in pixels of the shown frame   |
| `frames`        | (N,)     | int64   | frame number, 1-based (as in MultiSports)     |
| `person_scores` | (N,)     | float32 | the person detector's score, in [0, 1]        |
| `action_scores` | (N, C)   | float32 | one column per class of `class_names`, [0, 1] |
| `track_ids`     | (N,)     | int64   | the person's track, -1 when untracked         |
| `keyframes`     | (N,)     | int64   | 1-based keyframe whose clip gave the row      |

Everything is checked on construction (`StadError` on a wrong shape, dtype or
range). Other formats come in through named constructors, one per source:

- `Predictions.from_demo_json(path)`: the JSON `stad demo` writes (and
  `to_demo_json`, its only writer; the format is described there);
- `Predictions.from_mmaction(...)`: MMAction2's spatio-temporal detection output
  (an `ActionDataSample`, or the per-keyframe dicts `stad evaluate` saves;
  evaluation passes one object per val video, `action_predict.video_predictions`);
- `Predictions.from_mmdet(...)`: MMDetection's person detections (a
  `DetDataSample`) or MMAction2's proposal arrays;
- `Predictions.from_gt(gt, video)`: a video's ground truth (scores 1).

Per frame: `preds.at(frame)`, `for frame, p in preds.by_frame()`, `preds[mask]`.

Used in: 04_inference_demo, 05_your_own_data.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import StadError
from .fileio import dump_json

DEMO_FORMAT = "stad-demo"  # the "format" of `stad demo`'s JSON
DEMO_VERSION = 1  # its current "version"; files without one are version 0
# The demo's default thresholds, shared by `stad demo`, `demo()`, `Demo` and the
# player, so that the player shows by default what the demo video draws.
DET_SCORE_THR = 0.5  # keep a detected person scoring at least this
ACTION_SCORE_THR = 0.4  # list an action scoring at least this
_SCORE_TOL = 1e-4  # float rounding above 1 still counts as a score
_RESERVED = ("format", "version", "classes", "frames")
_REQUIRED = object()  # `_vector`'s default: the field must be given


def _as_array(value: Any, name: str, kinds: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in kinds:
        raise StadError(f"Predictions.{name}: dtype {arr.dtype}, expected "
                        f"{'integers' if kinds == 'iu' else 'numbers'}")
    return arr


@dataclass(eq=False)  # arrays: compare fields with numpy, not ==
class Predictions:
    """Person boxes with their action scores, one row per box (see the module doc).

    Also ground truth (`from_gt`: the class of each box scores 1) and person
    proposals (`from_mmdet`: no classes). `class_names` has one name per column
    of `action_scores`; `video` and `size` (height, width) say what the boxes
    are on, `meta` anything the source adds (the demo's thresholds, its fps).
    Raises `StadError` when a field has the wrong shape, dtype or range.

    Attributes:
        boxes: `(N, 4)` float32, x1, y1, x2, y2 in pixels of the shown frame.
        frames: `(N,)` int64, 1-based frame number of each box.
        person_scores: `(N,)` float32 in [0, 1], or None.
        action_scores: `(N, C)` float32 in [0, 1], one column per
            `class_names` entry, or None (no classes).
        track_ids: `(N,)` int64, -1 when untracked, or None.
        keyframes: `(N,)` int64, 1-based keyframe whose clip gave the row, or
            None.
        class_names: C action names (label id = column).
        video: The video the boxes are on, if known.
        size: `(height, width)` in pixels of the frames, if known.
        meta: Anything the source adds (thresholds, fps).

    Raises:
        StadError: On construction, a field of the wrong shape, dtype or range
            (boxes not `(N, 4)`, not finite or of negative size, a per-box field
            not `(N,)`, a score outside [0, 1], a frame < 1, a track id < -1,
            score columns other than `len(class_names)`).
    """

    boxes: np.ndarray
    frames: np.ndarray
    person_scores: np.ndarray | None = None
    action_scores: np.ndarray | None = None
    track_ids: np.ndarray | None = None
    keyframes: np.ndarray | None = None
    class_names: Sequence[str] = ()
    video: str | None = None
    size: tuple[int, int] | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        boxes = _as_array(self.boxes, "boxes", "iuf")
        if boxes.size == 0:
            boxes = boxes.reshape(0, 4)
        if boxes.ndim != 2 or boxes.shape[1] != 4:
            raise StadError(f"Predictions.boxes: shape {boxes.shape}, expected (N, 4)")
        self.boxes = boxes.astype(np.float32)
        n = len(self.boxes)
        self.class_names = tuple(str(c) for c in self.class_names)
        c = len(self.class_names)
        self.frames = self._vector("frames", self.frames, n, "iu", np.int64)
        self.person_scores = self._vector("person_scores", self.person_scores, n,
                                          "iuf", np.float32, 1.0)
        self.track_ids = self._vector("track_ids", self.track_ids, n, "iu", np.int64,
                                      -1)
        self.keyframes = self._vector("keyframes", self.keyframes, n, "iu", np.int64,
                                      None)
        if self.keyframes is None:
            self.keyframes = self.frames.copy()
        scores = (np.zeros((n, c), np.float32) if self.action_scores is None else
                  _as_array(self.action_scores, "action_scores", "iuf"))
        if scores.size == 0:
            scores = scores.reshape(n, c)
        if scores.shape != (n, c):
            raise StadError(f"Predictions.action_scores: shape {scores.shape}, "
                            f"expected (N, C) = ({n}, {c}): one column per class name")
        self.action_scores = scores.astype(np.float32)
        if not np.isfinite(self.boxes).all():
            raise StadError("Predictions.boxes: not all finite")
        x1, y1, x2, y2 = self.boxes.T
        bad = (x2 < x1) | (y2 < y1)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise StadError(f"Predictions.boxes: row {i} {self.boxes[i].tolist()} has "
                            "x2 < x1 or y2 < y1 (expected x1, y1, x2, y2)")
        for name in ("frames", "keyframes"):
            values = getattr(self, name)
            if n and values.min() < 1:
                raise StadError(f"Predictions.{name}: {int(values.min())} < 1 "
                                "(frames are numbered from 1)")
        for name in ("person_scores", "action_scores"):
            values = getattr(self, name)
            if values.size and not ((values >= 0) & (values <= 1 + _SCORE_TOL)).all():
                raise StadError(f"Predictions.{name}: values outside [0, 1] "
                                f"({float(np.nanmin(values)):g}.."
                                f"{float(np.nanmax(values)):g})")
        if n and self.track_ids.min() < -1:
            raise StadError("Predictions.track_ids: ids are >= 0, or -1 (untracked)")
        if self.size is not None:
            self.size = (int(self.size[0]), int(self.size[1]))

    @staticmethod
    def _vector(name: str, value: Any, n: int, kinds: str, dtype,
                default: Any = _REQUIRED) -> np.ndarray | None:
        if value is None:
            if default is _REQUIRED:
                raise StadError(f"Predictions.{name}: required")
            return None if default is None else np.full(n, default, dtype)
        arr = np.asarray(value)
        if arr.ndim == 0:
            arr = np.full(n, arr)
        if arr.dtype.kind == "f" and kinds == "iu" and arr.size and (
                np.isfinite(arr).all() and (arr == np.round(arr)).all()):
            arr = arr.astype(np.int64)  # 31.0 is frame 31
        arr = _as_array(arr, name, kinds)
        if arr.shape != (n,):
            raise StadError(f"Predictions.{name}: shape {arr.shape}, expected ({n},)")
        return arr.astype(dtype)

    # ---- access ------------------------------------------------------------------
    def __repr__(self) -> str:
        frames = (f"frames {self.frames.min()}..{self.frames.max()}" if len(self)
                  else "no frames")
        rows = [f"Predictions: {len(self)} boxes, {frames}, "
                f"{len(self.class_names)} classes"
                + (f", video {self.video!r}" if self.video else "")]
        for r in range(min(len(self), 5)):
            acts = ", ".join(f"{self.class_names[c]} {s:.2f}"
                             for c, s in self.actions(r)[:3])
            box = ", ".join(f"{v:.0f}" for v in self.boxes[r])
            rows.append(f"  frame {self.frames[r]}: [{box}] person "
                        f"{self.person_scores[r]:.2f}"
                        + (f" track {self.track_ids[r]}" if self.track_ids[r] >= 0
                           else "") + (f": {acts}" if acts else ""))
        if len(self) > 5:
            rows.append(f"  ... {len(self) - 5} more")
        return "\n".join(rows)

    def __len__(self) -> int:
        return len(self.boxes)

    def __getitem__(self, index: Any) -> Predictions:
        """The rows `index` selects (a boolean mask, indices or a slice)."""
        if isinstance(index, (int, np.integer)):
            index = [int(index)]
        return Predictions(
            self.boxes[index], self.frames[index], self.person_scores[index],
            self.action_scores[index], self.track_ids[index], self.keyframes[index],
            self.class_names, self.video, self.size, self.meta)

    @property
    def frame_numbers(self) -> np.ndarray:
        """The frames that have boxes, sorted (1-based)."""
        return np.unique(self.frames)

    def at(self, frame: int) -> Predictions:
        """The boxes of frame `frame` (1-based); empty if it has none."""
        return self[self.frames == int(frame)]

    def by_frame(self) -> Iterator[tuple[int, Predictions]]:
        """(frame, that frame's boxes) for every frame with boxes, in order."""
        if len(self.frames) == 0:
            return
        order = np.argsort(self.frames, kind="stable")
        frames = self.frames[order]
        starts = np.flatnonzero(np.r_[True, np.diff(frames) != 0])
        for a, b in zip(starts, np.r_[starts[1:], len(frames)]):
            yield int(frames[a]), self[order[a:b]]

    def actions(self, row: int, score_thr: float = 0.0) -> list[tuple[int, float]]:
        """(class, score) of row `row`'s actions scoring >= `score_thr` (and > 0),
        best first: what the pictures list under a box and the demo JSON keeps."""
        scores = self.action_scores[row]
        order = np.argsort(-scores, kind="stable")
        return [(int(c), float(scores[c])) for c in order
                if scores[c] >= score_thr and scores[c] > 0]

    def best_actions(self, score_thr: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """(N,) best class per box (-1: none scores >= `score_thr` and > 0), (N,) its
        score (0 for none)."""
        if not self.class_names:
            return np.full(len(self), -1, np.int64), np.zeros(len(self), np.float32)
        best = self.action_scores.argmax(1)
        score = self.action_scores[np.arange(len(self)), best]
        none = (score < score_thr) | (score <= 0)
        return np.where(none, -1, best).astype(np.int64), np.where(none, 0, score)

    def with_action(self, score_thr: float = 0.0) -> Predictions:
        """Only the boxes with an action scoring >= `score_thr` (and > 0)."""
        return self[self.best_actions(score_thr)[0] >= 0]

    def on_keyframes(self) -> Predictions:
        """One frame's boxes per keyframe, placed at the keyframe.

        The demo repeats a keyframe's boxes on every frame of its segment; this
        keeps the keyframe's own frame (or the first output frame of the
        segment when the keyframe itself was not written).
        """
        keep = np.zeros(len(self), bool)
        for key in np.unique(self.keyframes):
            rows = np.flatnonzero(self.keyframes == key)
            frames = self.frames[rows]
            pick = key if (frames == key).any() else frames.min()
            keep[rows[frames == pick]] = True
        out = self[keep]
        out.frames = out.keyframes.copy()
        return out

    @classmethod
    def empty(cls, class_names: Sequence[str] = (), **kwargs: Any) -> Predictions:
        """No boxes (a frame where nobody was found)."""
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.int64),
                   class_names=class_names, **kwargs)

    @classmethod
    def concatenate(cls, parts: Iterable[Predictions]) -> Predictions:
        """The rows of `parts` (same classes) one after another.

        Raises:
            StadError: The parts have different `class_names`.
        """
        parts = list(parts)
        if not parts:
            return cls.empty()
        first = parts[0]
        for p in parts[1:]:
            if p.class_names != first.class_names:
                raise StadError("cannot join predictions with different classes: "
                                f"{list(first.class_names)} vs {list(p.class_names)}")
        return cls(
            np.concatenate([p.boxes for p in parts]),
            np.concatenate([p.frames for p in parts]),
            np.concatenate([p.person_scores for p in parts]),
            np.concatenate([p.action_scores for p in parts]),
            np.concatenate([p.track_ids for p in parts]),
            np.concatenate([p.keyframes for p in parts]),
            first.class_names, first.video, first.size, dict(first.meta))

    # ---- sources -----------------------------------------------------------------
    @classmethod
    def from_gt(cls, gt, video: str) -> Predictions:
        """A video's ground truth (`MultiSportsGT`): each tube's boxes with its class
        scoring 1, one track id per tube; frames 1-based as in the GT."""
        table = gt.box_table([video])
        names = list(gt.labels)
        n = len(table)
        scores = np.zeros((n, len(names)), np.float32)
        scores[np.arange(n), table.label.astype(np.int64)] = 1.0
        pairs = table.label.astype(np.int64) * (1 << 32) + table.tube
        track = np.unique(pairs, return_inverse=True)[1].reshape(-1)
        size = gt.resolution.get(video)
        return cls(table.xyxy, table.frame.astype(np.int64), np.ones(n, np.float32),
                   scores, track, None, names, video, size, {"source": "ground truth"})

    @classmethod
    def from_mmaction(cls, result: Any, class_names: Sequence[str], *,
                      size: tuple[int, int], frame: int | None = None,
                      person_scores: np.ndarray | None = None,
                      video: str | None = None) -> Predictions:
        """One keyframe's predictions of an MMAction2 spatio-temporal detector.

        `result` is the model's `ActionDataSample` (`pred_instances.bboxes`
        normalized to [0, 1], as MMAction2's `BBoxHeadAVA` returns them;
        `pred_instances.scores` (N, C)) or one of the per-keyframe dicts `stad
        evaluate` saves (`frame` 1-based, `boxes` normalized, `scores` (N, C)),
        or a list of those dicts (one video's keyframes, joined). `size`
        (height, width) turns boxes into pixels; `frame` (1-based) is needed
        for a data sample. Raises `StadError` when the score columns do not
        match `class_names`.

        Args:
            result: An `ActionDataSample`, a `stad evaluate` keyframe dict, or a
                list of such dicts.
            class_names: The C action names of the score columns.
            size: `(height, width)` in pixels.
            frame: 1-based keyframe number (needed for a data sample).
            person_scores: `(N,)` person scores of the proposals, if known.
            video: The video the boxes are on (kept in `video`).

        Returns:
            One row per box, frames = the keyframe, boxes in pixels.

        Raises:
            StadError: A dict without `boxes`/`scores`, a data sample without
                `frame`, or a number of score columns other than
                `len(class_names)`.
        """
        if isinstance(result, (list, tuple)) and result and all(
                isinstance(r, Mapping) for r in result):
            # One video's keyframes: joined first, then one object (fast for the
            # thousands of keyframes of a full evaluation).
            video = video or result[0].get("video")
            for r in result:
                if r.get("boxes") is None or r.get("scores") is None:
                    raise StadError("MMAction2 result dict: expected 'boxes' and "
                                    f"'scores', got keys {sorted(r)}")
                if r.get("frame") is None:
                    raise StadError("MMAction2 result: the keyframe number (`frame`) "
                                    "is needed")
            boxes = [_numpy(r["boxes"]).reshape(-1, 4) for r in result]
            counts = [len(b) for b in boxes]
            scores = [_numpy(r["scores"]).reshape(n, -1 if n else len(class_names))
                      for r, n in zip(result, counts)]
            bad = [s.shape[1] for s in scores if s.shape[1] != len(class_names)]
            if bad:
                raise StadError(f"the action model gives {bad[0]} class scores "
                                f"per box but there are {len(class_names)} class names")
            h, w = size
            frames = np.repeat([int(r["frame"]) for r in result], counts)
            return cls(np.concatenate(boxes) * np.array([w, h, w, h], np.float32),
                       frames, person_scores, np.concatenate(scores), None, None,
                       class_names, video, size)
        if isinstance(result, (list, tuple)):
            return cls.concatenate([cls.from_mmaction(r, class_names, size=size,
                                                      video=video) for r in result]
                                   or [cls.empty(class_names, video=video, size=size)])
        if isinstance(result, Mapping):
            boxes, scores = result.get("boxes"), result.get("scores")
            frame = result.get("frame", frame)
            video = video or result.get("video")
            if boxes is None or scores is None:
                raise StadError("MMAction2 result dict: expected 'boxes' and 'scores', "
                                f"got keys {sorted(result)}")
        else:
            inst = getattr(result, "pred_instances", result)
            boxes, scores = inst.bboxes, inst.scores
        boxes = _numpy(boxes).reshape(-1, 4)
        scores = _numpy(scores).reshape(len(boxes), -1)
        if frame is None:
            raise StadError("MMAction2 result: the keyframe number (`frame`) is needed")
        if scores.shape[1] != len(class_names):
            raise StadError(f"the action model gives {scores.shape[1]} class scores "
                            f"per box but there are {len(class_names)} class names")
        h, w = size
        return cls(boxes * np.array([w, h, w, h], np.float32), np.full(len(boxes),
                   int(frame)), person_scores, scores, None, None, class_names,
                   video, size)

    @classmethod
    def from_mmdet(cls, result: Any, frame: int, *, score_thr: float = 0.0,
                   cat_id: int = 0, normalized: bool = False,
                   size: tuple[int, int] | None = None,
                   video: str | None = None) -> Predictions:
        """Person boxes of one frame from MMDetection, without action classes.

        `result` is a `DetDataSample` (its `pred_instances`: `bboxes` pixels,
        `scores`, `labels`; class `cat_id` kept) or an (N, 4|5) array x1, y1, x2,
        y2[, score] (an MMAction2 proposal file's entry: `normalized`, then
        `size` (height, width) is needed). Boxes scoring below `score_thr` are
        dropped; the rest are sorted best first. `frame` is 1-based.

        Returns:
            `Predictions` without action scores (`action_scores` None), boxes in
            pixels, `person_scores` set, best first.

        Raises:
            StadError: An array that is not `(N, 4)` or `(N, 5)`, or normalized
                boxes without `size`.
        """
        if hasattr(result, "pred_instances") or hasattr(result, "bboxes"):
            inst = getattr(result, "pred_instances", result)
            scores = _numpy(inst.scores).reshape(-1)
            boxes = _numpy(inst.bboxes).reshape(-1, 4)
            keep = _numpy(inst.labels).reshape(-1) == cat_id
            boxes, scores = boxes[keep], scores[keep]
        else:
            arr = np.asarray(result, np.float32)
            if arr.size == 0:
                arr = arr.reshape(0, 5)
            if arr.ndim != 2 or arr.shape[1] not in (4, 5):
                raise StadError(f"person boxes: shape {arr.shape}, expected (N, 4|5)")
            boxes = arr[:, :4]
            scores = arr[:, 4] if arr.shape[1] == 5 else np.ones(len(arr), np.float32)
        if normalized:
            if size is None:
                raise StadError("normalized person boxes need the frame size")
            h, w = size
            boxes = boxes * np.array([w, h, w, h], np.float32)
        keep = scores >= score_thr
        order = np.argsort(-scores[keep], kind="stable")
        return cls(boxes[keep][order], np.full(int(keep.sum()), int(frame)),
                   scores[keep][order], None, None, None, (), video, size)

    @classmethod
    def from_demo_json(cls, path: str | os.PathLike) -> Predictions:
        """The JSON `stad demo` writes (`to_demo_json` documents it), every row.

        Reads version 1 and the unversioned files of earlier demos (version 0,
        the same records). Other keys of the file go to `meta`. Raises
        `StadError` naming the file and the record for anything else.

        Raises:
            StadError: The file is missing or not JSON, of another format or a
                newer version, or a record lacks a field or has a bad box, frame or
                score.
        """
        path = Path(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise StadError("predictions file not found", path) from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise StadError(f"not a JSON file ({exc})", path) from None
        if not isinstance(raw, dict):
            raise StadError("not a `stad demo` JSON (expected an object)", path)
        fmt, version = raw.get("format", DEMO_FORMAT), raw.get("version", 0)
        if fmt != DEMO_FORMAT or version not in (0, DEMO_VERSION):
            raise StadError(f"format {fmt!r} version {version!r}: this version reads "
                            f"{DEMO_FORMAT!r} versions 0..{DEMO_VERSION}", path)
        classes, records = raw.get("classes"), raw.get("frames")
        if not isinstance(classes, dict) or not isinstance(records, list):
            raise StadError("not a `stad demo` JSON (expected 'classes' {id: name} "
                            "and a 'frames' list)", path)
        try:
            ids = {int(k): str(v) for k, v in classes.items()}
        except ValueError:
            raise StadError("'classes' must map label ids to names", path) from None
        if ids and sorted(ids) != list(range(len(ids))):
            raise StadError("'classes' ids must be 0..C-1", path)
        names = [ids[i] for i in range(len(ids))]
        cols: dict[str, list] = {k: [] for k in ("box", "frame", "key", "person",
                                                 "track", "labels", "scores")}
        for i, rec in enumerate(records):
            where = f"frames[{i}]"
            try:
                frame = int(rec["frame"])
                key = int(rec.get("keyframe", frame))
                dets = rec["detections"]
                if not isinstance(dets, list):
                    raise TypeError("'detections' is not a list")
                for j, det in enumerate(dets):
                    where = f"frames[{i}].detections[{j}]"
                    labels, scores = list(det["labels"]), list(det["scores"])
                    if len(labels) != len(scores):
                        raise ValueError(f"{len(labels)} labels but {len(scores)} "
                                         "scores")
                    if any(not 0 <= int(c) < len(names) for c in labels):
                        raise ValueError(f"labels {labels} outside the {len(names)} "
                                         "classes")
                    box = [float(v) for v in det["box"]]
                    if len(box) != 4:
                        raise ValueError(f"box {det['box']} is not x1, y1, x2, y2")
                    cols["box"].append(box)
                    cols["frame"].append(frame)
                    cols["key"].append(key)
                    cols["person"].append(float(det.get("person_score", 1.0)))
                    cols["track"].append(int(det.get("track_id", -1)))
                    cols["labels"].append([int(c) for c in labels])
                    cols["scores"].append([float(s) for s in scores])
            except (KeyError, TypeError, ValueError) as exc:
                detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
                raise StadError(f"{where}: {detail}", path) from None
        n = len(cols["box"])
        scores = np.zeros((n, len(names)), np.float32)
        for r, (labs, scs) in enumerate(zip(cols["labels"], cols["scores"])):
            scores[r, labs] = scs
        meta = {k: v for k, v in raw.items()
                if k not in (*_RESERVED, "video", "width", "height")}
        size = ((int(raw["height"]), int(raw["width"]))
                if "height" in raw and "width" in raw else None)
        try:
            return cls(np.asarray(cols["box"], np.float32).reshape(-1, 4),
                       np.asarray(cols["frame"], np.int64),
                       np.asarray(cols["person"], np.float32), scores,
                       np.asarray(cols["track"], np.int64),
                       np.asarray(cols["key"], np.int64), names,
                       raw.get("video"), size, meta)
        except StadError as exc:
            raise StadError(str(exc), path) from None

    # ---- the demo's JSON -----------------------------------------------------------
    def to_demo_json(self, path: str | os.PathLike, *, action_score_thr: float = 0.0,
                     frames: Iterable[int] | None = None,
                     meta: Mapping[str, Any] | None = None,
                     keyframes: Mapping[int, int] | None = None) -> Path:
        """Write the demo's JSON (whole or not at all); the one writer of the format.

        `{"format": "stad-demo", "version": 1, <meta>, "video", "width",
        "height", "classes": {"0": name, ...}, "frames": [{"frame": 1-based,
        "keyframe": 1-based, "detections": [{"box": [x1, y1, x2, y2] pixels,
        "person_score", "labels": [class ids, best first], "names": [...],
        "scores": [...], "track_id" (only when tracked)}]}]}`. A box lists the
        actions scoring >= `action_score_thr` (and > 0). `frames` lists every
        output frame, also those without boxes (default: the frames with boxes);
        `keyframes` maps a frame to its segment's keyframe, for frames without
        boxes (default: the frame itself).
        """
        meta = dict(meta or {})
        clash = sorted(set(meta) & set(_RESERVED))
        if clash:
            raise ValueError(f"meta keys {clash} are the format's own")
        numbers = sorted({int(f) for f in (self.frame_numbers if frames is None
                                           else frames)})
        by_frame = dict(self.by_frame())
        records = []
        for f in numbers:
            p = by_frame.get(f)
            if p is None:
                key = int((keyframes or {}).get(f, f))
                records.append({"frame": f, "keyframe": key, "detections": []})
                continue
            dets = []
            for r in range(len(p)):
                acts = p.actions(r, action_score_thr)
                det = {
                    "box": [round(float(v), 2) for v in p.boxes[r]],
                    "person_score": round(float(p.person_scores[r]), 4),
                    "labels": [c for c, _ in acts],
                    "names": [p.class_names[c] for c, _ in acts],
                    "scores": [round(s, 4) for _, s in acts],
                }
                if p.track_ids[r] >= 0:
                    det["track_id"] = int(p.track_ids[r])
                dets.append(det)
            records.append({"frame": f, "keyframe": int(p.keyframes[0]),
                            "detections": dets})
        head: dict[str, Any] = {"format": DEMO_FORMAT, "version": DEMO_VERSION}
        if self.video is not None:
            head["video"] = self.video
        if self.size is not None:
            head["width"], head["height"] = self.size[1], self.size[0]
        head.update(meta)
        head["action_score_thr"] = meta.get("action_score_thr", action_score_thr)
        head["classes"] = {str(i): n for i, n in enumerate(self.class_names)}
        head["frames"] = records
        return dump_json(head, path, indent=1)


def _numpy(value: Any) -> np.ndarray:
    """A tensor or array-like as a numpy array (on the CPU)."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


__all__ = ["DEMO_FORMAT", "DEMO_VERSION", "Predictions"]
