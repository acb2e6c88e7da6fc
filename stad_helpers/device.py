"""Where models run: `--device` checked, and MMEngine's Runner made to obey it.

`resolve_device` turns a device name (or none) into "cpu", "cuda" or "cuda:N",
refusing what this machine cannot do; `use_device` makes every MMEngine Runner
built inside it run there (MMEngine itself has no such setting).

Used in: 02_person_detector, 03_action_detector, 04_inference_demo (through
`train`, `evaluate`, `demo` and the CLI's `--device`).
"""

from __future__ import annotations

import contextlib

from .errors import StadError


def resolve_device(device: str | None = None) -> str:
    """Where models run: `device` checked, or "cuda" when torch sees a GPU, else "cpu".

    Accepts "cpu", "cuda" and "cuda:N". Raises `StadError` for another name, or
    for CUDA when torch sees no GPU (or not GPU N). Independent of the profile:
    either profile's models run on either device.

    Raises:
        StadError: An unknown device name, or CUDA asked for but unavailable.
    """
    import torch

    if not device:
        return "cuda" if torch.cuda.is_available() else "cpu"
    name = str(device).strip().lower()
    kind, _, index = name.partition(":")
    if kind == "cpu" and not index:
        return "cpu"
    if kind != "cuda" or (index and not index.isdigit()):
        raise StadError(f"unknown device {device!r}; expected cpu, cuda or cuda:N")
    if not torch.cuda.is_available():
        build = (f"torch {torch.__version__} is a CUDA {torch.version.cuda} build "
                 "but sees no GPU") if torch.version.cuda else (
                 f"torch {torch.__version__} is a CPU-only build")
        raise StadError(f"device {device!r} asked for, but {build}; use --device cpu "
                        "(device = 'cpu' in a notebook)")
    if index and int(index) >= torch.cuda.device_count():
        raise StadError(f"device {device!r} asked for, but torch sees "
                        f"{torch.cuda.device_count()} GPU(s)")
    return name


@contextlib.contextmanager
def use_device(device: str | None = None):
    """Run the MMEngine Runners built and run inside this block on `device`.

    MMEngine's Runner has no device setting: it moves the model to
    `mmengine.device.get_device()` (CUDA whenever torch sees a GPU), and its
    `autocast` asks the same function. Inside this block both answer `device`
    (`resolve_device`), so `--device cpu` also holds on a GPU machine. Yields the
    resolved device. Single-process runs only: under torchrun each process takes
    its own GPU, as MMEngine decides.

    Raises:
        StadError: An unknown device, or CUDA asked for but not available
            (`resolve_device`), when the block is entered.
    """
    import mmengine.runner.amp as amp
    import mmengine.runner.runner as runner_module
    import torch

    resolved = resolve_device(device)
    saved = runner_module.get_device, amp.get_device
    runner_module.get_device = lambda: resolved
    amp.get_device = lambda: torch.device(resolved).type
    try:
        yield resolved
    finally:
        runner_module.get_device, amp.get_device = saved
