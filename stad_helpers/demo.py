"""The inference demo (tutorial section 4): detect people, recognize their actions,
draw both on the video.

Like MMAction2's `demo/demo_spatiotemporal_det.py`, with the tutorial's flags,
but:

- clips are sampled and preprocessed exactly as in training and testing: the
  frame indices come from the config's own `SampleAVAFrames` (test mode), the
  frames are RGB as decord gives them, and the config's own transforms after
  decoding (`Resize`, `FormatShape`, `PackActionInputs`) build the input, so the
  model sees the tensor the val dataset would give it (tests/test_demo.py checks);
  upstream feeds BGR and samples one frame interval later;
- any mp4 works, of any size and length: a video shorter than the model's window
  still gets predictions (indices are clamped to the video, as `SampleAVAFrames`
  does), and every frame is covered, not only those a full window away from the
  ends;
- frames stream: only the frames a clip or a pending output frame still needs
  are held (a ring of about one window), never the whole video;
- output is an H.264 mp4 browsers play (`stad_helpers.video.VideoSink`) and a
  JSON with every output frame's boxes, labels, scores and person track ids
  (ByteTrack over the keyframes, `stad_helpers.tracking`: the same person keeps
  one id through the video)
  (`Predictions.to_demo_json`, read back by `Predictions.from_demo_json`), both
  written whole or not at all.

Every `predict_stepsize` frames form a segment; its middle frame is the
keyframe: people are detected there and the clip around it is classified, and
the result is drawn on every frame of the segment (as upstream does).

The steps, each callable on its own (a notebook can look inside one keyframe):

    d = Demo(config, checkpoint, det_config, det_checkpoint)  # both models
    d.predict_keyframe(video, 5)         # -> Predictions of one keyframe
    for number, image, preds in d.frames(video): ...   # annotated, streamed
    write_demo(d, video, "demo.mp4")     # -> (demo.mp4, demo.json)

`demo(...)` (and `stad demo`) is `Demo` then `write_demo`.

Used in: 04_inference_demo.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .errors import StadError
from .predictions import ACTION_SCORE_THR, DET_SCORE_THR, Predictions

_DECODERS = ("DecordDecode", "PyAVDecode", "OpenCVDecode", "RawFrameDecode",
             "PIMSDecode", "AudioDecode")
_FAR = 10**9  # "total frames" while the end of a streamed video is not known yet


def _type_name(step: dict) -> str:
    return str(step.get("type", "")).split(".")[-1]


# ---------------------------------------------------------------------------
# Clips exactly as the dataset makes them
# ---------------------------------------------------------------------------
class ClipSampler:
    """The config's test-time clip sampling and preprocessing, for decoded frames.

    `indices(keyframe, total)` are the frames the val dataset would decode for a
    keyframe (0-based frame numbers); `pack(frames, proposals, ...)` runs the
    transforms the config applies after decoding and returns the model's input
    (`inputs` tensor, `data_samples` with the proposals).

    Args:
        cfg: The action model's MMEngine config (its `val_pipeline` or
            test dataloader pipeline, MMAction2's AVA transforms).

    Raises:
        StadError: The test pipeline has no `SampleAVAFrames` step or no
            decoding step (not a spatio-temporal action detection config).
    """

    def __init__(self, cfg):
        from mmaction.registry import TRANSFORMS
        from mmcv.transforms import Compose
        from mmengine.registry import DefaultScope

        dataset = cfg.test_dataloader.dataset
        steps = [dict(s) for s in dataset.pipeline]
        names = [_type_name(s) for s in steps]
        if "SampleAVAFrames" not in names:
            raise StadError("the test pipeline has no SampleAVAFrames step (not a "
                            "spatio-temporal action detection config?)", cfg.filename)
        decode = max((i for i, n in enumerate(names) if n in _DECODERS), default=None)
        if decode is None:
            raise StadError("the test pipeline has no decoding step", cfg.filename)
        with DefaultScope.overwrite_default_scope("mmaction"):
            self._sample = TRANSFORMS.build(steps[names.index("SampleAVAFrames")])
            self._post = Compose([TRANSFORMS.build(s) for s in steps[decode + 1:]])
        self.clip_len = int(self._sample.clip_len)
        self.frame_interval = int(self._sample.frame_interval)
        self.fps = dataset.get("fps", 30)
        self.timestamp_start = dataset.get("timestamp_start", 900)
        self.start_index = dataset.get("start_index", 1)
        centre = _FAR // 2
        inds = self.indices(centre, _FAR)
        self.before, self.after = centre - int(inds.min()), int(inds.max()) - centre

    def timestamp(self, keyframe: int) -> int:
        """The dataset's timestamp of 0-based frame `keyframe` (MultiSports: +1)."""
        return round((keyframe - self.start_index) / self.fps + self.timestamp_start)

    def indices(self, keyframe: int, total: int) -> np.ndarray:
        """0-based frames of the clip around `keyframe` in a video of `total` frames."""
        results = self._sample.transform({
            "fps": self.fps, "timestamp": self.timestamp(keyframe),
            "timestamp_start": self.timestamp_start, "start_index": self.start_index,
            "total_frames": int(total)})
        return np.asarray(results["frame_inds"], np.int64) - self.start_index

    def pack(self, frames: Sequence[np.ndarray], proposals: np.ndarray,
             keyframe: int, video_id: str = "", num_classes: int = 1) -> dict:
        """Model input for RGB `frames` (the clip) and normalized `proposals` (N, 4)."""
        h, w = frames[0].shape[:2]
        boxes = (np.asarray(proposals, np.float64).reshape(-1, 4)
                 * np.array([w, h, w, h])).astype(np.float32)  # as DecordDecode does
        timestamp = self.timestamp(keyframe)
        results = {
            "imgs": list(frames), "original_shape": (h, w), "img_shape": (h, w),
            "modality": "RGB", "num_clips": 1, "clip_len": self.clip_len,
            "frame_interval": self.frame_interval,
            "crop_quadruple": np.array([0, 0, 1, 1], np.float32),
            "video_id": video_id, "timestamp": timestamp,
            "img_key": f"{video_id},{timestamp:04d}",
            # PackActionInputs packs proposals only along with boxes to learn.
            "gt_bboxes": boxes.copy(), "proposals": boxes,
            "gt_labels": np.zeros((len(boxes), num_classes), np.float32),
        }
        packed = self._post(results)
        sample = packed["data_samples"]
        if "gt_instances" in sample:
            del sample.gt_instances
        return packed


# ---------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------
def load_action_model(config: str | os.PathLike, checkpoint: str | os.PathLike,
                      device: str | None = None,
                      cfg_options: dict[str, Any] | None = None):
    """The action detector of `config` with `checkpoint`'s weights, in eval mode.

    Its classes are those of the GT the config (with `cfg_options`, e.g.
    `action.data_options(DIR)`) evaluates on; when there is no such GT, those
    the checkpoint was trained for (`action.checkpoint_classes`). The checkpoint
    must have been trained for these classes (`action.check_checkpoint_classes`)
    and fit the model exactly (MMEngine would only warn), and no pretrained
    weights are downloaded for initialization. `model.cfg` is the merged config,
    `model.dataset_meta` the checkpoint's (`classes` when it stored them).

    Raises:
        StadError: the checkpoint is missing, of another model, or of other
            classes than the dataset's (naming both files).
    """
    import torch
    from mmaction.registry import MODELS
    from mmengine.registry import DefaultScope

    from .action import (
        action_options,
        check_checkpoint_classes,
        checkpoint_classes,
        class_options,
        load_checkpoint_file,
    )
    from .registry import register_all
    from .train import check_checkpoint, load_config

    register_all()
    options = action_options(config, None, cfg_options)
    stored = load_checkpoint_file(checkpoint)
    if stored is not None and "num_classes" not in options:  # no dataset named
        count, names = checkpoint_classes(stored, load_config(config, options))
        if count is not None and count >= 1:
            options = {**class_options(count, names), **options}
    cfg = load_config(config, options)
    check_checkpoint_classes(checkpoint, cfg, config, loaded=stored)
    cfg.model.pop("init_cfg", None)
    if "backbone" in cfg.model:
        cfg.model.backbone.pretrained = None
    with DefaultScope.overwrite_default_scope("mmaction"):
        model = MODELS.build(cfg.model)
    loaded = check_checkpoint(model, checkpoint, strict=True, source=config)
    weights = loaded.get("state_dict", loaded)
    model.load_state_dict({k[7:] if k.startswith("module.") else k: v
                           for k, v in weights.items()}, strict=False)
    model.cfg = cfg
    meta = loaded.get("meta") if isinstance(loaded, dict) else None
    model.dataset_meta = dict((meta or {}).get("dataset_meta") or {})
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return model.to(device).eval()


def _det_pipeline(det_model):
    from mmcv.transforms import Compose
    from mmdet.registry import TRANSFORMS
    from mmdet.utils import get_test_pipeline_cfg
    from mmengine.registry import DefaultScope

    steps = [dict(s) for s in get_test_pipeline_cfg(det_model.cfg)
             if "LoadAnnotations" not in str(s.get("type"))]
    steps[0] = dict(type="mmdet.LoadImageFromNDArray")
    with DefaultScope.overwrite_default_scope("mmdet"):
        return Compose([TRANSFORMS.build(s) for s in steps])


def detect_people(det_model, pipeline, frame_bgr: np.ndarray, score_thr: float,
                  cat_id: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Person boxes (N, 4) float32 pixels and scores (N,) of one (H, W, 3) BGR
    frame: class `cat_id` of the detector, scoring at least `score_thr`, best
    first (`Predictions.from_mmdet`)."""
    import torch

    data = pipeline({"img": frame_bgr, "img_id": 0})
    with torch.no_grad():
        pred = det_model.test_step({"inputs": [data["inputs"]],
                                    "data_samples": [data["data_samples"]]})[0]
    people = Predictions.from_mmdet(pred, 1, score_thr=score_thr, cat_id=cat_id)
    return people.boxes, people.person_scores


def load_label_map(path: str | os.PathLike,
                   num_classes: int | None = None) -> dict[int, str]:
    """`0: name` lines (the format of MMAction2's label_map.txt) -> {0: 'name'}.

    `stad convert ava` writes one for the GT's labels (ids 0-based). A map may
    name a subset of the classes (the demo shows only those); with
    `num_classes` (the model's), an id it cannot output is an error.

    Raises:
        StadError: the file is missing, a line is not `id: name`, or an id is
            outside 0..num_classes-1.
    """
    out: dict[int, str] = {}
    path = Path(path)
    if not path.is_file():
        raise StadError("label map not found", path)
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        key, sep, name = line.partition(":")
        try:
            out[int(key)] = name.strip()
        except ValueError:
            raise StadError(f"line {n}: expected 'id: name', got {line!r}",
                            path) from None
        if not sep:
            raise StadError(f"line {n}: expected 'id: name', got {line!r}", path)
    bad = sorted(i for i in out if num_classes is not None
                 and not 0 <= i < int(num_classes))
    if bad:
        raise StadError(f"label id {bad[0]} (line of '{out[bad[0]]}'): the model has "
                        f"{num_classes} classes, ids 0..{int(num_classes) - 1} (a "
                        "label map of another dataset?)", path)
    return out


def _default_label_map(cfg, num_classes: int) -> dict[int, str]:
    """Class names from the GT of the config's test evaluator, else the names the
    config's datasets carry (`metainfo.classes`, set from the checkpoint by
    `load_action_model`), else the numbers."""
    from .data.gt import MultiSportsGT

    ann = (cfg.get("test_evaluator") or {}).get("ann_file")
    if ann and Path(ann).is_file():
        labels = MultiSportsGT.load(ann, validate=False).labels
        if len(labels) == num_classes:
            return {i: str(n) for i, n in enumerate(labels)}
    dataset = (cfg.get("test_dataloader") or {}).get("dataset") or {}
    names = (dataset.get("metainfo") or {}).get("classes")
    if names and len(names) == num_classes:
        return {i: str(n) for i, n in enumerate(names)}
    return {i: str(i) for i in range(num_classes)}


# ---------------------------------------------------------------------------
# The demo
# ---------------------------------------------------------------------------
class DemoFrame(NamedTuple):
    """One output frame of the demo: its number, the picture, its predictions."""

    number: int  # 1-based
    image: np.ndarray  # (H, W, 3) uint8: BGR, annotated (`Demo.frames`) or not
    predictions: Predictions  # this frame's boxes (pixels), from its keyframe


class Demo:
    """Both models and the demo's settings; predictions a keyframe at a time.

    Every `predict_stepsize` frames form a segment whose middle frame is the
    keyframe: people are detected there (`det_score_thr`), the clip around it
    is classified, and the result holds for every frame of the segment.

        d = Demo(config, checkpoint, det_config, det_checkpoint)
        preds = d.predict_keyframe(video, 5)        # look inside one keyframe
        for number, image, preds in d.frames(video):  # annotated, streamed
            ...
        write_demo(d, video, "out/demo.mp4")         # the mp4 and its JSON

    Class names come from `label_map` (classes it leaves out score 0), by
    default from the config's GT (`_default_label_map`). The `annotator` draws
    actions scoring at least `action_score_thr`. Raises `StadError` for a bad
    setting, config, checkpoint or label map.

    Raises:
        StadError: `predict_stepsize < 1`, a score threshold outside [0, 1], an
            unreadable config or checkpoint, a checkpoint of other classes, or a
            label map that is missing, malformed or names classes the model does
            not have.
    """

    def __init__(
        self,
        config: str | os.PathLike,
        checkpoint: str | os.PathLike,
        det_config: str | os.PathLike,
        det_checkpoint: str | os.PathLike,
        det_score_thr: float = DET_SCORE_THR,
        action_score_thr: float = ACTION_SCORE_THR,
        label_map: str | os.PathLike | None = None,
        predict_stepsize: int = 8,
        *,
        device: str | None = None,
        cfg_options: dict[str, Any] | None = None,
        det_cat_id: int = 0,
    ):
        from .detector import load_detector
        from .viz.annotate import Annotator

        if predict_stepsize < 1:
            raise StadError(f"--predict-stepsize must be >= 1, got {predict_stepsize}")
        for option, value in (("--det-score-thr", det_score_thr),
                              ("--action-score-thr", action_score_thr)):
            if not 0.0 <= value <= 1.0:
                raise StadError(f"{option} must be in [0, 1], got {value}")
        self.det_score_thr, self.action_score_thr = det_score_thr, action_score_thr
        self.predict_stepsize, self.det_cat_id = int(predict_stepsize), det_cat_id
        self.model = load_action_model(config, checkpoint, device, cfg_options)
        self.device = str(next(self.model.parameters()).device)
        self.sampler = ClipSampler(self.model.cfg)
        self.det_model = load_detector(det_config, det_checkpoint, self.device)
        self.det_pipeline = _det_pipeline(self.det_model)
        num_classes = int(self.model.cfg.model.roi_head.bbox_head.num_classes)
        names = (load_label_map(label_map, num_classes) if label_map is not None
                 else _default_label_map(self.model.cfg, num_classes))
        self.class_names = [names.get(i, str(i)) for i in range(num_classes)]
        self.named = np.array([i in names for i in range(num_classes)], bool)
        self.annotator = Annotator(score_thr=action_score_thr)

    # ---- one keyframe ------------------------------------------------------------
    def keyframe(self, segment: int, total: int) -> int:
        """The 0-based keyframe of `segment` (0-based) in a video of `total` frames."""
        step = self.predict_stepsize
        return min(segment * step + step // 2, total - 1)

    def predict(self, key_rgb: np.ndarray, clip_rgb: Sequence[np.ndarray],
                keyframe: int, video: str = "") -> Predictions:
        """People and action scores at `keyframe` (0-based) from RGB frames.

        `key_rgb` is the keyframe, `clip_rgb` the frames `sampler.indices` names
        for it. Returns a `Predictions` at frame `keyframe + 1`, boxes in pixels,
        full action scores (unnamed classes 0), best person first.
        """
        import torch

        h, w = key_rgb.shape[:2]
        boxes, person_scores = detect_people(
            self.det_model, self.det_pipeline, np.ascontiguousarray(key_rgb[..., ::-1]),
            self.det_score_thr, self.det_cat_id)
        if not len(boxes):
            return Predictions.empty(self.class_names, video=video, size=(h, w))
        norm = np.clip(boxes / np.array([w, h, w, h], np.float32), 0, 1)
        data = self.sampler.pack(list(clip_rgb), norm, keyframe, Path(video).name,
                                 len(self.class_names))
        with torch.no_grad():
            sample = self.model.test_step({"inputs": [data["inputs"]],
                                           "data_samples": [data["data_samples"]]})[0]
        preds = Predictions.from_mmaction(sample, self.class_names, size=(h, w),
                                          frame=keyframe + 1,
                                          person_scores=person_scores, video=video)
        preds.action_scores[:, ~self.named] = 0.0
        return preds

    def predict_keyframe(self, video: str | os.PathLike, frame: int) -> Predictions:
        """The predictions at frame `frame` (1-based) of `video`, as the demo makes
        them for a keyframe there (decodes only the frames of its clip).

        Args:
            video: The video file.
            frame: 1-based frame number.

        Returns:
            `Predictions` in pixels of the video's frames.

        Raises:
            StadError: `frame` is outside 1..(number of frames), or the video cannot
                be read.
        """
        from .viz.reader import FrameReader

        with FrameReader(video, rgb=True) as reader:
            total = len(reader)
            if not 1 <= int(frame) <= total:
                raise StadError(f"frame {frame} is not in 1..{total}", video)
            key = int(frame) - 1
            clip = [reader[int(i) + 1] for i in self.sampler.indices(key, total)]
            return self.predict(reader[key + 1], clip, key, str(video))

    # ---- a whole video, streamed ----------------------------------------------------
    def predictions(self, video: str | os.PathLike,
                    progress: bool = True) -> Iterator[DemoFrame]:
        """Every frame of `video` in order, as (number, RGB frame, its predictions).

        Frames stream: only those a clip or a pending frame still needs are held
        (about one window), never the whole video. A video shorter than the
        model's window still gets predictions (clip indices clamp to the video).
        """
        from tqdm.auto import tqdm

        from .video import iter_frames, probe

        video = Path(video)
        info = probe(video, exact=False)
        stream = _SegmentStream(self, str(video), info.fps or 25.0)
        with tqdm(total=info.nframes or None, desc="demo", unit="frame",
                  disable=not progress) as bar:
            for frame in iter_frames(video, rgb=True):
                yield from stream.push(frame)
                bar.update(1)
            yield from stream.finish()

    def frames(self, video: str | os.PathLike, output_stepsize: int = 1,
               progress: bool = True) -> Iterator[DemoFrame]:
        """Annotated BGR frames of `video` (one per `output_stepsize`) with their
        predictions, streamed: what `write_demo` writes.

        Args:
            video: The video file.
            output_stepsize: Keep one frame in this many (>= 1).
            progress: Show a tqdm bar.

        Yields:
            `DemoFrame`s: 1-based number, `(H, W, 3)` uint8 BGR picture with the
            boxes and actions drawn, and that frame's `Predictions`.

        Raises:
            StadError: `output_stepsize < 1` or an unreadable video.
        """
        if output_stepsize < 1:
            raise StadError(f"--output-stepsize must be >= 1, got {output_stepsize}")
        for number, rgb, preds in self.predictions(video, progress):
            if (number - 1) % output_stepsize == 0:
                yield DemoFrame(number, self.annotate(rgb, preds), preds)

    def annotate(self, rgb: np.ndarray, predictions: Predictions) -> np.ndarray:
        """The demo's picture: an RGB frame -> BGR with `predictions` drawn."""
        return self.annotator.annotate(rgb[..., ::-1], predictions)


class _SegmentStream:
    """The demo's ring of frames: predicts each segment once its clip is read and
    releases frames once no clip or output needs them. People keep their track
    id from keyframe to keyframe (`tracking.PersonTracker`, ByteTrack)."""

    def __init__(self, demo: Demo, video: str, fps: float = 25.0):
        from .tracking import PersonTracker

        self.demo, self.video = demo, video
        self.tracker = PersonTracker(fps, demo.predict_stepsize)
        self.buffer: dict[int, np.ndarray] = {}  # 0-based frame -> RGB frame
        self.segments: dict[int, Predictions] = {}
        self.next_seg = self.next_out = self.total = 0

    def push(self, frame: np.ndarray) -> list[DemoFrame]:
        """Take the next frame; return the output frames now ready."""
        step, i = self.demo.predict_stepsize, self.total
        self.buffer[i] = frame
        self.total += 1
        # A segment is ready once its whole clip has been read.
        while self.next_seg * step + step // 2 + self.demo.sampler.after <= i:
            self._predict(_FAR)
        ready = self._ready()
        keep_from = min(self.next_out,
                        self.next_seg * step + step // 2 - self.demo.sampler.before)
        for j in [j for j in self.buffer if j < keep_from]:
            del self.buffer[j]
        return ready

    def finish(self) -> list[DemoFrame]:
        """The end of the video: the last segments (clips clamp to the video)."""
        while self.next_seg * self.demo.predict_stepsize < self.total:
            self._predict(self.total)
        return self._ready()

    def _predict(self, total: int) -> None:
        key = self.demo.keyframe(self.next_seg, total)
        clip = [self.buffer[int(j)] for j in self.demo.sampler.indices(key, total)]
        self.segments[self.next_seg] = self.tracker.update(
            self.demo.predict(self.buffer[key], clip, key, self.video))
        self.next_seg += 1

    def _ready(self) -> list[DemoFrame]:
        step, out = self.demo.predict_stepsize, []
        while self.next_out < self.total and self.next_out // step in self.segments:
            f = self.next_out
            seg = self.segments[f // step]
            preds = seg[:]
            preds.frames = np.full(len(preds), f + 1, np.int64)
            out.append(DemoFrame(f + 1, self.buffer[f], preds))
            self.next_out = f + 1
            if self.next_out % step == 0:
                self.segments.pop(f // step, None)
        return out


def write_demo(demo: Demo, video: str | os.PathLike, out_mp4: str | os.PathLike,
               output_stepsize: int = 1, output_fps: float | None = None,
               progress: bool = True) -> tuple[Path, Path]:
    """Write `demo`'s annotated frames of `video` (`Demo.frames`) to `out_mp4`
    (H.264) and their predictions to `out_mp4` with `.json`
    (`Predictions.to_demo_json`), each whole or not at all.

    `output_fps` defaults to the video's rate divided by `output_stepsize` (real
    time). Returns (mp4, json). Raises `StadError` when an output would replace
    the video, for a step < 1 or an unreadable video.

    Raises:
        StadError: An output path is the input video, `output_stepsize < 1`, or
            the video is unreadable.
    """
    from .fileio import check_not_input
    from .video import VideoSink, probe

    if output_stepsize < 1:
        raise StadError(f"--output-stepsize must be >= 1, got {output_stepsize}")
    video, out_mp4 = Path(video), Path(out_mp4)
    out_json = out_mp4.with_suffix(".json")
    check_not_input([out_mp4, out_json], [video])
    info = probe(video, exact=False)
    fps = output_fps or (info.fps or 25.0) / output_stepsize
    numbers: list[int] = []
    parts: list[Predictions] = []
    total, size = 0, None
    with VideoSink(out_mp4, fps) as sink:
        for number, rgb, preds in demo.predictions(video, progress):
            total, size = number, rgb.shape[:2]
            if (number - 1) % output_stepsize == 0:
                sink.write(demo.annotate(rgb, preds))
                numbers.append(number)
                parts.append(preds)
        predictions = Predictions.concatenate(
            parts or [Predictions.empty(demo.class_names, video=str(video))])
        predictions.size = size
        meta = {
            "nframes": total, "fps": info.fps, "output_fps": fps,
            "predict_stepsize": demo.predict_stepsize,
            "output_stepsize": int(output_stepsize),
            "clip": {"clip_len": demo.sampler.clip_len,
                     "frame_interval": demo.sampler.frame_interval},
            "det_score_thr": demo.det_score_thr,
            "action_score_thr": demo.action_score_thr,
        }
        predictions.to_demo_json(out_json, action_score_thr=demo.action_score_thr,
                                 frames=numbers, meta=meta)
    return out_mp4, out_json


def demo(
    video: str | os.PathLike,
    out_mp4: str | os.PathLike,
    config: str | os.PathLike,
    checkpoint: str | os.PathLike,
    det_config: str | os.PathLike,
    det_checkpoint: str | os.PathLike,
    det_score_thr: float = DET_SCORE_THR,
    action_score_thr: float = ACTION_SCORE_THR,
    label_map: str | os.PathLike | None = None,
    predict_stepsize: int = 8,
    output_stepsize: int = 1,
    output_fps: float | None = None,
    progress: bool = True,
    *,
    device: str | None = None,
    cfg_options: dict[str, Any] | None = None,
    det_cat_id: int = 0,
) -> tuple[Path, Path]:
    """Detect people and their actions in `video`; write `out_mp4` and its JSON.

    `stad demo`: `Demo(...)` with these settings, then `write_demo`. The JSON
    (`out_mp4` with `.json`, read back with `Predictions.from_demo_json`) lists
    every output frame's boxes (pixels), person scores and the actions scoring
    at least `action_score_thr`. Labels are those of `label_map` (default: the
    GT's labels of the config). Returns (mp4, json). Raises `StadError` for bad
    settings or inputs, or when an output would replace an input.

    Args:
        video: The input video.
        out_mp4: The annotated video to write (its JSON beside it).
        config: The action model's config.
        checkpoint: Its weights.
        det_config: The person detector's config.
        det_checkpoint: Its weights.
        det_score_thr: Person score threshold, in [0, 1].
        action_score_thr: Action score threshold for drawing and the JSON, in
            [0, 1].
        label_map: `0: name` lines (MMAction2's label-map format); None: the
            GT's labels.
        predict_stepsize: Frames per segment (one keyframe each), >= 1.
        output_stepsize: Write one frame in this many, >= 1.
        output_fps: Frame rate of the output (default: real time).
        progress: Show a tqdm bar.
        device: `"cpu"`, `"cuda"`, `"cuda:N"` (None: CUDA if available).
        cfg_options: Overrides of the action config.
        det_cat_id: The detector's class id for "person".

    Returns:
        `(out_mp4, out_json)`.

    Raises:
        StadError: A bad setting (step < 1, a threshold outside [0, 1]), an
            unreadable video, config, checkpoint or label map, or an output that
            would replace an input.
    """
    from .fileio import check_not_input

    if output_stepsize < 1:
        raise StadError(f"--output-stepsize must be >= 1, got {output_stepsize}")
    out_mp4 = Path(out_mp4)
    check_not_input([out_mp4, out_mp4.with_suffix(".json")],
                    [video, config, checkpoint, det_config, det_checkpoint, label_map])
    runner = Demo(config, checkpoint, det_config, det_checkpoint, det_score_thr,
                  action_score_thr, label_map, predict_stepsize, device=device,
                  cfg_options=cfg_options, det_cat_id=det_cat_id)
    return write_demo(runner, video, out_mp4, output_stepsize, output_fps, progress)
