"""A video frame with its ground-truth and predicted boxes and action labels.

The pieces every picture of the tutorial shares:

- `FrameBoxes`: the boxes of one frame (pixels xyxy, label index, score), the one
  object passed between loading and drawing (supervision's `Detections`, small);
- `gt_frames(gt, video)`: a video's ground truth as `{frame: FrameBoxes}`;
- `load_predictions(src)`: the demo's JSON (or a dict / list) as `Predictions`;
- `FrameReader`: random access to the frames of an mp4, decoded on demand
  (seek to the nearest keyframe, a small byte-bounded cache), for the player;
- `annotate_frame(frame, gt, predictions)`: draw on a BGR frame with cv2 (clips,
  player); `show_frame(...)`: the same as a matplotlib figure (notebooks).

Ground truth is drawn solid and thick, predictions dashed and thinner, both in
their class colour (`stad_helpers.viz.palette`). Frames are numbered from 1, as
in the MultiSports annotation; arrays are BGR like the rest of the project.

Used in: 01_dataset, 02_person_detector, 04_inference_demo.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import numpy as np

from ..errors import StadError
from .palette import (
    DEFAULT_PALETTE,
    GT_STYLE,
    PRED_STYLE,
    PROPOSAL_STYLE,
    BoxStyle,
    Palette,
)

PathLike = Union[str, os.PathLike]


# ---------------------------------------------------------------------------
# Data: the boxes of one frame
# ---------------------------------------------------------------------------
@dataclass
class FrameBoxes:
    """Boxes of one frame: (N, 4) xyxy pixels, (N,) label index (-1: none), scores."""

    boxes: np.ndarray
    labels: np.ndarray
    scores: np.ndarray

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, np.float32).reshape(-1, 4)
        n = len(self.boxes)
        self.labels = np.broadcast_to(np.asarray(self.labels, np.int64), (n,)).copy()
        self.scores = np.broadcast_to(np.asarray(self.scores, np.float32), (n,)).copy()

    def __len__(self) -> int:
        return len(self.boxes)

    @classmethod
    def empty(cls) -> FrameBoxes:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.int64),
                   np.zeros(0, np.float32))

    def above(self, threshold: float) -> FrameBoxes:
        """Only the boxes scoring at least `threshold` (the player's slider)."""
        keep = self.scores >= threshold
        return FrameBoxes(self.boxes[keep], self.labels[keep], self.scores[keep])


def as_frame_boxes(value: Any, labels: list[str] | None = None,
                   size: tuple[int, int] | None = None) -> FrameBoxes:
    """One frame's boxes from a `FrameBoxes`, an array or a list of dicts.

    Arrays are (N, 4|5|6): x1, y1, x2, y2[, score[, label]]. Dicts have `box`
    (or `bbox`), `label` (index or name) and `score`; a dict with lists `labels`
    and `scores` is one box per label. Boxes within [0, 1] are taken as divided by
    the frame size (MMAction2 proposals) when `size` (h, w) is given.
    """
    if value is None:
        return FrameBoxes.empty()
    if isinstance(value, FrameBoxes):
        out = value
    elif isinstance(value, Mapping) and _first(value, _BOX_LIST_KEYS) is not None:
        out = FrameBoxes(
            np.asarray(_first(value, _BOX_LIST_KEYS), np.float32).reshape(-1, 4),
            [_label_index(v, labels) for v in _first(value, _LABEL_KEYS, [])] or -1,
            _first(value, _SCORE_KEYS, 1.0),
        )
        if len(out.labels) != len(out) or len(out.scores) != len(out):
            raise ValueError("boxes, labels and scores must have the same length")
    elif isinstance(value, np.ndarray) or (
        isinstance(value, (list, tuple)) and value and not isinstance(value[0], Mapping)
    ):
        arr = np.asarray(value, np.float32)
        if arr.size == 0:
            return FrameBoxes.empty()
        if arr.ndim != 2 or arr.shape[1] not in (4, 5, 6):
            raise ValueError(f"expected (N, 4|5|6) boxes, got shape {arr.shape}")
        scores = arr[:, 4] if arr.shape[1] > 4 else 1.0
        labels_ = arr[:, 5].astype(np.int64) if arr.shape[1] > 5 else -1
        out = FrameBoxes(arr[:, :4], labels_, scores)
    elif isinstance(value, (list, tuple)):
        rows = [_box_rows(d, labels) for d in value]
        rows = [r for rs in rows for r in rs]
        if not rows:
            return FrameBoxes.empty()
        out = FrameBoxes([r[0] for r in rows], [r[1] for r in rows],
                         [r[2] for r in rows])
    else:
        raise ValueError(f"cannot read boxes from {type(value).__name__}")
    if size is not None and len(out) and out.boxes.max() <= 1.0 + 1e-6:
        h, w = size
        out = FrameBoxes(out.boxes * np.array([w, h, w, h], np.float32), out.labels,
                         out.scores)
    return out


_BOX_KEYS = ("box", "bbox", "xyxy")
_BOX_LIST_KEYS = ("boxes", "bboxes")
_LABEL_KEYS = ("labels", "label_ids", "label")
_SCORE_KEYS = ("scores", "score")
_FRAME_KEYS = ("frame", "frame_id", "frame_idx", "frame_index", "index")
_DET_LIST_KEYS = ("detections", "instances", "objects", "persons")


def _first(d: Mapping, keys: Iterable[str], default: Any = None) -> Any:
    for k in keys:
        if k in d:
            return d[k]
    return default


def _label_index(value: Any, labels: list[str] | None) -> int:
    """A label given as index or name -> index (names not in `labels` are added)."""
    if isinstance(value, Mapping):
        value = _first(value, ("label", "label_id", "id", "name"))
    if isinstance(value, str):
        if labels is None:
            raise ValueError(f"label {value!r} given by name but no label list")
        if value not in labels:
            labels.append(value)
        return labels.index(value)
    return -1 if value is None else int(value)


def _box_rows(d: Mapping, labels: list[str] | None) -> list[tuple]:
    """(box, label, score) rows of one detection dict (one row per action label)."""
    box = _first(d, _BOX_KEYS)
    if box is None:
        raise ValueError(f"detection without a box: keys {sorted(d)}")
    actions = d.get("actions")
    if actions is None and isinstance(d.get("labels"), (list, tuple)):
        scores = d.get("scores", [1.0] * len(d["labels"]))
        actions = [{"label": lab, "score": s} for lab, s in zip(d["labels"], scores)]
    if actions is None:
        return [(box, _label_index(_first(d, ("label", "label_id", "action")), labels),
                 float(d.get("score", 1.0)))]
    if not actions:  # a person with no action above the demo's threshold
        return [(box, -1, 0.0)]
    return [(box, _label_index(a, labels), float(a.get("score", 1.0)) if isinstance(
        a, Mapping) else 1.0) for a in actions]


# ---------------------------------------------------------------------------
# Ground truth and predictions by frame
# ---------------------------------------------------------------------------
def _split_by_frame(frames: np.ndarray, boxes: np.ndarray, labels: np.ndarray,
                    scores: np.ndarray) -> dict[int, FrameBoxes]:
    order = np.argsort(frames, kind="stable")
    frames, boxes = frames[order], boxes[order]
    labels, scores = labels[order], scores[order]
    uniq, starts = np.unique(frames, return_index=True)
    ends = np.append(starts[1:], len(frames))
    return {int(f): FrameBoxes(boxes[a:b], labels[a:b], scores[a:b])
            for f, a, b in zip(uniq, starts, ends)}


def gt_frames(gt, video: str) -> dict[int, FrameBoxes]:
    """A video's ground-truth boxes as {frame (1-based): FrameBoxes} (score 1)."""
    table = gt.box_table([video])
    return _split_by_frame(table.frame, table.xyxy, table.label.astype(np.int64),
                           np.ones(len(table), np.float32))


@dataclass
class Predictions:
    """Per-frame predicted boxes of one video, keyed by 1-based frame number."""

    frames: dict[int, FrameBoxes]
    labels: list[str] | None = None
    source: str | None = field(default=None, compare=False)

    def get(self, frame: int) -> FrameBoxes:
        return self.frames.get(int(frame), FrameBoxes.empty())

    def __len__(self) -> int:
        return len(self.frames)


def load_predictions(
    src: PathLike | Mapping | list | Predictions,
    labels: list[str] | None = None,
    size: tuple[int, int] | None = None,
) -> Predictions:
    """Per-frame predictions from the demo's JSON (a path), or the same as objects.

    The demo (`stad_helpers.demo`) writes `{"width", "height", "classes": {"0":
    name}, "frames": [{"frame": 1-based, "detections": [{"box": pixels,
    "labels": [...], "scores": [...]}]}]}`: a box with several actions becomes
    one row per action, a person with none a class-less row of score 0 (shown
    only at threshold 0). Also accepted: `"labels": [names]`; entries with
    parallel `boxes`/`labels`/`scores`; `frame_idx` (0-based); a dict frame ->
    entry or a bare list of entries. Boxes within [0, 1] are scaled by `size`
    (h, w) or the JSON's `width`/`height`.
    """
    if isinstance(src, Predictions):
        return src
    source = None
    if isinstance(src, (str, os.PathLike)):
        source = str(src)
        try:
            data = json.loads(Path(src).read_text())
        except FileNotFoundError:
            raise StadError("predictions file not found", src) from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise StadError(f"not a JSON file ({exc})", src) from None
    else:
        data = src
    names = list(labels) if labels is not None else None
    entries: Any = data
    if isinstance(data, Mapping):
        names = list(data.get("labels") or data.get("label_names") or names or [])
        names = names or None
        if size is None and "width" in data and "height" in data:
            size = (int(data["height"]), int(data["width"]))
        entries = _first(data, ("frames", "predictions", "results"), data)
        for key in ("classes", "label_map"):  # {"0": "wave", ...} (the demo's)
            if names is None and isinstance(data.get(key), Mapping) and data[key]:
                lm = {int(k): str(v) for k, v in data[key].items()}
                names = [lm.get(i, str(i)) for i in range(max(lm) + 1)]
    if isinstance(entries, Mapping):  # frame -> entry
        entries = [
            {"frame": int(k), **(v if isinstance(v, Mapping) else {"detections": v})}
            for k, v in entries.items() if str(k).lstrip("-").isdigit()
        ]
    if not isinstance(entries, list):
        raise StadError("predictions must be a list of per-frame entries", source)
    rows_f, rows_b, rows_l, rows_s = [], [], [], []
    try:
        for i, entry in enumerate(entries):
            if not isinstance(entry, Mapping):
                raise ValueError(f"entry {i} is a {type(entry).__name__}, not a dict")
            frame = _entry_frame(entry, i)
            dets = _first(entry, _DET_LIST_KEYS)
            fb = as_frame_boxes(dets if dets is not None else entry, names, size)
            rows_f.append(np.full(len(fb), frame, np.int64))
            rows_b.append(fb.boxes)
            rows_l.append(fb.labels)
            rows_s.append(fb.scores)
    except (ValueError, TypeError, KeyError) as exc:
        raise StadError(f"predictions entry {i}: {exc}", source) from None
    if not rows_f:
        return Predictions({}, names, source)
    frames = _split_by_frame(np.concatenate(rows_f), np.concatenate(rows_b),
                             np.concatenate(rows_l), np.concatenate(rows_s))
    return Predictions(frames, names, source)


def _entry_frame(entry: Mapping, i: int) -> int:
    for key in _FRAME_KEYS:
        if key in entry:
            zero_based = key in ("frame_idx", "frame_index", "index")
            return int(entry[key]) + (1 if zero_based else 0)
    raise ValueError(f"entry {i} names no frame (one of {', '.join(_FRAME_KEYS)})")


# ---------------------------------------------------------------------------
# Reading frames on demand
# ---------------------------------------------------------------------------
class FrameReader:
    """Frames of a video by 1-based number, decoded on demand; BGR (or RGB).

    Sequential reads continue decoding; a jump seeks to the keyframe before the
    target and decodes forward. Recently decoded frames are kept in an LRU cache
    bounded by `cache_mb`, so long videos are never held in memory.
    """

    def __init__(self, path: PathLike, cache_mb: float = 96, rgb: bool = False):
        import av

        from ..video import probe

        self.path = Path(path)
        self.info = probe(self.path)  # raises StadError for unreadable files
        self._fmt = "rgb24" if rgb else "bgr24"
        self._container = av.open(str(self.path))
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        pts = [p.pts for p in self._container.demux(self._stream) if p.size]
        self._pts = sorted(pts) if pts and None not in pts else None
        self._index = {p: i + 1 for i, p in enumerate(self._pts or [])}
        frame_bytes = self.info.height * self.info.width * 3
        self._cache_max = max(2, int(cache_mb * 2**20 // max(frame_bytes, 1)))
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._decoder = None
        self._last = 0  # number of the last frame the decoder produced
        self._fresh = False  # True until the first frame after a seek is decoded
        self.decoded = 0  # frames decoded so far (for tests and curiosity)

    def __len__(self) -> int:
        return len(self._pts) if self._pts is not None else self.info.nframes

    def __enter__(self) -> FrameReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._decoder = None
        if self._container is not None:
            self._container.close()
            self._container = None

    def __getitem__(self, frame: int) -> np.ndarray:
        frame = int(frame)
        if not 1 <= frame <= len(self):
            raise IndexError(f"frame {frame} not in 1..{len(self)} of {self.path}")
        if frame in self._cache:
            self._cache.move_to_end(frame)
            return self._cache[frame]
        if self._container is None:
            raise ValueError(f"FrameReader for {self.path} is closed")
        if self._decoder is None or not self._last < frame <= self._last + 48:
            self._seek(frame)
        import av

        try:
            while frame not in self._cache:
                try:
                    vf = next(self._decoder)
                except StopIteration:
                    raise StadError(f"video ends before frame {frame}",
                                    self.path) from None
                self.decoded += 1
                number = self._number(vf)
                if self._fresh:  # first frame after a seek: must not be past the target
                    self._fresh = False
                    if number > frame:
                        self._seek(1)
                        continue
                self._last = number
                if number >= frame - 4:  # keep a few before, for stepping back
                    self._put(number, vf.to_ndarray(format=self._fmt))
                if number > frame:  # a gap in the timestamps: take the next frame
                    self._put(frame, self._cache[number])
        except av.error.FFmpegError as exc:
            raise StadError(f"cannot decode frame {frame} ({exc})", self.path) from None
        return self._cache[frame]

    def _number(self, vf) -> int:
        if self._pts is None or vf.pts is None:
            return self._last + 1
        return self._index.get(vf.pts) or int(np.searchsorted(self._pts, vf.pts)) + 1

    def _seek(self, frame: int) -> None:
        """Position the decoder at the keyframe at or before `frame`."""
        if self._pts is None or frame <= 1:
            self._container.seek(0)
            self._last = 0
        else:
            self._container.seek(self._pts[frame - 1], backward=True, any_frame=False,
                                 stream=self._stream)
        self._decoder = self._container.decode(self._stream)
        self._fresh = self._pts is not None and frame > 1

    def _put(self, number: int, image: np.ndarray) -> None:
        self._cache[number] = image
        self._cache.move_to_end(number)
        while len(self._cache) > self._cache_max:
            self._cache.popitem(last=False)


def read_frame(path: PathLike, frame: int, rgb: bool = False) -> np.ndarray:
    """Frame number `frame` (1-based) of a video, HxWx3 uint8 BGR (or RGB)."""
    with FrameReader(path, cache_mb=1, rgb=rgb) as reader:
        return reader[frame]


# ---------------------------------------------------------------------------
# Drawing with cv2 (clips, player)
# ---------------------------------------------------------------------------
def _label_text(label: int, score: float | None, labels: list[str] | None) -> str:
    """'name 0.87' (or 'name'); class-less boxes (label < 0) have no text."""
    if label < 0:
        return ""
    name = labels[label] if labels and label < len(labels) else str(label)
    return name if score is None else f"{name} {score:.2f}"


def _grouped(boxes: FrameBoxes) -> list[tuple[np.ndarray, list[tuple[int, float]]]]:
    """Boxes with their (label, score)s: a box with several actions is drawn once,
    in the colour of its first (best) action, with one text line per action."""
    groups: dict[tuple, tuple[np.ndarray, list]] = {}
    for box, label, score in zip(boxes.boxes, boxes.labels, boxes.scores):
        key = tuple(np.round(box, 2).tolist())
        groups.setdefault(key, (box, []))[1].append((int(label), float(score)))
    return list(groups.values())


def _dashed_rect(img: np.ndarray, p1: tuple[int, int], p2: tuple[int, int],
                 color: tuple, thickness: int, dash: int) -> None:
    import cv2

    (x1, y1), (x2, y2) = p1, p2
    for a, b in (((x1, y1), (x2, y1)), ((x2, y1), (x2, y2)), ((x2, y2), (x1, y2)),
                 ((x1, y2), (x1, y1))):
        length = max(abs(b[0] - a[0]), abs(b[1] - a[1]))
        for s in range(0, length + 1, 2 * dash):
            e = min(s + dash, length)
            t0, t1 = s / max(length, 1), e / max(length, 1)
            q0 = (round(a[0] + (b[0] - a[0]) * t0), round(a[1] + (b[1] - a[1]) * t0))
            q1 = (round(a[0] + (b[0] - a[0]) * t1), round(a[1] + (b[1] - a[1]) * t1))
            cv2.line(img, q0, q1, color, thickness, cv2.LINE_AA)


def draw_boxes(
    frame: np.ndarray,
    boxes: FrameBoxes,
    style: BoxStyle = PRED_STYLE,
    labels: list[str] | None = None,
    palette: Palette = DEFAULT_PALETTE,
    show_scores: bool = True,
    text_below: bool = False,
) -> np.ndarray:
    """Draw `boxes` on a BGR frame in place, in class colours and `style`; return it."""
    import cv2

    h, w = frame.shape[:2]
    scale = max(1.0, min(h, w) / 360)
    thick = max(1, round(style.thickness * scale))
    font, fscale = cv2.FONT_HERSHEY_SIMPLEX, 0.4 * scale
    for box, actions in _grouped(boxes):
        x1, y1, x2, y2 = (int(round(float(v))) for v in box)
        x1, x2 = np.clip([x1, x2], 0, w - 1)
        y1, y2 = np.clip([y1, y2], 0, h - 1)
        color = palette.bgr(actions[0][0])
        if style.dashed:
            _dashed_rect(frame, (x1, y1), (x2, y2), color, thick,
                         max(2, round(style.dash * scale)))
        else:
            cv2.rectangle(frame, (x1, y1), (x2, y2), color, thick, cv2.LINE_AA)
        pad = max(1, round(2 * scale))
        texts = [(label, _label_text(label, score if show_scores else None, labels))
                 for label, score in actions]
        texts = [(label, t) for label, t in texts if t]
        if not texts:
            continue
        line = max(cv2.getTextSize(t, font, fscale, 1)[0][1]
                   + cv2.getTextSize(t, font, fscale, 1)[1] for _, t in texts) + 2 * pad
        # Predictions hang below the box, GT stands on it; where the frame ends,
        # the lines go inside the box instead. `ty` is each line's bottom.
        if text_below:
            outside = y2 + len(texts) * line < h
            bottoms = [y2 + (k + 1) * line if outside else y2 - k * line
                       for k in range(len(texts))]
        else:
            outside = y1 - len(texts) * line >= 0
            bottoms = [y1 - k * line if outside else y1 + (k + 1) * line
                       for k in range(len(texts))]
        for (label, text), ty in zip(texts, bottoms):
            (tw, th), base = cv2.getTextSize(text, font, fscale, 1)
            tx = int(np.clip(x1, 0, max(0, w - tw - 2 * pad)))
            cv2.rectangle(frame, (tx, ty - line), (tx + tw + 2 * pad, ty),
                          palette.bgr(label), -1)
            tc = palette.text_rgb(label)[::-1]
            cv2.putText(frame, text, (tx + pad, ty - base - pad), font, fscale, tc, 1,
                        cv2.LINE_AA)
    return frame


def annotate_frame(
    frame: np.ndarray,
    gt: FrameBoxes | None = None,
    predictions: FrameBoxes | None = None,
    labels: list[str] | None = None,
    score_thr: float = 0.0,
    proposals: FrameBoxes | None = None,
    palette: Palette = DEFAULT_PALETTE,
) -> np.ndarray:
    """A copy of a BGR frame with proposals, ground truth and predictions drawn."""
    out = np.ascontiguousarray(frame).copy()
    if proposals is not None and len(proposals):
        draw_boxes(out, FrameBoxes(proposals.boxes, -1, proposals.scores),
                   PROPOSAL_STYLE, None, palette, show_scores=False)
    if gt is not None and len(gt):
        draw_boxes(out, gt, GT_STYLE, labels, palette, show_scores=False)
    if predictions is not None and len(predictions):
        draw_boxes(out, predictions.above(score_thr), PRED_STYLE, labels, palette,
                   show_scores=True, text_below=True)
    return out


# ---------------------------------------------------------------------------
# Resolving inputs
# ---------------------------------------------------------------------------
def video_key(path: PathLike, gt=None) -> str | None:
    """The GT key ('sport/name') of a video file, if `gt` annotates it."""
    p = Path(path)
    key = f"{p.parent.name}/{p.stem}"
    if gt is None:
        return key
    return key if key in gt.nframes else None


def frame_sources(gt, predictions, video: str | None, labels: list[str] | None,
                  size: tuple[int, int] | None):
    """(gt_by_frame or None, Predictions or None, label names) for one video."""
    names = list(labels) if labels is not None else (list(gt.labels) if gt else None)
    gt_by_frame = gt_frames(gt, video) if gt is not None and video else None
    preds = None
    if predictions is not None:
        preds = load_predictions(predictions, names, size)
        if names is None and preds.labels:
            names = list(preds.labels)
    return gt_by_frame, preds, names


# ---------------------------------------------------------------------------
# matplotlib
# ---------------------------------------------------------------------------
def _mpl_boxes(ax, boxes: FrameBoxes, style: BoxStyle, labels, palette: Palette,
               show_scores: bool, text_below: bool, size) -> None:
    from matplotlib.patches import Rectangle

    h, w = size
    for box, actions in _grouped(boxes):
        x1, y1, x2, y2 = (float(v) for v in box)
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False,
                               edgecolor=palette.mpl(actions[0][0]),
                               linewidth=style.linewidth, linestyle=style.linestyle))
        texts = [(label, _label_text(label, score if show_scores else None, labels))
                 for label, score in actions]
        texts = [(label, t) for label, t in texts if t]
        # Predictions hang below the box, GT sits on top of it (inside the box
        # where the frame ends); lines stack away from the edge, in points.
        y = y2 if text_below else y1
        va = "top" if (y2 < 0.92 * h if text_below else y1 <= 0.08 * h) else "bottom"
        for k, (label, text) in enumerate(texts):
            dy = (-11 if va == "top" else 11) * k
            ax.annotate(text, (max(x1, 0), y), xytext=(0, dy),
                        textcoords="offset points", fontsize=8, va=va, ha="left",
                        annotation_clip=True,
                        color=tuple(c / 255 for c in palette.text_rgb(label)),
                        bbox=dict(facecolor=palette.mpl(label), edgecolor="none",
                                  pad=1.0, alpha=0.9))


def show_frame(
    video_or_frame: PathLike | np.ndarray,
    frame_idx: int,
    gt=None,
    predictions: Any = None,
    labels: list[str] | None = None,
    ax=None,
    *,
    video: str | None = None,
    proposals: Any = None,
    score_thr: float = 0.0,
    rgb: bool = False,
    as_array: bool = False,
    palette: Palette = DEFAULT_PALETTE,
    legend: bool = True,
):
    """Frame `frame_idx` (1-based) with GT (solid) and predicted (dashed) boxes.

    `video_or_frame` is an mp4 path or an HxWx3 frame (BGR unless `rgb`); `gt` a
    `MultiSportsGT` (the video's key is `video`, or taken from the path);
    `predictions` the demo's JSON, a `Predictions`, or this frame's boxes (array
    or list of dicts); `proposals` an (N, 5) array of person boxes (normalized or
    pixels) drawn grey. Returns the matplotlib Figure, or with `as_array` the
    annotated BGR ndarray (cv2 drawing, as in clips and the player).
    """
    if isinstance(video_or_frame, np.ndarray):
        image = video_or_frame[..., ::-1] if rgb else video_or_frame
        video = video or None
    else:
        image = read_frame(video_or_frame, frame_idx)
        video = video or video_key(video_or_frame, gt)
    size = image.shape[:2]
    gt_by_frame, preds, names = _frame_inputs(gt, predictions, video, labels, size)
    gt_boxes = gt_by_frame.get(int(frame_idx)) if gt_by_frame else None
    pred_boxes = (preds.get(frame_idx) if isinstance(preds, Predictions) else preds)
    if pred_boxes is not None:
        pred_boxes = pred_boxes.above(score_thr)
    props = as_frame_boxes(proposals, None, size) if proposals is not None else None
    if as_array:
        return annotate_frame(image, gt_boxes, pred_boxes, names, 0.0, props, palette)

    import matplotlib.pyplot as plt

    if ax is None:
        h, w = size
        fig, ax = plt.subplots(figsize=(7.0, 7.0 * h / w + 0.3))
    else:
        fig = ax.figure
    ax.imshow(np.ascontiguousarray(image[..., ::-1]))
    ax.set_axis_off()
    if props is not None and len(props):
        _mpl_boxes(ax, FrameBoxes(props.boxes, -1, props.scores), PROPOSAL_STYLE, None,
                   palette, False, False, size)
    if gt_boxes is not None:
        _mpl_boxes(ax, gt_boxes, GT_STYLE, names, palette, False, False, size)
    if pred_boxes is not None:
        _mpl_boxes(ax, pred_boxes, PRED_STYLE, names, palette, True, True, size)
    ax.set_title(f"{video + ' · ' if video else ''}frame {int(frame_idx)}", fontsize=10)
    if legend:
        _style_legend(ax, gt_boxes is not None, pred_boxes is not None,
                      props is not None and len(props) > 0)
    return fig


def _frame_inputs(gt, predictions, video, labels, size):
    """Like `frame_sources`, but `predictions` may also be one frame's boxes."""
    whole_video = isinstance(predictions, (str, os.PathLike, Predictions)) or (
        isinstance(predictions, Mapping) and _first(predictions, _BOX_LIST_KEYS) is None
    ) or (
        isinstance(predictions, list) and predictions
        and isinstance(predictions[0], Mapping) and _first(predictions[0], _FRAME_KEYS)
        is not None
    )
    if predictions is None or whole_video:
        return frame_sources(gt, predictions, video, labels, size)
    gt_by_frame, _, names = frame_sources(gt, None, video, labels, size)
    return gt_by_frame, as_frame_boxes(predictions, names, size), names


def _style_legend(ax, gt: bool, pred: bool, props: bool) -> None:
    from matplotlib.lines import Line2D

    handles = []
    if gt:
        handles.append(Line2D([], [], color="k", lw=GT_STYLE.linewidth,
                              ls=GT_STYLE.linestyle, label="ground truth"))
    if pred:
        handles.append(Line2D([], [], color="k", lw=PRED_STYLE.linewidth,
                              ls=PRED_STYLE.linestyle, label="prediction"))
    if props:
        handles.append(Line2D([], [], color=DEFAULT_PALETTE.mpl(None),
                              lw=PROPOSAL_STYLE.linewidth, ls=PROPOSAL_STYLE.linestyle,
                              label="person proposal"))
    if handles:
        ax.legend(handles=handles, loc="upper right", fontsize=7, framealpha=0.7)
