"""MMAction2 data transforms of the project's CPU action config.

`TemporalDiff` turns a clip of RGB frames into its temporal differences (frame
t+1 minus frame t; the last difference repeated), so the model sees what moves and not
what things look like. The synthetic actions differ only in how actors move; fed
raw frames, a small model trained on a few dozen actors learns their looks and
places instead (it scores the training videos near-perfectly and the test videos
near chance), fed differences it has to learn the motion. The configs that use it
import this module (`custom_imports`), which registers it with MMAction2.

Used in: 03_action_detector (through configs/action/*rgbdiff*.py).
"""

from __future__ import annotations

import numpy as np
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform


@TRANSFORMS.register_module()
class TemporalDiff(BaseTransform):
    """`imgs` (T frames, H x W x C) -> their differences in time (float32).

    Same number of frames (so `FormatShape` and the model are unchanged), values
    in [-255, 255]; works on one clip (`num_clips` 1), as in spatio-temporal
    detection.
    """

    def transform(self, results: dict) -> dict:
        """Replace `results["imgs"]` (a list of T `(H, W, C)` frames) by T float32
        frame differences, frame t+1 minus frame t (the last repeats the one before);
        other keys are unchanged. Returns `results`.
        """
        clip = np.stack(results["imgs"]).astype(np.float32)
        diff = np.zeros_like(clip)
        diff[:-1] = clip[1:] - clip[:-1]
        if len(clip) > 1:
            diff[-1] = diff[-2]  # the last frame has no successor: repeat
        results["imgs"] = list(diff)
        return results
