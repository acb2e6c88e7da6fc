"""Many videos in one demo call: `demo_many` (`stad demo` with several videos, a
folder or a glob).

The videos are found (`find_videos`), each gets an output name under the output
folder that no other takes (`output_names`: the videos' paths below their common
folder, so `a/clip.mp4` and `b/clip.mp4` stay apart), and every process loads
both models once and runs `write_video` on its videos, one after another. On one
machine `workers` processes share the videos; under `torchrun` each rank takes a
shard of about the same number of frames (`distributed.shard_by_weight`) and
rank 0 writes the index. One progress bar counts the frames of all videos.

The index (`index.json` in the output folder) lists, in input order, every
video with its outputs (paths relative to the folder), frames, people (distinct
track ids), seconds and the rank that did it.

Used in: 04_inference_demo; the README's "More than one machine".
"""

from __future__ import annotations

import glob
import os
import queue
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..annotations.videos import VIDEO_EXTS
from ..distributed import DEFAULT_TIMEOUT_S, dist_env, shard_by_weight
from ..errors import StadError
from ..fileio import check_not_input, dump_json
from ..predictions import ACTION_SCORE_THR, DET_SCORE_THR
from .runner import check_settings
from .writer import DemoOutput

INDEX_FILE = "index.json"  # the index `demo_many` writes into its output folder
INDEX_FORMAT = "stad-demo-index"  # its "format"
INDEX_VERSION = 1  # and "version"
VIDEO_SUFFIX = ".mp4"  # each video's output (its JSON beside it)


def _is_video(path: Path) -> bool:
    return (path.is_file() and path.suffix.lower() in VIDEO_EXTS
            and not path.name.startswith("."))


def find_videos(sources: Sequence[str | os.PathLike],
                exclude: str | os.PathLike | None = None) -> list[Path]:
    """The video files that `sources` name, each once, in the order given.

    A source is a video file (any suffix), a folder (its videos, searched
    recursively, sorted; hidden files and folders skipped), or a glob pattern
    (`videos/*.mp4`, `**` recursive; the video files it matches, sorted). A video
    named twice (by path, folder or pattern) is kept at its first place.

    Args:
        sources: Files, folders and patterns, as the user typed them.
        exclude: A folder whose videos folders and patterns skip (the demo's
            output folder, when it lies among the inputs).

    Returns:
        The video paths (as found, not resolved).

    Raises:
        StadError: No source given, a path that does not exist, or a folder or
            pattern that holds no video (naming it).
    """
    if not sources:
        raise StadError("no videos given")
    skip = Path(exclude).resolve() if exclude is not None else None

    def wanted(p: Path, below: Path | None = None) -> bool:
        hidden = below is not None and any(
            part.startswith(".") for part in p.relative_to(below).parts)
        return (_is_video(p) and not hidden
                and (skip is None or skip not in p.resolve().parents))

    found: dict[Path, Path] = {}
    for source in sources:
        text = os.fspath(source)
        path = Path(text)
        if path.is_file():
            hits = [path]
        elif path.is_dir():
            hits = [p for p in sorted(path.rglob("*")) if wanted(p, path)]
            if not hits:
                raise StadError(f"no videos ({', '.join(VIDEO_EXTS)}) in the folder",
                                path)
        elif glob.has_magic(text):
            hits = [Path(p) for p in sorted(glob.glob(text, recursive=True))
                    if wanted(Path(p))]
            if not hits:
                raise StadError("no videos match the pattern "
                                f"({', '.join(VIDEO_EXTS)})", text)
        else:
            raise StadError("video not found", path)
        for hit in hits:
            found.setdefault(hit.resolve(), hit)
    return list(found.values())


def output_names(videos: Sequence[str | os.PathLike]) -> list[str]:
    """Each video's output name (relative, no suffix) in the output folder.

    The video's path below the videos' common folder, without its suffix
    (`a/clip.mp4`, `b/clip.mp4` -> `a/clip`, `b/clip`). Names that would still
    meet (`clip.mp4` and `clip.avi` side by side, names equal but for case, or
    the index's own name) keep the video's suffix (`clip.avi`), then a counter.

    Args:
        videos: Distinct video paths.

    Returns:
        One posix-style relative name per video, in order, no two alike (nor
        alike but for case).
    """
    paths = [Path(os.path.abspath(v)) for v in videos]
    if not paths:
        return []
    root = Path(os.path.commonpath([p.parent for p in paths]))
    rels = [p.relative_to(root) for p in paths]
    stems = [r.with_suffix("").as_posix() for r in rels]
    taken = {Path(INDEX_FILE).stem.lower()}
    counts: dict[str, int] = {}
    for s in stems:
        counts[s.lower()] = counts.get(s.lower(), 0) + 1
    names = []
    for rel, stem in zip(rels, stems):
        name = stem if counts[stem.lower()] == 1 else rel.as_posix()
        if name.lower() in taken:
            name = rel.as_posix()
        base, n = name, 2
        while name.lower() in taken:
            name, n = f"{base}~{n}", n + 1
        taken.add(name.lower())
        names.append(name)
    return names


# ---------------------------------------------------------------------------
# Worker processes on one machine
# ---------------------------------------------------------------------------
_WORKER: dict[str, Any] = {}  # a worker process's Demo and progress queue


def _init_worker(settings: dict[str, Any], ticks, threads: int) -> None:
    import torch

    from .runner import Demo

    torch.set_num_threads(threads)
    _WORKER["ticks"] = ticks
    try:
        _WORKER["demo"] = Demo(**settings)
    except Exception as exc:  # raised again by each job: the pool stays usable
        _WORKER["error"] = exc


def _work(job: tuple[int, str, str, int, float | None]) -> tuple[int, DemoOutput]:
    from .writer import write_video

    i, video, out_mp4, output_stepsize, output_fps = job
    if "error" in _WORKER:  # a bad config or checkpoint: the user's message
        raise _WORKER["error"]
    ticks = _WORKER["ticks"]
    return i, write_video(_WORKER["demo"], video, out_mp4, output_stepsize,
                          output_fps, progress=False, on_frame=ticks.put)


def _run_here(settings, jobs, output_stepsize, output_fps, bar) -> list:
    from .runner import Demo
    from .writer import write_video

    if not jobs:
        return []
    runner = Demo(**settings)
    return [(i, write_video(runner, video, out, output_stepsize, output_fps,
                            progress=False, on_frame=bar.update))
            for i, video, out in jobs]


def _run_pool(settings, jobs, output_stepsize, output_fps, bar, workers) -> list:
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    context = multiprocessing.get_context("spawn")  # no forked torch threads
    ticks = context.Queue()
    threads = max(1, (os.cpu_count() or 1) // workers)
    done: list = []
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                             initargs=(settings, ticks, threads)) as pool:
        pending = {pool.submit(_work, (i, str(v), str(out), output_stepsize,
                                       output_fps)) for i, v, out in jobs}
        try:
            while pending:
                finished, pending = wait(pending, timeout=0.2,
                                         return_when=FIRST_COMPLETED)
                _drain(ticks, bar)
                done += [f.result() for f in finished]
        except BaseException:
            for f in pending:
                f.cancel()
            raise
        _drain(ticks, bar)
    return done


def _drain(ticks, bar) -> None:
    while True:
        try:
            bar.update(ticks.get_nowait())
        except queue.Empty:
            return


# ---------------------------------------------------------------------------
# Processes under torchrun
# ---------------------------------------------------------------------------
def _gather(mine: list, world_size: int) -> list:
    """Every rank's `mine`, joined (all ranks wait for the slowest)."""
    if world_size == 1:
        return mine
    from datetime import timedelta

    import torch.distributed as dist

    created = not dist.is_initialized()
    if created:
        dist.init_process_group("gloo", timeout=timedelta(seconds=DEFAULT_TIMEOUT_S))
    group = None if dist.get_backend() == "gloo" else dist.new_group(
        backend="gloo", timeout=timedelta(seconds=DEFAULT_TIMEOUT_S))
    parts: list = [None] * world_size
    dist.all_gather_object(parts, mine, group=group)
    if created:
        dist.destroy_process_group()
    return [item for part in parts for item in part]


def demo_many(
    videos: Sequence[str | os.PathLike] | str | os.PathLike,
    out_dir: str | os.PathLike,
    config: str | os.PathLike,
    checkpoint: str | os.PathLike,
    det_config: str | os.PathLike,
    det_checkpoint: str | os.PathLike,
    det_score_thr: float = DET_SCORE_THR,
    action_score_thr: float = ACTION_SCORE_THR,
    label_map: str | os.PathLike | None = None,
    predict_stepsize: int = 8,
    output_stepsize: int = 1,
    output_fps: float | None = None,
    progress: bool = True,
    *,
    workers: int = 1,
    device: str | None = None,
    cfg_options: dict[str, Any] | None = None,
    det_cat_id: int = 0,
) -> Path:
    """`demo` over many videos: one mp4 + JSON per video and an index.

    Each video's outputs are `OUT_DIR/<name>.mp4` and `.json` (`output_names`),
    exactly what `demo(video, that mp4, ...)` writes; `OUT_DIR/index.json`
    lists them (`{"format": "stad-demo-index", "version": 1, "videos": [{"video",
    "mp4", "json", "frames", "people", "seconds", "rank"}], "frames", "people",
    "seconds"}`, output paths relative to `OUT_DIR`, `seconds` wall-clock,
    `rank` the torchrun process that did the video, 0 outside torchrun). The
    models are loaded once per process: `workers` processes on this machine
    (spawned; each loads both models and gets its share of the CPU threads),
    and under `torchrun` each rank takes a shard of about the same number of
    frames on its own GPU (`cuda:LOCAL_RANK`) and rank 0 writes the index once
    every rank is done. Every setting is checked and every video probed before
    a model loads.

    Args:
        videos: Video files, folders (searched recursively) and glob patterns
            (`find_videos`); one path or pattern alone is fine.
        out_dir: The folder for the outputs and the index (made if missing).
        config: The action model's config.
        checkpoint: Its weights.
        det_config: The person detector's config.
        det_checkpoint: Its weights.
        det_score_thr: Person score threshold, in [0, 1].
        action_score_thr: Action score threshold for drawing and the JSON, in
            [0, 1].
        label_map: `0: name` lines (MMAction2's label-map format); None: the
            GT's labels.
        predict_stepsize: Frames per segment (one keyframe each), >= 1.
        output_stepsize: Write one frame in this many, >= 1.
        output_fps: Frame rate of the outputs (default: real time).
        progress: Show one tqdm bar over the frames of all videos (under
            torchrun: rank 0's, over its shard).
        workers: Processes on this machine (per torchrun rank), >= 1; 1 runs
            in this process.
        device: `"cpu"`, `"cuda"`, `"cuda:N"` (None: CUDA if available, under
            torchrun the rank's `cuda:LOCAL_RANK`).
        cfg_options: Overrides of the action config.
        det_cat_id: The detector's class id for "person".

    Returns:
        The index's path (written by rank 0; other ranks return the same path).

    Raises:
        StadError: No videos (an empty folder or pattern, a missing path), an
            unreadable video, a bad setting (`workers < 1`, a step < 1, a
            threshold outside [0, 1]), an unreadable config, checkpoint or
            label map, or an output that would replace an input; under torchrun,
            on every rank when one rank failed (no index is written; the videos
            done stay, each whole).
    """
    from tqdm.auto import tqdm

    from ..video import probe

    if workers < 1:
        raise StadError(f"--workers must be >= 1, got {workers}")
    if output_stepsize < 1:
        raise StadError(f"--output-stepsize must be >= 1, got {output_stepsize}")
    check_settings(det_score_thr, action_score_thr, predict_stepsize)
    if isinstance(videos, (str, os.PathLike)):
        videos = [videos]
    out_dir = Path(out_dir)
    found = find_videos(videos, exclude=out_dir)
    outs = [out_dir / f"{name}{VIDEO_SUFFIX}" for name in output_names(found)]
    index = out_dir / INDEX_FILE
    check_not_input([index, *outs, *(o.with_suffix(".json") for o in outs)],
                    [*found, config, checkpoint, det_config, det_checkpoint,
                     label_map])
    frames = [probe(v, exact=False).nframes for v in found]

    rank, world_size, local_rank = dist_env()
    if device in (None, "cuda") and world_size > 1:  # one GPU per rank
        import torch

        device = f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu"
    mine = shard_by_weight(frames, world_size)[rank]
    jobs = [(i, found[i], outs[i]) for i in sorted(mine, key=lambda i: -frames[i])]
    settings = dict(config=config, checkpoint=checkpoint, det_config=det_config,
                    det_checkpoint=det_checkpoint, det_score_thr=det_score_thr,
                    action_score_thr=action_score_thr, label_map=label_map,
                    predict_stepsize=predict_stepsize, device=device,
                    cfg_options=cfg_options, det_cat_id=det_cat_id)
    start = time.perf_counter()
    desc = "demo" if world_size == 1 else f"demo (rank 0 of {world_size})"
    results: list = []
    failure: BaseException | None = None
    try:
        with tqdm(total=sum(frames[i] for i in mine) or None, desc=desc,
                  unit="frame", disable=not progress or rank != 0) as bar:
            if workers == 1 or len(jobs) <= 1:
                results = _run_here(settings, jobs, output_stepsize, output_fps, bar)
            else:
                results = _run_pool(settings, jobs, output_stepsize, output_fps, bar,
                                    min(workers, len(jobs)))
    except Exception as exc:
        if world_size == 1:
            raise
        failure = exc  # the other ranks must still meet this one, then stop too
    gathered = _gather([(rank, str(failure) if failure else None,
                         [(i, out) for i, out in results])], world_size)
    if failure is not None:
        raise failure
    failed = [(r, message) for r, message, _ in gathered if message is not None]
    if failed:
        r, message = failed[0]
        raise StadError(f"rank {r} of {world_size} failed, no index written: "
                        f"{message}")
    done = {i: (out, r) for r, _, part in gathered for i, out in part}
    if rank == 0:
        _write_index(index, found, done, time.perf_counter() - start)
    return index


def _write_index(index: Path, videos: list[Path],
                 results: dict[int, tuple[DemoOutput, int]], seconds: float) -> Path:
    root = index.parent
    entries = []
    for i, video in enumerate(videos):
        out, rank = results[i]
        entries.append({
            "video": str(video),
            "mp4": Path(os.path.relpath(out.mp4, root)).as_posix(),
            "json": Path(os.path.relpath(out.json, root)).as_posix(),
            "frames": out.frames, "people": out.people,
            "seconds": round(out.seconds, 3), "rank": rank})
    return dump_json({
        "format": INDEX_FORMAT, "version": INDEX_VERSION, "videos": entries,
        "frames": sum(e["frames"] for e in entries),
        "people": sum(e["people"] for e in entries),
        "seconds": round(seconds, 3)}, index, indent=1)
