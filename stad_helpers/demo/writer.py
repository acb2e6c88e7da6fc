"""The demo's outputs: `write_demo` streams a `Demo`'s annotated frames of one
video into an H.264 mp4 and its predictions into a JSON
(`Predictions.to_demo_json`), each whole or not at all (`write_video` also
counts frames, people and seconds for an index); `demo()` (`stad demo` with one
video) is `Demo` then `write_demo`.

Used in: 04_inference_demo, 05_your_own_data.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from ..errors import StadError
from ..fileio import check_not_input
from ..predictions import ACTION_SCORE_THR, DET_SCORE_THR, Predictions
from .runner import Demo

MP4_SUFFIX = ".mp4"  # the demo writes H.264 in an mp4 container, nothing else


def check_out_mp4(out_mp4: str | os.PathLike) -> Path:
    """`out_mp4` as a Path, refused unless it ends in `.mp4` (any case).

    The demo writes H.264 in an mp4 container (`video.VideoSink`); under another
    suffix (`.avi`, `.mkv`) players would take the file for what it is not.

    Raises:
        StadError: Another suffix (naming the path and the one to use).
    """
    out = Path(out_mp4)
    if out.suffix.lower() != MP4_SUFFIX:
        raise StadError(f"the demo writes an H.264 mp4; name the output "
                        f"{out.with_suffix(MP4_SUFFIX).name!r} (not "
                        f"{out.suffix or 'no suffix'!r})", out)
    return out


class DemoOutput(NamedTuple):
    """What `write_video` wrote for one video, and what the index says of it."""

    mp4: Path  # the annotated H.264 video
    json: Path  # its predictions (`Predictions.to_demo_json`)
    frames: int  # frames of the input video
    people: int  # distinct person track ids over the video
    seconds: float  # wall-clock seconds this video took


def write_video(demo: Demo, video: str | os.PathLike, out_mp4: str | os.PathLike,
                output_stepsize: int = 1, output_fps: float | None = None,
                progress: bool = True,
                on_frame: Callable[[int], None] | None = None) -> DemoOutput:
    """`write_demo`, also counting: the outputs plus the video's frames, people
    and seconds, for `demo_many`'s index.

    Args:
        demo: The loaded models and settings.
        video: The input video.
        out_mp4: The annotated video to write (its JSON beside it).
        output_stepsize: Write one frame in this many, >= 1.
        output_fps: Frame rate of the output (default: real time).
        progress: Show a tqdm bar for this video.
        on_frame: Called with 1 after each input frame is read (an overall
            progress bar over many videos).

    Returns:
        A `DemoOutput`.

    Raises:
        StadError: An output path is the input video or not an `.mp4`,
            `output_stepsize < 1`, or the video is unreadable.
    """
    from ..video import VideoSink, probe

    if output_stepsize < 1:
        raise StadError(f"--output-stepsize must be >= 1, got {output_stepsize}")
    start = time.perf_counter()
    video, out_mp4 = Path(video), check_out_mp4(out_mp4)
    out_json = out_mp4.with_suffix(".json")
    check_not_input([out_mp4, out_json], [video])
    info = probe(video, exact=False)
    fps = output_fps or (info.fps or 25.0) / output_stepsize
    numbers: list[int] = []
    parts: list[Predictions] = []
    people: set[int] = set()
    total, size = 0, None
    with VideoSink(out_mp4, fps) as sink:
        for number, rgb, preds in demo.predictions(video, progress):
            total, size = number, rgb.shape[:2]
            people.update(int(t) for t in preds.track_ids if t >= 0)
            if (number - 1) % output_stepsize == 0:
                sink.write(demo.annotate(rgb, preds))
                numbers.append(number)
                parts.append(preds)
            if on_frame is not None:
                on_frame(1)
        predictions = Predictions.concatenate(
            parts or [Predictions.empty(demo.class_names, video=str(video))])
        predictions.size = size
        meta = {
            "nframes": total, "fps": info.fps, "output_fps": fps,
            "predict_stepsize": demo.predict_stepsize,
            "output_stepsize": int(output_stepsize),
            "clip": {"clip_len": demo.sampler.clip_len,
                     "frame_interval": demo.sampler.frame_interval},
            "det_score_thr": demo.det_score_thr,
            "action_score_thr": demo.action_score_thr,
        }
        step = demo.predict_stepsize  # every frame's segment keyframe, 1-based
        keys = {n: demo.keyframe((n - 1) // step, total) + 1 for n in numbers}
        predictions.to_demo_json(out_json, action_score_thr=demo.action_score_thr,
                                 frames=numbers, meta=meta, keyframes=keys)
    return DemoOutput(out_mp4, out_json, total, len(people),
                      time.perf_counter() - start)


def write_demo(demo: Demo, video: str | os.PathLike, out_mp4: str | os.PathLike,
               output_stepsize: int = 1, output_fps: float | None = None,
               progress: bool = True) -> tuple[Path, Path]:
    """Write `demo`'s annotated frames of `video` (`Demo.frames`) to `out_mp4`
    (H.264) and their predictions to `out_mp4` with `.json`
    (`Predictions.to_demo_json`), each whole or not at all.

    `output_fps` defaults to the video's rate divided by `output_stepsize` (real
    time). Returns (mp4, json). Raises `StadError` when an output would replace
    the video, for a step < 1 or an unreadable video.

    Raises:
        StadError: An output path is the input video, `output_stepsize < 1`, or
            the video is unreadable (from `write_video`).
    """
    out = write_video(demo, video, out_mp4, output_stepsize, output_fps, progress)
    return out.mp4, out.json


def demo(
    video: str | os.PathLike,
    out_mp4: str | os.PathLike,
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
    device: str | None = None,
    cfg_options: dict[str, Any] | None = None,
    det_cat_id: int = 0,
) -> tuple[Path, Path]:
    """Detect people and their actions in `video`; write `out_mp4` and its JSON.

    `stad demo`: `Demo(...)` with these settings, then `write_demo`. The JSON
    (`out_mp4` with `.json`, read back with `Predictions.from_demo_json`) lists
    every output frame's boxes (pixels), person scores and the actions scoring
    at least `action_score_thr`. Labels are those of `label_map` (default: the
    GT's labels of the config). Returns (mp4, json). Raises `StadError` for bad
    settings or inputs, or when an output would replace an input.

    Args:
        video: The input video.
        out_mp4: The annotated video to write (its JSON beside it).
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
        output_fps: Frame rate of the output (default: real time).
        progress: Show a tqdm bar.
        device: `"cpu"`, `"cuda"`, `"cuda:N"` (None: CUDA if available).
        cfg_options: Overrides of the action config.
        det_cat_id: The detector's class id for "person".

    Returns:
        `(out_mp4, out_json)`.

    Raises:
        StadError: A bad setting (step < 1, a threshold outside [0, 1]), an
            unreadable video, config, checkpoint or label map, or an output that
            would replace an input or is not an `.mp4`.
    """
    if output_stepsize < 1:
        raise StadError(f"--output-stepsize must be >= 1, got {output_stepsize}")
    out_mp4 = check_out_mp4(out_mp4)
    check_not_input([out_mp4, out_mp4.with_suffix(".json")],
                    [video, config, checkpoint, det_config, det_checkpoint, label_map])
    runner = Demo(config, checkpoint, det_config, det_checkpoint, det_score_thr,
                  action_score_thr, label_map, predict_stepsize, device=device,
                  cfg_options=cfg_options, det_cat_id=det_cat_id)
    return write_demo(runner, video, out_mp4, output_stepsize, output_fps, progress)
