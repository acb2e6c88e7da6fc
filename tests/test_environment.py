"""The pins are stated in one place and environment.yml agrees with it."""

from __future__ import annotations

import importlib.util
import re
import sys

import yaml
from _paths import ROOT


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


def test_environment_yml_states_the_same_pins():
    bootstrap = _load_bootstrap()
    project = bootstrap.pins()
    conda = _conda_pins()
    assert "mmcv" in project and "mmaction2" in project
    torch_pin = conda.pop("torch")
    assert bootstrap.DEFAULT_TORCH == f"torch=={torch_pin}"
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


def test_installed_versions_match_the_pins():
    from importlib.metadata import version

    project = _load_bootstrap().pins()
    for dist in ("mmengine", "mmcv", "mmdet", "mmaction2", "numpy"):
        assert version(dist) == project[dist], dist
