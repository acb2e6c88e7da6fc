"""Versions: pyproject.toml declares ranges, requirements/lock.txt the exact tested
versions (pip constraints for .venv), environment.yml the same versions as the lock."""

from __future__ import annotations

import importlib.util
import re
import sys

import pytest
import yaml
from _paths import ROOT
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def _load_bootstrap():
    spec = importlib.util.spec_from_file_location("bootstrap",
                                                  ROOT / "tools/bootstrap.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bootstrap"] = module
    spec.loader.exec_module(module)
    return module


def _conda_pins() -> dict[str, str]:
    text = (ROOT / "environment.yml").read_text()
    env = yaml.safe_load(text)
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    pins = {}
    for line in pip_section:
        if "==" in line:
            name, version = line.split("==")
            pins[name.strip().lower()] = version.strip()
    # OpenMMLab packages are installed by bootstrap after torch; they are stated
    # in the comment block that follows "# bootstrap".
    block = text.split("# bootstrap", 1)[1]
    for name, version in re.findall(r"#\s+-\s+([\w.\-]+)==(\S+)", block):
        pins[name.lower()] = version
    return pins


def _pyproject_requirements() -> list[Requirement]:
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = [r for group in project["optional-dependencies"].values() for r in group]
    return [Requirement(r) for r in project["dependencies"] + extras]


def test_environment_yml_states_the_lock():
    bootstrap = _load_bootstrap()
    project = bootstrap.pins()
    conda = {canonicalize_name(k): v for k, v in _conda_pins().items()}
    assert "mmcv" in project and "mmaction2" in project
    assert bootstrap.DEFAULT_TORCH == f"torch=={conda['torch']}"
    assert conda == project, {
        k: (project.get(k), conda.get(k))
        for k in set(project) | set(conda) if project.get(k) != conda.get(k)
    }


def test_environment_yml_keeps_setuptools_below_82():
    assert '"setuptools>=77.0.3,<82"' in (ROOT / "environment.yml").read_text()
    assert '"setuptools>=77.0.3,<82"' in (ROOT / "pyproject.toml").read_text()


def test_mmcv_cache_is_keyed_by_python_torch_and_cuda(tmp_path, monkeypatch):
    bootstrap = _load_bootstrap()
    monkeypatch.setenv("STAD_CACHE_DIR", str(tmp_path))
    venv = ROOT / ".venv"
    key = bootstrap.mmcv_key(venv)
    import torch

    assert f"torch{torch.__version__}" in key
    assert "py{}.{}".format(*sys.version_info[:2]) in key
    assert ("cu" + (torch.version.cuda or "none")) in key
    slot = bootstrap.cache_slot("2.1.0", key)
    other = bootstrap.cache_slot("2.1.0", key.replace(torch.__version__, "9.9.9"))
    assert slot != other and slot.parent == other.parent
    assert str(slot).startswith(str(tmp_path))


def test_pyproject_declares_ranges_and_the_lock_fits_them():
    """A library declares ranges (a shared runtime keeps its numpy, ipykernel,
    jupyter); the lock pins one version inside each range, for every dependency."""
    lock = _load_bootstrap().pins()
    requirements = _pyproject_requirements()
    pinned = [str(r) for r in requirements
              if any(s.operator in ("==", "===") for s in r.specifier)]
    assert pinned == [], "exact pins belong in requirements/lock.txt"
    declared = {canonicalize_name(r.name) for r in requirements}
    for req in requirements:
        name = canonicalize_name(req.name)
        if name == "setuptools":  # kept in range, not locked (the build needs another)
            continue
        assert name in lock, f"{name} is not in requirements/lock.txt"
        assert req.specifier.contains(lock[name], prereleases=True), (str(req),
                                                                       lock[name])
    assert set(lock) <= declared, set(lock) - declared


@pytest.mark.parametrize("name", ["torch", "numpy", "ipykernel", "jupyterlab"])
def test_a_shared_runtime_keeps_its_own_kernel_packages(name):
    """--system (Colab) never takes the lock's pin for what runs the kernel, even
    when the runtime lacks it; .venv takes every pin."""
    bootstrap = _load_bootstrap()
    assert name in bootstrap.pins()
    assert name not in bootstrap.constraints(system=True, installed=set())
    assert bootstrap.constraints(system=False)[name] == bootstrap.pins()[name]


def test_a_shared_runtime_keeps_what_it_has_and_locks_what_it_lacks():
    bootstrap = _load_bootstrap()
    lock = bootstrap.pins()
    shared = bootstrap.constraints(system=True, installed={"matplotlib", "scipy"})
    assert "matplotlib" not in shared and "scipy" not in shared
    assert shared["mmdet"] == lock["mmdet"] and shared["av"] == lock["av"]
    venv = bootstrap.constraints(system=False, torch_requested=True)
    assert "torch" not in venv and venv["numpy"] == lock["numpy"]


def test_lock_lines_are_checked(tmp_path, monkeypatch):
    bootstrap = _load_bootstrap()
    bad = tmp_path / "lock.txt"
    bad.write_text("numpy==2.4.6\nmmdet>=3\n")
    monkeypatch.setattr(bootstrap, "LOCK", bad)
    with pytest.raises(SystemExit, match=r"lock.txt:2: not `name==version`"):
        bootstrap.pins()


def test_installed_versions_match_the_pins():
    from importlib.metadata import version

    lock = _load_bootstrap().pins()
    for dist in ("mmengine", "mmcv", "mmdet", "mmaction2", "numpy", "ipykernel"):
        assert version(dist) == lock[dist], dist
