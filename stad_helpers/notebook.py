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


# ---- parameters --------------------------------------------------------------------
# What a notebook's parameters cell may set, and how each is checked (`check_params`).
# Names not listed here are checked by their ending: `_thr` a threshold in [0, 1],
# `_iters`/`_epochs`/`_stepsize`/`_videos` a whole number >= 1, `_fps` a number > 0.
# None is accepted only where a notebook documents what it means (`_OPTIONAL`).
_FRACTIONS = ("min_frame_map", "min_coverage")
_POSITIVE_INTS = ("_iters", "_epochs", "_stepsize", "_videos")
_OPTIONAL = {
    "min_frame_map": "the profile's floor",
    "min_coverage": "convert.proposals' default",
    "det_iters": "the config's own", "det_epochs": "the config's own",
    "action_iters": "the config's own", "action_epochs": "the config's own",
    "output_fps": "the video's rate / output_stepsize",
}
_FLAGS = ("run_everything", "download_multisports_tiny")
_EXPORT_FORMATS = ("cvat", "label-studio", "csv")
_PATHS = ("demo_video", "annotation_export", "videos_dir")


def from_root(path: str | os.PathLike | None) -> Path | None:
    """`path` as an absolute Path; a relative one is taken from the project root
    (`project_root()`), not from the kernel's working directory.

    A notebook's kernel runs in `notebooks/`, a terminal in the checkout: both
    then read `data="data/multisports-tiny"` as the same folder. None stays None.

    Raises:
        StadError: `path` is relative and no checkout is found (`project_root`).
    """
    if path is None:
        return None
    path = Path(path).expanduser()
    return path if path.is_absolute() else project_root() / path


def check_params(**params: object) -> None:
    """Check a notebook's parameters where they are read; a bad one is a `StadError`
    naming it, its value and what it accepts.

    Call it right after the `parameters` cell with every parameter of the cell
    (`check_params(profile=profile, device=device, data=data, ...)`), so that a
    typo stops the notebook there, not minutes later inside a progress bar or a
    config. Relative paths are checked as `from_root` reads them (from the
    project root); the notebook then uses `from_root(data)`.

    Rules, by name:
        profile: one of `pipeline.PROFILES` ("cpu", "gpu").
        device: None (CUDA when torch sees a GPU, else CPU), "cpu", "cuda" or
            "cuda:N" that torch has (`train.resolve_device`).
        data: None (the synthetic dataset, or the one notebook 01 was given:
            `data_used_by`) or a MultiSports-layout folder that holds
            `annotations/multisports_GT.pkl` (`data/layout.py`).
        work_dir: a path (str or Path); need not exist yet.
        demo_video, annotation_export, videos_dir: None or an existing path
            (`annotation_export` may be a list of paths).
        export_format: "cvat", "label-studio" or "csv".
        test_ratio: a fraction strictly between 0 and 1.
        min_frame_map, min_coverage and every `*_thr`: a number in [0, 1]
            (scores and mAPs are fractions here; MMAction2's logs print
            percent).
        `*_iters`, `*_epochs`, `*_stepsize`, `*_videos`: a whole number >= 1.
        `*_fps`: a number > 0 (12.5 is a frame rate too).
        None: refused for a number, except where the notebook documents what
            it means: min_frame_map, min_coverage, det_iters, det_epochs,
            action_iters, action_epochs, output_fps (`_OPTIONAL`).
        run_everything, download_multisports_tiny: True or False.
        action_attribute: None or a non-empty string.

    Raises:
        StadError: a value breaks its rule, or a name has no rule (a typo, or a
            new parameter to add here).
    """
    for name, value in params.items():
        _check_param(name, value)


def _check_param(name: str, value: object) -> None:
    def bad(expected: str) -> StadError:
        return StadError(f"parameter {name} = {value!r}: expected {expected}")

    optional = name in _OPTIONAL
    none_ok = f"None ({_OPTIONAL[name]}) or " if optional else ""
    if value is None and optional:
        return
    if name == "profile":
        from .pipeline import PROFILE_HELP, PROFILES

        if value not in PROFILES:
            raise bad(f"one of {sorted(PROFILES)} ({PROFILE_HELP})")
    elif name == "device":
        from .train import resolve_device

        if value is not None and not isinstance(value, str):
            raise bad("None, 'cpu', 'cuda' or 'cuda:N'")
        try:
            resolve_device(value)
        except StadError as exc:
            raise StadError(f"parameter device = {value!r}: {exc}") from None
    elif name == "data":
        if value is not None:
            if not isinstance(value, (str, os.PathLike)):
                raise bad("None or a folder path")
            check_data_folder(from_root(value), "parameter data")
    elif name == "work_dir":
        if not isinstance(value, (str, os.PathLike)) or not str(value):
            raise bad("a folder path (str or Path)")
    elif name in _PATHS:
        for path in value if isinstance(value, (list, tuple)) else [value]:
            if path is None and not isinstance(value, (list, tuple)):
                continue
            if not isinstance(path, (str, os.PathLike)):
                raise bad("None or a path")
            if not from_root(path).exists():
                raise StadError(f"parameter {name}: {from_root(path)} does not exist "
                                "(a relative path is read from the project root)")
    elif name == "export_format":
        if value not in _EXPORT_FORMATS:
            raise bad(f"one of {', '.join(_EXPORT_FORMATS)}")
    elif name == "test_ratio":
        if not _is_number(value) or not 0 < value < 1:
            raise bad("a fraction between 0 and 1 (share of videos held out), "
                      "e.g. 0.3")
    elif name in _FRACTIONS or name.endswith("_thr"):
        if not _is_number(value) or not 0 <= value <= 1:
            raise bad(f"{none_ok}a number in [0, 1] (a fraction, not percent)")
    elif name.endswith(_POSITIVE_INTS):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise bad(f"{none_ok}a whole number >= 1")
    elif name.endswith("_fps"):
        if not _is_number(value) or not value > 0:
            raise bad(f"{none_ok}a number of frames per second > 0")
    elif name in _FLAGS:
        if not isinstance(value, bool):
            raise bad("True or False")
    elif name == "action_attribute":
        if value is not None and (not isinstance(value, str) or not value):
            raise bad("None or the name of a CVAT attribute")
    else:
        raise StadError(f"parameter {name}: no rule to check it; add one to "
                        "stad_helpers.notebook.check_params")


def data_used_by(work_dir: str | os.PathLike) -> Path | None:
    """The dataset folder the tutorial in `work_dir` was last made from, when it
    is not the synthetic one; None for the synthetic dataset or a new work dir.

    Read from the `dataset` stage's manifest (`<work_dir>/stages/dataset.json`,
    written by `Tutorial`): notebook 01 makes or takes the dataset, and
    notebooks 02-04, left at `data = None`, continue on the same one instead of
    making the synthetic set again. A folder that no longer holds its
    annotation counts as none (None).
    """
    from .data import layout
    from .manifest import Manifest

    record = Manifest.load(Path(work_dir) / "stages" / "dataset.json")
    if record is None or record.settings.get("data") != "user":
        return None
    if not record.paths.get("gt"):
        return None
    gt = Path(work_dir) / record.paths["gt"]  # relative: inside the work dir
    # the GT lies at `layout.GT_REL` under the dataset's root
    root = Path(gt).parents[len(Path(layout.GT_REL).parts) - 1]
    return root if layout.gt_file(root).is_file() else None


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_data_folder(data: str | os.PathLike, what: str = "data") -> Path:
    """`data` as a Path, checked to be a MultiSports-layout folder with its
    annotation (`annotations/multisports_GT.pkl`, `data/layout.py`).

    Only existence is checked here (the annotation's content is validated when
    it is loaded, `MultiSportsGT.load`).

    Args:
        data: The dataset folder.
        what: How the caller names it in the message ("parameter data", "--data").

    Returns:
        `Path(data)`.

    Raises:
        StadError: the folder does not exist, is a file, or has no annotation;
            the message names `what` and says what to do.
    """
    from .data import layout

    folder = Path(data)
    hint = ("point it at a MultiSports-layout folder (data/README.md), or leave "
            "it out (None) for the synthetic dataset")
    if not folder.exists():
        raise StadError(f"{what}: this folder does not exist; {hint}", folder)
    if not folder.is_dir():
        raise StadError(f"{what}: not a folder; {hint}", folder)
    gt = layout.gt_file(folder)
    if not gt.is_file():
        raise StadError(
            f"{what}: annotation missing: no {gt.relative_to(folder).as_posix()} "
            f"in this folder; {hint}", folder)
    return folder


def _size(n: int) -> str:
    """Bytes as `tree -h` would say them ("812 B", "12.3 KiB", "1.4 MiB")."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{n} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # unreachable


def _files(n: int) -> str:
    return f"{n} file" if n == 1 else f"{n} files"


def _folder_total(folder: Path) -> tuple[int, int]:
    """(files, bytes) of everything under `folder`."""
    files = total = 0
    for root, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            if name.startswith("."):
                continue
            files += 1
            total += os.stat(os.path.join(root, name)).st_size
    return files, total


def tree_lines(path: str | os.PathLike, max_entries: int = 20,
               max_depth: int | None = None) -> list[str]:
    """The lines `tree` prints (one str per line, no newlines); same arguments
    and errors as `tree`.

    Raises:
        StadError: `path` does not exist.
        ValueError: `max_entries < 1`.
    """
    root = Path(path)
    if not root.exists():
        raise StadError("tree: no such file or folder", root)
    if max_entries < 1:
        raise ValueError(f"max_entries must be >= 1, got {max_entries}")
    if root.is_file():
        return [f"{root.name}  ({_size(root.stat().st_size)})"]
    files, total = _folder_total(root)
    lines = [f"{root.name}/  ({_files(files)}, {_size(total)})"]

    def walk(folder: Path, prefix: str, depth: int) -> None:
        entries = sorted((p for p in folder.iterdir() if not p.name.startswith(".")),
                         key=lambda p: p.name)
        shown, rest = entries[:max_entries], entries[max_entries:]
        for i, entry in enumerate(shown):
            last = i == len(shown) - 1 and not rest
            branch, indent = ("└── ", "    ") if last else ("├── ", "│   ")
            if entry.is_dir():
                n, size = _folder_total(entry)
                deeper = max_depth is None or depth < max_depth
                lines.append(f"{prefix}{branch}{entry.name}/  ({_files(n)}, "
                             f"{_size(size)})")
                if deeper:
                    walk(entry, prefix + indent, depth + 1)
            else:
                lines.append(f"{prefix}{branch}{entry.name}  "
                             f"({_size(entry.stat().st_size)})")
        if rest:
            size = sum(_folder_total(p)[1] if p.is_dir() else p.stat().st_size
                       for p in rest)
            lines.append(f"{prefix}└── … {len(rest)} more ({_size(size)})")

    walk(root, "", 1)
    return lines


def tree(path: str | os.PathLike, max_entries: int = 20,
         max_depth: int | None = None) -> None:
    """Print a folder like the `tree` command, with sizes.

    Each folder shows its number of files and total size (binary units: KiB,
    MiB); hidden entries (".name", e.g. the `.stad-output` markers) are left
    out, as `tree` does; entries are sorted by name, and a folder with more than
    `max_entries` entries shows the first ones and "… N more (size)".
    `max_depth` (None: no limit) stops descending below that level (1: the
    folder's own entries). A file prints as one line with its size. Used after
    each step of the notebooks to show what it wrote.

    Raises:
        StadError: `path` does not exist.
        ValueError: `max_entries` < 1.
    """
    print("\n".join(tree_lines(path, max_entries, max_depth)))
