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


def test_cpu_job_runs_the_readme_test_command_and_gpu_job_uses_gpu_runner():
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme
    cpu = yaml.safe_load((ROOT / ".github/workflows/cpu.yml").read_text())
    assert any(step.get("run") == "make test" for step in cpu["jobs"]["test"]["steps"])
    gpu = yaml.safe_load((ROOT / ".github/workflows/gpu.yml").read_text())
    job = gpu["jobs"]["notebooks"]
    assert "gpu" in job["runs-on"] and "self-hosted" in job["runs-on"]
    assert any("profile gpu" in step.get("run", "") for step in job["steps"])
    assert any(step.get("uses", "").startswith("actions/upload-artifact")
               for step in job["steps"])
