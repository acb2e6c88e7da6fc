#!/usr/bin/env python3
"""Create or update the project's virtual environment, with no manual step.

Run by `make setup` (and so by `make tutorial` and `make test`). Idempotent: a
second run only checks what is there. Standard library only, since it runs
before anything is installed.

Steps:
1. `.venv` with the interpreter that runs this script;
2. torch: `torch==2.13.0` (the CPU build) unless STAD_TORCH names another
   requirement, e.g. STAD_TORCH="torch==2.4.1" STAD_TORCH_INDEX=
   "https://download.pytorch.org/whl/cu121" for CUDA 12.1;
3. mmcv with its compiled ops, built from source once and cached in
   ``$STAD_CACHE_DIR`` (default ``~/.cache/stad-tutorial``) under a key made of
   the Python, torch and CUDA versions, so a later bootstrap installs it in
   seconds and another torch never picks up a stale wheel;
4. the project itself with its pinned dependencies (pyproject.toml);
5. opencv-contrib-python reinstalled last: mmengine pulls opencv-python,
   mmaction2 opencv-contrib-python, and both write the same `cv2` package.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TORCH = "torch==2.13.0"
# mmcv 2.1.0's setup.py breaks with setuptools >= 70; the environment itself keeps
# the project pin (setuptools<82) and this one is only used while building.
MMCV_BUILD_SETUPTOOLS = "setuptools>=60,<70"


def log(msg: str) -> None:
    print(f"[bootstrap] {msg}", flush=True)


def run(cmd: list[str], **kw) -> None:
    log("$ " + " ".join(cmd))
    subprocess.run(cmd, check=True, **kw)


def pins() -> dict[str, str]:
    """The `name==version` pins of pyproject.toml, lower-cased names."""
    text = (ROOT / "pyproject.toml").read_text()
    return {
        m.group(1).lower(): m.group(2)
        for m in re.finditer(r'"([A-Za-z0-9_.\-]+)==([^";\s]+)"', text)
    }


def venv_python(venv: Path) -> Path:
    if Path(sys.prefix).resolve() == venv:
        return Path(sys.executable)
    return venv / "bin" / "python"


def pip(venv: Path, *args: str, **kw) -> None:
    run([str(venv_python(venv)), "-m", "pip", "--disable-pip-version-check", *args],
        **kw)


def query(venv: Path, code: str) -> str:
    out = subprocess.run(
        [str(venv_python(venv)), "-c", code], capture_output=True, text=True
    )
    return out.stdout.strip() if out.returncode == 0 else ""


def cache_dir() -> Path:
    base = os.environ.get("STAD_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
        "stad-tutorial",
    )
    return Path(base)


def mmcv_key(venv: Path) -> str:
    """python, torch and CUDA versions: a wheel is reusable only when all match."""
    info = query(
        venv,
        "import sys, torch; print('py%d.%d' % sys.version_info[:2], "
        "'torch' + torch.__version__, 'cu' + (torch.version.cuda or 'none'))",
    )
    if not info:
        raise SystemExit("[bootstrap] torch does not import in the venv")
    return "-".join(info.split())


def cache_slot(version: str, key: str) -> Path:
    """Folder holding the mmcv `version` wheel built for `key` (see mmcv_key)."""
    return cache_dir() / "wheels" / f"mmcv-{version}" / key


def ensure_venv(venv: Path) -> None:
    if venv_python(venv).exists():
        return
    run([sys.executable, "-m", "venv", str(venv)])
    pip(venv, "install", "--quiet", "--upgrade", "pip<26", "wheel")


def ensure_torch(venv: Path) -> None:
    """Keep an installed torch (e.g. Colab's CUDA build) unless STAD_TORCH asks for
    another; with none installed, install STAD_TORCH or the CPU default."""
    requested = os.environ.get("STAD_TORCH")
    spec = requested or DEFAULT_TORCH
    index = os.environ.get("STAD_TORCH_INDEX")
    have = query(venv, "import torch; print(torch.__version__)")
    wanted = spec.split("==", 1)[1] if "==" in spec else None
    if have and (not requested or wanted is None or have.split("+")[0] == wanted):
        log(f"torch {have} already installed")
        return
    args = ["install", "--quiet", spec, "setuptools>=77.0.3,<82",
            "numpy==" + pins()["numpy"]]
    if index:
        args += ["--extra-index-url", index]
    pip(venv, *args)


def ensure_mmcv(venv: Path) -> None:
    version = pins()["mmcv"]
    have = query(
        venv,
        "import mmcv, mmcv.ops; from mmcv.ops import nms; print(mmcv.__version__)",
    )
    if have == version:
        log(f"mmcv {have} with compiled ops already installed")
        return
    slot = cache_slot(version, mmcv_key(venv))
    key = slot.name
    wheels = sorted(slot.glob("mmcv-*.whl")) if slot.is_dir() else []
    if not wheels:
        log(f"building mmcv {version} from source for {key} "
            "(about 11 minutes on 2 cores)")
        t0 = time.time()
        with tempfile.TemporaryDirectory(prefix="mmcv-build-") as tmp:
            pip(venv, "install", "--quiet", "--no-deps", MMCV_BUILD_SETUPTOOLS, "ninja")
            env = dict(os.environ, MMCV_WITH_OPS="1")
            env.setdefault("MAX_JOBS", str(os.cpu_count() or 2))
            try:
                pip(venv, "wheel", "--no-build-isolation", "--no-deps",
                    "-w", tmp, f"mmcv=={version}", env=env)
            finally:
                pip(venv, "install", "--quiet", "setuptools>=77.0.3,<82")
            built = sorted(Path(tmp).glob("mmcv-*.whl"))
            if not built:
                raise SystemExit("[bootstrap] mmcv build produced no wheel")
            slot.mkdir(parents=True, exist_ok=True)
            # Copy under a temporary name, then rename: a cache slot never holds
            # half a wheel, even if this run is killed.
            part = slot / (built[0].name + ".part")
            shutil.copyfile(built[0], part)
            os.replace(part, slot / built[0].name)
        wheels = sorted(slot.glob("mmcv-*.whl"))
        log(f"mmcv built in {time.time() - t0:.0f} s, cached in {slot}")
    else:
        log(f"using cached mmcv wheel {wheels[-1]}")
    pip(venv, "install", "--quiet", "--no-deps", str(wheels[-1]))


def ensure_project(venv: Path) -> None:
    pip(venv, "install", "--quiet", "-e", f"{ROOT}[test]")
    # Both opencv distributions own the `cv2` package; the one installed last wins.
    # Reinstall the contrib build (a superset of opencv-python) so mmaction2 gets it.
    if query(venv, "import cv2; print(hasattr(cv2, 'ximgproc'))") != "True":
        pip(venv, "install", "--quiet", "--no-deps", "--force-reinstall",
            "opencv-contrib-python==" + pins()["opencv-contrib-python"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", default=str(ROOT / ".venv"))
    parser.add_argument("--system", action="store_true",
                        help="install into the running interpreter (Colab, conda)")
    args = parser.parse_args()
    venv = Path(sys.prefix if args.system else args.venv).resolve()
    t0 = time.time()
    ensure_venv(venv)
    ensure_torch(venv)
    ensure_mmcv(venv)
    ensure_project(venv)
    log(f"environment ready in {time.time() - t0:.0f} s: {venv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
