"""Shared bits of the conversions: accept a GT object or a path, validate it once."""

from __future__ import annotations

import os
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


__all__ = ["as_gt", "split_targets", "StadError"]
