"""Time `validate_gt` (and `safe_load`) on a GT with the full MultiSports statistics.

3,200 videos, 66 labels, ~37,700 tubes, ~900k boxes, built in memory with
`make_full_gt.py` (beside this script; a minimal generator stands in if it is
missing). Prints seconds; the target is "a few seconds" for the whole dataset.

    python benchmarks/bench_validate.py [--repeat 3] [--seed 0]
"""

from __future__ import annotations

import argparse
import io
import pickle
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))


def _minimal_full_gt(seed: int = 0) -> dict:
    """Fallback generator: same sizes, simpler boxes."""
    rng = np.random.default_rng(seed)
    videos = [f"sport_{i % 4}/v_{i:05d}_c001" for i in range(3200)]
    per_video = rng.multinomial(37_700 - 3200, np.full(3200, 1 / 3200)) + 1
    gttubes = {}
    for video, n in zip(videos, per_video):
        by_label: dict[int, list] = {}
        for length, label in zip(rng.integers(6, 43, n), rng.integers(0, 66, n)):
            first = 1 + int(rng.integers(0, 750 - length))
            tube = np.empty((length, 5), np.float32)
            tube[:, 0] = np.arange(first, first + length)
            tube[:, 1:] = (100, 100, 300, 500)
            by_label.setdefault(int(label), []).append(tube)
        gttubes[video] = by_label
    return {
        "labels": [f"action {i}" for i in range(66)],
        "train_videos": [videos[:1574]],
        "test_videos": [videos[1574:]],
        "nframes": dict.fromkeys(videos, 750),
        "resolution": dict.fromkeys(videos, (720, 1280)),
        "gttubes": gttubes,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from stad_helpers.data.safe_pickle import safe_loads
    from stad_helpers.data.validate import validate_gt

    try:
        from make_full_gt import make_full_gt
    except ImportError:
        make_full_gt = _minimal_full_gt

    start = time.perf_counter()
    gt = make_full_gt(args.seed)
    built = time.perf_counter() - start
    n_tubes = sum(len(t) for v in gt["gttubes"].values() for t in v.values())
    n_boxes = sum(len(b) for v in gt["gttubes"].values() for t in v.values() for b in t)
    print(f"GT ({make_full_gt.__module__}.{make_full_gt.__name__}): "
          f"{len(gt['nframes'])} videos, {len(gt['labels'])} labels, {n_tubes} tubes, "
          f"{n_boxes} boxes; built in {built:.2f} s")

    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        problems = validate_gt(gt)
        times.append(time.perf_counter() - start)
    errors = sum(p.is_error for p in problems)
    print(f"validate_gt: best {min(times):.3f} s, median {np.median(times):.3f} s "
          f"over {args.repeat} runs ({n_boxes / min(times) / 1e6:.2f} M boxes/s); "
          f"{errors} error(s), {len(problems) - errors} warning(s)")

    buf = io.BytesIO()
    pickle.dump(gt, buf, protocol=pickle.HIGHEST_PROTOCOL)
    data = buf.getvalue()
    start = time.perf_counter()
    safe_loads(data, "<full GT>")
    loaded = time.perf_counter() - start
    start = time.perf_counter()
    pickle.loads(data)
    plain = time.perf_counter() - start
    print(f"safe_loads: {loaded:.3f} s for {len(data) / 1e6:.0f} MB "
          f"(plain pickle.loads: {plain:.3f} s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
