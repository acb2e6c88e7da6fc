"""Person-detector results -> AVA proposal pickles (`stad convert proposals`).

The tutorial's `convert_proposals.py`, with the checks it lacks. Input: the
list of per-image results MMDetection's `test.py --out` writes (and `stad
detect` writes, with numpy arrays): dicts with `img_path` ending in
`<sport>/<video>/<frame:05d>.jpg`, `ori_shape` (h, w) and `pred_instances`
with `bboxes` (x1, y1, x2, y2 pixels) and `scores`. Output: `OUT_train.pkl`
and `OUT_val.pkl`, dicts `'sport/video.mp4,0017' -> float32 (N, 5)` of boxes
divided by the frame size (clipped to [0, 1]) and the score: the
`proposal_file` of MMAction2's `AVADataset`.

Coverage check: `AVADataset` looks up the proposals of every annotated frame
(each is a keyframe) and, when there are none, silently uses the whole frame
as the only box -- training and evaluation then run on nonsense boxes, a
common cause of "mAP = 0". So the fraction of annotated keyframes with at
least one proposal is computed per split, and below `min_coverage` nothing is
written and a `StadError` says which frames are missing. The default, 0.9,
sits below what a working detector reaches (MMAction2's released MultiSports
proposals have 96% recall) and far above what results for the wrong frames or
paths give (near 0). Images with no detection at all are left out of the
pickle: `AVADataset` would crash on an empty (0, 5) array, and the whole-frame
fallback is what the coverage check reports.

Used in: 02_person_detector, 03_action_detector.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from ..data.gt import MultiSportsGT
from ..data.safe_pickle import safe_load
from ..errors import StadError
from ..fileio import dump_pickle
from ._common import as_gt, split_output

SPLITS = {"train": "train", "val": "test"}  # output suffix -> GT split
MIN_COVERAGE = 0.9
MAX_QUOTED = 5  # missing keyframes quoted in the error


def proposals(
    det_results: str | os.PathLike | list[dict],
    gt: MultiSportsGT | str | os.PathLike,
    out_pkl: str | os.PathLike,
    min_coverage: float = MIN_COVERAGE,
) -> dict[str, Any]:
    """Write `OUT_train.pkl` / `OUT_val.pkl`; return their paths and the coverage.

    Returns ``{"train": Path, "val": Path, "coverage": {"train": f, "val": f},
    "keyframes": {"train": n, "val": n}}``.
    """
    source = None if isinstance(det_results, list) else str(det_results)
    results = _load_results(det_results)
    gt = as_gt(gt)
    targets = {s: Path(split_output(out_pkl, ".pkl", s)) for s in SPLITS}
    split_of = {v: s for s in SPLITS for v in gt.split_videos(SPLITS[s])}

    by_split: dict[str, dict[str, np.ndarray]] = {s: {} for s in SPLITS}
    seen: dict[str, int] = {}
    for i, sample in enumerate(results):
        video, frame, boxes = _parse_sample(sample, i, source)
        split = split_of.get(video)
        if split is None:
            raise StadError(
                f"result {i} ({sample['img_path']!r}) is for video {video!r}, which "
                "is in neither the train nor the test split of the annotation "
                f"{gt.source or ''}; were the detections made on another dataset?",
                source,
            )
        key = f"{video}.mp4,{frame:04d}"
        if key in seen:
            raise StadError(f"results {seen[key]} and {i} are both for frame {key!r}",
                            source)
        seen[key] = i
        if len(boxes):
            by_split[split][key] = boxes

    report: dict[str, Any] = {"coverage": {}, "keyframes": {}}
    problems = []
    for split in SPLITS:
        keys = keyframe_keys(gt, gt.split_videos(SPLITS[split]))
        missing = [k for k in keys if k not in by_split[split]]
        coverage = 1 - len(missing) / len(keys) if keys else 1.0
        report["coverage"][split] = coverage
        report["keyframes"][split] = len(keys)
        if coverage < min_coverage:
            problems.append(
                f"{split}: {len(keys) - len(missing)} of {len(keys)} annotated "
                f"keyframes ({coverage:.1%}) have a proposal; missing e.g. "
                + ", ".join(missing[:MAX_QUOTED]))
    if problems:
        raise StadError(
            f"proposal coverage below {min_coverage:.0%}, nothing written:\n  "
            + "\n  ".join(problems)
            + "\nAVADataset would silently use the whole frame as the box of every "
            "keyframe without a proposal. Run the detector on those frames (`stad "
            "convert infer-anno` lists them), lower its score threshold, or pass "
            "min_coverage=0 (--min-coverage 0) to accept.",
            source,
        )
    for split, path in targets.items():
        dump_pickle(by_split[split], path)
        report[split] = path
    return report


def keyframe_keys(gt: MultiSportsGT, videos: list[str]) -> list[str]:
    """AVA keys ('sport/video.mp4,0017') of every annotated frame of `videos`."""
    table = gt.box_table(videos)
    pairs = np.unique(np.stack([table.video, table.frame], axis=1), axis=0)
    return [f"{videos[v]}.mp4,{f:04d}" for v, f in pairs.tolist()]


def _load_results(det_results: str | os.PathLike | list[dict]) -> list:
    if isinstance(det_results, list):
        return det_results
    try:
        results = safe_load(det_results)
    except StadError as exc:
        if "'torch." in str(exc):
            raise StadError(
                "holds torch tensors (MMDetection's `test.py --out` writes them), "
                "which a safe load refuses since unpickling torch objects can run "
                "code. Produce the results with `stad detect`, which writes numpy "
                "arrays in the same structure, or pass the loaded list of results "
                "to `proposals()` if you trust the file",
                det_results,
            ) from None
        raise
    if not isinstance(results, list):
        raise StadError(f"expected a list of per-image results, got "
                        f"{type(results).__name__}", det_results)
    return results


def _parse_sample(sample: Any, i: int, source: str | None):
    """(video key, frame number, float32 (N, 5) normalized boxes + score)."""
    try:
        img_path = sample["img_path"]
        h, w = (int(x) for x in tuple(sample["ori_shape"])[:2])
        pred = sample["pred_instances"]
        bboxes = np.asarray(pred["bboxes"], np.float32).reshape(-1, 4)
        scores = np.asarray(pred["scores"], np.float32).reshape(-1)
    except (TypeError, KeyError, ValueError, IndexError) as exc:
        raise StadError(f"result {i} is not a detection result with img_path, "
                        f"ori_shape and pred_instances (bboxes, scores): "
                        f"{type(exc).__name__}: {exc}", source) from None
    if len(scores) != len(bboxes):
        raise StadError(f"result {i} ({img_path!r}): {len(bboxes)} boxes but "
                        f"{len(scores)} scores", source)
    parts = PurePosixPath(str(img_path).replace("\\", "/")).parts
    try:
        if len(parts) < 3:
            raise ValueError
        frame = int(PurePosixPath(parts[-1]).stem)
    except ValueError:
        raise StadError(f"result {i}: img_path {img_path!r} is not "
                        "'<sport>/<video>/<frame>.jpg'", source) from None
    if h <= 0 or w <= 0:
        raise StadError(f"result {i} ({img_path!r}): ori_shape {sample['ori_shape']!r}",
                        source)
    norm = np.clip(bboxes / np.array([w, h, w, h], np.float32), 0, 1)
    return f"{parts[-3]}/{parts[-2]}", frame, np.concatenate([norm, scores[:, None]], 1)
