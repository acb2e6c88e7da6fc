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


def test_no_module_is_shadowed_by_a_function():
    """`import stad_helpers.X.Y` gives module Y, whatever package X exports
    (a function `ava` exported from `convert/ava.py` used to hide the module)."""
    import importlib
    import pkgutil
    import types

    import stad_helpers

    packages = [stad_helpers] + [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(stad_helpers.__path__, "stad_helpers.")
        if info.ispkg]
    checked = 0
    for package in packages:
        for info in pkgutil.iter_modules(package.__path__):
            if info.name == "__main__":  # runs the CLI when imported
                continue
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            exported = getattr(package, info.name, module)
            assert isinstance(exported, types.ModuleType), (
                f"{package.__name__}.{info.name} is shadowed by {exported!r}")
            checked += 1
    assert checked > 40  # the walk found the package's modules
