"""Time frame-mAP and video-mAP at the full MultiSports size: MMAction2's way vs ours.

Makes the full-size GT (`make_full_gt.py`: 3,200 videos, 1,626 of them in the
val split) and seeded predictions on its val split (`make_predictions`: jittered
GT boxes, misses, bystanders, false positives, 66 class scores per box), then
scores them

- the upstream way: MMAction2's `frameAP`, `link_tubes` and `videoAP` (with
  `stad_helpers.compat`'s fixes), the steps of `MultiSportsMetric`, on an
  evenly spread sample of `--upstream-videos` val videos;
- our way (`stad_helpers.multisports_map`, what `stad evaluate` runs) on the
  same sample, checking that every number and every linked tube is equal;
- ours on the whole split, also through `action_metrics` (conversion and
  per-class table included), and upstream's `frameAP` and `videoAP` (on our
  tubes, the same) there too. Upstream's `link_tubes` on the whole split would
  first build 66 empty arrays per frame of every val video (80 million, ~13
  GB), so its time is extrapolated per video from the sample.

    .venv/bin/python benchmarks/bench_eval.py [--seed 0] [--upstream-videos 40]
        [--workers 1]

`--upstream-videos 0` links the whole split the upstream way too (slow, ~13 GB).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_full_gt import make_full_gt, make_predictions  # noqa: E402

from stad_helpers import multisports_map as msm  # noqa: E402
from stad_helpers.action_eval import (  # noqa: E402
    FRAME_IOU,
    TUBE_MIN_LEN,
    VIDEO_IOUS,
    action_metrics,
    frame_detections,
)
from stad_helpers.action_predict import quiet_output, video_predictions  # noqa: E402
from stad_helpers.data.gt import MultiSportsGT  # noqa: E402


def upstream_metrics(raw: dict, dets: np.ndarray, tubes: dict | None = None
                     ) -> tuple[dict, dict, dict]:
    """MultiSportsMetric.compute_metrics's numbers (percent, rounded as it does),
    its tubes and seconds per step; with `tubes`, linking is skipped."""
    from mmaction.evaluation.functional import multisports_utils as mu

    seconds = {}
    with quiet_output():
        t = time.perf_counter()
        out = {"frameAP": round(mu.frameAP(raw, dets, FRAME_IOU, False), 4)}
        seconds["frame-AP"] = time.perf_counter() - t
        if tubes is None:
            t = time.perf_counter()
            tubes = mu.link_tubes(raw, dets, len_thre=TUBE_MIN_LEN)
            seconds["linking"] = time.perf_counter() - t
        t = time.perf_counter()
        out.update({f"v_map@{t}": round(mu.videoAP(raw, tubes, t, False), 4)
                    for t in VIDEO_IOUS})
        seconds["video-AP"] = time.perf_counter() - t
    return out, tubes, seconds


def our_metrics(raw: dict, dets: np.ndarray, workers: int) -> tuple[dict, dict, dict]:
    """The same numbers from `multisports_map`, and seconds per step."""
    seconds = {}
    t = time.perf_counter()
    frame_aps = msm.frame_ap(raw, dets, FRAME_IOU)
    seconds["frame-AP"] = time.perf_counter() - t
    t = time.perf_counter()
    tubes = msm.link_tubes(raw, dets, len_thre=TUBE_MIN_LEN, workers=workers)
    seconds["linking"] = time.perf_counter() - t
    t = time.perf_counter()
    video_aps = msm.video_ap(raw, tubes, VIDEO_IOUS)
    seconds["video-AP"] = time.perf_counter() - t
    out = {"frameAP": round(msm.mean_percent(frame_aps), 4)}
    out.update({f"v_map@{t}": round(msm.mean_percent(video_aps[t]), 4)
                for t in VIDEO_IOUS})
    return out, tubes, seconds


def same_tubes(a: dict, b: dict) -> bool:
    """Identical tube lists: same videos, scores and arrays, in the same order."""
    return a.keys() == b.keys() and all(
        len(a[k]) == len(b[k]) and all(
            x[0] == y[0] and x[1] == y[1] and np.array_equal(x[2], y[2])
            for x, y in zip(a[k], b[k])) for k in a)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--upstream-videos", type=int, default=40, metavar="N",
                        help="val videos scored the upstream way (0: all)")
    parser.add_argument("--workers", type=int, default=1,
                        help="processes linking tubes (ours)")
    args = parser.parse_args(argv)

    t = time.perf_counter()
    gt = MultiSportsGT.from_dict(make_full_gt(args.seed), "full-size GT")
    records = make_predictions(gt.to_dict(), args.seed)
    predictions = video_predictions(records, gt)
    n_boxes = sum(len(p) for p in predictions)
    print(f"GT: {len(gt.nframes)} videos, {len(gt.test_videos)} in the val split; "
          f"predictions: {len(records)} keyframes, {n_boxes} boxes "
          f"(made in {time.perf_counter() - t:.1f} s)")

    # The sample, both ways.
    every = gt.test_videos
    k = args.upstream_videos or len(every)
    sample = [every[i] for i in np.linspace(0, len(every) - 1, k).astype(int)]
    part_gt = MultiSportsGT.from_dict({**gt.to_dict(), "test_videos": [sample]},
                                      "sample")
    part_raw = part_gt.to_dict()
    part_dets = frame_detections([p for p in predictions if p.video in set(sample)],
                                 part_gt)
    theirs, their_tubes, their_s = upstream_metrics(part_raw, part_dets)
    upstream_s = sum(their_s.values())
    t = time.perf_counter()
    ours, our_tubes, _ = our_metrics(part_raw, part_dets, args.workers)
    ours_s = time.perf_counter() - t
    equal = theirs == ours and same_tubes(their_tubes, our_tubes)
    steps = ", ".join(f"{name} {s:.1f} s" for name, s in their_s.items())
    print(f"\n{k} val videos, {len(part_dets)} boxes:")
    print(f"  upstream (MMAction2 + compat) {upstream_s:8.1f} s  ({steps}) {theirs}")
    print(f"  ours (multisports_map)        {ours_s:8.1f} s  {ours}")
    print(f"  equal: {equal} (numbers and every linked tube); ratio "
          f"{upstream_s / ours_s:.0f}x")

    # Ours on the whole split; upstream's frame-AP and video-AP too (its linking
    # would build 66 empty arrays per frame of every video: extrapolated).
    raw = gt.to_dict()
    t = time.perf_counter()
    dets = frame_detections(predictions, gt)
    convert_s = time.perf_counter() - t
    full, tubes, seconds = our_metrics(raw, dets, args.workers)
    full_s = convert_s + sum(seconds.values())
    t = time.perf_counter()
    metrics = action_metrics(predictions, gt, workers=args.workers)
    table_s = time.perf_counter() - t
    steps = ", ".join(f"{name} {s:.1f} s" for name, s in seconds.items())
    print(f"\nall {len(every)} val videos, {len(dets)} boxes:")
    print(f"  ours {full_s:.1f} s (conversion {convert_s:.1f} s, {steps}) {full}")
    print(f"  action_metrics (per-class table included): {table_s:.1f} s: "
          f"frame_map {metrics.frame_map}, video_map {metrics.video_map}")
    theirs, _, their_full = upstream_metrics(raw, dets, tubes)
    link = their_s["linking"] * len(every) / k
    estimate = link + sum(their_full.values())
    equal = equal and theirs == full
    print(f"  upstream: frame-AP {their_full['frame-AP']:.1f} s, video-AP on the "
          f"same tubes {their_full['video-AP']:.1f} s (equal: {theirs == full}), "
          f"linking ~{link:.0f} s extrapolated from the sample")
    print(f"  upstream in all ~{estimate:.0f} s ({estimate / 60:.0f} min), "
          f"ratio ~{estimate / full_s:.0f}x")
    return 0 if equal else 1


if __name__ == "__main__":
    sys.exit(main())
