"""What made each output of the tutorial: content fingerprints and stage manifests.

A stage of the tutorial (`stad_helpers.pipeline`) writes
`<work_dir>/stages/<stage>.json` when it starts (status "running") and again when
it finishes ("done"): the fingerprints of its inputs, its settings (profile,
config options, ...), the fingerprints of its outputs, and, for information, the
paths and the device.
The stage is up to date only when all of these still hold.

Fingerprints compare contents, never paths or times, so a work dir that is moved
or copied stays up to date. A file up to `SMALL` bytes is hashed whole
(SHA-256); a larger one (videos, R50 checkpoints) by its size and three 1 MiB
samples (start, middle, end); a folder (videos, rawframes) by the names and sizes
of every file in it. Size and modification time only spare re-hashing: a file
whose size and mtime are those recorded is taken as unchanged.

Used in: 00_setup to 05_your_own_data (through `Tutorial.ensure`).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .fileio import dump_json

VERSION = 1  # of the manifest format; another version counts as no manifest
SMALL = 16 << 20  # bytes: files up to this size are hashed whole
SAMPLE = 1 << 20  # bytes: each of the three samples of a larger file

Fingerprint = dict[str, Any]  # {"size", "sha256", ...}; None for a missing path


def fingerprint(path: str | os.PathLike, known: Fingerprint | None = None
                ) -> Fingerprint | None:
    """The content fingerprint of a file or folder, or None when it does not exist.

    File: {"size": bytes, "mtime_ns": int, "sha256": hex}; folder: {"files": n,
    "size": total bytes, "sha256": hex of the sorted "relative/path size" lines}.
    `known`: an earlier fingerprint of the same file; when its size and mtime are
    unchanged it is returned as is, without reading the file.
    """
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    if path.is_dir():
        return _folder_fingerprint(path)
    if (known and "files" not in known and known.get("size") == st.st_size
            and known.get("mtime_ns") == st.st_mtime_ns and known.get("sha256")):
        return known
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns,
            "sha256": _file_hash(path, st.st_size)}


def _file_hash(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        if size <= SMALL:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        else:
            digest.update(f"sampled {size}".encode())
            for offset in (0, (size - SAMPLE) // 2, size - SAMPLE):
                fh.seek(offset)
                digest.update(fh.read(SAMPLE))
    return digest.hexdigest()


def _folder_fingerprint(path: Path) -> Fingerprint:
    lines, total = [], 0
    for root, dirs, files in os.walk(path):
        dirs.sort()
        rel = Path(root).relative_to(path).as_posix()
        for name in sorted(files):
            size = os.stat(os.path.join(root, name)).st_size
            total += size
            lines.append(f"{rel}/{name} {size}")
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    return {"files": len(lines), "size": total, "sha256": digest}


def same(a: Fingerprint | None, b: Fingerprint | None) -> bool:
    """Whether two fingerprints are of the same content (None: both missing)."""
    if a is None or b is None:
        return a is None and b is None
    return all(a.get(k) == b.get(k) for k in ("size", "sha256", "files"))


def normalize(value: Any) -> Any:
    """`value` as it reads back from JSON (tuples -> lists, paths -> str), so that
    settings compare equal to the recorded ones."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


@dataclass
class Manifest:
    """What one run of a stage started from and left behind.

    `inputs`/`outputs`: name -> fingerprint (None: missing); `paths`: name ->
    where it was (relative to the work dir when inside it; for information only);
    `status`: "running" (started, not finished: interrupted if still so) or
    "done"; `device`: where its models ran ("" for stages without a model).
    """

    stage: str
    status: str
    settings: dict[str, Any]
    inputs: dict[str, Fingerprint | None]
    outputs: dict[str, Fingerprint | None] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)
    device: str = ""
    seconds: float | None = None
    time: str = ""
    version: int = VERSION

    def save(self, path: str | os.PathLike) -> Path:
        """Write it (whole or not at all), stamped with the current UTC time."""
        self.time = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return dump_json(asdict(self), path, indent=2, sort_keys=True)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Manifest | None:
        """The manifest at `path`, or None when absent, unreadable or of another
        format version (then the stage reruns and writes a new one)."""
        try:
            data = json.loads(Path(path).read_text())
            if data.get("version") != VERSION:
                return None
            return cls(**data)
        except (OSError, ValueError, TypeError, AttributeError):
            return None


def display_path(path: str | os.PathLike, work_dir: str | os.PathLike) -> str:
    """`path` relative to `work_dir` when inside it (POSIX), else absolute."""
    path, work = Path(path).absolute(), Path(work_dir).absolute()
    try:
        return path.relative_to(work).as_posix()
    except ValueError:
        return str(path)
