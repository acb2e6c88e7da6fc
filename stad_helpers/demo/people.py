"""Person detection for the demo: the detector's test pipeline fed decoded frames
(`_det_pipeline`), and the people of one frame (`detect_people`, through
`Predictions.from_mmdet`).

Used in: 04_inference_demo (one keyframe, by hand).
"""

from __future__ import annotations

import numpy as np

from ..predictions import Predictions


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
