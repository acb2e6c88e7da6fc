"""Person-detector results -> AVA proposal pickles (`stad convert proposals`).

The tutorial's `convert_proposals.py`, with the checks it lacks. Input: the
list of per-image results MMDetection's `test.py --out` writes (torch tensors,
read through torch's weights-only loader by `data.safe_pickle`; `stad detect`
writes the same with numpy arrays): dicts with `img_path` ending in
`<sport>/<video>/<frame:05d>.jpg`, `ori_shape` (h, w) and `pred_instances`
with `bboxes` (x1, y1, x2, y2 pixels) and `scores`. Output: `OUT_train.pkl`
and `OUT_val.pkl`, dicts `'sport/video.mp4,0017' -> float32 (N, 5)` of boxes
divided by the frame size (clipped to [0, 1]) and the score: the
`proposal_file` of MMAction2's `AVADataset`
(https://github.com/open-mmlab/mmaction2/blob/main/mmaction/datasets/ava_dataset.py;
the tutorial's `projects/stad_tutorial/tools/convert_proposals.py`).

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

Recall: coverage says nothing of *which* people have a box. `AVADataset` also
drops the proposals of a frame scoring below its `person_det_score_thr` (0.9 by
default; the frame's best one is always kept), and an annotated person left
without a box can only be a miss. So the report also gives, per split, the
fraction of annotated boxes matched (IoU >= 0.5) by a proposal that survives
that threshold -- the action config's, which callers pass as `score_thr`
(`stad_helpers.action.person_det_score_thr`; `stad detect --action-config`) --
and warns below `RECALL_WARN`, with the advice that fits the measurement: the
highest lower threshold at which the recall would reach `RECALL_WARN` (to set
as `person_det_score_thr` in the action config), or, when none does, to train
the detector longer.

Results must belong to the GT: a result for a video the GT does not list, or for
a frame past the end of its video, is an error naming both files.

Used in: 02_person_detector, 03_action_detector.
"""

from __future__ import annotations

import os
import warnings
from pathlib import PurePosixPath
from typing import Any

import numpy as np

from ..data import layout
from ..data.gt import MultiSportsGT
from ..data.safe_pickle import safe_load
from ..errors import StadError
from ..fileio import check_not_input, dump_pickle
from ._common import as_gt, split_targets

SPLITS = layout.GT_SPLIT  # output suffix -> GT split
MIN_COVERAGE = 0.9
AVA_SCORE_THR = 0.9  # AVADataset's default person_det_score_thr
RECALL_IOU = 0.5
RECALL_WARN = 0.8
# Thresholds tried for the advice of the recall warning, highest first.
ADVICE_THRS = (0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1)
MAX_QUOTED = 5  # missing keyframes quoted in the error


def proposals(
    det_results: str | os.PathLike | list[dict],
    gt: MultiSportsGT | str | os.PathLike,
    out_pkl: str | os.PathLike,
    min_coverage: float = MIN_COVERAGE,
    score_thr: float = AVA_SCORE_THR,
    *,
    score_thr_source: str | None = None,
) -> dict[str, Any]:
    """Write `OUT_train.pkl` / `OUT_val.pkl`; return their paths and the coverage.

    Returns ``{"train": Path, "val": Path, "coverage": {"train": f, "val": f},
    "keyframes": {"train": n, "val": n}, "recall": {"train": f, "val": f},
    "score_thr": f, "score_thr_source": str}``; recall is measured at the action
    dataset's `person_det_score_thr`, `score_thr` (see above), which
    `score_thr_source` says where it comes from (e.g. "person_det_score_thr of
    configs/action/x.py"; default: AVADataset's default, when it is 0.9).

    Raises:
        StadError: unreadable results, a result for a video or frame the GT
            lacks, two results for one frame, or coverage below `min_coverage`;
            nothing is written then.
    """
    if score_thr_source is None:
        score_thr_source = ("AVADataset's default person_det_score_thr"
                            if score_thr == AVA_SCORE_THR else "person_det_score_thr")
    source = None if isinstance(det_results, list) else str(det_results)
    results = _load_results(det_results)
    gt = as_gt(gt)
    targets = split_targets(out_pkl, ".pkl")
    check_not_input(targets.values(), [source, gt.source])  # never over an input
    split_of = {v: s for s in SPLITS for v in gt.split_videos(SPLITS[s])}

    by_split: dict[str, dict[str, np.ndarray]] = {s: {} for s in SPLITS}
    seen: dict[str, int] = {}
    for i, sample in enumerate(results):
        video, frame, boxes = _parse_sample(sample, i, source)
        split = split_of.get(video)
        if split is None:
            raise StadError(
                f"result {i} ({sample['img_path']!r}) is for video {video!r}, which "
                "is in neither the train nor the val split (test_videos) of the "
                f"annotation {gt.source or ''}; were the detections made on another "
                "dataset?",
                source,
            )
        if not 1 <= frame <= int(gt.nframes[video]):
            raise StadError(
                f"result {i} ({sample['img_path']!r}) is frame {frame} of video "
                f"{video!r}, which has {int(gt.nframes[video])} frames in the "
                f"annotation {gt.source or ''}; were the detections made on other "
                "videos?", source)
        key = layout.ava_key(video, frame)
        if key in seen:
            raise StadError(f"results {seen[key]} and {i} are both for frame {key!r}",
                            source)
        seen[key] = i
        if len(boxes):
            by_split[split][key] = boxes

    report: dict[str, Any] = {"coverage": {}, "keyframes": {}, "recall": {},
                              "score_thr": score_thr,
                              "score_thr_source": score_thr_source}
    problems = []
    for split in SPLITS:
        videos = gt.split_videos(SPLITS[split])
        report["recall"][split] = box_recall(by_split[split], gt, videos, score_thr)
        keys = keyframe_keys(gt, videos)
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
    low = {s: r for s, r in report["recall"].items() if r < RECALL_WARN}
    if low:
        warnings.warn(
            f"proposals with a score >= {score_thr:g} ({score_thr_source}) cover "
            "only " + ", ".join(f"{r:.0%} of the annotated people of {s}"
                                for s, r in low.items())
            + "; the others can only be missed. "
            + _recall_advice(by_split, gt, low, score_thr), stacklevel=2)
    return report


def _recall_advice(by_split: dict[str, dict[str, np.ndarray]], gt: MultiSportsGT,
                   low: dict[str, float], score_thr: float) -> str:
    """What to change for the recall warning: the highest lower threshold at which
    every low split reaches `RECALL_WARN`, else a longer detector training."""
    for thr in (t for t in ADVICE_THRS if t < score_thr):
        recall = {s: box_recall(by_split[s], gt, gt.split_videos(SPLITS[s]), thr)
                  for s in low}
        if all(r >= RECALL_WARN for r in recall.values()):
            return (f"At {thr:g} they would be "
                    + ", ".join(f"{r:.0%} ({s})" for s, r in recall.items())
                    + f": set person_det_score_thr = {thr:g} in the action config "
                    "(the value this report is measured at), or train the person "
                    "detector longer.")
    return (f"Even at {min(ADVICE_THRS + (score_thr,)):g} they stay below "
            f"{RECALL_WARN:.0%}: train the person detector longer (or on more "
            "frames).")


def box_recall(props: dict[str, np.ndarray], gt: MultiSportsGT, videos: list[str],
               score_thr: float = AVA_SCORE_THR, iou_thr: float = RECALL_IOU) -> float:
    """Fraction of the annotated boxes of `videos` that a proposal matches.

    A proposal counts if `AVADataset` keeps it (score >= min(score_thr, the
    frame's best score)) and its IoU with the box is >= `iou_thr`. Vectorized over
    all (box, proposal) pairs of the same frame. 1.0 when nothing is annotated.
    """
    table = gt.box_table(videos)
    if not len(table):
        return 1.0
    if not props:
        return 0.0
    index = {k: i for i, k in enumerate(props)}
    keys = layout.ava_keys([videos[v] for v in table.video.tolist()],
                           table.frame.tolist())
    key_of_box = np.array([index.get(k, -1) for k in keys], np.int64)
    counts = np.array([len(p) for p in props.values()], np.int64)
    boxes = np.concatenate(list(props.values())).astype(np.float32)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    best = np.maximum.reduceat(boxes[:, 4], starts) if len(boxes) else np.zeros(0)
    kept = boxes[:, 4] >= np.minimum(score_thr, np.repeat(best, counts))
    # Every (annotated box, proposal of its frame) pair.
    has = key_of_box >= 0
    gt_idx = np.flatnonzero(has)
    n_pairs = counts[key_of_box[has]]
    pair_gt = np.repeat(gt_idx, n_pairs)
    offset = np.arange(n_pairs.sum()) - np.repeat(np.cumsum(n_pairs) - n_pairs, n_pairs)
    pair_prop = np.repeat(starts[key_of_box[has]], n_pairs) + offset
    wh = np.array([gt.resolution[v][::-1] for v in videos], np.float32)  # (w, h)
    scale = np.tile(wh[table.video], 2)
    a = table.xyxy[pair_gt] / scale[pair_gt]
    b = boxes[pair_prop, :4]
    iw = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    ih = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = iw * ih
    union = ((a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
             + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter)
    hit = (inter >= iou_thr * np.maximum(union, 1e-12)) & kept[pair_prop]
    matched = np.zeros(len(table), bool)
    matched[pair_gt[hit]] = True
    return float(matched.mean())


def keyframe_keys(gt: MultiSportsGT, videos: list[str]) -> list[str]:
    """AVA keys ('sport/video.mp4,0017') of every annotated frame of `videos`."""
    table = gt.box_table(videos)
    pairs = np.unique(np.stack([table.video, table.frame], axis=1), axis=0)
    pairs = pairs.tolist()
    return layout.ava_keys([videos[v] for v, _ in pairs], [f for _, f in pairs])


def _load_results(det_results: str | os.PathLike | list[dict]) -> list:
    if isinstance(det_results, list):
        return det_results
    try:
        results = safe_load(det_results)
    except StadError as exc:
        if "'torch." in str(exc):
            raise StadError(
                "holds torch objects other than tensors (tensors, as MMDetection's "
                "`test.py --out` writes them, load through torch's weights-only "
                "loader; these could run code). Produce the results with `stad "
                "detect`, which writes numpy arrays in the same structure, or pass "
                "the loaded list of results to `proposals()` if you trust the file",
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
