"""Run `stad train ...` under torchrun with 2 CPU processes (gloo), for the
scale-out tests of both detectors."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from _paths import ROOT


def subprocess_env() -> dict:
    """The repo on PYTHONPATH and one OpenMP thread per process: the machine is
    shared, and processes must not fight over the same cores."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return dict(os.environ, PYTHONPATH=path, OMP_NUM_THREADS="1")


def torchrun_train(*stad_train_args: str, timeout: int = 300) -> str:
    """`stad train ARGS --launcher pytorch --verbose` on 2 processes; assert it ran
    distributed and return its stdout (stderr joins it in a failure message)."""
    with socket.socket() as s:  # a free port for the rendezvous
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master_addr", "127.0.0.1", "--master_port", str(port),
           "-m", "stad_helpers.cli", "train", *stad_train_args,
           "--launcher", "pytorch", "--verbose"]
    done = subprocess.run(cmd, cwd=ROOT, env=subprocess_env(), capture_output=True,
                          text=True, timeout=timeout)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-3000:]
    assert "Distributed training: True" in log
    assert "GPU number: 2" in log  # MMEngine's name for the world size
    return done.stdout


def torchrun(*args: str, nproc: int = 2, timeout: int = 300
             ) -> subprocess.CompletedProcess:
    """`torchrun --nproc-per-node NPROC ARGS` (a script or `-m module ...`) on a free
    local port, with `subprocess_env`; return the finished process (not checked)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node",
           str(nproc), "--master_addr", "127.0.0.1", "--master_port", str(port),
           *args]
    return subprocess.run(cmd, cwd=ROOT, env=subprocess_env(), capture_output=True,
                          text=True, timeout=timeout)


def torchrun_nodes(per_node: list[list[str]], timeout: int = 300
                   ) -> list[tuple[int, str]]:
    """Simulated machines: one `torchrun --nnodes len(per_node) --node-rank i
    --nproc-per-node 1 ARGS_i` per entry, started together on this host (so each
    "machine" may get its own data and output folders). Returns (exit status,
    stdout + stderr) per machine."""
    import tempfile

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs, logs = [], []
    for rank, args in enumerate(per_node):
        log = tempfile.TemporaryFile("w+")  # not a pipe: a full one would block
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes",
               str(len(per_node)), "--node_rank", str(rank), "--nproc_per_node", "1",
               "--master_addr", "127.0.0.1", "--master_port", str(port), *args]
        procs.append(subprocess.Popen(cmd, cwd=ROOT, env=subprocess_env(),
                                      stdout=log, stderr=subprocess.STDOUT,
                                      text=True))
        logs.append(log)
    results = []
    try:
        for proc, log in zip(procs, logs):
            proc.wait(timeout=timeout)
            log.seek(0)
            results.append((proc.returncode, log.read()))
    finally:
        for proc, log in zip(procs, logs):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()
    return results
