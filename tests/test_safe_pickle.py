"""safe_load: real-format GT pickles load; pickles that would run code never run."""

from __future__ import annotations

import os
import pickle
import sys
import types

import numpy as np
import pytest

from stad_helpers.data import MultiSportsGT, safe_load, safe_loads
from stad_helpers.errors import StadError


def _gt() -> dict:
    tube = np.array([[1, 10, 10, 20, 30], [2, 11, 10, 21, 30]], np.float32)
    return {
        "labels": ["run", "jump"],
        "train_videos": [["sport/a"]],
        "test_videos": [["sport/b"]],
        "nframes": {"sport/a": 5, "sport/b": 5},
        "resolution": {"sport/a": (48, 64), "sport/b": (48, 64)},
        "gttubes": {"sport/a": {0: [tube]}, "sport/b": {1: [tube.copy()]}},
    }


def _same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for video, by_label in a["gttubes"].items():
        for label, tubes in by_label.items():
            for x, y in zip(tubes, b["gttubes"][video][label]):
                assert y.dtype == np.float32
                np.testing.assert_array_equal(x, y)
    assert a["resolution"] == b["resolution"]
    assert a["train_videos"] == b["train_videos"]


class _LegacyNumpyPickler(pickle._Pickler):
    """Writes numpy's globals under the pre-2.0 module name `numpy.core`."""

    def save_global(self, obj, name=None):
        module = getattr(obj, "__module__", "") or ""
        if module.startswith("numpy._core"):
            legacy = module.replace("numpy._core", "numpy.core", 1)
            qual = name or obj.__qualname__
            if self.proto >= 4:
                self.save(legacy)
                self.save(qual)
                self.write(pickle.STACK_GLOBAL)
            else:
                self.write(pickle.GLOBAL + f"{legacy}\n{qual}\n".encode())
            self.memoize(obj)
            return
        super().save_global(obj, name)

    # `save` looks functions up in this table, bypassing method overrides.
    dispatch = dict(pickle._Pickler.dispatch)
    dispatch[types.FunctionType] = save_global
    dispatch[types.BuiltinFunctionType] = save_global


def _legacy_dumps(obj, protocol: int) -> bytes:
    import io

    buf = io.BytesIO()
    _LegacyNumpyPickler(buf, protocol=protocol).dump(obj)
    return buf.getvalue()


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_real_format_numpy_core_underscore(tmp_path, protocol):
    gt = _gt()
    data = pickle.dumps(gt, protocol=protocol)  # numpy 2 writes numpy._core
    path = tmp_path / "gt.pkl"
    path.write_bytes(data)
    _same(gt, safe_load(path))


@pytest.mark.parametrize("protocol", [2, 5])
def test_real_format_legacy_numpy_core(protocol):
    gt = _gt()
    data = _legacy_dumps(gt, protocol)
    assert b"numpy.core" in data and b"numpy._core" not in data
    _same(gt, safe_loads(data, "legacy.pkl"))


def test_numpy_scalars_and_dtypes_load():
    obj = {"n": np.int64(725), "hw": (np.int32(720), np.int32(1280)),
           "score": np.float32(0.5), "dt": np.dtype("float32")}
    for protocol in (2, 5):
        back = safe_loads(pickle.dumps(obj, protocol=protocol))
        assert back == obj


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _Evals:
    def __reduce__(self):
        return (eval, ("__import__('os').getcwd()",))


@pytest.mark.parametrize("protocol", [2, 5])
def test_pickle_that_runs_code_is_refused_and_not_run(tmp_path, protocol):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil_GT.pkl"
    path.write_bytes(pickle.dumps({"labels": [_RunsCode(marker)]}, protocol=protocol))
    with pytest.raises(StadError) as info:
        safe_load(path)
    message = str(info.value)
    assert str(path) in message
    assert "system" in message and "nothing was executed" in message
    assert not marker.exists()
    with pytest.raises(StadError):
        MultiSportsGT.load(path)
    assert not marker.exists()


def test_eval_and_numpy_functions_are_refused():
    with pytest.raises(StadError, match="builtins.eval"):
        safe_loads(pickle.dumps(_Evals()), "x.pkl")
    # numpy itself has functions that read files or run code: only data passes.
    with pytest.raises(StadError, match="numpy.load"):
        safe_loads(pickle.dumps(np.load), "x.pkl")


def test_truncated_pickle_is_a_clear_error(tmp_path):
    data = pickle.dumps(_gt(), protocol=5)
    path = tmp_path / "cut_GT.pkl"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(StadError, match="truncated or corrupt") as info:
        safe_load(path)
    assert str(path) in str(info.value)


def test_empty_and_garbage_files(tmp_path):
    empty = tmp_path / "empty.pkl"
    empty.write_bytes(b"")
    with pytest.raises(StadError, match="empty.pkl"):
        safe_load(empty)
    garbage = tmp_path / "garbage.pkl"
    garbage.write_bytes(b"this is not a pickle\n" * 10)
    with pytest.raises(StadError, match="garbage.pkl"):
        safe_load(garbage)


def test_missing_file_names_it(tmp_path):
    with pytest.raises(StadError, match="file not found") as info:
        safe_load(tmp_path / "nope.pkl")
    assert "nope.pkl" in str(info.value)


def test_non_dict_pickle_loads_but_is_not_a_gt(tmp_path):
    path = tmp_path / "list.pkl"
    path.write_bytes(pickle.dumps([1, 2, 3]))
    assert safe_load(path) == [1, 2, 3]
    with pytest.raises(StadError, match="expected a dict") as info:
        MultiSportsGT.load(path)
    assert str(path) in str(info.value)


def test_refusal_happens_before_import(tmp_path):
    """A refused module is never imported (importing can itself run code)."""
    name = "stad_never_imported_mod"
    data = b"\x80\x02c" + name.encode() + b"\nf\n)R."
    with pytest.raises(StadError, match=name):
        safe_loads(data, "x.pkl")
    assert name not in sys.modules
