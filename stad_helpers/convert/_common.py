"""Shared bits of the conversions: accept a GT object or a path, validate it once."""

from __future__ import annotations

import os

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


def split_output(out: str | os.PathLike, suffix: str, split: str) -> str:
    """`OUT.json` -> `OUT_train.json`, the naming of the tutorial's scripts.

    Args:
        out: The output name the user gave (`.../multisports_det_anno.json`).
        suffix: Its required suffix (`".json"`, `".pkl"`, `".csv"`).
        split: `"train"` or `"val"` (`data.layout.FILE_SPLIT`).

    Returns:
        The per-split file name, as a string.

    Raises:
        StadError: `out` does not end with `suffix`.
    """
    out = os.fspath(out)
    if not out.endswith(suffix):
        raise StadError(f"output name must end with {suffix}", out)
    return out[: -len(suffix)] + f"_{split}{suffix}"


__all__ = ["as_gt", "split_output", "StadError"]
