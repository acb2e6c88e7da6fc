#!/usr/bin/env python3
"""Create or update the project's virtual environment, with no manual step.

Run by `make setup` (and so by `make tutorial` and `make test`), and by every
notebook's first cell in a runtime without the project (Colab: `install_into_kernel`).
Idempotent: a second run only checks what is there. Standard library only, since it
runs before anything is installed.

Versions: pyproject.toml declares ranges; requirements/lock.txt holds the exact
tested versions. Into `.venv` everything is installed with the lock as pip
constraints (`-c`). With `--system` (Colab, conda) the interpreter's own packages
are kept: the lock applies only to what it lacks, never to torch, numpy, ipykernel
or jupyter* (see `constraints`).

Steps:
1. `.venv` with the interpreter that runs this script;
2. torch: the lock's version (the CPU build) unless STAD_TORCH names another
   requirement, e.g. STAD_TORCH="torch==2.4.1" STAD_TORCH_INDEX=
   "https://download.pytorch.org/whl/cu121" for CUDA 12.1;
3. mmcv with its compiled ops, built from source once and cached in
   ``$STAD_CACHE_DIR`` (default ``~/.cache/stad-tutorial``) under a key made of
   the Python, torch and CUDA versions, so a later bootstrap installs it in
   seconds and another torch never picks up a stale wheel;
4. the project itself, editable, with its dependencies (pyproject.toml's
   ranges, the lock's versions);
5. opencv-contrib-python reinstalled last: mmengine pulls opencv-python,
   mmaction2 opencv-contrib-python, and both write the same `cv2` package.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements" / "lock.txt"
# A shared runtime's own builds of these run its kernel: never pinned there.
RUNTIME_OWNED = ("torch", "numpy", "ipykernel", "jupyter*")
# mmcv 2.1.0's setup.py breaks with setuptools >= 70; the environment itself keeps
# the project pin (setuptools<82) and this one is only used while building.
MMCV_BUILD_SETUPTOOLS = "setuptools>=60,<70"


def log(msg: str) -> None:
    print(f"[bootstrap] {msg}", flush=True)


def run(cmd: list[str], **kw) -> None:
    log("$ " + " ".join(cmd))
    subprocess.run(cmd, check=True, **kw)


def normalize(name: str) -> str:
    """A distribution name in PEP 503 form (`Opencv_Python` -> `opencv-python`)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins() -> dict[str, str]:
    """The `name==version` lines of requirements/lock.txt, by normalized name."""
    out = {}
    for number, line in enumerate(LOCK.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        if not m:
            raise SystemExit(f"[bootstrap] {LOCK}:{number}: not `name==version`: "
                             f"{line!r}")
        out[normalize(m.group(1))] = m.group(2)
    return out


DEFAULT_TORCH = "torch==" + pins()["torch"]


def runtime_owned(name: str) -> bool:
    """Whether a shared runtime keeps its own `name` (see RUNTIME_OWNED)."""
    name = normalize(name)
    return any(name == p or (p.endswith("*") and name.startswith(p[:-1]))
               for p in RUNTIME_OWNED)


def constraints(system: bool, installed: set[str] = frozenset(),
                torch_requested: bool = False) -> dict[str, str]:
    """The lock's pins to pass to pip as constraints.

    `.venv` (system=False): all of them, but torch when STAD_TORCH picks another
    (`torch_requested`). A shared interpreter (system=True): only packages it has
    not `installed` (normalized names), and never a RUNTIME_OWNED one.
    """
    out = {}
    for name, version in pins().items():
        if name == "torch" and (torch_requested or system):
            continue
        if system and (runtime_owned(name) or name in installed):
            continue
        out[name] = version
    return out


def write_constraints(pinned: dict[str, str], folder: str) -> Path:
    path = Path(folder) / "constraints.txt"
    path.write_text("".join(f"{n}=={v}\n" for n, v in sorted(pinned.items())))
    return path


def venv_python(venv: Path) -> Path:
    if Path(sys.prefix).resolve() == venv:
        return Path(sys.executable)
    return venv / "bin" / "python"


def pip(venv: Path, *args: str, **kw) -> None:
    run([str(venv_python(venv)), "-m", "pip", "--disable-pip-version-check", *args],
        **kw)


def installed(venv: Path) -> set[str]:
    """Normalized names of the distributions installed in `venv`'s interpreter."""
    names = query(venv, "import importlib.metadata as m\n"
                        "for d in m.distributions(): print(d.metadata['Name'])")
    return {normalize(n) for n in names.split()}


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


def ensure_torch(venv: Path, system: bool = False) -> None:
    """Keep an installed torch (e.g. Colab's CUDA build) unless STAD_TORCH asks for
    another; with none installed, install STAD_TORCH or the CPU default (with the
    lock's numpy into .venv; a shared interpreter keeps its numpy)."""
    requested = os.environ.get("STAD_TORCH")
    spec = requested or DEFAULT_TORCH
    index = os.environ.get("STAD_TORCH_INDEX")
    have = query(venv, "import torch; print(torch.__version__)")
    wanted = spec.split("==", 1)[1] if "==" in spec else None
    if have and (not requested or wanted is None or have.split("+")[0] == wanted):
        log(f"torch {have} already installed")
        return
    args = ["install", "--quiet", spec, "setuptools>=77.0.3,<82"]
    if not system:
        args.append("numpy==" + pins()["numpy"])
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


def ensure_project(venv: Path, system: bool = False) -> None:
    """The project, editable, with its dependencies at the lock's versions (.venv,
    with the test extra) or keeping what a shared interpreter has (`system`)."""
    have = installed(venv)
    pinned = constraints(system, have if system else frozenset(),
                         torch_requested=bool(os.environ.get("STAD_TORCH")))
    target = str(ROOT) if system else f"{ROOT}[test]"
    with tempfile.TemporaryDirectory(prefix="stad-constraints-") as tmp:
        pip(venv, "install", "--quiet", "-c", str(write_constraints(pinned, tmp)),
            "-e", target)
    # Both opencv distributions own the `cv2` package; the one installed last wins.
    # Reinstall the contrib build (a superset of opencv-python) so mmaction2 gets it.
    if query(venv, "import cv2; print(hasattr(cv2, 'ximgproc'))") != "True":
        version = query(venv, "from importlib.metadata import version; "
                              "print(version('opencv-contrib-python'))")
        if not (system and version):
            version = pins()["opencv-contrib-python"]
        pip(venv, "install", "--quiet", "--no-deps", "--force-reinstall",
            "opencv-contrib-python==" + version)


def ensure_project_only(venv: Path) -> None:
    """Only the project, editable, without its dependencies and without build
    isolation (the interpreter's setuptools builds it): seconds, and offline. For
    tests, and for an interpreter that already has the stack."""
    pip(venv, "install", "--quiet", "--no-deps", "--no-build-isolation", "-e",
        str(ROOT))


def install(venv: Path, system: bool, no_deps: bool = False) -> None:
    """Every step, into `venv` (a .venv to create, or the running interpreter's
    prefix when `system`)."""
    t0 = time.time()
    ensure_venv(venv)
    if no_deps:
        ensure_project_only(venv)
    else:
        ensure_torch(venv, system)
        ensure_mmcv(venv)
        ensure_project(venv, system)
    log(f"environment ready in {time.time() - t0:.0f} s: {venv}")


def in_colab() -> bool:
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def imported_versions() -> dict[str, str]:
    """Installed version of each distribution that provides a module this process
    has already imported (what a running kernel holds in memory)."""
    from importlib import metadata

    try:
        providers = metadata.packages_distributions()
    except AttributeError:  # Python 3.9
        return {}
    tops = {name.split(".", 1)[0] for name in list(sys.modules)}
    versions = {}
    for top in tops:
        for dist in providers.get(top, ()):
            try:
                versions[normalize(dist)] = metadata.version(dist)
            except metadata.PackageNotFoundError:
                pass
    return versions


def restart_reasons(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """`name old -> new` for each already-imported distribution the install changed:
    the running kernel still holds the old one, so it must restart."""
    return [f"{name} {old} -> {after.get(name, 'removed')}"
            for name, old in sorted(before.items()) if after.get(name) != old]


def install_into_kernel() -> bool:
    """Install the project into the running interpreter (a notebook kernel without
    it) and make it importable here; print whether the kernel must restart.

    Runs in Colab, or anywhere STAD_REPO names this checkout (STAD_NO_DEPS=1: only
    the project, `pip install --no-deps -e`). Elsewhere it installs nothing and
    exits with what to do instead (a local checkout has its own .venv kernel).
    Returns True when the kernel can continue; raises SystemExit when it must
    restart first (so "Run all" stops there).
    """
    if not (in_colab() or os.environ.get("STAD_REPO")):
        raise SystemExit(
            f"This kernel's Python ({sys.executable}) does not have the project. "
            f"Run `make setup` in {ROOT} and pick the kernel .venv/bin/python; or, "
            f"to install into this Python, set STAD_REPO={ROOT} and run the cell "
            "again.")
    no_deps = os.environ.get("STAD_NO_DEPS", "") not in ("", "0")
    log(f"installing {ROOT} into {sys.prefix}"
        + (" (project only)" if no_deps else "; keeping this runtime's torch"))
    before = imported_versions()
    install(Path(sys.prefix).resolve(), system=True, no_deps=no_deps)
    importlib.invalidate_caches()
    after = _versions(before)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))  # the editable install's .pth is read at start
    reasons = restart_reasons(before, after)
    if reasons:
        raise SystemExit(
            "RESTART NEEDED: the install replaced packages this kernel had already "
            f"imported ({', '.join(reasons)}). Restart the kernel (Colab: Runtime -> "
            "Restart session), then run this cell again; it will not install again.")
    print("Installed. No restart needed: carry on with the next cell.", flush=True)
    return True


def _versions(names) -> dict[str, str]:
    """Installed versions of `names` as they are on disk now."""
    from importlib import metadata

    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "removed"
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", default=str(ROOT / ".venv"))
    parser.add_argument("--system", action="store_true",
                        help="install into the running interpreter (Colab, conda)")
    parser.add_argument("--no-deps", action="store_true",
                        help="only the project (pip --no-deps -e): for an interpreter "
                             "that already has the stack, and for tests")
    args = parser.parse_args()
    venv = Path(sys.prefix if args.system else args.venv).resolve()
    install(venv, args.system, args.no_deps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
