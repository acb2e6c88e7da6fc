"""How fast can frame extraction be here at best? Per-frame costs and the bound.

    python benchmarks/bench_frames_bound.py [--work DIR] [--repeat 3]

`bench_convert.py --only frames` compares `extract_frames` with the OpenCV loop
of `generate_rgb.py`. This script says what ratio is possible at all on this
machine, by timing on one thread, per 1280x720 frame of the same synthetic
videos:

- decoding (PyAV, one FFmpeg thread; OpenCV's loop decodes with the same FFmpeg
  decoder);
- JPEG encoding at quality 95, 4:2:0, from the Y, U, V planes (simplejpeg, what
  `extract_frames` does), and for comparison from BGR (`cv2.imencode`);
- the limited -> full range stretch that the plane path needs;
- "in turn": `extract_frames`'s whole per-frame work (decode, stretch, encode,
  write the file) frame after frame on one thread.

Whatever the scheduling, every frame must be decoded and encoded once, so with
C cores no extraction beats C / (decode + encode) frames per second. The bound
printed is that rate over the OpenCV loop's measured rate (its default decoder
threads, best of `--repeat`), leaving out the stretch, file writes, Python and
thread hand-offs, which only lower it. The second, C / "in turn", is what an
ideal schedule reaches: every core busy to the end, threads free of cost.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import stad_helpers  # noqa: E402, F401  (compat fixes first)


def _decoded_frames(videos: list[Path]):
    import av

    for path in videos:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.codec_context.thread_count = 1
            yield from container.decode(stream)


def _sample_planes(videos: list[Path], every: int) -> list[tuple[np.ndarray, ...]]:
    """Y, U, V of every `every`-th frame, copied out of the decoder's buffers."""
    sample = []
    for i, f in enumerate(_decoded_frames(videos)):
        if i % every == 0:
            p = [np.frombuffer(x, np.uint8).reshape(-1, x.line_size) for x in f.planes]
            h, w = f.height, f.width
            sample.append(tuple(a.copy() for a in (
                p[0][:h, :w], p[1][:h // 2, :w // 2], p[2][:h // 2, :w // 2])))
    return sample


def per_frame_ms(videos: list[Path], out: Path, repeat: int) -> dict[str, float]:
    """Best-of-`repeat` milliseconds per frame of each step, on one thread, and of
    all of them in turn.

    Decoding runs over every frame, each dropped once decoded; the other steps
    run over a sample of decoded frames, into buffers reused from frame to frame
    (as `extract_frames` does), so that fresh memory does not weigh in. "in turn"
    is `extract_frames`'s per-frame work (decode, stretch, encode, write the
    file) on one thread, frame after frame: there, decoding and encoding evict
    each other's data from the caches.
    """
    import cv2
    import simplejpeg

    from stad_helpers.convert.frames import _JpegEncoder, _save

    sample = _sample_planes(videos, every=10)
    h, w = sample[0][0].shape
    encoder = _JpegEncoder(w, h, 95)
    bgr = np.empty((h, w, 3), np.uint8)
    i420 = np.empty((h * 3 // 2, w), np.uint8)

    def decode():
        return sum(1 for _ in _decoded_frames(videos))

    def stretch():
        for yuv in sample:
            encoder._stretch(*yuv)
        return len(sample)

    def encode_planes():
        for y, u, v in sample:
            simplejpeg.encode_jpeg_yuv_planes(y, u, v, quality=95)
        return len(sample)

    def encode_bgr():
        for y, u, v in sample:  # as OpenCV's loop: YUV -> BGR, then imencode
            i420[:h], i420[h:].reshape(-1)[:u.size] = y, u.reshape(-1)
            i420[h:].reshape(-1)[u.size:] = v.reshape(-1)
            cv2.cvtColor(i420, cv2.COLOR_YUV2BGR_I420, dst=bgr)
            cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])
        return len(sample)

    def in_turn():
        n = 0
        for n, frame in enumerate(_decoded_frames(videos), 1):
            _save(encoder, frame, str(out), n)
        return n

    steps = {"decode": decode, "stretch": stretch, "encode planes": encode_planes,
             "yuv->bgr + cv2.imencode": encode_bgr, "in turn": in_turn}
    best = dict.fromkeys(steps, float("inf"))
    for _ in range(repeat):
        for name, step in steps.items():
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            os.sync()
            t = time.perf_counter()
            n = step()
            best[name] = min(best[name], (time.perf_counter() - t) / n)
    shutil.rmtree(out, ignore_errors=True)
    return {k: v * 1e3 for k, v in best.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="scratch folder (default: temp)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--videos", type=int, default=6)
    parser.add_argument("--frames", type=int, default=150)
    args = parser.parse_args(argv)

    import cv2
    from bench_convert import opencv_loop

    from stad_helpers.convert.frames import _cpu_count
    from stad_helpers.data.synth import make_synthetic_dataset

    default_threads = cv2.getNumThreads()
    cv2.setNumThreads(1)  # the steps on one thread
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_frames_bound_"))
    root = work / "videos"
    if not (root / "annotations/multisports_GT.pkl").exists():
        make_synthetic_dataset(root, seed=0, videos=args.videos, frames=args.frames,
                               width=1280, height=720, progress=False)
    videos = sorted(root.glob("*/*/*.mp4"))
    cores = _cpu_count()
    print(f"cores: {cores}, load average: "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}; {len(videos)} videos")

    ms = per_frame_ms(videos, work / "frames_out", args.repeat)
    for name, value in ms.items():
        print(f"  {name:28s} {value:5.2f} ms per frame (one thread)")

    cv2.setNumThreads(default_threads)  # the loop as generate_rgb.py runs it
    out = work / "frames_out"
    loop_best, n = float("inf"), 0
    for _ in range(args.repeat):
        shutil.rmtree(out, ignore_errors=True)
        os.sync()
        t = time.perf_counter()
        n = opencv_loop(root, out)
        loop_best = min(loop_best, time.perf_counter() - t)
    shutil.rmtree(out, ignore_errors=True)
    loop_fps = n / loop_best
    floor_ms = ms["decode"] + ms["encode planes"]
    bound_fps = cores * 1e3 / floor_ms
    with_stretch = cores * 1e3 / (floor_ms + ms["stretch"]) / loop_fps
    print(f"  OpenCV loop (default decoder threads): {loop_fps:6.1f} frames/s "
          f"({loop_best * 1e3 / n:.2f} ms per frame)")
    print(f"  bound: {cores} cores / ({ms['decode']:.2f} decode + "
          f"{ms['encode planes']:.2f} encode ms) = {bound_fps:6.1f} frames/s = "
          f"{bound_fps / loop_fps:.2f}x the OpenCV loop "
          f"(with the stretch: {with_stretch:.2f}x)")
    in_turn_fps = cores * 1e3 / ms["in turn"]
    print(f"  in turn: {cores} cores / {ms['in turn']:.2f} ms = {in_turn_fps:6.1f} "
          f"frames/s = {in_turn_fps / loop_fps:.2f}x the OpenCV loop (all cores "
          "busy to the end, no cost of threads)")
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
