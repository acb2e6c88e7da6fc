"""An annotated clip written to an H.264 mp4, and shown inline in a notebook.

`write_annotated_clip` streams a video (one frame in memory at a time), draws
ground truth and predictions on each frame (`stad_helpers.viz.annotate`) and
writes a browser-playable mp4 whole or not at all (`stad_helpers.video.VideoSink`).
`show_video` embeds an mp4 in the notebook: through moviepy 2's
`display_in_notebook` (`stad_helpers.compat.ipython_display`), or a plain HTML5
`<video>` with the file in base64 when moviepy is unavailable or fails. Files
above `max_mb` are linked instead of embedded, so notebooks stay small.

Used in: 01_dataset, 04_inference_demo.
"""

from __future__ import annotations

import base64
import html
import os
from pathlib import Path
from typing import Union

import numpy as np

from ..errors import StadError
from ..predictions import Predictions
from .annotate import annotate_frame
from .palette import DEFAULT_PALETTE, Palette
from .show import frame_sources, video_key

PathLike = Union[str, os.PathLike]
MAX_EMBED_MB = 8.0


def write_annotated_clip(
    video: PathLike,
    out_mp4: PathLike,
    gt=None,
    predictions: Predictions | PathLike | None = None,
    *,
    video_name: str | None = None,
    score_thr: float = 0.0,
    start: int = 1,
    end: int | None = None,
    step: int = 1,
    fps: float | None = None,
    max_width: int | None = 640,
    palette: Palette = DEFAULT_PALETTE,
    progress: bool = True,
) -> Path:
    """Draw GT and predictions on frames `start..end` (1-based, every `step`) -> mp4.

    `gt` is a `MultiSportsGT` (the video's key is `video_name`, or taken from the
    path), `predictions` a `Predictions` in pixels of this video or the demo's
    JSON; actions scoring below `score_thr` are not listed. Frames wider than
    `max_width` are scaled down; `fps` defaults to the source rate / `step`.
    Returns `out_mp4`, an H.264 mp4 that browsers play, written whole or not at
    all. Raises `ValueError` for `start` or `step` < 1, `StadError` for an
    unreadable video or predictions file or an empty frame range.

    Raises:
        ValueError: `start` or `step` < 1.
        StadError: An unreadable video or predictions file, a video not in `gt`,
            or an empty frame range (`start` > `end`).
    """
    import cv2
    from tqdm.auto import tqdm

    from ..video import VideoSink, iter_frames, probe

    if step < 1 or start < 1:
        raise ValueError(f"start and step must be >= 1, got start={start}, step={step}")
    info = probe(video)
    end = info.nframes if end is None else min(int(end), info.nframes)
    if end < start:
        raise StadError(f"no frames to write: start {start} > end {end}", video)
    name = video_name or video_key(video, gt)
    gt_all, preds = frame_sources(gt, predictions, name)
    gt_by_frame = dict(gt_all.by_frame()) if gt_all is not None else {}
    pred_by_frame = dict(preds.by_frame()) if preds is not None else {}
    scale = 1.0
    if max_width and info.width > max_width:
        scale = max_width / info.width
    size = (round(info.width * scale), round(info.height * scale))
    rate = fps or (info.fps or 25.0) / step
    wanted = range(start, end + 1, step)
    bar = tqdm(total=len(wanted), desc="annotated clip", unit="frame",
               disable=not progress)
    with VideoSink(out_mp4, rate, size) as sink:
        for number, frame in enumerate(iter_frames(video), start=1):
            if number > end:
                break
            if number < start or (number - start) % step:
                continue
            image = annotate_frame(frame, gt_by_frame.get(number),
                                   pred_by_frame.get(number), score_thr=score_thr,
                                   palette=palette)
            if scale != 1.0:
                image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            sink.write(np.ascontiguousarray(image))
            bar.update()
    bar.close()
    return Path(out_mp4)


def _video_html(path: Path, width: int) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f'<video width="{int(width)}" controls loop muted playsinline '
            f'title="{html.escape(path.name)}" '
            f'src="data:video/mp4;base64,{data}"></video>')


def show_video(path: PathLike, width: int = 480, max_mb: float = MAX_EMBED_MB,
               use_moviepy: bool = True):
    """Show an mp4 inline in a notebook: a `<video>` element with the file embedded.

    Uses moviepy 2's `display_in_notebook`, falling back to a plain HTML5
    `<video>`; files over `max_mb` are linked (`IPython.display.Video`), not
    embedded, so the notebook stays small. Returns the IPython display object.

    Raises:
        StadError: `path` does not exist.
    """
    from IPython.display import HTML, Video

    path = Path(path)
    if not path.is_file():
        raise StadError("video not found", path)
    size_mb = path.stat().st_size / 2**20
    if size_mb > max_mb:
        print(f"{path.name} is {size_mb:.1f} MB (> {max_mb} MB): linked, not embedded")
        return Video(str(path), embed=False, width=width)
    if use_moviepy:
        try:
            from .. import compat

            return compat.ipython_display(str(path), filetype="video",
                                          maxduration=24 * 3600, width=width,
                                          muted="muted", loop="loop")
        except Exception:  # moviepy missing, or its ffmpeg probe failed
            pass
    return HTML(_video_html(path, width))
