"""The demo's clips, exactly as the dataset makes them: `ClipSampler` runs the
action config's own test-time `SampleAVAFrames` and post-decoding transforms
(`Resize`, `FormatShape`, `PackActionInputs`, MMAction2 1.2.0) on decoded frames,
so the model sees the tensor the val dataset would give it (tests/test_demo.py
checks, bit for bit).

Used in: 03_action_detector (the clip window), 04_inference_demo.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..data.layout import img_key
from ..errors import StadError

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
            "img_key": img_key(video_id, timestamp),
            # PackActionInputs packs proposals only along with boxes to learn.
            "gt_bboxes": boxes.copy(), "proposals": boxes,
            "gt_labels": np.zeros((len(boxes), num_classes), np.float32),
        }
        packed = self._post(results)
        sample = packed["data_samples"]
        if "gt_instances" in sample:
            del sample.gt_instances
        return packed
