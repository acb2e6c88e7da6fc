"""Write every output whole or not at all, and never over a user's file.

Files: temp file in the same folder + rename (`atomic_path`, `atomic_open`), so an
interrupted run never leaves half a JSON, CSV, pickle or video where a later step
would trust it.

Folders: every output folder the project makes holds a marker file,
`OUTPUT_MARKER`. Only such folders are ever added to or replaced
(`claim_output_dir` for writers that fill a folder in place, `temp_dir_beside` +
`replace_output_dir` for writers that build a folder and swap it in); a plain file,
a folder the project did not make, or an input is refused with a `StadError`,
whatever `overwrite` says (`check_output_dir`, `check_not_input`).
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from .errors import StadError


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
    """`json.dump(obj, ..., **kwargs)` into `dest`, whole or not at all; return it."""
    with atomic_open(dest, "w") as fh:
        json.dump(obj, fh, **kwargs)
    return Path(dest)


def dump_pickle(obj: Any, dest: str | os.PathLike) -> Path:
    """Pickle `obj` (highest protocol) into `dest`, whole or not at all; return it."""
    with atomic_open(dest, "wb") as fh:
        pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return Path(dest)


# ---------------------------------------------------------------------------
# Output folders: replace only what the project wrote, never an input
# ---------------------------------------------------------------------------
OUTPUT_MARKER = ".stad-output"
"""File that every output folder the project creates holds (JSON: its kind).

A folder holding it was made by `stad_helpers`, so a writer may add to it or, when
asked to overwrite, replace it. Any other non-empty folder, and any plain file,
belongs to the user and is never replaced."""


def _resolved(path: str | os.PathLike) -> Path:
    return Path(path).expanduser().resolve()


def is_output_dir(path: str | os.PathLike, kind: str | None = None) -> bool:
    """True if `path` is a folder the project made (of `kind`, if given)."""
    marker = Path(path) / OUTPUT_MARKER
    if not marker.is_file():
        return False
    if kind is None:
        return True
    return read_output_kind(path) == kind


def read_output_kind(path: str | os.PathLike) -> str | None:
    """The kind recorded in `path`'s marker ('dataset', 'frames', ...), or None."""
    try:
        info = json.loads((Path(path) / OUTPUT_MARKER).read_text())
    except (OSError, ValueError):
        return None
    return info.get("kind") if isinstance(info, dict) else None


def mark_output_dir(path: str | os.PathLike, kind: str) -> Path:
    """Write the marker that makes `path` (an existing folder) an output of `kind`."""
    return dump_json({"written_by": "stad_helpers", "kind": kind},
                     Path(path) / OUTPUT_MARKER)


def check_not_input(outputs: Iterable[str | os.PathLike | None],
                    inputs: Iterable[str | os.PathLike | None] = (),
                    replaced: bool = False) -> None:
    """Raise `StadError` if an output path is one of the inputs (Nones skipped).

    Paths are compared resolved (symlinks, `..`, `~`). With `replaced` (the outputs
    are folders to be replaced whole) an input inside an output is refused too.

    Raises:
        StadError: An output resolves to an input (or, with `replaced`, holds
            one); the message names both paths.
    """
    ins = [(p, _resolved(p)) for p in inputs if p is not None]
    for out in outputs:
        if out is None:
            continue
        target = _resolved(out)
        for given, src in ins:
            if src == target:
                raise StadError(f"the output is also an input ({given}); choose "
                                "another output path (did you forget OUT?)", out)
            if replaced and target in src.parents:
                raise StadError(f"the output folder holds the input {given}; "
                                "choose another output folder", out)


def _holds_no_files(path: Path) -> bool:
    """True if no file (or link) but our marker is anywhere under the folder."""
    marker = path / OUTPUT_MARKER
    return not any((p.is_file() or p.is_symlink() or not p.is_dir()) and p != marker
                   for p in path.rglob("*"))


def check_output_dir(path: str | os.PathLike, *, kind: str,
                     inputs: Iterable[str | os.PathLike | None] = (),
                     overwrite: bool = False, replace: bool = True,
                     legacy: Callable[[Path], bool] | None = None) -> None:
    """Check that `path` may become an output folder of `kind`; write nothing.

    Allowed: a missing path, an empty folder (or one holding only empty folders),
    or a folder holding `OUTPUT_MARKER` (or one that `legacy(path)` recognizes as
    written by an earlier version, before folders were marked). With
    `replace` (the writer replaces the folder whole) a marked, non-empty folder
    also needs `overwrite`; without it (the writer adds to the folder) it must be
    of the same `kind`. Refused with a `StadError`, `overwrite` or not: a plain
    file, a folder the project did not make, an input, a folder holding an input.

    Raises:
        StadError: Any of the refusals above; the message names `path` and says
            what to do (another folder, `--overwrite`).
    """
    path = Path(path)
    check_not_input([path], inputs, replaced=replace)
    if not path.exists() and not path.is_symlink():
        return
    if not path.is_dir():
        raise StadError(f"is a file, not a {kind} folder; nothing was replaced "
                        "(did you forget the output folder?)", path)
    if _holds_no_files(path):
        return  # nothing in it to lose
    if not is_output_dir(path) and not (legacy is not None and legacy(path)):
        raise StadError(f"folder exists and was not made by stad (no "
                        f"{OUTPUT_MARKER} in it); it is never replaced: choose "
                        "another output folder, or empty this one yourself", path)
    if replace and not overwrite:
        raise StadError("output folder exists and is not empty (choose another, "
                        "or overwrite)", path)
    made = read_output_kind(path)
    if not replace and made is not None and made != kind:
        raise StadError(f"folder holds a {made} written by stad, not a {kind}; "
                        "choose another output folder", path)


def claim_output_dir(path: str | os.PathLike, *, kind: str,
                     inputs: Iterable[str | os.PathLike | None] = (),
                     legacy: Callable[[Path], bool] | None = None) -> Path:
    """Make `path` an output folder of `kind` that a writer adds to; return it.

    For writers that fill a folder in place and resume (frames, the synthetic
    dataset, work dirs): `path` is created (with its parents) and marked if
    missing or empty; a marked folder of the same kind (or one `legacy`
    recognizes) is kept. Everything `check_output_dir` refuses raises `StadError`.

    Raises:
        StadError: `path` is a file, a folder this project did not make, a
            folder of another kind, or an input (see `check_output_dir`).
    """
    path = Path(path)
    check_output_dir(path, kind=kind, inputs=inputs, replace=False, legacy=legacy)
    path.mkdir(parents=True, exist_ok=True)
    if not is_output_dir(path):
        mark_output_dir(path, kind)
    return path


def temp_dir_beside(dest: str | os.PathLike) -> Path:
    """A new hidden folder beside `dest` to build a folder output in (same disk,
    so `replace_output_dir` is a rename), with the umask's permissions."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.part-", dir=dest.parent))
    tmp.chmod(0o777 & ~_umask())  # mkdtemp makes it private; outputs are not
    return tmp


def replace_output_dir(tmp: str | os.PathLike, dest: str | os.PathLike, *,
                       kind: str, inputs: Iterable[str | os.PathLike | None] = (),
                       overwrite: bool = False) -> Path:
    """Mark the finished folder `tmp` as a `kind` output and rename it onto `dest`.

    `dest` must pass `check_output_dir` (checked again here, at the last moment):
    missing, empty, or (with `overwrite`) a folder the project made. An old folder
    is moved aside, then removed once the new one is in place. `tmp` is left to
    the caller to remove if this raises.

    Returns:
        `dest`.

    Raises:
        StadError: `dest` may not be replaced (see `check_output_dir`).
    """
    tmp, dest = Path(tmp), Path(dest)
    inputs = list(inputs)
    check_output_dir(dest, kind=kind, inputs=inputs, overwrite=overwrite)
    mark_output_dir(tmp, kind)
    if dest.is_dir() and _holds_no_files(dest):
        shutil.rmtree(dest)
    if not dest.exists():
        os.replace(tmp, dest)
        return dest
    old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
    old.rmdir()
    os.replace(dest, old)
    try:
        os.replace(tmp, dest)
    except BaseException:
        os.replace(old, dest)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return dest


def mmengine_work_dir(path: Path) -> bool:
    """True for a work dir MMEngine's Runner wrote (before work dirs were marked):
    a `last_checkpoint` file or a run folder named by its timestamp."""
    return (path / "last_checkpoint").is_file() or any(
        p.is_dir() and len(p.name) == 15 and p.name[8] == "_"
        and p.name.replace("_", "").isdigit() for p in path.iterdir())
