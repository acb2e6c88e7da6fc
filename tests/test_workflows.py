"""The GitHub workflows validate against GitHub's schema (offline, check-jsonschema)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from _paths import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def _check_jsonschema() -> str:
    exe = Path(sys.executable).parent / "check-jsonschema"
    return str(exe) if exe.exists() else shutil.which("check-jsonschema")


def test_workflows_match_githubs_schema():
    assert len(WORKFLOWS) >= 2
    res = subprocess.run([_check_jsonschema(), "--builtin-schema",
                          "vendor.github-workflows", *map(str, WORKFLOWS)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr


def test_schema_check_catches_a_broken_workflow(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("name: x\non: push\njobs:\n  a:\n    steps: []\n")  # no runs-on
    res = subprocess.run([_check_jsonschema(), "--builtin-schema",
                          "vendor.github-workflows", str(bad)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode != 0


def test_cpu_job_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme
    cpu = yaml.safe_load((ROOT / ".github/workflows/cpu.yml").read_text())
    assert any(step.get("run") == "make test" for step in cpu["jobs"]["test"]["steps"])


def test_gpu_job_runs_make_test_gpu_on_a_gpu_runner_and_keeps_its_results():
    readme = (ROOT / "README.md").read_text()
    assert "make test-gpu" in readme
    gpu = yaml.safe_load((ROOT / ".github/workflows/gpu.yml").read_text())
    job = gpu["jobs"]["notebooks"]
    assert "gpu" in job["runs-on"] and "self-hosted" in job["runs-on"]
    runs = "\n".join(step.get("run", "") for step in job["steps"])
    assert "make test-gpu" in runs
    (upload,) = [step for step in job["steps"]
                 if step.get("uses", "").startswith("actions/upload-artifact")]
    assert upload["if"] == "always()"  # kept when a notebook fails too
    kept = upload["with"]["path"].split()
    assert "work_dirs/gpu/executed/" in kept and "work_dirs/gpu/summary.json" in kept


def test_make_test_gpu_runs_every_notebook_through_nbval_with_the_gpu_profile():
    res = subprocess.run(["make", "-n", "test-gpu", "GPU_DATA=data/tiny"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.replace("\\\n", " ").splitlines()
    (nbval,) = [line for line in lines if "-m pytest notebooks" in line]
    assert "STAD_PROFILE=gpu" in nbval and "STAD_DEVICE=cuda" in nbval
    assert f"STAD_DATA={ROOT / 'data' / 'tiny'}" in nbval
    assert any("stad weights fetch --profile gpu" in line for line in lines)
    # nbval executes the notebooks: pytest's options for this project say so.
    addopts = (ROOT / "pyproject.toml").read_text()
    assert "--nbval" in addopts


def _parameter_values(source: str, names: tuple[str, ...]) -> dict:
    """The values a parameters cell assigns to `names`, evaluated one by one with
    `os` at hand (other assignments may use names of earlier cells)."""
    import ast
    import os

    values = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(
                node.targets[0], ast.Name) and node.targets[0].id in names:
            values[node.targets[0].id] = eval(  # our own notebooks' literals
                compile(ast.Expression(node.value), "<parameters>", "eval"),
                {"os": os})
    return values


def test_notebook_parameters_read_the_ci_environment(monkeypatch):
    """Each notebook's parameters cell takes the profile from STAD_PROFILE (the CPU
    profile by default) and, where the notebook runs models on a `device`, that
    from STAD_DEVICE: what `make test-gpu` sets."""
    import json

    notebooks = sorted((ROOT / "notebooks").glob("0*.ipynb"))
    assert notebooks
    for path in notebooks:
        cells = json.loads(path.read_text())["cells"]
        (cell,) = [c for c in cells
                   if "parameters" in c.get("metadata", {}).get("tags", [])]
        source = "".join(cell["source"])
        uses_device = any("device=device" in "".join(c["source"]) for c in cells)
        for env, want in (({}, "cpu"), ({"STAD_PROFILE": "gpu",
                                         "STAD_DEVICE": "cuda"}, "gpu")):
            monkeypatch.delenv("STAD_PROFILE", raising=False)
            monkeypatch.delenv("STAD_DEVICE", raising=False)
            for key, value in env.items():
                monkeypatch.setenv(key, value)
            values = _parameter_values(source, ("profile", "device"))
            assert values.get("profile") == want, path.name
            if env and uses_device:
                assert values.get("device") == "cuda", path.name
