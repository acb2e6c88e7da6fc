"""Time the conversions against the tutorial's scripts, checking equal output.

    python benchmarks/bench_convert.py [--gt FULL_GT.pkl] [--repeat 2]
        [--only det,ava,frames]

- det-anno vs `projects/stad_tutorial/tools/generate_mmdet_anno.py` (taken from
  the mmaction2 git mirror at run time with `git show`, never copied into this
  repository), on a GT with the full MultiSports statistics (`make_full_gt.py`);
  the two JSON files must hold the same content.
- ava vs `tools/data/multisports/parse_anno.py` of the installed mmaction2
  package, same GT; the CSVs must be byte-identical (and the label map equal to
  mmaction2's `tools/data/multisports/label_map.txt` from the mirror).
- For ava, besides ours (numbers rendered by `convert/_text.py`), the same
  conversion with Python's own `'%.3f'`, once row by row and once as one `%`
  over the whole table (`--only` without `ava-lib` leaves them out): does
  `_text.py` earn its lines? Their CSVs must be byte-identical too.
- frames: a plain sequential OpenCV read-and-imwrite loop (what
  `generate_rgb.py` does; once with OpenCV's default decoder threads, once
  with one) vs `extract_frames` with its default processes and threads, on
  synthetic 1280x720 videos; frames/s of each. The previous run's output is
  removed and flushed to disk (`sync`) before each timed run, outside the time.

Each side runs `--repeat` times, alternating, and the best time counts (the
machine is shared; the best run is the least disturbed one). Every time
includes loading the GT (ours also validates it).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from argparse import Namespace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import stad_helpers  # noqa: E402, F401  (compat fixes before mmaction2 imports)

MIRROR = Path("/work/.mirror/open-mmlab+mmaction2/repo")
DET_SCRIPT = "projects/stad_tutorial/tools/generate_mmdet_anno.py"
LABEL_MAP = "tools/data/multisports/label_map.txt"


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def _in_turns(runs: dict, repeat: int) -> dict[str, float]:
    """Best seconds of each of `runs` (name -> function), running them in turns."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeat):
        for name, fn in runs.items():
            best[name] = min(best[name], _best(fn, 1))
    return best


@contextlib.contextmanager
def _swapped(module, name: str, replacement):
    """`module.name` replaced for the duration (to time another renderer)."""
    original = getattr(module, name)
    setattr(module, name, replacement)
    try:
        yield
    finally:
        setattr(module, name, original)


# ---------------------------------------------------------------------------
# The library-based contenders for ava: same rows as ours, numbers formatted by
# Python's '%' instead of `convert/_text.py`.
# ---------------------------------------------------------------------------
def ava_csv_rowwise(gt, videos: list[str]) -> list[bytes]:
    """ava's CSV with Python's '%' formatting, one row at a time."""
    rows = importlib.import_module("stad_helpers.convert.to_ava").ava_rows(gt, videos)
    t = rows.table
    line = "%s,%d,%.3f,%.3f,%.3f,%.3f,%d,%d\r\n"
    return ["".join([line % (rows.names[v], f, a, b, c, d, lab, tube)
                     for v, f, (a, b, c, d), lab, tube in zip(
                         t.video.tolist(), t.frame.tolist(), rows.boxes.tolist(),
                         t.label.tolist(), t.tube.tolist())]).encode()]


def ava_csv_one_format(gt, videos: list[str]) -> list[bytes]:
    """ava's CSV as one '%' of the row format repeated N times over the flat table
    (the formatting loop runs in C)."""
    rows = importlib.import_module("stad_helpers.convert.to_ava").ava_rows(gt, videos)
    t = rows.table
    flat = np.empty((len(t), 8), object)
    flat[:, 0] = np.array(rows.names, object)[t.video]
    flat[:, 1], flat[:, 2:6] = t.frame, rows.boxes
    flat[:, 6], flat[:, 7] = t.label, t.tube
    line = "%s,%d,%.3f,%.3f,%.3f,%.3f,%d,%d\r\n"
    return [((line * len(t)) % tuple(flat.ravel().tolist())).encode()]


def _import_file(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _git_show(repo: Path, path: str) -> str | None:
    try:
        return subprocess.run(["git", "-C", str(repo), "show", f"HEAD:{path}"],
                              check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None


def _report(name: str, best: dict[str, float], target: float) -> dict:
    """Print and return the best seconds of each run and its speed-up on upstream."""
    theirs = best["upstream"]
    print(f"{name:10s} upstream {theirs:7.2f} s")
    figures = {"upstream_s": theirs}
    for run, seconds in best.items():
        if run == "upstream":
            continue
        ratio = theirs / seconds
        verdict = "ok" if ratio >= target else f"BELOW the {target:g}x target"
        print(f"{'':10s} {run:21s} {seconds:6.2f} s   speed-up {ratio:5.1f}x  "
              f"({verdict})")
        key = "ours" if run == "ours" else run.replace(" ", "_").replace("-", "_")
        figures[f"{key}_s"], figures[f"{key}_speedup"] = seconds, ratio
    figures["speedup"] = figures["ours_speedup"]
    return figures


def bench_det_anno(gt: Path, work: Path, repeat: int, repo: Path) -> dict | None:
    from stad_helpers.convert import det_anno

    source = _git_show(repo, DET_SCRIPT)
    if source is None:
        print(f"det-anno: skipped ({DET_SCRIPT} not in {repo})")
        return None
    script = work / "upstream" / "generate_mmdet_anno.py"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(source)
    upstream = _import_file(script, "generate_mmdet_anno")
    theirs_out, ours_out = work / "up_det.json", work / "our_det.json"
    args = Namespace(stad_anno=str(gt), det_path=str(theirs_out))
    best = _in_turns({"upstream": lambda: upstream.generate_mmdet_coco_anno(args),
                      "ours": lambda: det_anno(gt, ours_out)}, repeat)
    for split in ("train", "val"):
        ours_text = Path(f"{str(ours_out)[:-5]}_{split}.json").read_text()
        theirs_text = Path(f"{str(theirs_out)[:-5]}_{split}.json").read_text()
        a, b = json.loads(ours_text), json.loads(theirs_text)
        assert a == b, f"det-anno {split}: output differs from upstream's"
        same = "byte-identical" if ours_text == theirs_text else "NOT byte-identical"
        print(f"det-anno {split}: equal, {same} ({len(a['images'])} images, "
              f"{len(a['annotations'])} boxes)")
    return _report("det-anno", best, 10)


def bench_ava(gt: Path, work: Path, repeat: int, repo: Path,
              library: bool = True) -> dict:
    import mmaction

    from stad_helpers.convert import ava

    ava_module = importlib.import_module("stad_helpers.convert.to_ava")

    mim = Path(mmaction.__file__).parent / ".mim"
    script = mim / "tools/data/multisports/parse_anno.py"
    upstream = _import_file(script, "parse_anno")
    data = work / "ava_data"
    (data / "annotations").mkdir(parents=True, exist_ok=True)
    (data / "test").mkdir(exist_ok=True)
    shutil.copy(gt, data / "annotations/multisports_GT.pkl")
    theirs_root, ours_dir = work / "ava_up", work / "ava_ours"

    def theirs():
        shutil.rmtree(theirs_root, ignore_errors=True)  # it must not exist
        upstream.parse_anno(Namespace(data_root=str(data), out_root=str(theirs_root),
                                      dump_proposals=False))

    def with_renderer(renderer, out_dir: Path):
        def go():
            with _swapped(ava_module, "ava_csv_text", renderer):
                ava(gt, out_dir)
        return go

    runs = {"upstream": theirs, "ours": lambda: ava(gt, ours_dir)}
    outputs = {"ours": ours_dir}
    if library:
        outputs["'%' row by row"] = work / "ava_rowwise"
        outputs["one '%' over all"] = work / "ava_one_format"
        runs["'%' row by row"] = with_renderer(ava_csv_rowwise,
                                               outputs["'%' row by row"])
        runs["one '%' over all"] = with_renderer(ava_csv_one_format,
                                                 outputs["one '%' over all"])
    best = _in_turns(runs, repeat)
    for split in ("train", "val"):
        b = (theirs_root / f"annotations/multisports_{split}.csv").read_bytes()
        for name, folder in outputs.items():
            a = (folder / f"multisports_{split}.csv").read_bytes()
            assert a == b, f"ava {split}: {name}: CSV differs from parse_anno.py's"
        rows = b.count(b"\n")
        print(f"ava {split}: {', '.join(outputs)}: byte-identical to parse_anno.py's "
              f"({rows} rows)")
    label_map = _git_show(repo, LABEL_MAP)
    if label_map is not None:
        same = (ours_dir / "multisports_label_map.txt").read_text() == label_map
        print(f"ava label map: {'equal to' if same else 'DIFFERENT from'} {LABEL_MAP}")
    return _report("ava", best, 5)


def opencv_loop(videos_root: Path, out_dir: Path, threads: int = 0) -> int:
    """The baseline: generate_rgb.py's loop, over every sport folder.

    `threads`: OpenCV's FFmpeg decoder threads; 0 is OpenCV's default (one per
    core: the "sequential" loop then decodes on every core), 1 makes the loop
    truly single-threaded.
    """
    import cv2

    params = [cv2.CAP_PROP_N_THREADS, threads] if threads else []
    n = 0
    for split in ("trainval", "test"):
        for sport in sorted((videos_root / split).iterdir()):
            for clip in sorted(sport.glob("*.mp4")):
                save_dir = out_dir / sport.name / clip.stem
                save_dir.mkdir(parents=True, exist_ok=True)
                cap = cv2.VideoCapture(str(clip), cv2.CAP_FFMPEG, params)
                i = 1
                while cap.isOpened():
                    ret, frame = cap.read()
                    if not ret:
                        break
                    cv2.imwrite(str(save_dir / f"{i:05d}.jpg"), frame)
                    i += 1
                    n += 1
                cap.release()
    return n


def bench_frames(work: Path, repeat: int, videos: int, frames: int,
                 workers: int | None) -> dict:
    from stad_helpers.convert import extract_frames
    from stad_helpers.data.synth import make_synthetic_dataset

    root = work / "videos"
    if not (root / "annotations/multisports_GT.pkl").exists():
        print(f"frames: making {videos} synthetic 1280x720 videos of ~{frames} frames")
        make_synthetic_dataset(root, seed=0, videos=videos, frames=frames, width=1280,
                               height=720, progress=False)
    counts: dict[str, int] = {}
    out = work / "frames_out"

    def run(name, fn):
        def go():
            counts[name] = fn()
        return go

    runs = {
        "opencv loop": run("opencv loop", lambda: opencv_loop(root, out)),
        "opencv loop, 1 decode thread": run(
            "opencv loop, 1 decode thread", lambda: opencv_loop(root, out, threads=1)),
        "ours": run("ours", lambda: extract_frames(root, out, workers=workers,
                                                   progress=False).frames),
    }
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeat):  # in turns, so a busy moment hits all alike
        for name, fn in runs.items():
            shutil.rmtree(out, ignore_errors=True)  # cleaning up is no side's work,
            os.sync()  # nor is writing back the previous side's frames
            t = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t)
    shutil.rmtree(out, ignore_errors=True)
    assert len(set(counts.values())) == 1, counts
    n = counts["ours"]
    fps = {name: n / t for name, t in best.items()}
    for name, value in fps.items():
        ratio = fps["ours"] / value
        note = "" if name == "ours" else f"   ours / this = {ratio:4.2f}x" + (
            "" if ratio >= 1.8 else "  (below 1.8x)")
        print(f"frames     {name:30s} {value:6.1f} frames/s{note}")
    from stad_helpers.convert import frames as ours

    procs = workers or -(-ours._cpu_count() // ours.CORES_PER_PROCESS)
    print(f"           [{n} frames of 1280x720; ours: {procs} process(es) x "
          f"{ours.DECODE_THREADS} decoding + {ours.ENCODE_THREADS} encoding "
          f"threads; written to {work}]")
    return {"frames": n, "fps": fps,
            "ratio_vs_opencv_default": fps["ours"] / fps["opencv loop"],
            "ratio_vs_opencv_1_thread":
                fps["ours"] / fps["opencv loop, 1 decode thread"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gt", type=Path, help="full-statistics GT (made if absent)")
    parser.add_argument("--work", type=Path,
                        help="scratch folder (default: a temp dir)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--only", default="det,ava,ava-lib,frames")
    parser.add_argument("--videos", type=int, default=6)
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--mmaction2-repo", type=Path, default=MIRROR)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    only = set(args.only.split(","))

    work = args.work or Path(tempfile.mkdtemp(prefix="bench_convert_"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"cores: {os.cpu_count()}, load average: "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}; scratch: {work}")
    gt = args.gt or work / "full_gt.pkl"
    if ({"det", "ava"} & only) and not gt.exists():
        from make_full_gt import make_full_gt

        from stad_helpers.fileio import dump_pickle

        dump_pickle(make_full_gt(0), gt)
    figures = {}
    if "det" in only:
        figures["det_anno"] = bench_det_anno(gt, work, args.repeat, args.mmaction2_repo)
    if "ava" in only:
        figures["ava"] = bench_ava(gt, work, args.repeat, args.mmaction2_repo,
                                   library="ava-lib" in only)
    if "frames" in only:
        figures["frames"] = bench_frames(work, args.repeat, args.videos, args.frames,
                                         args.workers)
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
