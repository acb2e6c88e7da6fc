"""Work on many processes: who am I, which videos are mine, and meeting the others.

Under `torchrun --nproc-per-node N` (or MMEngine's `slurm` launcher) every process
runs the same command; `dist_env` says which one this is, `shard_by_weight` splits
the videos so each process gets about the same number of frames, and
`init_distributed` starts the process group (gloo on CPU, NCCL on GPUs) through
MMEngine's `init_dist`. Outside torchrun everything here is the 1-process case:
rank 0 of 1, every video.

Used in: `stad detect`, `stad demo` (sharded over videos); the README's "More than
one machine".
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Sequence

from .errors import StadError

LAUNCHERS = ("none", "pytorch", "slurm")
"""MMEngine's launcher names that `init_distributed` accepts."""

DEFAULT_TIMEOUT_S = 6 * 3600
"""How long a process waits for the others at a barrier (seconds). Ranks finish
their shards at different times, and NCCL's default (10 minutes) is shorter than
the gap on a dataset of thousands of videos."""


def dist_env() -> tuple[int, int, int]:
    """(rank, world_size, local_rank) from torchrun's environment.

    torchrun sets `RANK`, `WORLD_SIZE` and `LOCAL_RANK` (MMEngine's slurm launcher
    sets them from SLURM's variables in `init_dist`); outside torchrun this is
    `(0, 1, 0)`.

    Returns:
        `rank` (0-based, over all machines), `world_size` (processes in all) and
        `local_rank` (0-based on this machine: the GPU index to use).

    Raises:
        StadError: A variable is set but not an integer, or the three disagree
            (rank or local rank outside 0..world_size-1).
    """
    values = []
    for name, default in (("RANK", 0), ("WORLD_SIZE", 1), ("LOCAL_RANK", 0)):
        text = os.environ.get(name)
        try:
            values.append(default if text is None else int(text))
        except ValueError:
            raise StadError(f"environment variable {name}={text!r} is not an "
                            "integer (set by torchrun)") from None
    rank, world_size, local_rank = values
    if world_size < 1 or not 0 <= rank < world_size or not (
            0 <= local_rank < world_size):
        raise StadError(f"inconsistent torchrun environment: RANK={rank}, "
                        f"WORLD_SIZE={world_size}, LOCAL_RANK={local_rank}")
    return rank, world_size, local_rank


def shard_by_weight(weights: Sequence[int], world_size: int) -> list[list[int]]:
    """Split items over `world_size` processes so their total weights are close.

    Greedy longest-processing-time: the heaviest item goes to the lightest
    process so far (ties: the lower rank; equal weights: the earlier item), which
    keeps the heaviest shard within 4/3 of the best possible. Deterministic: every
    process computes the same split from the same weights.

    Args:
        weights: One non-negative weight per item (for videos: frame counts).
        world_size: Number of processes, >= 1.

    Returns:
        `world_size` lists of item indices (into `weights`), each sorted
        ascending, together a partition of `range(len(weights))`. A process may
        get none when there are fewer items than processes.

    Raises:
        StadError: `world_size < 1`, or a negative weight.
    """
    if world_size < 1:
        raise StadError(f"world size must be at least 1, got {world_size}")
    for i, w in enumerate(weights):
        if w < 0:
            raise StadError(f"item {i} has a negative weight ({w})")
    order = sorted(range(len(weights)), key=lambda i: (-weights[i], i))
    loads = [(0, rank) for rank in range(world_size)]  # a heap: (load, rank)
    shards: list[list[int]] = [[] for _ in range(world_size)]
    for i in order:
        load, rank = heapq.heappop(loads)
        shards[rank].append(i)
        heapq.heappush(loads, (load + weights[i], rank))
    return [sorted(shard) for shard in shards]


def init_distributed(launcher: str = "none",
                     timeout_s: float = DEFAULT_TIMEOUT_S) -> tuple[int, int, int]:
    """Join the other processes of a torchrun / slurm job; return `dist_env()`.

    With CUDA this is MMEngine's `init_dist(launcher, backend="nccl")`, which also
    makes `cuda:LOCAL_RANK` this process's GPU (and, for `slurm`, sets RANK,
    WORLD_SIZE, LOCAL_RANK from SLURM's variables). Without CUDA, mmengine 0.10.7's
    `init_dist` fails (it calls `torch.cuda.set_device`), so a `pytorch` launch
    starts a gloo group itself, as `train.launcher_options` does for training.
    Nothing happens for `launcher="none"` or when a group already exists.

    Args:
        launcher: `"none"` (one process), `"pytorch"` (under torchrun) or
            `"slurm"` (under `srun`, CUDA only).
        timeout_s: How long a collective call (a barrier) waits, in seconds.

    Returns:
        (rank, world_size, local_rank); (0, 1, 0) for `"none"`.

    Raises:
        StadError: An unknown launcher; `slurm` without CUDA; or the launcher's
            environment variables missing (not started by torchrun / srun).
    """
    if launcher not in LAUNCHERS:
        raise StadError(f"unknown launcher {launcher!r}; expected one of {LAUNCHERS}")
    if launcher == "none":
        return 0, 1, 0
    import datetime

    import torch
    import torch.distributed as tdist

    if tdist.is_available() and tdist.is_initialized():
        return dist_env()
    needs = {"pytorch": ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR"),
             "slurm": ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_NODELIST")}[launcher]
    missing = [name for name in needs if name not in os.environ]
    if missing:
        runner = "torchrun" if launcher == "pytorch" else "srun (slurm)"
        raise StadError(f"--launcher {launcher} must run under {runner} "
                        f"(environment lacks {', '.join(missing)})")
    if torch.cuda.is_available():
        from mmengine.dist import init_dist

        init_dist(launcher, backend="nccl", timeout=timeout_s)
    elif launcher == "pytorch":
        tdist.init_process_group(
            backend="gloo", timeout=datetime.timedelta(seconds=timeout_s))
    else:
        raise StadError(f"launcher {launcher!r} needs CUDA; on CPU use 'pytorch' "
                        "(torchrun)")
    return dist_env()


def close_distributed() -> int:
    """Leave the process group, if any; return this process's rank in it (0 if none).

    Call once every process is done (after the last barrier), so that torchrun
    sees clean exits.
    """
    import torch.distributed as tdist

    if not (tdist.is_available() and tdist.is_initialized()):
        return 0
    rank = tdist.get_rank()
    tdist.destroy_process_group()
    return rank


def process_device(local_rank: int | None = None) -> str:
    """This process's device: `cuda:LOCAL_RANK` when torch sees a GPU, else `cpu`.

    Args:
        local_rank: The process's index on its machine (default: `dist_env()`'s).

    Returns:
        `"cuda:N"` or `"cpu"`.

    Raises:
        StadError: `local_rank` is not below the number of GPUs this machine has
            (more processes per node than GPUs), or see `dist_env`.
    """
    import torch

    if local_rank is None:
        local_rank = dist_env()[2]
    if not torch.cuda.is_available():
        return "cpu"
    count = torch.cuda.device_count()
    if local_rank >= count:
        raise StadError(f"process {local_rank} of this machine has no GPU of its own "
                        f"({count} GPUs); start at most {count} processes per node "
                        "(torchrun --nproc-per-node)")
    return f"cuda:{local_rank}"
