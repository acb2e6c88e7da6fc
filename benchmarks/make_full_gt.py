"""Write a `multisports_GT.pkl` with the full MultiSports statistics (no videos).

3,200 videos of 1280x720 over 4 sports, 66 labels, ~37,700 tubes, ~900k boxes:
the size the conversions must handle quickly (`bench_convert.py`). Boxes are
fractional float32 pixels moving smoothly inside the frame, tubes start and end
mid-video and overlap in time, exactly like the real file's keys and dtypes.
Deterministic for a seed; takes about a second.

    python benchmarks/make_full_gt.py OUT.pkl [--seed 0]
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


def make_full_gt(seed: int = 0) -> dict:
    """The GT dict (MultiSports format) with the full dataset's statistics."""
    rng = np.random.default_rng(seed)
    labels, label_range = [], {}
    for sport, actions in SPORTS.items():
        label_range[sport] = (len(labels), len(labels) + len(actions))
        labels += [f"{PREFIX.get(sport, sport)}_{a}" for a in actions]

    # Videos: 800 per sport, clips of ~20 s at 25 fps.
    sports = np.repeat(list(SPORTS), N_VIDEOS // len(SPORTS))
    letters = np.array(list(string.ascii_letters + string.digits + "-_"))
    ids = ["".join(r) for r in letters[rng.integers(0, len(letters), (N_VIDEOS, 11))]]
    videos = [f"{s}/v_{i}_c{1 + k % 7:03d}"
              for k, (s, i) in enumerate(zip(sports, ids))]
    nframes = rng.integers(300, 1200, N_VIDEOS)

    # Tubes: every video gets at least one, the rest spread at random.
    tube_video = np.sort(np.r_[np.arange(N_VIDEOS),
                               rng.integers(0, N_VIDEOS, N_TUBES - N_VIDEOS)])
    lengths = rng.integers(*TUBE_LEN, N_TUBES)
    starts = 1 + (rng.random(N_TUBES) * (nframes[tube_video] - lengths + 1)).astype(int)
    lo = np.array([label_range[s][0] for s in sports])[tube_video]
    hi = np.array([label_range[s][1] for s in sports])[tube_video]
    tube_label = lo + (rng.random(N_TUBES) * (hi - lo)).astype(int)

    # Boxes: a person-sized box whose centre and size drift linearly.
    n_boxes = int(lengths.sum())
    tube_of_row = np.repeat(np.arange(N_TUBES), lengths)
    step = np.arange(n_boxes) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    frame = starts[tube_of_row] + step
    size = rng.uniform([40, 90], [160, 360], (N_TUBES, 2))  # w, h at start
    centre = rng.uniform(size / 2, [WIDTH, HEIGHT] - size / 2)
    drift = rng.normal(0, [3.0, 1.0], (N_TUBES, 2))
    grow = rng.normal(1.0, 0.004, N_TUBES)
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
    order = rng.permutation(N_VIDEOS)
    return {
        "labels": labels,
        "train_videos": [[videos[i] for i in sorted(order[:N_TRAIN])]],
        "test_videos": [[videos[i] for i in sorted(order[N_TRAIN:])]],
        "nframes": dict(zip(videos, nframes.tolist())),
        "resolution": {v: (HEIGHT, WIDTH) for v in videos},
        "gttubes": gttubes,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from stad_helpers.fileio import dump_pickle

    gt = make_full_gt(args.seed)
    dump_pickle(gt, args.out)
    n_tubes = sum(len(t) for v in gt["gttubes"].values() for t in v.values())
    n_boxes = sum(len(b) for v in gt["gttubes"].values() for t in v.values() for b in t)
    print(f"{args.out}: {len(gt['nframes'])} videos, {len(gt['labels'])} labels, "
          f"{n_tubes} tubes, {n_boxes} boxes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
