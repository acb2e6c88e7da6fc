"""Write every output whole or not at all: temp file in the same folder + rename.

Used by every module that writes a file, so an interrupted run never leaves half a
JSON, CSV, pickle or video where a later step would trust it.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `dest`; rename it onto `dest` on success.

    For writers that want a file name (OpenCV, PyAV, torch.save). On any
    exception the temporary file is removed and `dest` is left untouched.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{dest.stem}.", suffix=f".part{dest.suffix}", dir=dest.parent
    )
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes files private; outputs are not
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, dest)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_open(dest: str | os.PathLike, mode: str = "w",
                **kwargs: Any) -> Iterator[IO]:
    """`open()` for writing, with `atomic_path`'s all-or-nothing guarantee."""
    with atomic_path(dest) as tmp, open(tmp, mode, **kwargs) as fh:
        yield fh


def dump_json(obj: Any, dest: str | os.PathLike, **kwargs: Any) -> Path:
    with atomic_open(dest, "w") as fh:
        json.dump(obj, fh, **kwargs)
    return Path(dest)


def dump_pickle(obj: Any, dest: str | os.PathLike) -> Path:
    with atomic_open(dest, "wb") as fh:
        pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return Path(dest)
