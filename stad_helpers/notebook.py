"""Notebook conveniences: the project root, Colab detection, the install line, quiet
logs.

The repository's address is set once, in pyproject.toml's `[project.urls]`
(`Repository`); `repo_url` reads it, `tools/sync_urls.py` writes it into the
notebooks' Colab badges and install cell and into README.md.

Used in: every notebook (first code cell, and `project_root` in the parameters cell).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import sys
import warnings
from pathlib import Path

from .errors import StadError

REQUIRED = ("mmcv", "mmdet", "mmaction", "mmengine")
PROJECT_NAME = "stad-tutorial"
_PACKAGE_DIR = Path(__file__).resolve().parent


def _is_project_root(folder: Path) -> bool:
    """Whether `folder` is a stad-tutorial checkout: its pyproject.toml names the
    project and it holds the `stad_helpers` package."""
    pyproject = folder / "pyproject.toml"
    if not (pyproject.is_file() and (folder / "stad_helpers").is_dir()):
        return False
    return re.search(rf'(?m)^name\s*=\s*"{PROJECT_NAME}"', pyproject.read_text(
        encoding="utf-8")) is not None


def project_root() -> Path:
    """The checkout's root folder (absolute), whatever the kernel's working directory.

    Found from this package's location (an editable install, the `make setup`
    and Colab case), else from the working directory and its parents; the root is
    the folder whose pyproject.toml names `stad-tutorial`. Notebooks resolve their
    work dir against it (`project_root() / "work_dirs" / "tutorial"`).

    Raises:
        StadError: no checkout is found (the package was installed from a wheel
            and the kernel runs outside a checkout).
    """
    cwd = Path.cwd().resolve()
    for folder in (_PACKAGE_DIR.parent, cwd, *cwd.parents):
        if _is_project_root(folder):
            return folder
    raise StadError(
        f"no {PROJECT_NAME} checkout found above {_PACKAGE_DIR} or the working "
        "directory; install the project editable (`pip install -e <checkout>`, as "
        "`make setup` does) or start the notebook inside the checkout", cwd)


def repo_url() -> str:
    """The repository's address: pyproject.toml's `[project.urls] Repository`.

    Read from the checkout's pyproject.toml, else from the installed package's
    metadata (`Project-URL: Repository, ...`).

    Raises:
        StadError: neither states it.
    """
    try:
        pyproject = project_root() / "pyproject.toml"
    except StadError:
        pyproject = None
    if pyproject is not None:
        text = pyproject.read_text(encoding="utf-8")
        urls = re.search(r"(?ms)^\[project\.urls\]\s*$(.*?)(?=^\[|\Z)", text)
        found = urls and re.search(r'(?m)^Repository\s*=\s*"([^"]+)"', urls.group(1))
        if found:
            return found.group(1)
        raise StadError("[project.urls] has no `Repository = \"...\"` line", pyproject)
    from importlib import metadata

    for entry in metadata.metadata(PROJECT_NAME).get_all("Project-URL") or []:
        label, _, url = entry.partition(",")
        if label.strip().lower() == "repository":
            return url.strip()
    raise StadError(f"the installed {PROJECT_NAME} states no Repository URL")


def in_colab() -> bool:
    """Whether this kernel runs in Google Colab."""
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def colab_install_line() -> str:
    """The one line that installs the project into Colab's Python (keeps its torch).

    Every notebook's first code cell does the same by itself; this is the line for
    a notebook of your own.

    Raises:
        StadError: The repository URL is stated nowhere (`repo_url`).
    """
    return (f"!git clone -q {repo_url()} stad-tutorial && "
            "python stad-tutorial/tools/bootstrap.py --system")


def missing_packages() -> list[str]:
    """The OpenMMLab packages (import names) this Python cannot import."""
    return [name for name in REQUIRED if importlib.util.find_spec(name) is None]


def setup_notebook(quiet: bool = True) -> None:
    """Check the packages, keep training logs short, and say what to run if needed.

    Raises:
        StadError: an OpenMMLab package is missing; the message says how to install
            it here (Colab) or which kernel to pick (local checkout).
    """
    missing = missing_packages()
    if missing:
        where = ("Colab: run\n  " + colab_install_line()) if in_colab() else (
            "run `make setup` in the project folder and pick the .venv kernel")
        raise StadError(f"missing packages {', '.join(missing)}; {where}")
    if quiet:
        quiet_third_party_warnings()
        logging.getLogger("mmengine").setLevel(logging.WARNING)


# Packages whose UserWarnings are noise to a student (pkg_resources' deprecation
# notice on importing mmcv/mmengine, torch's API notices...).
NOISY_PACKAGES = ("mmengine", "mmcv", "mmdet", "mmaction", "torch", "pkg_resources",
                  "setuptools", "pycocotools")


def quiet_third_party_warnings() -> None:
    """Hide other packages' deprecation notices; keep `stad_helpers`' own warnings.

    Installed by the `stad` command and by `setup_notebook`. Ignored: deprecation
    and future warnings not raised in `stad_helpers` or the notebook itself, the
    `pkg_resources` notice, and user warnings of `NOISY_PACKAGES`. Warnings the
    project raises (low proposal recall, ...) still show.
    """
    own = r"(stad_helpers|__main__)\b"
    for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning):
        warnings.filterwarnings("ignore", category=category, module=f"(?!{own})")
    warnings.filterwarnings("ignore", message=r".*pkg_resources")
    noisy = "|".join(NOISY_PACKAGES)
    warnings.filterwarnings("ignore", category=UserWarning,
                            module=rf"({noisy})(\.|$)")
    warnings.filterwarnings("default", module=r"stad_helpers(\.|$)")
