"""What the action model sees: the clip around a keyframe, before and after the
config's transforms.

`model_input(config, video, keyframe)` samples the clip exactly as the val dataset
does (`stad_helpers.demo.ClipSampler`: the config's `SampleAVAFrames` and the
transforms after decoding), and `plot_model_input` shows the decoded frames above
the model's input frames. For the CPU config, whose input is temporal differences
(`stad_helpers.transforms.TemporalDiff`), the second row shows what moves; for an
RGB config, the resized frames.

Used in: 03_action_detector.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import StadError


@dataclass
class ModelInput:
    """A keyframe's clip: decoded RGB frames and the model's input (T, H, W, C)."""

    frames: list[np.ndarray]  # RGB uint8, as decoded
    indices: np.ndarray  # 0-based frame numbers of `frames`
    inputs: np.ndarray  # float32 (T, H, W, C), before the model's normalization
    keyframe: int  # 0-based


def model_input(config: str | os.PathLike, video: str | os.PathLike, keyframe: int,
                cfg_options: dict[str, Any] | None = None) -> ModelInput:
    """The clip of 1-based frame `keyframe` of `video` as `config` feeds it.

    Args:
        config: The action model's config (its test pipeline samples the clip).
        video: The video file.
        keyframe: 1-based frame number.
        cfg_options: Overrides of the config.

    Returns:
        A `ModelInput`: the decoded RGB frames, their 0-based indices, and the
        `(T, H, W, C)` float32 input before the model's normalization.

    Raises:
        StadError: An unreadable config or video, a config without an AVA clip
            sampler, or `keyframe` outside 1..(number of frames).
    """
    from ..demo import ClipSampler
    from ..train import load_config
    from ..video import iter_frames, probe

    cfg = load_config(config, cfg_options)  # imports its custom_imports too
    sampler = ClipSampler(cfg)
    total = probe(video).nframes
    if not 1 <= keyframe <= total:
        raise StadError(f"keyframe {keyframe} is outside the video's frames 1..{total}",
                        video)
    indices = sampler.indices(keyframe - 1, total)
    wanted, last = set(indices.tolist()), int(indices.max())
    decoded = {}
    for i, frame in enumerate(iter_frames(video, rgb=True)):
        if i in wanted:
            decoded[i] = frame
        if i >= last:  # the rest of the video is not needed
            break
    frames = [decoded[i] for i in indices.tolist()]
    packed = sampler.pack(frames, np.array([[0, 0, 1, 1]]), keyframe - 1)
    tensor = packed["inputs"].numpy()  # (C, T, H, W) after FormatShape(collapse)
    inputs = np.ascontiguousarray(tensor.transpose(1, 2, 3, 0))  # (T, H, W, C)
    return ModelInput(frames, indices, inputs, keyframe - 1)


def _displayable(inputs: np.ndarray) -> np.ndarray:
    """Map the input frames to [0, 1] for imshow: differences around mid-grey."""
    if inputs.min() < 0:  # signed: differences
        scale = max(float(np.abs(inputs).max()), 1e-6)
        return np.clip(0.5 + inputs / (2 * scale), 0, 1)
    return np.clip(inputs / max(float(inputs.max()), 1e-6), 0, 1)


def plot_model_input(config: str | os.PathLike, video: str | os.PathLike,
                     keyframe: int, cfg_options: dict[str, Any] | None = None,
                     columns: int = 8):
    """Decoded frames (top) and the model's input frames (bottom): the Figure."""
    import matplotlib.pyplot as plt

    clip = model_input(config, video, keyframe, cfg_options)
    shown = np.linspace(0, len(clip.frames) - 1, min(columns, len(clip.frames)))
    shown = np.unique(shown.round().astype(int))
    shows = _displayable(clip.inputs)
    fig, axes = plt.subplots(2, len(shown), figsize=(1.6 * len(shown), 3.6),
                             squeeze=False)
    for col, t in enumerate(shown):
        axes[0, col].imshow(clip.frames[t])
        axes[0, col].set_title(f"frame {clip.indices[t] + 1}", fontsize=8)
        axes[1, col].imshow(shows[t])
        for row in (0, 1):
            axes[row, col].axis("off")
    axes[0, 0].text(-0.1, 0.5, "decoded", transform=axes[0, 0].transAxes,
                    rotation=90, va="center", ha="right", fontsize=9)
    axes[1, 0].text(-0.1, 0.5, "model input", transform=axes[1, 0].transAxes,
                    rotation=90, va="center", ha="right", fontsize=9)
    fig.suptitle(f"clip of keyframe {keyframe}: {len(clip.frames)} frames, input "
                 f"{clip.inputs.shape[1]}x{clip.inputs.shape[2]}", fontsize=10)
    fig.tight_layout()
    return fig
