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
  JSON with every output frame's boxes, labels and scores, both written whole or
  not at all.

Every `predict_stepsize` frames form a segment; its middle frame is the
keyframe: people are detected there and the clip around it is classified, and
the result is drawn on every frame of the segment (as upstream does).

Used in: 04_inference_demo.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import StadError
from .fileio import dump_json

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

    The checkpoint must fit the model exactly (MMEngine would only warn), and no
    pretrained weights are downloaded for initialization.
    """
    import torch
    from mmaction.registry import MODELS
    from mmengine.registry import DefaultScope

    from .registry import register_all
    from .train import check_checkpoint, load_config

    register_all()
    cfg = load_config(config, cfg_options)
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
    """Person boxes (N, 4) pixels and scores (N,) of one BGR frame, best first."""
    import torch

    data = pipeline({"img": frame_bgr, "img_id": 0})
    with torch.no_grad():
        pred = det_model.test_step({"inputs": [data["inputs"]],
                                    "data_samples": [data["data_samples"]]})[0]
    inst = pred.pred_instances
    scores = inst.scores.cpu().numpy()
    keep = (inst.labels.cpu().numpy() == cat_id) & (scores >= score_thr)
    boxes = inst.bboxes.cpu().numpy()[keep].astype(np.float32)
    order = np.argsort(-scores[keep], kind="stable")
    return boxes[order], scores[keep][order]


def load_label_map(path: str | os.PathLike) -> dict[int, str]:
    """`0: name` lines (the format of MMAction2's label_map.txt) -> {0: 'name'}."""
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
    return out


def _default_label_map(cfg, num_classes: int) -> dict[int, str]:
    """Class names from the GT of the config's test evaluator, else the numbers."""
    from .data.gt import MultiSportsGT

    ann = (cfg.get("test_evaluator") or {}).get("ann_file")
    if ann and Path(ann).is_file():
        labels = MultiSportsGT.load(ann, validate=False).labels
        return {i: str(n) for i, n in enumerate(labels)}
    return {i: str(i) for i in range(num_classes)}


# ---------------------------------------------------------------------------
# The demo
# ---------------------------------------------------------------------------
@dataclass
class _Segment:
    keyframe: int  # 0-based
    boxes: np.ndarray  # (N, 4) pixels
    person_scores: np.ndarray  # (N,)
    labels: list[list[int]]  # per box, best first
    scores: list[list[float]]


def demo(
    video: str | os.PathLike,
    out_mp4: str | os.PathLike,
    config: str | os.PathLike,
    checkpoint: str | os.PathLike,
    det_config: str | os.PathLike,
    det_checkpoint: str | os.PathLike,
    det_score_thr: float = 0.5,
    action_score_thr: float = 0.4,
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

    The JSON (`out_mp4` with `.json`) lists every output frame's `detections`:
    `box` (pixels), `person_score`, and the actions above `action_score_thr` as
    parallel `labels`, `names`, `scores`. Labels shown are those of `label_map`
    (default: the GT's labels of the config). `output_fps` defaults to the
    video's rate divided by `output_stepsize` (real time).
    """
    import torch
    from tqdm.auto import tqdm

    from .detector import load_detector
    from .video import VideoSink, iter_frames, probe
    from .viz.draw import Annotator

    if predict_stepsize < 1 or output_stepsize < 1:
        raise StadError("--predict-stepsize and --output-stepsize must be >= 1")
    video, out_mp4 = Path(video), Path(out_mp4)
    out_json = out_mp4.with_suffix(".json")
    info = probe(video, exact=False)
    fps = output_fps or (info.fps or 25.0) / output_stepsize

    model = load_action_model(config, checkpoint, device, cfg_options)
    dev = next(model.parameters()).device
    num_classes = int(model.cfg.model.roi_head.bbox_head.num_classes)
    sampler = ClipSampler(model.cfg)
    det_model = load_detector(det_config, det_checkpoint, str(dev))
    det_pipeline = _det_pipeline(det_model)
    names = (load_label_map(label_map) if label_map is not None
             else _default_label_map(model.cfg, num_classes))
    annotator = Annotator([names.get(i, str(i)) for i in range(num_classes)])

    step = int(predict_stepsize)
    buffer: dict[int, np.ndarray] = {}  # 0-based frame -> RGB frame
    segments: dict[int, _Segment] = {}
    records: list[dict] = []
    state = {"next_seg": 0, "next_out": 0}

    def keyframe_of(seg: int, total: int) -> int:
        return min(seg * step + step // 2, total - 1)

    def predict(seg: int, total: int) -> None:
        key = keyframe_of(seg, total)
        frame = buffer[key]
        h, w = frame.shape[:2]
        boxes, pscores = detect_people(det_model, det_pipeline,
                                       np.ascontiguousarray(frame[..., ::-1]),
                                       det_score_thr, det_cat_id)
        labels: list[list[int]] = [[] for _ in boxes]
        scores: list[list[float]] = [[] for _ in boxes]
        if len(boxes):
            clip = [buffer[int(i)] for i in sampler.indices(key, total)]
            norm = np.clip(boxes / np.array([w, h, w, h], np.float32), 0, 1)
            data = sampler.pack(clip, norm, key, video.name, num_classes)
            data = {"inputs": [data["inputs"]], "data_samples": [data["data_samples"]]}
            with torch.no_grad():
                out = model.test_step(data)[0].pred_instances.scores.cpu().numpy()
            for b, row in enumerate(out):
                for c in np.argsort(-row, kind="stable"):
                    if row[c] > action_score_thr and int(c) in names:
                        labels[b].append(int(c))
                        scores[b].append(float(row[c]))
        segments[seg] = _Segment(key, boxes, pscores, labels, scores)

    def flush(sink, limit: int) -> None:
        while state["next_out"] < limit and state["next_out"] // step in segments:
            f = state["next_out"]
            seg = segments[f // step]
            if f % output_stepsize == 0:
                frame = annotator(np.ascontiguousarray(buffer[f][..., ::-1]),
                                  seg.boxes, seg.labels, seg.scores)
                sink.write(frame)
                records.append(_frame_record(f, seg, names))
            state["next_out"] = f + 1
            if state["next_out"] % step == 0:
                segments.pop(f // step, None)

    def evict() -> None:
        keep_from = min(state["next_out"],
                        state["next_seg"] * step + step // 2 - sampler.before)
        for i in [i for i in buffer if i < keep_from]:
            del buffer[i]

    total = 0
    bar = tqdm(total=info.nframes or None, desc="demo", unit="frame",
               disable=not progress)
    with bar, VideoSink(out_mp4, fps) as sink:
        for i, frame in enumerate(iter_frames(video, rgb=True)):
            buffer[i] = frame
            total = i + 1
            # A segment is ready once its whole clip has been read.
            while state["next_seg"] * step + step // 2 + sampler.after <= i:
                predict(state["next_seg"], _FAR)
                state["next_seg"] += 1
            flush(sink, total)
            evict()
            bar.update(1)
        while state["next_seg"] * step < total:  # the end: clips clamp to the video
            predict(state["next_seg"], total)
            state["next_seg"] += 1
        flush(sink, total)
    meta = {
        "video": str(video), "width": int(frame.shape[1]),
        "height": int(frame.shape[0]), "nframes": total,
        "fps": info.fps, "output_fps": fps, "predict_stepsize": step,
        "output_stepsize": int(output_stepsize),
        "clip": {"clip_len": sampler.clip_len,
                 "frame_interval": sampler.frame_interval},
        "det_score_thr": det_score_thr, "action_score_thr": action_score_thr,
        "classes": {str(k): v for k, v in sorted(names.items())},
        "frames": records,
    }
    dump_json(meta, out_json, indent=1)
    return out_mp4, out_json


def _frame_record(frame: int, seg: _Segment, names: dict[int, str]) -> dict:
    return {
        "frame": frame + 1,
        "keyframe": seg.keyframe + 1,
        "detections": [
            {
                "box": [round(float(v), 2) for v in box],
                "person_score": round(float(ps), 4),
                "labels": labs,
                "names": [names.get(c, str(c)) for c in labs],
                "scores": [round(s, 4) for s in scs],
            }
            for box, ps, labs, scs in zip(seg.boxes, seg.person_scores, seg.labels,
                                          seg.scores)
        ],
    }
