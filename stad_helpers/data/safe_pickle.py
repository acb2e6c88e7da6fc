"""Load pickles from the internet without running their code.

`multisports_GT.pkl`, proposal files and detection results are pickles, and
unpickling can import and call anything. `safe_load` admits only what these
formats contain: builtin containers, strings, numbers, numpy arrays, dtypes and
scalars. Anything else is refused before it is imported or called.

Two older kinds of file load too:

- Python 2 pickles (the ACT-format GTs of UCF101-24 and JHMDB, `UCF101v2-GT.pkl`
  and `JHMDB-GT.pkl`): their `str`s are byte strings and their numpy buffers
  py2 strs, which Python 3 reads only with `encoding='latin1'` (what
  mmaction2's and ACT's readers pass). Python 3 pickles store text as unicode,
  so the encoding changes nothing for them.
- Torch tensors, as in the results MMDetection's `test.py --out` writes
  (`mmengine.dump`, a plain pickle: each tensor is `torch._utils._rebuild_tensor_v2`
  over a storage pickled as `torch.storage._load_from_bytes(<torch.save bytes>)`).
  Torch globals pass only if torch's own weights-only unpickler allows them
  (`torch._weights_only_unpickler._get_allowed_globals`), and the storage bytes
  are read with `torch.load(..., weights_only=True)` instead of torch's
  `_load_from_bytes` (which unpickles them with `weights_only=False`). Torch is
  imported only when a file references it.

Used in: 01_dataset, 02_person_detector, 03_action_detector (via `stad_helpers.data`).
"""

from __future__ import annotations

import functools
import io
import os
import pickle
from pathlib import Path
from typing import Any

from ..errors import StadError

# (module, name) pairs a MultiSports, proposal or result pickle may reference.
# numpy moved `core` to `_core` in 2.0; pickles written by either name both load.
_ALLOWED: set[tuple[str, str]] = {
    ("builtins", name)
    for name in ("dict", "list", "tuple", "set", "frozenset", "str", "bytes",
                 "bytearray", "int", "float", "complex", "bool", "slice", "range")
} | {("collections", "OrderedDict"), ("collections", "defaultdict")}
for _core in ("numpy.core", "numpy._core"):
    _ALLOWED |= {
        (f"{_core}.multiarray", "_reconstruct"),
        (f"{_core}.multiarray", "scalar"),
        (f"{_core}.numeric", "_frombuffer"),
    }
_ALLOWED |= {("numpy", "ndarray"), ("numpy", "dtype")}
# Protocol-2 pickles written by Python 3 store array bytes as
# `_codecs.encode(latin1_text, "latin1")`; codec lookup only reaches the
# standard `encodings` package (torch's weights_only unpickler allows it too).
_ALLOWED.add(("_codecs", "encode"))


def _allowed(module: str, name: str) -> bool:
    # numpy >= 1.25 pickles dtypes by their class, e.g. numpy.dtypes.Float32DType.
    return (module, name) in _ALLOWED or (
        module == "numpy.dtypes" and name.endswith("DType") and name.isidentifier()
    )


def _storage_from_bytes(data: bytes, source: str) -> Any:
    """`torch.storage._load_from_bytes`, but through torch's weights-only loader."""
    import torch

    if not isinstance(data, (bytes, bytearray)):
        raise pickle.UnpicklingError("a torch storage that is not bytes")
    try:
        return torch.load(io.BytesIO(data), weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise StadError(
            "refused to load: a torch storage in the pickle is not plain tensor "
            f"data (torch's weights-only loader: {first}); nothing was executed",
            source,
        ) from None


@functools.cache
def _torch_allowed() -> dict[str, Any]:
    try:
        from torch._weights_only_unpickler import _get_allowed_globals
    except ImportError:  # no torch, or one without the weights-only loader
        return {}
    return _get_allowed_globals()


def _torch_global(module: str, name: str, source: str) -> Any | None:
    """The object a torch pickle may reference, or None if torch would refuse it."""
    if (module, name) == ("torch.storage", "_load_from_bytes"):
        return functools.partial(_storage_from_bytes, source=source)
    return _torch_allowed().get(f"{module}.{name}")


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, fh, source: str):
        super().__init__(fh, encoding="latin1")  # Python 2 byte strings
        self._source = source

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch" or module.startswith("torch."):
            found = _torch_global(module, name, self._source)
            if found is not None:
                return found
        if not _allowed(module, name):
            raise StadError(
                f"refused to load: the pickle references '{module}.{name}', which a "
                "data file has no reason to contain (it could run code); "
                "nothing was executed",
                self._source,
            )
        return super().find_class(module, name)


def safe_loads(data: bytes, source: str = "<bytes>") -> Any:
    """Unpickle `data` admitting only plain data (see module docstring).

    Args:
        data: The bytes of a pickle (e.g. a `multisports_GT.pkl` or proposals
            file).
        source: Name used in error messages (a file name).

    Returns:
        The unpickled object: dicts, lists, tuples, str, numbers, numpy arrays
        and (CPU) torch tensors only. Python 2 byte strings come back as `str`
        (decoded as latin1, like `pickle.load(f, encoding='latin1')`).

    Raises:
        StadError: The pickle refers to any other class or function (refused
            before it runs), or is truncated, corrupt or not a pickle.
    """
    try:
        return _RestrictedUnpickler(io.BytesIO(data), source).load()
    except StadError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError,
            AttributeError, KeyError, MemoryError, UnicodeDecodeError,
            RuntimeError) as exc:
        raise StadError(
            f"not a readable pickle ({type(exc).__name__}: {exc}); the file may be "
            "truncated or corrupt",
            source,
        ) from None


def safe_load(path: str | os.PathLike) -> Any:
    """Read and unpickle the file at `path` with `safe_loads`.

    Raises:
        StadError: The file is missing or is a directory, or `safe_loads`
            refuses its contents (the message names `path`).
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise StadError("file not found", path) from None
    except IsADirectoryError:
        raise StadError("is a directory, expected a pickle file", path) from None
    return safe_loads(data, str(path))
