"""Notebook conveniences: Colab detection, the install line, quiet logs.

Used in: every notebook (first code cell).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import warnings

REPO_URL = "https://github.com/<you>/stad-tutorial"
REQUIRED = ("mmcv", "mmdet", "mmaction", "mmengine")


def in_colab() -> bool:
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def colab_install_line() -> str:
    """The one line that installs the project into Colab's Python."""
    return (f"!git clone -q {REPO_URL} && "
            "python stad-tutorial/tools/bootstrap.py --system")


def missing_packages() -> list[str]:
    return [name for name in REQUIRED if importlib.util.find_spec(name) is None]


def setup_notebook(quiet: bool = True) -> None:
    """Check the packages, keep training logs short, and say what to run if needed."""
    missing = missing_packages()
    if missing:
        where = ("Colab: run\n  " + colab_install_line()) if in_colab() else (
            "run `make setup` in the project folder and pick the .venv kernel")
        raise RuntimeError(f"missing packages {', '.join(missing)}; {where}")
    if quiet:
        warnings.filterwarnings("ignore", category=UserWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        logging.getLogger("mmengine").setLevel(logging.WARNING)
