"""What `stad run-all` reports: metrics, models, device, seconds, paths.

`RunAllResult` is what `pipeline.run_all` (and `Tutorial.summary`) return and
what `<work_dir>/summary.json` holds; `format_summary` prints it.

Used in: 00_setup (`stad run-all`), 05_your_own_data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

METRIC_KEYS = ("det_ap50", "frame_map", "video_map_0.2", "video_map_0.5")


@dataclass
class RunAllResult:
    """What `run_all` reports: metrics, the models and device that produced them,
    paths (relative to `work_dir` when inside it) and seconds per stage (0.0 and
    listed in `skipped` when up to date)."""

    work_dir: Path
    profile: str = ""
    models: dict[str, str] = field(default_factory=dict)
    device: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    def path(self, key: str) -> Path:
        """`paths[key]` as a path usable from anywhere (resolved against the work
        dir, which relative paths are relative to)."""
        return self.work_dir / self.paths[key]

    def summary(self) -> dict:
        """The contents of `summary.json`: `profile`, `models`, `device`, the
        metrics at top level (fractions in [0, 1]: `det_ap50`, `frame_map`,
        `video_map_0.2`, `video_map_0.5`), `seconds` per stage, `skipped` and
        `paths` (relative to the work dir when inside it).
        """
        return {"profile": self.profile, "models": self.models, "device": self.device,
                **self.metrics, "seconds": self.seconds, "skipped": self.skipped,
                "paths": self.paths}


def read_metrics(path: Path) -> dict[str, float]:
    """The headline metrics of an `evaluate` run's `metrics.json` (fractions in
    [0, 1]; those of `METRIC_KEYS` present). Raises FileNotFoundError when the
    file is missing."""
    metrics = json.loads(path.read_text())
    return {k: metrics[k] for k in METRIC_KEYS if k in metrics}


def format_summary(result: RunAllResult) -> str:
    """The summary as lines of text: models and device first, then metrics,
    seconds per stage and paths (relative to the work dir)."""
    lines = [f"work dir: {result.work_dir}",
             f"  profile {result.profile}: {result.models.get('det', '?')}, "
             f"{result.models.get('action', '?')}",
             f"  device  {result.device}"]
    for k, v in result.metrics.items():
        lines.append(f"  {k:<14} {v:.3f}")
    for k, v in result.seconds.items():
        note = " (up to date)" if k in result.skipped else ""
        lines.append(f"  {k + ' s':<14} {v:7.1f}{note}")
    for k, v in result.paths.items():
        lines.append(f"  {k:<18} {v}")
    return "\n".join(lines)
