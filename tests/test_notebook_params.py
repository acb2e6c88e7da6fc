"""Notebook parameters are checked where they are read (`check_params`), and a
`data` folder that is not a dataset is refused by `Tutorial` naming the parameter."""

from __future__ import annotations

import json
import pickle

import pytest
from _paths import ROOT

from stad_helpers.data import layout
from stad_helpers.errors import StadError
from stad_helpers.notebook import (
    check_data_folder,
    check_params,
    data_used_by,
    from_root,
    project_root,
)
from stad_helpers.pipeline import Tutorial

NOTEBOOKS = sorted((ROOT / "notebooks").glob("0*.ipynb"))


def test_good_parameters_pass(tmp_path):
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"")
    check_params(profile="cpu", device="cpu", data=None, work_dir=tmp_path / "w",
                 det_iters=300, det_epochs=None, action_epochs=8, test_ratio=0.3,
                 min_frame_map=None, det_score_thr=0.5, action_score_thr=0.4,
                 predict_stepsize=8, output_fps=6, demo_video=video,
                 run_everything=False, export_format="label-studio",
                 annotation_export=[video], videos_dir=tmp_path,
                 action_attribute=None)


@pytest.mark.parametrize("name, value, says", [
    ("det_iters", -5, "det_iters = -5: expected None (the config's own) or a whole "
                  "number >= 1"),
    ("action_epochs", 0, "action_epochs = 0"),
    ("det_iters", 2.5, "whole number"),
    ("det_iters", True, "whole number"),
    ("min_frame_map", 75, "min_frame_map = 75: expected None (the profile's "
                          "floor) or a number in [0, 1] (a fraction, not percent)"),
    ("action_score_thr", -0.1, "action_score_thr"),
    ("test_ratio", 1.0, "test_ratio = 1.0"),
    ("profile", "tpu", "profile = 'tpu': expected one of ['cpu', 'gpu']"),
    ("device", "tpu", "device = 'tpu': unknown device"),
    ("export_format", "yolo", "export_format = 'yolo'"),
    ("run_everything", "yes", "run_everything = 'yes': expected True or False"),
    ("work_dir", None, "work_dir = None"),
    ("det_itres", 3, "det_itres: no rule"),
    ("predict_stepsize", None, "predict_stepsize = None: expected a whole number"),
    ("output_stepsize", 1.5, "output_stepsize = 1.5"),
    ("action_score_thr", None, "action_score_thr = None: expected a number in"),
    ("output_fps", 0, "output_fps = 0: expected None (the video's rate"),
    ("output_fps", "25", "output_fps = '25'"),
])
def test_a_bad_parameter_is_named_with_what_it_accepts(name, value, says):
    with pytest.raises(StadError) as err:
        check_params(**{name: value})
    assert says in str(err.value)
    assert "\n" not in str(err.value)


def test_none_only_where_documented_and_a_frame_rate_may_be_decimal():
    check_params(output_fps=12.5, det_epochs=None, action_epochs=None,
                 det_iters=None, min_frame_map=None, min_coverage=None)
    check_params(output_fps=None, predict_stepsize=4, output_stepsize=2)


def test_relative_paths_are_read_from_the_project_root(tmp_path, monkeypatch):
    """Whatever the kernel's working directory (notebooks/ in Jupyter)."""
    root = project_root()
    monkeypatch.chdir(tmp_path)
    assert from_root("data/x") == root / "data" / "x"
    assert from_root(tmp_path) == tmp_path and from_root(None) is None
    check_params(demo_video="README.md", videos_dir="notebooks")  # from the root
    with pytest.raises(StadError, match=f"{root / 'nope.mp4'} does not exist"):
        check_params(demo_video="nope.mp4")
    with pytest.raises(StadError, match=f"{root / 'no_such_data'}"):
        check_params(data="no_such_data")


def test_notebooks_02_to_04_continue_on_the_dataset_01_took(tmp_path):
    data, work = tmp_path / "tiny", tmp_path / "work"
    gt = layout.gt_file(data)
    gt.parent.mkdir(parents=True)
    gt.write_bytes(b"")
    assert data_used_by(work) is None  # a new work dir: the synthetic dataset
    (work / "stages").mkdir(parents=True)
    record = {"stage": "dataset", "status": "done", "settings": {"data": "user"},
              "inputs": {}, "paths": {"gt": str(gt)}, "version": 1}
    (work / "stages" / "dataset.json").write_text(json.dumps(record))
    assert data_used_by(work) == data
    gt.unlink()  # the folder lost its annotation: not used any more
    assert data_used_by(work) is None
    record["settings"] = {"data": "synthetic", "seed": 0}
    (work / "stages" / "dataset.json").write_text(json.dumps(record))
    assert data_used_by(work) is None


def test_a_missing_path_is_named(tmp_path):
    with pytest.raises(StadError, match="parameter demo_video: .*nope.mp4 does not"):
        check_params(demo_video=tmp_path / "nope.mp4")
    with pytest.raises(StadError, match="parameter annotation_export: .*b.xml"):
        check_params(annotation_export=[tmp_path, tmp_path / "b.xml"])


@pytest.mark.parametrize("make, says", [
    (lambda p: p / "missing", "parameter data: this folder does not exist"),
    (lambda p: p, "parameter data: annotation missing: no "
                  f"{layout.GT_REL} in this folder"),
])
def test_data_must_be_a_folder_with_its_annotation(tmp_path, make, says):
    with pytest.raises(StadError, match="data") as err:
        check_params(data=make(tmp_path))
    assert says in str(err.value)
    assert str(make(tmp_path)) in str(err.value)


def test_data_with_its_annotation_passes(tmp_path):
    gt = layout.gt_file(tmp_path)
    gt.parent.mkdir()
    gt.write_bytes(pickle.dumps({}))
    assert check_data_folder(tmp_path) == tmp_path


def test_tutorial_refuses_a_data_folder_that_does_not_exist(tmp_path):
    """Before: accepted, then every stage failed with 'annotation missing'."""
    with pytest.raises(StadError, match=r"data: this folder does not exist"):
        Tutorial("cpu", data=tmp_path / "nope", work_dir=tmp_path / "w",
                 device="cpu")
    assert not (tmp_path / "w").exists()  # refused before anything is written


def _check_cell_after_parameters(path):
    cells = json.loads(path.read_text())["cells"]
    index = next(i for i, c in enumerate(cells)
                 if "parameters" in c.get("metadata", {}).get("tags", []))
    return cells[index], next(
        (c for c in cells[index + 1:] if c["cell_type"] == "code"), None)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_parameter_is_checked_right_after_the_parameters_cell(path):
    import ast

    params, after = _check_cell_after_parameters(path)
    assigned = {node.targets[0].id
                for node in ast.parse("".join(params["source"])).body
                if isinstance(node, ast.Assign) and isinstance(node.targets[0],
                                                               ast.Name)}
    call = next(node for node in ast.walk(ast.parse("".join(after["source"])))
                if isinstance(node, ast.Call)
                and getattr(node.func, "id", "") == "check_params")
    assert {kw.arg for kw in call.keywords} == assigned, path.name


@pytest.mark.parametrize("lengths", [{"iters": -5}, {"epochs": 0}, {"iters": 2.5}])
def test_tutorial_names_a_bad_schedule_length(tmp_path, lengths):
    with pytest.raises(StadError, match=r"schedule\['det'\]\[.*expected None or a "
                                        "whole number >= 1"):
        Tutorial("cpu", work_dir=tmp_path, device="cpu", schedule={"det": lengths})
