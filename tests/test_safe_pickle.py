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


# ---- Python 2 pickles: the ACT-format GTs of UCF101-24 and JHMDB --------------
def _act_gt(splits: int) -> dict:
    """An ACT-format GT (UCF101-24 keys and values; JHMDB has three splits)."""
    videos = ["Basketball/v_Basketball_g01_c01", "Biking/v_Biking_g02_c03"]
    # 0x80..0xff bytes in the buffers: Python 3's default ASCII decoding fails.
    tube = np.array([[1, 10.5, 20.25, 120.75, 200.5], [2, 11, 20, 121, 201],
                     [3, 12, 21, 122, 202]], np.float32)
    return {
        "labels": ["Basketball", "Biking"],
        "gttubes": {videos[0]: {0: [tube]}, videos[1]: {1: [tube + 1, tube + 2]}},
        "nframes": {videos[0]: 3, videos[1]: 5},
        "train_videos": [[videos[0]]] * splits,
        "test_videos": [[videos[1]]] * splits,
        "resolution": {videos[0]: (240, 320), videos[1]: (240, 320)},
    }


def test_python2_act_gt_loads_as_latin1_does(tmp_path):
    from _py2_pickle import dumps_py2

    from stad_helpers.data import validate_gt

    raw = _act_gt(splits=1)
    data = dumps_py2(raw)
    assert b"U\x0aBasketball" in data  # labels are py2 byte strings
    with pytest.raises(UnicodeDecodeError):
        pickle.loads(data)  # what Python 3 does without encoding='latin1'
    reference = pickle.loads(data, encoding="latin1")  # how everyone reads it
    path = tmp_path / "UCF101v2-GT.pkl"
    path.write_bytes(data)
    loaded = safe_load(path)
    assert loaded["labels"] == reference["labels"] == ["Basketball", "Biking"]
    assert loaded["resolution"] == {v: (240, 320) for v in raw["resolution"]}
    for video, by_label in reference["gttubes"].items():
        for label, tubes in by_label.items():
            for x, y, z in zip(tubes, loaded["gttubes"][video][label],
                               raw["gttubes"][video][label]):
                assert y.dtype == np.float32
                np.testing.assert_array_equal(x, y)
                np.testing.assert_array_equal(y, z)
    assert [p for p in validate_gt(loaded) if p.is_error] == []
    gt = MultiSportsGT.load(path)
    assert gt.train_videos == ["Basketball/v_Basketball_g01_c01"]
    assert gt.summary()["boxes"] == 9


def test_python2_jhmdb_three_splits_use_split_1(tmp_path):
    from _py2_pickle import dumps_py2

    from stad_helpers.data import validate_gt

    raw = _act_gt(splits=3)
    raw["train_videos"][1] = raw["test_videos"][0]  # other splits differ
    path = tmp_path / "JHMDB-GT.pkl"
    path.write_bytes(dumps_py2(raw))
    problems = validate_gt(safe_load(path))
    assert [p for p in problems if p.is_error] == []
    assert any("3 splits" in str(p) and "split 1" in str(p) for p in problems)
    gt = MultiSportsGT.load(path)
    assert gt.train_videos == ["Basketball/v_Basketball_g01_c01"]
    assert gt.test_videos == ["Biking/v_Biking_g02_c03"]


def test_byte_string_keys_and_labels_are_decoded(tmp_path):
    """A GT read with encoding='bytes' and saved again holds bytes everywhere."""
    from _py2_pickle import dumps_py2

    raw = pickle.loads(dumps_py2(_act_gt(splits=1)), encoding="bytes")
    assert b"labels" in raw and raw[b"labels"][0] == b"Basketball"
    path = tmp_path / "bytes-GT.pkl"
    path.write_bytes(pickle.dumps(raw, protocol=4))
    gt = MultiSportsGT.load(path)
    assert gt.labels == ["Basketball", "Biking"]
    assert gt.nframes == {"Basketball/v_Basketball_g01_c01": 3,
                          "Biking/v_Biking_g02_c03": 5}
    assert set(gt.gttubes) == set(gt.nframes)


def test_python2_pickle_that_runs_code_is_still_refused(tmp_path):
    from _py2_pickle import dumps_py2

    marker = tmp_path / "pwned"
    # A py2 cPickle of {'labels': os.system('touch marker')}.
    evil = (dumps_py2({"labels": None})[:-3]
            + b"cposix\nsystem\n(U" + bytes([len(f"touch {marker}")])
            + f"touch {marker}".encode() + b"tRu.")
    with pytest.raises(StadError, match="posix.system.*nothing was executed"):
        safe_loads(evil, "evil.pkl")
    assert not marker.exists()


# ---- Torch tensors: MMDetection's `test.py --out` results ----------------------
def _mmdet_results(path) -> list:
    """Results written by MMDetection's own DumpDetResults (what `--out` uses)."""
    torch = pytest.importorskip("torch")
    from mmdet.evaluation.metrics import DumpDetResults
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData

    samples = []
    for i in range(2):
        sample = DetDataSample(metainfo={
            "img_path": f"data/rawframes/gym/v_a/{i + 1:05d}.jpg", "img_id": i,
            "ori_shape": (240, 320), "img_shape": (480, 640),
            "scale_factor": (2.0, 2.0), "pad_shape": (480, 640),
            "batch_input_shape": (480, 640), "homography_matrix": np.eye(3)})
        pred = InstanceData()
        pred.bboxes = torch.tensor([[10.0, 20.0, 110.0, 220.0],
                                    [50.5, 60.0, 70.0, 80.25]]) + i
        pred.scores = torch.tensor([0.95, 0.25])
        pred.labels = torch.tensor([0, 0])
        sample.pred_instances = pred
        samples.append(sample.to_dict())  # as mmengine's Evaluator.process does
    metric = DumpDetResults(out_file_path=str(path))
    metric.process({}, samples)
    metric.compute_metrics(metric.results)
    return samples


def test_mmdet_results_with_tensors_load_through_weights_only(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "results.pkl"
    samples = _mmdet_results(path)
    assert b"torch._utils" in path.read_bytes()  # tensors, pickled by torch
    loaded = safe_load(path)
    assert len(loaded) == 2
    for got, want in zip(loaded, samples):
        assert got["img_path"] == want["img_path"]
        assert tuple(got["ori_shape"]) == (240, 320)
        for key in ("bboxes", "scores", "labels"):
            assert isinstance(got["pred_instances"][key], torch.Tensor)
            assert torch.equal(got["pred_instances"][key], want["pred_instances"][key])


class _TorchStorageRunsCode:
    """A 'storage' whose torch.save bytes unpickle to os.system(...)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import io

        import torch
        import torch.storage

        buf = io.BytesIO()
        torch.save(_RunsCode(self.marker), buf, _use_new_zipfile_serialization=False)
        return (torch.storage._load_from_bytes, (buf.getvalue(),))


class _TorchLoad:
    def __reduce__(self):
        import torch

        return (torch.load, ("/etc/passwd",))


def test_hostile_torch_pickles_are_refused(tmp_path):
    pytest.importorskip("torch")
    marker = tmp_path / "pwned"
    data = pickle.dumps([_TorchStorageRunsCode(marker)], protocol=2)
    with pytest.raises(StadError, match="torch storage.*nothing was executed"):
        safe_loads(data, "evil.pkl")
    assert not marker.exists()
    with pytest.raises(StadError, match="torch.serialization.load|torch.load"):
        safe_loads(pickle.dumps(_TorchLoad(), protocol=2), "evil.pkl")


def test_python2_gt_validates_and_converts(tmp_path, capsys):
    """`stad data validate` and the conversions take the Python 2 file as is."""
    from _py2_pickle import dumps_py2

    from stad_helpers.cli import main
    from stad_helpers.convert import ava, det_anno

    path = tmp_path / "UCF101v2-GT.pkl"
    path.write_bytes(dumps_py2(_act_gt(splits=1)))
    assert main(["data", "validate", str(path)]) == 0
    assert "OK, 0 error(s)" in capsys.readouterr().out
    py3 = tmp_path / "py3-GT.pkl"  # the same GT written by Python 3
    py3.write_bytes(pickle.dumps(_act_gt(splits=1), protocol=4))
    for gt_file, folder in ((path, "py2"), (py3, "py3")):
        ava(gt_file, tmp_path / folder)
        det_anno(gt_file, tmp_path / folder / "det.json")
    names = sorted(p.name for p in (tmp_path / "py3").iterdir())
    assert len(names) >= 5  # 2 AVA CSVs, label map, 2 COCO JSONs
    for name in names:
        assert ((tmp_path / "py2" / name).read_bytes()
                == (tmp_path / "py3" / name).read_bytes()), name
