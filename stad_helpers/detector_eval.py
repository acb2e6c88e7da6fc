"""Person bbox AP50 of the person detector's results, or of proposals made from them.

`detector_ap50` scores `stad detect`'s per-frame results (or the AVA proposals
of `stad convert proposals`) with MMDetection's `CocoMetric` on the val COCO
JSON of `stad convert det-anno`.

Used in: 02_person_detector, 03_action_detector (through `evaluate`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .action_predict import quiet_output
from .data import layout
from .data.gt import MultiSportsGT
from .data.safe_pickle import safe_load
from .errors import StadError


def detector_ap50(
    results: list | dict | str | os.PathLike,
    det_anno: str | os.PathLike,
    gt: MultiSportsGT | str | os.PathLike | None = None,
) -> float:
    """Person bbox AP at IoU 0.5 (fraction) with MMDetection's `CocoMetric`.

    `results` is `stad detect`'s results (a list of per-frame dicts with
    `img_path` and `pred_instances`) or proposals (dict 'sport/video.mp4,0017' ->
    (N, 5) normalized boxes and score; then `gt` gives the frame sizes). Only the
    frames listed in `det_anno` (the val JSON of `stad convert det-anno`) count.

    Args:
        results: `stad detect`'s results or proposals (see above), or the path
            of their pickle.
        det_anno: The COCO-format JSON (https://cocodataset.org/#format-data)
            of `stad convert det-anno`.
        gt: The `MultiSportsGT` (or its file), needed for proposals only.

    Returns:
        AP50 as a fraction in [0, 1], rounded to 6 digits.

    Raises:
        StadError: `det_anno` is missing, the results file is unreadable or of
            an unknown form, or no result is for a frame of `det_anno`.
    """
    import torch
    from mmdet.evaluation import CocoMetric

    source = None
    if isinstance(results, (str, os.PathLike)):
        source = os.fspath(results)
        results = safe_load(results)
    det_anno = Path(det_anno)
    if not det_anno.is_file():
        raise StadError("det-anno JSON not found (make it with `stad convert "
                        "det-anno`)", det_anno)
    with open(det_anno) as fh:
        images = json.load(fh)["images"]
    by_name = {img["file_name"]: img for img in images}
    frames = _detector_frames(results, gt, source)

    # COCO's default IoU thresholds; AP50 is its `bbox_mAP_50`. (A list such as
    # iou_thrs=[0.5] breaks pycocotools' summary under numpy >= 2.)
    metric = CocoMetric(ann_file=str(det_anno), metric="bbox")
    metric.dataset_meta = {"classes": ("person",)}
    samples = []
    for name, boxes, scores in frames:
        img = by_name.get(name)
        if img is None:
            continue
        samples.append({
            "img_id": img["id"], "ori_shape": (img["height"], img["width"]),
            "pred_instances": {
                "bboxes": torch.as_tensor(np.asarray(boxes, np.float32).reshape(-1, 4)),
                "scores": torch.as_tensor(np.asarray(scores, np.float32).reshape(-1)),
                "labels": torch.zeros(len(scores), dtype=torch.long)}})
    if not samples:
        raise StadError("no detection result is for a frame of the det-anno JSON "
                        f"{det_anno}", source)
    metric.process({}, samples)
    with quiet_output():
        out = metric.compute_metrics(metric.results)
    return round(float(out["bbox_mAP_50"]), 6)


def _detector_frames(results, gt, source) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(COCO file_name, pixel boxes, scores) per frame from results or proposals."""
    if isinstance(results, list):
        frames = []
        for i, item in enumerate(results):
            try:
                pred = item["pred_instances"]
                frames.append((str(item["img_path"]), pred["bboxes"], pred["scores"]))
            except (KeyError, TypeError):
                raise StadError(f"result {i}: expected img_path and pred_instances "
                                "(bboxes, scores)", source) from None
        return frames
    if isinstance(results, dict):
        if gt is None:
            raise StadError("proposals have normalized boxes: pass the GT for the "
                            "frame sizes", source)
        if not isinstance(gt, MultiSportsGT):
            gt = MultiSportsGT.load(gt)
        frames = []
        for key, arr in results.items():
            try:
                video, frame = layout.parse_ava_key(str(key))
            except ValueError as exc:
                raise StadError(f"proposal {key!r}: {exc}", source) from None
            if video not in gt.resolution:
                raise StadError(f"proposal '{key}': video not in the GT", source)
            h, w = gt.resolution[video]
            arr = np.asarray(arr, np.float64).reshape(len(arr), -1)
            scores = arr[:, 4] if arr.shape[1] > 4 else np.ones(len(arr))
            frames.append((layout.rawframe_relpath(video, frame),
                           arr[:, :4] * np.array([w, h, w, h]), scores))
        return frames
    raise StadError("expected detection results (a list) or proposals (a dict)",
                    source)
