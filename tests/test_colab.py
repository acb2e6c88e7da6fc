"""Colab in one click: every notebook's badge and install cell are made from the one
repository URL (pyproject.toml), the install cell works in a Python without the
project, and paths resolve from the project root whatever the working directory."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from _paths import ROOT

from stad_helpers.notebook import colab_install_line, project_root, repo_url

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"stad_{name}",
                                                  ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


sync_urls = _load("sync_urls")


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def _first_code(path: Path) -> str:
    return "".join(next(c for c in _cells(path) if c["cell_type"] == "code")["source"])


# -- one URL -------------------------------------------------------------------------

def test_badges_install_cells_and_readme_agree_with_pyproject():
    assert sync_urls.sync(ROOT, write=False) == [], (
        "run `python3 tools/sync_urls.py`")
    url = sync_urls.repo_url(ROOT)
    assert "<you>" not in url and repo_url() == url
    readme = (ROOT / "README.md").read_text()
    assert colab_install_line().lstrip("!") in readme
    for path in NOTEBOOKS:
        title = "".join(_cells(path)[0]["source"])
        assert (f"(https://colab.research.google.com/github/"
                f"{url.removeprefix('https://github.com/')}/blob/main/notebooks/"
                f"{path.name})") in title, path.name
        assert f'REPO_URL = "{url}"' in _first_code(path), path.name


def test_a_fork_changes_one_line(tmp_path):
    """After the Repository line changes, sync rewrites badges, install cells and
    README; everything else in the notebooks stays byte for byte."""
    (tmp_path / "notebooks").mkdir()
    for path in NOTEBOOKS:
        shutil.copy(path, tmp_path / "notebooks" / path.name)
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    pyproject = (ROOT / "pyproject.toml").read_text()
    old = sync_urls.repo_url(ROOT)
    fork = "https://github.com/a-teacher/stad-workshop"
    assert pyproject.count(f'Repository = "{old}"') == 1
    (tmp_path / "pyproject.toml").write_text(
        pyproject.replace(f'Repository = "{old}"', f'Repository = "{fork}"'))

    changed = sync_urls.sync(tmp_path)
    assert sorted(p.name for p in changed) == sorted(
        [p.name for p in NOTEBOOKS] + ["README.md"])
    assert sync_urls.sync(tmp_path, write=False) == []
    readme = (tmp_path / "README.md").read_text()
    assert old not in readme and f"!git clone -q {fork} stad-tutorial" in readme
    for path in NOTEBOOKS:
        before, after = _cells(path), _cells(tmp_path / "notebooks" / path.name)
        text = json.dumps(after)
        assert old not in text, path.name
        assert (f"colab.research.google.com/github/a-teacher/stad-workshop/blob/main/"
                f"notebooks/{path.name}") in "".join(after[0]["source"])
        assert f'REPO_URL = "{fork}"' in _first_code(tmp_path / "notebooks" / path.name)
        first_code = next(i for i, c in enumerate(before) if c["cell_type"] == "code")
        assert [c for i, c in enumerate(before) if i not in (0, first_code)] == [
            c for i, c in enumerate(after) if i not in (0, first_code)]


def test_sync_refuses_an_address_colab_cannot_open(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[project.urls]\nRepository = "https://gitlab.com/x/stad-tutorial"\n')
    with pytest.raises(SystemExit, match="github.com/OWNER/NAME"):
        sync_urls.repo_url(tmp_path)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_install_cell_comes_first_and_the_work_dir_is_under_the_root(path):
    code = [c for c in _cells(path) if c["cell_type"] == "code"]
    assert "".join(code[0]["source"]) == sync_urls.install_cell(repo_url())
    params = next(c for c in code if "parameters" in c["metadata"].get("tags", []))
    work = [line for line in "".join(params["source"]).splitlines()
            if line.startswith("work_dir =")]
    assert len(work) == 1 and 'project_root() / "work_dirs"' in work[0], work


# -- the project root ------------------------------------------------------------------

def test_project_root_does_not_depend_on_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert project_root() == ROOT
    monkeypatch.chdir(ROOT / "notebooks")
    assert project_root() == ROOT
    assert (project_root() / "pyproject.toml").is_file()


# -- the install cell in a Python without the project ----------------------------------

OPENMMLAB = ("mmcv", "mmdet", "mmaction", "mmengine")


BUILD_TOOLS = ("pip", "setuptools", "pkg_resources", "_distutils_hack", "wheel",
               "packaging")


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory) -> tuple[Path, dict]:
    """A fresh venv without stad_helpers, offline. It borrows this venv's pip and
    build backend (a folder of links, on its path through a .pth file, that holds
    nothing else: not this venv's stad-tutorial); the OpenMMLab packages are empty
    stand-ins (the cheap install mode does not install them; setup_notebook looks
    for them)."""
    import sysconfig

    base = tmp_path_factory.mktemp("bare")
    venv.create(base / "venv", with_pip=False)
    python = base / "venv" / "bin" / "python"
    ours = Path(sysconfig.get_paths()["purelib"])
    tools = base / "build-tools"
    tools.mkdir()
    for name in BUILD_TOOLS:
        for entry in [ours / name, *ours.glob(f"{name}-*.dist-info")]:
            if entry.exists():
                (tools / entry.name).symlink_to(entry)
    site = Path(_run(python, "import sysconfig; print(sysconfig.get_paths()"
                             "['purelib'])", {}, base).stdout.strip())
    (site / "build-tools.pth").write_text(f"{tools}\n")
    stubs = base / "stubs"
    for name in OPENMMLAB:
        (stubs / name).mkdir(parents=True)
        (stubs / name / "__init__.py").write_text("")
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "STAD_REPO", "STAD_NO_DEPS", "VIRTUAL_ENV")}
    env.update(PYTHONPATH=str(stubs), PIP_NO_INDEX="1",
               PIP_DISABLE_PIP_VERSION_CHECK="1")
    return python, env


def _run(python: Path, code: str, env: dict, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([python, "-c", code], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=600)


def _imports_stad_helpers(python: Path, env: dict, cwd: Path) -> str | None:
    """Where a fresh process of `python` imports stad_helpers from, or None."""
    done = _run(python, "import stad_helpers; print(stad_helpers.__file__)", env, cwd)
    return done.stdout.strip() if done.returncode == 0 else None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_cell_installs_the_project_into_a_bare_python(bare_python, path,
                                                             tmp_path):
    python, env = bare_python
    subprocess.run([python, "-m", "pip", "uninstall", "-q", "-y", "stad-tutorial"],
                   env=env, capture_output=True)
    assert _imports_stad_helpers(python, env, tmp_path) is None

    cell = _first_code(path)
    check = "\nprint('ROOT', project_root())\n"
    done = _run(python, cell + check,
                dict(env, STAD_REPO=str(ROOT), STAD_NO_DEPS="1"), tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "No restart needed" in done.stdout, done.stdout
    assert f"ROOT {ROOT}" in done.stdout
    assert not (tmp_path / "stad-tutorial").exists(), "cloned instead of STAD_REPO"
    # A new kernel (after a restart) imports the installed checkout.
    where = _imports_stad_helpers(python, env, tmp_path)
    assert where is not None and Path(where).parent == ROOT / "stad_helpers"


def test_first_cell_outside_colab_says_what_to_do_and_installs_nothing(bare_python):
    python, env = bare_python
    subprocess.run([python, "-m", "pip", "uninstall", "-q", "-y", "stad-tutorial"],
                   env=env, capture_output=True)
    done = _run(python, _first_code(NOTEBOOKS[0]), env, ROOT / "notebooks")
    assert done.returncode != 0
    assert "make setup" in done.stderr and f"STAD_REPO={ROOT}" in done.stderr
    assert _imports_stad_helpers(python, env, ROOT / "notebooks") is None


def test_restart_is_needed_only_when_an_imported_package_changed():
    bootstrap = _load("bootstrap")
    imported = bootstrap.imported_versions()
    from importlib.metadata import version

    assert imported["pytest"] == version("pytest")  # imported by this process
    assert bootstrap.restart_reasons(imported, dict(imported)) == []
    changed = dict(imported, numpy="0.0.1")
    assert bootstrap.restart_reasons(dict(imported, numpy="2.4.6"), changed) == [
        "numpy 2.4.6 -> 0.0.1"]
    assert bootstrap.restart_reasons({"ipykernel": "6.0"}, {}) == [
        "ipykernel 6.0 -> removed"]
