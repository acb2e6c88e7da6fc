"""Checkpoints: what one holds (progress, weights that fit a model), and which is last.

`check_checkpoint` refuses a checkpoint whose weights do not fit the model
(MMEngine only warns); `checkpoint_progress` reads the epochs and iterations a
training checkpoint completed; `read_last_checkpoint` and
`relativize_last_checkpoint` handle MMEngine's `last_checkpoint` file, so a
work dir can be moved or copied.

Used in: 02_person_detector, 03_action_detector, 04_inference_demo (through
`train`, `detector`, `action`, `demo`).
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import StadError
from .fileio import atomic_open


def checkpoint_progress(checkpoint: str | os.PathLike) -> dict[str, int]:
    """{"epoch": E, "iter": I} of an MMEngine checkpoint: the epochs and iterations
    completed when it was saved (its `meta`). Raises `StadError` if unreadable.

    Raises:
        StadError: The file is missing, cannot be loaded, or has no `meta.iter`
            (not an MMEngine training checkpoint).
    """
    import torch

    path = Path(checkpoint)
    if not path.is_file():
        raise StadError("checkpoint file not found", path)
    try:
        try:  # memory-mapped: only `meta` is read, however large the file
            loaded = torch.load(path, map_location="cpu", mmap=True)
        except RuntimeError:  # not torch's zip format: read it all
            loaded = torch.load(path, map_location="cpu")
    except Exception as exc:  # noqa: BLE001 - the file is the user's input
        raise StadError(f"cannot load checkpoint ({type(exc).__name__}: {exc})",
                        path) from None
    meta = loaded.get("meta") if isinstance(loaded, dict) else None
    if not isinstance(meta, dict) or "iter" not in meta:
        raise StadError("not an MMEngine training checkpoint (no meta.iter)", path)
    return {"epoch": int(meta.get("epoch", 0)), "iter": int(meta["iter"])}


def load_checkpoint_file(checkpoint: str | os.PathLike,
                         download: bool = False) -> dict | None:
    """A checkpoint loaded on the CPU through MMEngine (`weights_only` loading,
    with the compat allowlist).

    Args:
        checkpoint: A `.pth` path, or a URL.
        download: Load a URL too (MMEngine downloads it into torch's hub cache);
            without it a URL gives None.

    Returns:
        The checkpoint dict (`state_dict`, `meta`, ...; `{}` if the file holds
        something else), or None for a URL when `download` is False.

    Raises:
        StadError: The file does not exist or MMEngine cannot load it (not a
            checkpoint, truncated, refused by `weights_only` loading).
    """
    from mmengine.runner.checkpoint import _load_checkpoint

    name = os.fspath(checkpoint)
    if "://" in name and not download:
        return None
    if "://" not in name and not Path(name).is_file():
        raise StadError("checkpoint file not found", name)
    try:
        loaded = _load_checkpoint(name, map_location="cpu", logger="silent")
    except Exception as exc:  # noqa: BLE001 - unreadable file: the user's input
        raise StadError(f"cannot load checkpoint ({type(exc).__name__}: {exc})",
                        name) from None
    return loaded if isinstance(loaded, dict) else {}


def check_checkpoint(model, checkpoint: str | os.PathLike, strict: bool = True,
                     source: str | os.PathLike | None = None) -> dict:
    """Load `checkpoint` and raise `StadError` unless its weights fit `model`.

    MMEngine loads checkpoints non-strictly: a checkpoint of another model only
    logs warnings and training starts from (mostly) random weights. With `strict`
    every tensor of the model must be in the checkpoint with the same shape
    (inference, resuming). Without it (fine-tuning with `load_from`) a new head is
    fine, but at least half of the model's tensors must match. Returns the
    loaded checkpoint.

    Args:
        model: The built model (an `nn.Module`, DDP-wrapped or not).
        checkpoint: A `.pth` path (a URL is loaded by MMEngine as is).
        strict: Every tensor must match (True) or at least half (False).
        source: The config named in errors.

    Returns:
        The loaded checkpoint dict.

    Raises:
        StadError: The file is missing or unreadable, holds no weights, or its
            weights do not fit `model` (the message lists missing and wrongly
            shaped tensors).
    """
    name = os.fspath(checkpoint)
    loaded = load_checkpoint_file(name, download=True)
    weights = loaded.get("state_dict", loaded)
    if not isinstance(weights, dict) or not weights:
        raise StadError("not a model checkpoint (no state_dict)", name)
    weights = {k[7:] if k.startswith("module.") else k: v for k, v in weights.items()}
    model = getattr(model, "module", model)  # unwrap DistributedDataParallel
    expected = model.state_dict()
    missing = [k for k in expected if k not in weights]
    wrong = [
        f"{k} {tuple(weights[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in weights and tuple(getattr(weights[k], "shape", ())) != tuple(v.shape)
    ]
    bad = len(missing) + len(wrong)
    if bad and (strict or bad > len(expected) / 2):
        parts = []
        if missing:
            parts.append(f"{len(missing)} of the model's {len(expected)} tensors "
                         f"missing (e.g. {missing[0]})")
        if wrong:
            parts.append(f"{len(wrong)} with other shapes (e.g. {wrong[0]})")
        where = f" (config {source})" if source else ""
        raise StadError(
            "checkpoint does not match the model of this config" + where + ": "
            + "; ".join(parts),
            name,
        )
    return loaded


LAST_CHECKPOINT = "last_checkpoint"  # MMEngine's file naming a work dir's latest


def read_last_checkpoint(work_dir: str | os.PathLike) -> Path | None:
    """The checkpoint a work dir's `last_checkpoint` file names, or None without one.

    A relative name is resolved against the work dir. MMEngine writes absolute
    paths: when such a path points elsewhere but a file of that name lies in the
    work dir (a copied or moved work dir), that file is the one: a copy uses its
    own checkpoints, not the original's.
    """
    work = Path(work_dir)
    try:
        text = (work / LAST_CHECKPOINT).read_text().strip()
    except FileNotFoundError:
        return None
    if not text:
        return None
    named = Path(text)
    if not named.is_absolute():
        return work / named
    beside = work / named.name
    return beside if beside.is_file() else named


def relativize_last_checkpoint(work_dir: str | os.PathLike) -> Path | None:
    """Rewrite `last_checkpoint` to name its checkpoint relative to the work dir
    (when it lies inside), so the work dir can be moved; return the checkpoint."""
    work = Path(work_dir)
    ckpt = read_last_checkpoint(work)
    if ckpt is None:
        return None
    try:
        relative = os.path.relpath(ckpt.resolve(), work.resolve())
    except ValueError:  # another drive (Windows)
        return ckpt
    if not relative.startswith(os.pardir):
        with atomic_open(work / LAST_CHECKPOINT, "w") as fh:
            fh.write(Path(relative).as_posix())
        return work / relative
    return ckpt
