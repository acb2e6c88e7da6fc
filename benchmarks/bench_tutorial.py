"""Time `stad run-all --profile cpu` on the default synthetic dataset.

Prints seconds per stage, the metrics against the issue's floors (detector AP50
>= 0.9, frame-mAP@0.5 >= 0.6) and the demo's frames per second. Run from an
installed environment:

    .venv/bin/python benchmarks/bench_tutorial.py --work-dir /tmp/bench_tutorial
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time

FLOORS = {"det_ap50": 0.9, "frame_map": 0.6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", default="/tmp/bench_tutorial")
    parser.add_argument("--keep", action="store_true", help="reuse an earlier run")
    args = parser.parse_args()
    if not args.keep and os.path.exists(args.work_dir):
        shutil.rmtree(args.work_dir)

    from stad_helpers.pipeline import run_all

    t0 = time.perf_counter()
    result = run_all("cpu", work_dir=args.work_dir, progress=False)
    wall = time.perf_counter() - t0
    print(f"run-all --profile cpu: {wall:.0f} s wall ({wall / 60:.1f} min, target 10)")
    for stage, seconds in result.seconds.items():
        print(f"  {stage:<14} {seconds:7.1f} s")
    for key, value in result.metrics.items():
        floor = FLOORS.get(key)
        verdict = "" if floor is None else (" ok" if value >= floor else " BELOW")
        floor_txt = "" if floor is None else f" (floor {floor})"
        print(f"  {key:<14} {value:.3f}{floor_txt}{verdict}")
    demo = json.loads(result.path("demo_json").read_text())
    frames = len(demo["frames"])
    seconds = result.seconds.get("demo") or float("nan")
    print(f"  demo           {frames} frames in {seconds:.1f} s = "
          f"{frames / seconds:.1f} frames/s (models included)")


if __name__ == "__main__":
    main()
