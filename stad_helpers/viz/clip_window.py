"""The clip window: which frames an action config's clip takes around a keyframe.

| function           | what                                                   |
|--------------------|--------------------------------------------------------|
| `clip_indices`     | the 1-based frames a config's clip takes at a keyframe |
| `plot_clip_window` | those frames on a timeline, keyframe marked            |

Used in: 03_action_detector, 04_inference_demo.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import StadError

PathLike = str | os.PathLike


def clip_indices(config: PathLike, keyframe: int, nframes: int,
                 cfg_options: dict[str, Any] | None = None) -> np.ndarray:
    """The 1-based frames `config`'s test pipeline samples around `keyframe`.

    `SampleAVAFrames` (test mode) takes `clip_len` frames `frame_interval` apart,
    centred on the keyframe, clamped to the video (`stad_helpers.demo.ClipSampler`,
    the same code the demo and the val dataset use).

    Args:
        config: An action config (`configs/action/...`).
        keyframe: 1-based keyframe.
        nframes: Frames in the video.
        cfg_options: Config overrides.

    Returns:
        `(clip_len,)` int64 array of 1-based frame numbers (repeats where clamped).

    Raises:
        StadError: `keyframe` outside 1..`nframes`, or not an action config.
    """
    from ..demo import ClipSampler
    from ..train import load_config

    if not 1 <= int(keyframe) <= int(nframes):
        raise StadError(f"keyframe {keyframe} is outside 1..{nframes}")
    sampler = ClipSampler(load_config(config, cfg_options))
    return sampler.indices(int(keyframe) - 1, int(nframes)) + 1


def plot_clip_window(windows: Mapping[str, Sequence[int]], keyframe: int,
                     nframes: int | None = None, ax=None):
    """Each clip's frames as ticks on one timeline row, the keyframe as a line.

    Args:
        windows: Row name (e.g. "CPU 8x4x1") -> its 1-based frames (`clip_indices`).
        keyframe: 1-based keyframe.
        nframes: Frames in the video (the x range; default: just the clips).

    Returns:
        The matplotlib Figure.

    Raises:
        StadError: no window given.
    """
    import matplotlib.pyplot as plt

    if not windows:
        raise StadError("plot_clip_window: no window to draw")
    if ax is None:
        fig, ax = plt.subplots(figsize=(9, 0.9 + 0.55 * len(windows)))
    else:
        fig = ax.figure
    lo = min(min(map(int, w)) for w in windows.values())
    hi = max(max(map(int, w)) for w in windows.values())
    for y, frames in enumerate(windows.values()):
        frames = np.asarray(frames, int)
        ax.axhspan(y - 0.3, y + 0.3, xmin=0, xmax=1, color="0.95", zorder=0)
        ax.barh(y, frames.max() - frames.min() + 1, left=frames.min() - 0.5,
                height=0.5, color="tab:blue", alpha=0.15)
        ax.scatter(frames, np.full(len(frames), y), marker="|", s=300,
                   color="tab:blue", zorder=3)
        span = int(frames.max() - frames.min() + 1)
        ax.text(frames.max() + 1, y, f"{len(frames)} frames, span {span}",
                va="center", fontsize=8)
    ax.axvline(keyframe, color="tab:red", lw=2, label=f"keyframe {keyframe}")
    ax.set_yticks(range(len(windows)), list(windows), fontsize=8)
    ax.set_ylim(len(windows) - 0.5, -0.5)
    left, right = (1, nframes) if nframes else (lo, hi)
    ax.set_xlim(min(left, lo) - 1, max(right, hi) + 12)
    ax.set_xlabel("frame (1-based)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    ax.set_title("the clip the model sees for one keyframe", fontsize=10)
    fig.tight_layout()
    return fig
