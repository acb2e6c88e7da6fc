"""Paths and subprocess helpers the tests import.

They live here, not in conftest.py: pytest imports every directory's conftest.py
under the one module name `conftest`, so `from conftest import ...` gets whichever
was imported last (notebooks/conftest.py when the whole suite runs).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_python(code: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter of this venv (for import-time behaviour)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", code], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=ROOT)
