"""The teacher's kit (docs/workshop.md): a work dir prepared the day before and
copied to each student machine lets a class start at any notebook without
running what comes before it."""

from __future__ import annotations

import shutil

import pytest
from _paths import ROOT
from test_pipeline import TINY

from stad_helpers.pipeline import Tutorial

BEFORE_03 = ["dataset", "det_anno", "frames", "train_det", "detect", "proposals",
             "ava", "train_action"]


@pytest.mark.slow
def test_a_copied_prepared_work_dir_lets_notebook_03_skip_to_its_first_step(
        tmp_path):
    prepared = tmp_path / "teacher" / "work_dirs" / "tutorial"
    Tutorial("cpu", work_dir=prepared, device="cpu", **TINY).ensure("train_action")

    # A student machine: another folder; the teacher's copy is gone meanwhile, so
    # nothing can be read from it through an absolute path.
    student = tmp_path / "student" / "work_dirs" / "tutorial"
    shutil.copytree(prepared, student)
    shutil.rmtree(tmp_path / "teacher")

    tutorial = Tutorial("cpu", work_dir=student, device="cpu", **TINY)
    assert tutorial.plan("train_action") == []
    tutorial.ensure("train_action")  # what notebook 03 runs before its first step
    assert tutorial.skipped == BEFORE_03
    assert all(tutorial.seconds[s] == 0.0 for s in BEFORE_03)
    assert tutorial.action_checkpoint().is_relative_to(student)
    # The next stage is what the class does: not up to date yet.
    assert tutorial.why_stale("evaluate") == "not run yet"


def test_the_workshop_guide_names_commands_that_exist():
    """docs/workshop.md's commands are the CLI's and the Makefile's."""
    import subprocess
    import sys

    guide = (ROOT / "docs" / "workshop.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    for target in ("setup", "tutorial"):
        assert f"make {target}" in guide and f"\n{target}:" in makefile
    for command, option in ((["run-all"], "--work-dir"), (["weights", "fetch"], None),
                            (["doctor"], None)):
        assert " ".join(["stad", *command, *([option] if option else [])]) in guide
        res = subprocess.run([sys.executable, "-m", "stad_helpers.cli", *command,
                              "--help"], capture_output=True, text=True, timeout=120,
                             cwd=ROOT)
        assert res.returncode == 0, res.stderr
        assert option is None or option in res.stdout

def test_the_notebooks_readme_lists_every_notebook():
    readme = (ROOT / "notebooks" / "README.md").read_text()
    for path in sorted((ROOT / "notebooks").glob("0*.ipynb")):
        assert f"`{path.stem}`" in readme, path.name
