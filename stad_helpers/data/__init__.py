"""Section 1 of the tutorial: MultiSports-format data, loaded safely and validated.

- `MultiSportsGT` (with `Tube`, `BoxTable`): one typed object for `multisports_GT.pkl`.
- `safe_load` / `safe_loads`: unpickle without running code.
- `validate_gt` / `raise_if_invalid` / `Problem`: report every problem in a GT file.
- `make_synthetic_dataset`: the embedded offline dataset (MultiSports-tiny layout).
- `download_multisports_tiny`: the tutorial's real data, resumable and checked.

Used in: 01_dataset, 02_person_detector, 03_action_detector, 05_your_own_data.
"""

from __future__ import annotations

import os
from typing import Any

from .download import TUTORIAL_URL, download_multisports_tiny
from .gt import BoxTable, MultiSportsGT, Tube
from .safe_pickle import safe_load, safe_loads
from .validate import Problem, raise_if_invalid, validate_gt


def make_synthetic_dataset(
    out_dir: str | os.PathLike, *args: Any, **kwargs: Any
) -> Any:
    """Write the synthetic MultiSports-format dataset (see `stad_helpers.data.synth`).

    Imported on call: video writing pulls in PyAV/OpenCV, which `import
    stad_helpers.data` should not need.
    """
    from .synth import make_synthetic_dataset as _make

    return _make(out_dir, *args, **kwargs)


__all__ = [
    "TUTORIAL_URL",
    "BoxTable",
    "MultiSportsGT",
    "Problem",
    "Tube",
    "download_multisports_tiny",
    "make_synthetic_dataset",
    "raise_if_invalid",
    "safe_load",
    "safe_loads",
    "validate_gt",
]
