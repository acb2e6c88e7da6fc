"""The code passes the project's linter (ruff, configured in pyproject.toml)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_finds_nothing():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which(
        "ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -e .[test])")
    done = subprocess.run([ruff, "check", "--no-cache", "."], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:]


def test_no_test_imports_from_conftest():
    """pytest imports tests/conftest.py and notebooks/conftest.py under the same
    module name, so `from conftest import X` breaks collection of the whole suite
    (it did, in CI). Shared helpers live in tests/_paths.py."""
    pattern = re.compile(r"^\s*(from conftest import|import conftest\b)", re.M)
    offenders = [str(p.relative_to(ROOT)) for p in sorted((ROOT / "tests").glob("*.py"))
                 if pattern.search(p.read_text())]
    assert offenders == [], offenders
