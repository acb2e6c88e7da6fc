"""Write a `multisports_GT.pkl` with the full MultiSports statistics (no videos).

3,200 videos of 1280x720 over 4 sports, 66 labels, ~37,700 tubes, ~900k boxes:
the size the conversions must handle quickly (`bench_convert.py`). Boxes are
fractional float32 pixels moving smoothly inside the frame, tubes start and end
mid-video and overlap in time, exactly like the real file's keys and dtypes.
Deterministic for a seed; takes about a second.

`make_predictions` makes an action detector's predictions on the val split of
such a GT (what `stad evaluate` saves in `predictions.pkl`): GT boxes jittered,
some dropped, bystanders beside some actors, random false positives, one score
per class (`bench_eval.py` times frame-mAP and video-mAP on them).

    python benchmarks/make_full_gt.py OUT.pkl [--seed 0] [--predictions PRED.pkl]
"""

from __future__ import annotations

import argparse
import string
import sys
from pathlib import Path

import numpy as np

SPORTS = {
    "aerobic_gymnastics": [
        "push_up", "explosive_push_up", "explosive_support", "leg_circle",
        "helicopter", "support", "v_support", "horizontal_support", "straight_jump",
        "illusion", "bent_leg(s)_jump", "pike_jump", "straddle_jump", "split_jump",
        "scissors_leap", "kick_jump", "off_axis_jump", "butterfly_jump", "split",
        "turn", "balance_turn"],
    "volleyball": [
        "serve", "block", "first_pass", "defend", "protect", "second_pass", "adjust",
        "save", "second_attack", "spike", "dink", "no_offensive_attack"],
    "football": [
        "shoot", "long_pass", "short_pass", "through_pass", "cross", "dribble", "trap",
        "throw", "diving", "tackle", "steal", "clearance", "block", "press",
        "aerial_duels"],
    "basketball": [
        "pass", "drive", "dribble", "3-point_shot", "2-point_shot", "free_throw",
        "block", "offensive_rebound", "defensive_rebound", "pass_steal",
        "dribble_steal", "interfere_shot", "pick-and-roll_defensive", "sag", "screen",
        "pass-inbound", "save", "jump_ball"],
}
PREFIX = {"aerobic_gymnastics": "aerobic"}
N_VIDEOS = 3200
N_TRAIN = 1574  # MultiSports' train split; the rest stands in for val + test
N_TUBES = 37_700
TUBE_LEN = (6, 43)  # uniform, mean 24 -> ~905k boxes
HEIGHT, WIDTH = 720, 1280


def make_full_gt(seed: int = 0, n_videos: int = N_VIDEOS,
                 n_tubes: int | None = None) -> dict:
    """The GT dict (MultiSports format) with the full dataset's statistics.

    `n_videos` (a multiple of 4) scales it down with the same per-video
    statistics (tubes default to the full set's ratio, the splits keep theirs).
    """
    if n_videos % len(SPORTS):
        raise ValueError(f"n_videos must be a multiple of {len(SPORTS)}")
    if n_tubes is None:
        n_tubes = round(N_TUBES * n_videos / N_VIDEOS)
    n_train = round(N_TRAIN * n_videos / N_VIDEOS)
    rng = np.random.default_rng(seed)
    labels, label_range = [], {}
    for sport, actions in SPORTS.items():
        label_range[sport] = (len(labels), len(labels) + len(actions))
        labels += [f"{PREFIX.get(sport, sport)}_{a}" for a in actions]

    # Videos: 800 per sport, clips of ~20 s at 25 fps.
    sports = np.repeat(list(SPORTS), n_videos // len(SPORTS))
    letters = np.array(list(string.ascii_letters + string.digits + "-_"))
    ids = ["".join(r) for r in letters[rng.integers(0, len(letters), (n_videos, 11))]]
    videos = [f"{s}/v_{i}_c{1 + k % 7:03d}"
              for k, (s, i) in enumerate(zip(sports, ids))]
    nframes = rng.integers(300, 1200, n_videos)

    # Tubes: every video gets at least one, the rest spread at random.
    tube_video = np.sort(np.r_[np.arange(n_videos),
                               rng.integers(0, n_videos, n_tubes - n_videos)])
    lengths = rng.integers(*TUBE_LEN, n_tubes)
    starts = 1 + (rng.random(n_tubes) * (nframes[tube_video] - lengths + 1)).astype(int)
    lo = np.array([label_range[s][0] for s in sports])[tube_video]
    hi = np.array([label_range[s][1] for s in sports])[tube_video]
    tube_label = lo + (rng.random(n_tubes) * (hi - lo)).astype(int)

    # Boxes: a person-sized box whose centre and size drift linearly.
    n_boxes = int(lengths.sum())
    tube_of_row = np.repeat(np.arange(n_tubes), lengths)
    step = np.arange(n_boxes) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    frame = starts[tube_of_row] + step
    size = rng.uniform([40, 90], [160, 360], (n_tubes, 2))  # w, h at start
    centre = rng.uniform(size / 2, [WIDTH, HEIGHT] - size / 2)
    drift = rng.normal(0, [3.0, 1.0], (n_tubes, 2))
    grow = rng.normal(1.0, 0.004, n_tubes)
    t = step[:, None]
    wh = size[tube_of_row] * grow[tube_of_row, None] ** t
    c = centre[tube_of_row] + drift[tube_of_row] * t
    xy1 = np.clip(c - wh / 2, 0, [WIDTH - 2, HEIGHT - 2])
    xy2 = np.clip(c + wh / 2, xy1 + 1, [WIDTH, HEIGHT])
    rows = np.column_stack([frame, xy1, xy2]).astype(np.float32)
    tubes = np.split(rows, np.cumsum(lengths)[:-1])

    gttubes: dict = {v: {} for v in videos}
    for tv, label, tube in zip(tube_video.tolist(), tube_label.tolist(), tubes):
        gttubes[videos[tv]].setdefault(label, []).append(tube)
    order = rng.permutation(n_videos)
    return {
        "labels": labels,
        "train_videos": [[videos[i] for i in sorted(order[:n_train])]],
        "test_videos": [[videos[i] for i in sorted(order[n_train:])]],
        "nframes": dict(zip(videos, nframes.tolist())),
        "resolution": {v: (HEIGHT, WIDTH) for v in videos},
        "gttubes": gttubes,
    }


def make_predictions(gt: dict, seed: int = 0, drop: float = 0.1,
                     jitter: float = 0.05, bystanders: float = 0.3,
                     false_positives: float = 0.2) -> list[dict]:
    """Per-keyframe predictions on `gt`'s val split (`test_videos`), seeded.

    Every frame with a GT box is a keyframe. Each GT box is found with
    probability `1 - drop` (a whole tube is missed with probability `drop`, a
    single box with `drop / 4`), moved by `jitter` of its size (normal), and
    scores its class (0.3-1.0, one level per tube) or another class of its sport
    higher (a fifth of the tubes, and one box in twenty); a fraction
    `bystanders` of the tubes gets a person beside it on the same frames with
    one wrong class at 0.2-0.6 (false tubes); a keyframe gets a random box at
    0.05-0.5 with probability `false_positives`.

    Returns:
        `predict_action`'s records: one dict per keyframe, `video`, `frame`
        (1-based), `boxes` (N, 4) float32 normalized x1, y1, x2, y2, `scores`
        (N, C) float32.
    """
    rng = np.random.default_rng(seed)
    n_labels = len(gt["labels"])
    videos = gt["test_videos"][0]
    index = {v: i for i, v in enumerate(videos)}
    cols = {"video": [], "label": [], "rows": []}
    for v in videos:
        for label, tubes in gt["gttubes"][v].items():
            for tube in tubes:
                cols["video"].append(np.full(len(tube), index[v]))
                cols["label"].append(np.full(len(tube), label))
                cols["rows"].append(tube)
    video = np.concatenate(cols["video"])
    label = np.concatenate(cols["label"])
    rows = np.concatenate(cols["rows"]).astype(np.float64)
    tube_id = np.repeat(np.arange(len(cols["rows"])),
                        [len(t) for t in cols["rows"]])
    frame, xyxy = rows[:, 0].astype(np.int64), rows[:, 1:5]
    wh = np.tile(xyxy[:, 2:] - xyxy[:, :2], 2)
    limit = np.array([WIDTH, HEIGHT, WIDTH, HEIGHT], np.float64)

    # The actors: found or not, moved, scored; errors mostly last a whole tube.
    n_tubes = tube_id.max() + 1
    keep = ((rng.random(n_tubes) >= drop)[tube_id]
            & (rng.random(len(rows)) >= drop / 4))
    boxes = xyxy + rng.normal(0, jitter, xyxy.shape) * wh
    sizes = np.array([len(a) for a in SPORTS.values()])
    sport = np.searchsorted(np.cumsum(sizes), label, "right")
    starts = np.r_[0, np.cumsum(sizes)]
    lo, hi = starts[sport], starts[sport + 1]
    scores = rng.random((len(rows), n_labels)) * 0.1
    right = ((rng.random(n_tubes) >= 0.2)[tube_id]
             & (rng.random(len(rows)) >= 0.05))
    other = lo + (rng.random(n_tubes)[tube_id] * (hi - lo)).astype(np.int64)
    top = np.clip(rng.uniform(0.3, 1.0, n_tubes)[tube_id]
                  + rng.normal(0, 0.05, len(rows)), 0.11, 1.0)
    r = np.arange(len(rows))
    scores[r, label] = np.where(right, top, top * 0.5)
    scores[r[~right], other[~right]] = top[~right]
    parts = [(video[keep], frame[keep], boxes[keep], scores[keep])]

    # Bystanders: a person beside a fraction of the actors, one wrong class.
    by = (rng.random(n_tubes) < bystanders)[tube_id]
    shift = rng.uniform(0.8, 1.5, n_tubes)[tube_id] * wh[:, 0]
    side = np.where(xyxy[:, 0] > WIDTH / 2, -1.0, 1.0)
    b_boxes = xyxy + (side * shift)[:, None] * np.array([1, 0, 1, 0])
    b_label = lo + (rng.random(n_tubes)[tube_id] * (hi - lo)).astype(np.int64)
    b_scores = rng.random((len(rows), n_labels)) * 0.1
    b_scores[r, b_label] = rng.uniform(0.2, 0.6, len(rows))
    parts.append((video[by], frame[by], b_boxes[by], b_scores[by]))

    # Random false positives on some keyframes.
    keys = np.unique(np.column_stack([video, frame]), axis=0)
    fp = keys[rng.random(len(keys)) < false_positives]
    fp_wh = rng.uniform([40, 90], [160, 360], (len(fp), 2))
    fp_xy = rng.uniform(0, 1, (len(fp), 2)) * ([WIDTH, HEIGHT] - fp_wh)
    fp_scores = rng.random((len(fp), n_labels)) * 0.05
    fp_scores[np.arange(len(fp)), rng.integers(0, n_labels, len(fp))] = rng.uniform(
        0.05, 0.5, len(fp))
    parts.append((fp[:, 0], fp[:, 1], np.column_stack([fp_xy, fp_xy + fp_wh]),
                  fp_scores))

    video, frame, boxes, scores = (np.concatenate(c) for c in zip(*parts))
    boxes = np.clip(boxes, 0, limit)
    boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 1)
    boxes = np.clip(boxes, 0, limit)
    norm = (boxes / limit).astype(np.float32)
    scores = scores.astype(np.float32)
    order = np.lexsort((frame, video))  # stable: actors, bystanders, then FPs
    video, frame, norm, scores = video[order], frame[order], norm[order], scores[order]
    cut = np.flatnonzero(np.r_[True, (video[1:] != video[:-1])
                               | (frame[1:] != frame[:-1]), True])
    return [{"video": videos[video[a]], "frame": int(frame[a]), "boxes": norm[a:b],
             "scores": scores[a:b]} for a, b in zip(cut[:-1], cut[1:])]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--predictions", type=Path, metavar="PKL",
                        help="also write predictions on its val split "
                             "(`stad evaluate --predictions`)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from stad_helpers.fileio import dump_pickle

    gt = make_full_gt(args.seed)
    dump_pickle(gt, args.out)
    n_tubes = sum(len(t) for v in gt["gttubes"].values() for t in v.values())
    n_boxes = sum(len(b) for v in gt["gttubes"].values() for t in v.values() for b in t)
    print(f"{args.out}: {len(gt['nframes'])} videos, {len(gt['labels'])} labels, "
          f"{n_tubes} tubes, {n_boxes} boxes")
    if args.predictions:
        records = make_predictions(gt, args.seed)
        dump_pickle({"version": 1, "labels": gt["labels"], "detections": records},
                    args.predictions)
        print(f"{args.predictions}: {len(records)} keyframes, "
              f"{sum(len(r['boxes']) for r in records)} boxes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
