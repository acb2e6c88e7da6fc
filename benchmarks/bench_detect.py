"""`stad detect` from the videos vs from rawframes: time, disk, and equal boxes.

The tutorial runs its person detector on JPEG rawframes extracted beforehand
(`generate_rgb.py`, then `mim test`). `stad detect` decodes the videos instead.
This measures, on one dataset and one checkpoint:

- rawframes route: frame extraction (`stad convert frames`) + detection reading
  the JPEGs; the disk the rawframes take;
- video route: detection decoding the mp4s (no rawframes);
- how far the two routes' boxes agree (they differ only by JPEG's loss).

    python benchmarks/bench_detect.py --checkpoint work_dirs/<det>/iter_600.pth \
        [--data DATASET] [--config CONFIG] [--batch-size 8] [--workers 2]

Without --data, the default synthetic dataset is made in a temporary folder.
Prints the figures (and --json writes them).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import stad_helpers  # noqa: E402,F401  (compat fixes first)

SLIM = ROOT / "configs/det/faster-rcnn_r18-slim_fpn_256px-600it_synth-multisports-person.py"  # noqa: E501


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area = lambda x: np.prod(x[:, 2:] - x[:, :2], axis=1)  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None, :] - inter)


def agreement(ra: list[dict], rb: list[dict], thr: float = 0.5) -> dict:
    """Share of confident boxes of each route that the other route has too."""
    total = 0
    matched = {0.5: 0, 0.9: 0}
    for a, b in zip(ra, rb):
        pa, pb = a["pred_instances"], b["pred_instances"]
        ba, bb = pa["bboxes"][pa["scores"] >= thr], pb["bboxes"][pb["scores"] >= thr]
        total += len(ba) + len(bb)
        if len(ba) and len(bb):
            iou = _iou(ba, bb)
            for t in matched:
                matched[t] += int((iou.max(1) >= t).sum() + (iou.max(0) >= t).sum())
    return {f"boxes_scoring_{thr}": total,
            **{f"share_matched_iou_{t}": round(m / max(total, 1), 4)
               for t, m in matched.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", required=True, type=Path)
    parser.add_argument("--config", type=Path, default=SLIM)
    parser.add_argument("--data", type=Path, help="dataset folder (default: the "
                                                  "synthetic default, made here)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2,
                        help="frame-extraction processes")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    from stad_helpers.convert import det_anno, extract_frames
    from stad_helpers.data.safe_pickle import safe_load
    from stad_helpers.data.synth import make_synthetic_dataset
    from stad_helpers.detector import detect
    from stad_helpers.evaluate import detector_ap50

    tmp = Path(tempfile.mkdtemp(prefix="bench_detect_"))
    try:
        data = args.data
        if data is None:
            data = tmp / "synth"
            make_synthetic_dataset(data, progress=False)
        # The rawframes route works on a copy whose rawframes this run extracts.
        work = tmp / "work"
        (work / "annotations").mkdir(parents=True)
        shutil.copy(data / "annotations" / "multisports_GT.pkl", work / "annotations")
        for sub in ("trainval", "test"):
            if (data / sub).exists():
                (work / sub).symlink_to((data / sub).resolve())

        kw = dict(batch_size=args.batch_size, score_thr=0.05, progress=False)
        # Warm-up (imports, model build) so neither route pays it.
        detect(args.config, args.checkpoint, work, tmp / "warm.pkl", **kw)

        t0 = time.perf_counter()
        summary = extract_frames(work, work / "rawframes", workers=args.workers,
                                 progress=False)
        t_extract = time.perf_counter() - t0
        frames_bytes = _du(work / "rawframes")

        t0 = time.perf_counter()
        raw = detect(args.config, args.checkpoint, work, tmp / "raw.pkl",
                     source="rawframes", **kw)
        t_raw = time.perf_counter() - t0
        t0 = time.perf_counter()
        vid = detect(args.config, args.checkpoint, work, tmp / "vid.pkl",
                     source="video", **kw)
        t_vid = time.perf_counter() - t0

        rr, rv = safe_load(raw), safe_load(vid)
        val = data / "annotations" / "multisports_det_anno_val.json"
        if not val.is_file():
            det_anno(work / "annotations" / "multisports_GT.pkl",
                     work / "annotations" / "multisports_det_anno.json")
            val = work / "annotations" / "multisports_det_anno_val.json"
        n = len(rv)
        video_bytes = sum(_du(work / s) for s in ("trainval", "test")
                          if (work / s).exists())
        figures = {
            "frames": n,
            "videos_bytes": video_bytes,
            "rawframes_bytes": frames_bytes,
            "rawframes_files": summary.frames,
            "extract_s": round(t_extract, 2),
            "detect_rawframes_s": round(t_raw, 2),
            "detect_video_s": round(t_vid, 2),
            "rawframes_route_s": round(t_extract + t_raw, 2),
            "video_route_s": round(t_vid, 2),
            "time_saved_s": round(t_extract + t_raw - t_vid, 2),
            "fps_rawframes_route": round(n / (t_extract + t_raw), 1),
            "fps_video_route": round(n / t_vid, 1),
            "ap50_val_rawframes": detector_ap50(rr, val),
            "ap50_val_video": detector_ap50(rv, val),
            **agreement(rv, rr),
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    width = max(map(len, figures))
    for k, v in figures.items():
        print(f"{k:<{width}}  {v}")
    print(f"\nvideo route: {figures['rawframes_bytes'] / 2**20:.1f} MiB of rawframes "
          f"not written, {figures['time_saved_s']:.1f} s "
          f"({figures['time_saved_s'] / figures['rawframes_route_s']:.0%}) saved")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
