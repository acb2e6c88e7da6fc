"""`stad doctor`: check that the OpenMMLab stack really works on this machine.

Reports versions (python, torch, CUDA, mmcv, mmengine, mmdet, mmaction2), runs
mmcv's compiled ops (nms, RoIAlign) on tiny tensors, checks the GPU, video
writing (H.264 through PyAV / imageio-ffmpeg), OpenCV, that MMEngine
checkpoints reload under torch's `weights_only` loading, and which pretrained
checkpoints of the GPU profile are cached (`stad weights fetch` gets them).
Every failure comes with a one-line fix.

Used in: 00_setup.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import io
import platform
import re
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

OK, WARN, FAIL, INFO = "ok", "warn", "FAIL", "info"
SETUP_HINT = "run `make setup` (or `python tools/bootstrap.py`) in the project folder"


@dataclass(frozen=True)
class Check:
    """One line of the `stad doctor` report.

    Attributes:
        name: What was checked (`"mmcv"`, `"mmcv ops"`, `"gpu"`, ...).
        status: One of `OK` (`"ok"`), `WARN` (`"warn"`), `FAIL` (`"FAIL"`) or
            `INFO` (`"info"`); only `FAIL` makes `stad doctor` exit non-zero.
        detail: What was found, one line (versions, device names, the error).
        hint: The one-line fix printed under a check that is not `OK`; empty
            when there is nothing to do.
    """

    name: str
    status: str  # ok | warn | FAIL | info
    detail: str
    hint: str = ""

    @property
    def failed(self) -> bool:
        """True when `status` is `FAIL` (the check counts against the exit code)."""
        return self.status == FAIL


# A checkout has the lock beside pyproject.toml; an installed copy (Colab's
# `pip install git+...`) has neither, and its metadata holds pyproject's ranges.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOCK_FILE = PROJECT_ROOT / "requirements" / "lock.txt"


def _normalize(name: str) -> str:
    """A distribution name in PEP 503 form (`Opencv_Python` -> `opencv-python`)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def wanted_versions(lock: Path | None = None) -> tuple[dict[str, str], str]:
    """The versions the project asks for, and where that came from.

    In a checkout (`lock` exists, default `requirements/lock.txt` beside this
    package's `pyproject.toml`) these are the lock's exact pins, the versions
    `make setup` (tools/bootstrap.py) installs. Otherwise (an installed copy,
    e.g. on Colab) they are the ranges of `pyproject.toml` as recorded in the
    installed `stad-tutorial` metadata (PEP 508 `Requires-Dist`).

    Args:
        lock: The lock file to read; None means `LOCK_FILE` when this is a
            checkout (a `pyproject.toml` beside it), else none.

    Returns:
        (specs, source): `specs` maps a normalized distribution name
        (`"mmaction2"`) to a PEP 440 specifier string (`"==1.2.0"` or
        `">=1.2,<1.3"`); `source` names where they came from
        (`"requirements/lock.txt"` or `"pyproject ranges"`); `({}, "")` when
        neither is available. Lines of the lock that are not `name==version`
        are skipped (`make setup` reports them).
    """
    if lock is None and (PROJECT_ROOT / "pyproject.toml").is_file():
        lock = LOCK_FILE
    if lock is not None and Path(lock).is_file():
        specs = {}
        for line in Path(lock).read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
            if m:
                specs[_normalize(m.group(1))] = "==" + m.group(2)
        return specs, "requirements/lock.txt"
    try:
        reqs = md.requires("stad-tutorial") or []
    except md.PackageNotFoundError:
        return {}, ""
    specs = {}
    for req in reqs:
        m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(?:\[[^\]]*\])?\s*([^;]*)", req)
        if m and "extra ==" not in req and m.group(2).strip():
            specs[_normalize(m.group(1))] = re.sub(r"[\s()]", "", m.group(2))
    return specs, "pyproject ranges"


def version_satisfies(version: str, spec: str) -> bool | None:
    """Whether `version` (`"2.1.0"`) meets a PEP 440 `spec` (`">=2.0,<2.2"`).

    Returns None when it cannot be told (the `packaging` library is missing, or
    the version or spec does not parse); an `==` spec is then compared as text.
    """
    try:
        from packaging.specifiers import InvalidSpecifier, SpecifierSet
        from packaging.version import InvalidVersion, Version
    except ImportError:
        if spec.startswith("==") and "," not in spec:
            return version == spec[2:]
        return None
    try:
        return Version(version) in SpecifierSet(spec)
    except (InvalidSpecifier, InvalidVersion):
        return None


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def check_python() -> Check:
    """The interpreter's version: `FAIL` below Python 3.9."""
    v = platform.python_version()
    ok = sys.version_info[:2] >= (3, 9)
    return Check("python", OK if ok else FAIL, f"{v} ({sys.executable})",
                 "" if ok else "use Python 3.9-3.12")


def check_packages() -> list[Check]:
    """mmengine, mmcv, mmdet, mmaction2 (and setuptools' `pkg_resources`).

    Each must be installed and import (`FAIL` otherwise); a version outside what
    `wanted_versions()` asks for (the lock's pin in a checkout, pyproject's
    range elsewhere) is a `WARN` whose hint installs the wanted version.
    """
    wanted, source = wanted_versions()
    checks = []
    for dist, module in (("mmengine", "mmengine"), ("mmcv", "mmcv"),
                         ("mmdet", "mmdet"), ("mmaction2", "mmaction")):
        have = _version(dist)
        want = wanted.get(dist)
        if have is None:
            checks.append(Check(dist, FAIL, "not installed", SETUP_HINT))
            continue
        try:
            importlib.import_module(module)
            if module == "mmaction":
                importlib.import_module("mmaction.models")
        except Exception as exc:  # noqa: BLE001 - report any import failure
            checks.append(Check(dist, FAIL, f"{have}, import fails: {exc!r}"[:200],
                                SETUP_HINT))
            continue
        if want and version_satisfies(have, want) is False:
            checks.append(Check(dist, WARN, f"{have} ({source} wants {want})",
                                f"pip install '{dist}{want}' (or {SETUP_HINT})"))
        else:
            checks.append(Check(dist, OK, have))
    st = _version("setuptools") or "missing"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pkg_resources  # noqa: F401
        checks.append(Check("setuptools", OK, f"{st} (pkg_resources importable)"))
    except ImportError:
        checks.append(Check("setuptools", FAIL, f"{st}: no pkg_resources",
                            "pip install 'setuptools<82'"))
    return checks


def check_torch() -> list[Check]:
    """torch's version and CUDA build, and which GPUs are visible.

    Returns `[torch, gpu]` checks: torch `FAIL`s when it does not import; no
    visible GPU is `INFO` (everything runs on the CPU), with a hint only when a
    CUDA build of torch sees no device.
    """
    try:
        import torch
    except ImportError as exc:
        return [Check("torch", FAIL, str(exc), SETUP_HINT)]
    cuda = torch.version.cuda or "none (CPU build)"
    checks = [Check("torch", OK, f"{torch.__version__}, CUDA {cuda}")]
    if torch.cuda.is_available():
        names = ", ".join(torch.cuda.get_device_name(i)
                          for i in range(torch.cuda.device_count()))
        checks.append(Check("gpu", OK, f"{torch.cuda.device_count()} visible: {names}; "
                                       "models run on cuda (--device cpu to "
                                       "choose the CPU)"))
    else:
        hint = ("a CUDA build of torch is installed but no GPU is visible: check the "
                "driver / CUDA_VISIBLE_DEVICES") if torch.version.cuda else ""
        checks.append(Check("gpu", INFO, "none visible: models run on the cpu device "
                                         "(either profile; gpu = the R50 models, "
                                         "slow here)", hint))
    return checks


def check_mmcv_ops() -> Check:
    """Run nms and RoIAlign: they exist only when mmcv was built with its ops."""
    try:
        import torch
        from mmcv.ops import RoIAlign, nms
    except Exception as exc:  # noqa: BLE001
        return Check("mmcv ops", FAIL, f"not compiled: {exc!r}"[:200],
                     "rebuild mmcv with MMCV_WITH_OPS=1: rm -rf ~/.cache/stad-tutorial "
                     "&& make setup")
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    try:
        for dev in devices:
            boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30.]],
                                 device=dev)
            scores = torch.tensor([0.9, 0.8, 0.7], device=dev)
            _, keep = nms(boxes, scores, 0.5)
            if sorted(keep.tolist()) != [0, 2]:
                raise RuntimeError(f"nms kept {keep.tolist()}, expected [0, 2]")
            feat = torch.arange(16.0, device=dev).reshape(1, 1, 4, 4)
            rois = torch.tensor([[0, 0, 0, 4, 4.]], device=dev)
            out = RoIAlign((2, 2), 1.0, 2)(feat, rois)
            if tuple(out.shape) != (1, 1, 2, 2):
                raise RuntimeError(f"RoIAlign gave shape {tuple(out.shape)}")
    except Exception as exc:  # noqa: BLE001
        return Check("mmcv ops", FAIL, f"{exc!r}"[:200],
                     "mmcv was built for another torch/CUDA: rm -rf "
                     "~/.cache/stad-tutorial/wheels && make setup")
    return Check("mmcv ops", OK, f"nms and RoIAlign run on {', '.join(devices)}")


def check_checkpoint_reload() -> Check:
    """An MMEngine message hub (what checkpoints hold) survives torch.load."""
    try:
        import torch
        from mmengine.logging import MessageHub

        hub = MessageHub.get_instance("stad-doctor")
        hub.update_scalar("train/loss", 0.5)
        buf = io.BytesIO()
        torch.save({"message_hub": hub.state_dict()}, buf)
        buf.seek(0)
        importlib.import_module("mmengine.runner.checkpoint")  # installs the allowlist
        torch.load(buf)  # default weights_only (True on torch >= 2.6)
    except Exception as exc:  # noqa: BLE001
        return Check("checkpoints", FAIL, f"reload fails: {exc!r}"[:200],
                     "import stad_helpers before loading checkpoints (compat module)")
    return Check("checkpoints", OK, "MMEngine state reloads with weights_only loading")


def check_video() -> list[Check]:
    """Video writing (PyAV with libx264), ffmpeg, decord and OpenCV.

    PyAV/libx264, imageio-ffmpeg and a working OpenCV (contrib build, not
    shadowed by a second opencv wheel; `compat.opencv_problem`) `FAIL` when
    missing; decord is only a `WARN` (PyAV reads video without it).
    """
    checks = []
    try:
        import av

        av.codec.Codec("libx264", "w")
        checks.append(Check("video writing", OK, f"PyAV {av.__version__} with libx264"))
    except Exception as exc:  # noqa: BLE001
        checks.append(Check("video writing", FAIL, f"PyAV/libx264 missing: {exc!r}",
                            "pip install av (wheels include libx264)"))
    try:
        import imageio_ffmpeg

        checks.append(Check("ffmpeg", OK, imageio_ffmpeg.get_ffmpeg_exe()))
    except Exception as exc:  # noqa: BLE001
        checks.append(Check("ffmpeg", FAIL, f"{exc!r}"[:200],
                            "pip install imageio-ffmpeg"))
    try:
        import decord

        checks.append(Check("decord", OK, decord.__version__))
    except Exception as exc:  # noqa: BLE001
        checks.append(Check("decord", WARN, f"{exc!r}"[:200], "pip install decord"))
    from .compat import opencv_problem

    problem = opencv_problem()
    checks.append(
        Check("opencv", FAIL, problem,
              "pip install --force-reinstall --no-deps opencv-contrib-python")
        if problem else Check("opencv", OK, _cv2_version())
    )
    return checks


def _cv2_version() -> str:
    import cv2

    return f"{cv2.__version__} (contrib)"


def check_weights() -> list[Check]:
    """Which pretrained checkpoints of the GPU profile are in torch's hub cache
    (`stad_helpers.weights`); absent ones are information, not a failure."""
    try:
        from .weights import cache_dir, cached_report, profile_weights

        report = cached_report(profile_weights("gpu"))
    except Exception as exc:  # noqa: BLE001 - report, never crash the doctor
        return [Check("weights", WARN, f"cannot list them: {exc!r}"[:200],
                      "stad weights list")]
    return [
        Check("weights", OK if cached else INFO,
              f"{w.file_name} {'cached' if cached else 'not cached'} (gpu profile)",
              "" if cached else f"stad weights fetch (or copy it to {cache_dir()})")
        for w, cached in report
    ]


CHECKS: tuple[Callable[[], Check | list[Check]], ...] = (
    check_python, check_torch, check_packages, check_mmcv_ops,
    check_checkpoint_reload, check_video, check_weights,
)


def run_checks() -> list[Check]:
    """Run every check of `CHECKS` in order; never raises for a broken install
    (each problem becomes a `FAIL` or `WARN` check instead)."""
    out: list[Check] = []
    for fn in CHECKS:
        result = fn()
        out.extend(result if isinstance(result, list) else [result])
    return out


def format_report(checks: list[Check]) -> str:
    """The report `stad doctor` prints: one `[status] name detail` line per check,
    a `fix:` line under each one not `OK`, and `N checks, M failed` last."""
    lines = []
    for c in checks:
        lines.append(f"[{c.status:>4}] {c.name:<14} {c.detail}")
        if c.hint and c.status != OK:
            lines.append(f"{'':21}fix: {c.hint}")
    failed = sum(c.failed for c in checks)
    lines.append(f"{len(checks)} checks, {failed} failed")
    return "\n".join(lines)
