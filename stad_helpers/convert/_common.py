"""Shared bits of the conversions: accept a GT object or a path, validate it once."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from ..data import layout
from ..data.gt import MultiSportsGT
from ..errors import StadError


def as_gt(gt: MultiSportsGT | str | os.PathLike) -> MultiSportsGT:
    """A validated `MultiSportsGT`: loaded (and validated) from a path, or checked."""
    if isinstance(gt, MultiSportsGT):
        from ..data.validate import raise_if_invalid

        raise_if_invalid(gt.to_dict(), source=gt.source)
        return gt
    if isinstance(gt, (str, os.PathLike)):
        return MultiSportsGT.load(gt)
    raise TypeError(f"expected a MultiSportsGT or a path, got {type(gt).__name__}")


def split_targets(out: str | os.PathLike, suffix: str) -> dict[str, Path]:
    """`OUT.json` -> `{"train": OUT_train.json, "val": OUT_val.json}`.

    The per-split naming of the tutorial's scripts, from `data.layout.split_file`.

    Args:
        out: The output name the user gave (`.../multisports_det_anno.json`).
        suffix: Its required suffix (`".json"`, `".pkl"`).

    Returns:
        One path per file split (`data.layout.GT_SPLIT`'s keys).

    Raises:
        StadError: `out` does not end with `suffix`.
    """
    try:
        return {split: layout.split_file(out, split, suffix)
                for split in layout.GT_SPLIT}
    except ValueError:
        raise StadError(f"output name must end with {suffix}", out) from None


def warn_empty_splits(gt: MultiSportsGT, targets: dict[str, Path]) -> None:
    """Warn for each per-split file whose split lists no video.

    Training needs both a train and a val split (MMEngine's val loop fails on an
    empty one), so an empty split written here is named before training starts.

    Args:
        gt: The GT the files are made from.
        targets: The files written, by file split (`"train"`, `"val"`); other
            keys (e.g. the label map) are ignored.
    """
    for split, path in targets.items():
        if split in layout.GT_SPLIT and not gt.split_videos(layout.GT_SPLIT[split]):
            warnings.warn(f"{path}: the {split} split has no video, so training "
                          "cannot use this dataset; import more videos or give "
                          "the split some (`stad data import ... --test-ratio`)",
                          stacklevel=3)


__all__ = ["as_gt", "split_targets", "warn_empty_splits", "StadError"]
