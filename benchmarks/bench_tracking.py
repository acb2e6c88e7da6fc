"""Person tracks: the greedy IoU linker vs ByteTrack (`stad_helpers.tracking`).

On the synthetic test split, whose identities are known (each GT tube and idle
tube is one person), detections are the GT boxes with noise, random drop-outs,
low-scoring boxes and false positives (seeded: the same figures every run; no
model needed). Both trackers link them; id switches (IDSW) and fragmentations
(Frag) are counted MOT-style (CLEAR MOT, matching at IoU >= 0.5) by
`trackers.eval.compute_clear_metrics`, and both are timed. Run at every frame
and at the demo's keyframes (every 8th frame, `stad demo`'s default
`--predict-stepsize`).

    python benchmarks/bench_tracking.py [--seed 0] [--videos 40] [--frames 96]

The greedy linker is kept here, as it was in `annotations/linking.py` before
ByteTrack replaced it, so the comparison can be rerun.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stad_helpers.annotations.tracks import gt_to_tracks  # noqa: E402
from stad_helpers.data.gt import MultiSportsGT  # noqa: E402
from stad_helpers.data.synth import make_synthetic_dataset  # noqa: E402
from stad_helpers.predictions import Predictions  # noqa: E402
from stad_helpers.tracking import track_people  # noqa: E402


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in `a` (n, 4) with every box in `b` (m, 4), xyxy."""
    a, b = np.asarray(a, np.float64)[:, None], np.asarray(b, np.float64)[None]
    w = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]),
                0, None)
    h = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]),
                0, None)
    inter = w * h
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    union = area_a + area_b - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def greedy_iou_linker(preds: Predictions, iou_thr: float = 0.3) -> np.ndarray:
    """The former `predictions_to_tracks`: per row, its track id.

    Boxes of consecutive predicted frames are linked greedily by IoU with each
    track's last box; a track continues over at most twice the usual step
    between predicted frames.
    """
    steps = np.diff(preds.frame_numbers)
    max_gap = 2 * int(np.median(steps)) if len(steps) else 1
    ids = np.full(len(preds), -1, np.int64)
    open_tracks: list[dict] = []
    next_id = 0
    order = np.argsort(preds.frames, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(preds.frames[order]) != 0])
    for rows in np.split(order, starts[1:]):
        if not len(rows):
            continue
        frame = int(preds.frames[rows[0]])
        boxes = preds.boxes[rows].astype(np.float64)
        alive = [t for t in open_tracks if frame - t["frame"] <= max_gap]
        open_tracks = alive
        taken_t, taken_b = set(), set()
        if alive and len(boxes):
            iou = box_iou(np.stack([t["box"] for t in alive]), boxes)
            for flat in np.argsort(-iou, axis=None, kind="stable"):
                ti, bi = divmod(int(flat), len(boxes))
                if iou[ti, bi] < iou_thr:
                    break
                if ti in taken_t or bi in taken_b:
                    continue
                taken_t.add(ti)
                taken_b.add(bi)
                alive[ti].update(frame=frame, box=boxes[bi])
                ids[rows[bi]] = alive[ti]["id"]
        for bi in range(len(boxes)):
            if bi not in taken_b:
                open_tracks.append({"frame": frame, "box": boxes[bi], "id": next_id})
                ids[rows[bi]] = next_id
                next_id += 1
    return ids


def people(gt: MultiSportsGT, video: str) -> list[int]:
    """The person of each of `gt_to_tracks(gt, video)`'s tracks.

    The synthetic data (like MultiSports) splits one person's life into tubes,
    an action tube then an idle tube and so on; a tube that starts the frame
    after another ended, on a box overlapping its last box (IoU >= 0.5), is the
    same person.
    """
    tracks = gt_to_tracks(gt, video)
    person = list(range(len(tracks)))
    for i, a in enumerate(tracks):
        for j, b in enumerate(tracks):
            if (j != i and b.frames[0] == a.frames[-1] + 1
                    and box_iou(a.boxes[-1:], b.boxes[:1])[0, 0] >= 0.5):
                person[j] = person[i]
    for j in range(len(person)):  # follow chains to their first tube
        while person[person[j]] != person[j]:
            person[j] = person[person[j]]
    return person


def noisy_detections(gt: MultiSportsGT, video: str, step: int,
                     rng: np.random.Generator) -> tuple[Predictions, dict]:
    """Detections of `video` at every `step`-th frame, and the GT per frame.

    Each GT box: dropped with p 0.1; else jittered by N(0, 4% of its size),
    scored U(0.6, 1), or U(0.2, 0.5) with p 0.1 (a hard view). Plus
    Poisson(0.3) false positives per frame, scored U(0.2, 0.7).
    """
    h, w = gt.resolution[video]
    nframes = int(gt.nframes[video])
    frames = np.arange(1 + step // 2, nframes + 1, step)
    gt_by_frame: dict[int, tuple[list, list]] = {int(f): ([], []) for f in frames}
    rows_b, rows_f, rows_s = [], [], []
    for person, track in zip(people(gt, video), gt_to_tracks(gt, video)):
        for f, box in zip(track.frames.tolist(), track.boxes):
            if f not in gt_by_frame:
                continue
            gt_by_frame[f][0].append(person)
            gt_by_frame[f][1].append(box)
            if rng.random() < 0.1:
                continue
            size = np.r_[box[2] - box[0], box[3] - box[1]]
            noisy = box + rng.normal(0, 0.04, 4) * np.r_[size, size]
            noisy = np.r_[np.minimum(noisy[:2], noisy[2:] - 1), noisy[2:]]
            score = rng.uniform(0.2, 0.5) if rng.random() < 0.1 else rng.uniform(0.6, 1)
            rows_b.append(noisy)
            rows_f.append(f)
            rows_s.append(score)
    for f in frames:
        for _ in range(rng.poisson(0.3)):
            bw, bh = rng.uniform(0.1, 0.3) * w, rng.uniform(0.2, 0.5) * h
            x, y = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
            rows_b.append(np.r_[x, y, x + bw, y + bh])
            rows_f.append(int(f))
            rows_s.append(rng.uniform(0.2, 0.7))
    order = np.argsort(rows_f, kind="stable")
    preds = Predictions(np.reshape(rows_b, (-1, 4))[order], np.asarray(rows_f)[order],
                        np.asarray(rows_s)[order], video=video, size=(h, w),
                        meta={"fps": 25.0})
    return preds, gt_by_frame


def clear_mot(preds: Predictions, ids: np.ndarray, gt_by_frame: dict) -> dict:
    """CLEAR MOT metrics (IDSW, Frag, MOTA) at IoU >= 0.5; untracked rows are
    left out (they count as misses where they cover a person)."""
    from trackers.eval import compute_clear_metrics

    gt_ids, tr_ids, sims = [], [], []
    for f, (people, boxes) in sorted(gt_by_frame.items()):
        rows = np.flatnonzero((preds.frames == f) & (ids >= 0))
        gt_ids.append(np.asarray(people, int))
        tr_ids.append(ids[rows])
        sims.append(box_iou(np.reshape(boxes, (-1, 4)), preds.boxes[rows]))
    return compute_clear_metrics(gt_ids, tr_ids, sims, threshold=0.5)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--videos", type=int, default=40)
    ap.add_argument("--frames", type=int, default=96)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        gt = MultiSportsGT.load(make_synthetic_dataset(
            tmp, seed=args.seed, videos=args.videos, frames=args.frames,
            progress=False, write_videos=False))
    videos = gt.split_videos("test")
    n_tubes = sum(len(gt_to_tracks(gt, v)) for v in videos)
    n_people = sum(len(set(people(gt, v))) for v in videos)
    print(f"synthetic test split: {len(videos)} videos, {n_people} people in "
          f"{n_tubes} tubes (seed {args.seed})")
    print(f"{'step':>4} {'tracker':<16} {'IDSW':>5} {'Frag':>5} {'MOTA':>6} "
          f"{'IDs':>5} {'untracked':>9} {'ms/video':>9}")
    for step in (1, 8):
        rng = np.random.default_rng(args.seed)
        data = [noisy_detections(gt, v, step, rng) for v in videos]
        for name, run in (("greedy IoU", greedy_iou_linker),
                          ("ByteTrack", lambda p: track_people(p).track_ids)):
            run(data[0][0])  # warm (imports)
            totals = {"IDSW": 0, "Frag": 0, "TP": 0, "FP": 0, "FN": 0}
            n_ids = untracked = 0
            t0 = time.perf_counter()
            all_ids = [run(p) for p, _ in data]
            ms = (time.perf_counter() - t0) * 1000 / len(data)
            for (p, g), ids in zip(data, all_ids):
                m = clear_mot(p, ids, g)
                totals["IDSW"] += m["IDSW"]
                totals["Frag"] += m["Frag"]
                totals["TP"] += m["CLR_TP"]
                totals["FP"] += m["CLR_FP"]
                totals["FN"] += m["CLR_FN"]
                n_ids += len(np.unique(ids[ids >= 0]))
                untracked += int((ids < 0).sum())
            mota = 1 - (totals["FN"] + totals["FP"] + totals["IDSW"]) / max(
                1, totals["TP"] + totals["FN"])
            print(f"{step:>4} {name:<16} {totals['IDSW']:>5} {totals['Frag']:>5} "
                  f"{mota:>6.3f} {n_ids:>5} {untracked:>9} {ms:>9.2f}")


if __name__ == "__main__":
    main()
