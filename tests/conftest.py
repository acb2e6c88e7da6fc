"""Shared fixtures. Importing stad_helpers first installs the compat fixes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import stad_helpers  # noqa: F401  (compat fixes before any OpenMMLab import)

ROOT = Path(__file__).resolve().parent.parent


def run_python(code: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter of this venv (for import-time behaviour)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", code], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=ROOT)


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT
