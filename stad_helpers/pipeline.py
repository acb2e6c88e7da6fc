"""`stad run-all`: the whole tutorial end to end, skipping what is up to date.

Stages (each one helper call): dataset -> detector annotations -> rawframes ->
train detector -> detect over every frame -> proposals -> AVA annotations ->
train action detector -> evaluate -> demo video. A stage runs only when one of
its outputs is missing or older than one of its inputs (like make), so a second
run after an interruption continues where the first stopped. The summary
(metrics, paths, seconds per stage) is printed and written to
`<work_dir>/summary.json`.

Used in: 00_setup (the one-command version of notebooks 01-04).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import StadError
from .fileio import dump_json

CONFIGS = Path(__file__).resolve().parent.parent / "configs"

# What each profile trains. The CPU profile learns the synthetic dataset from
# scratch with slim models; the GPU profile is the tutorial's own models, which
# start from pretrained weights (downloaded by MMEngine, so it needs internet).
# Config files are found by pattern so that a retuned schedule (which renames the
# file, e.g. `-600it_`) needs no code change; each pattern must match one file.
PROFILES: dict[str, dict[str, str]] = {
    "cpu": {
        "det_config": "det/faster-rcnn_r18-slim_fpn_*_synth-multisports-person.py",
        "action_config": "action/slowonly_r18-slim_*_synth-multisports-*.py",
    },
    "gpu": {
        "det_config": "det/faster-rcnn_r50-caffe_fpn_ms-1x_multisports-person.py",
        "action_config": "action/slowonly_k400-pretrained-r50_*_multisports-rgb.py",
    },
}


@dataclass
class Stage:
    name: str
    run: Callable[[], Any]
    inputs: Sequence[Path] = ()
    outputs: Sequence[Path] = ()

    def up_to_date(self) -> bool:
        if not self.outputs or not all(p.exists() for p in self.outputs):
            return False
        newest_input = max((_mtime(p) for p in self.inputs if p.exists()), default=0.0)
        return min(_mtime(p) for p in self.outputs) >= newest_input


@dataclass
class RunAllResult:
    work_dir: Path
    metrics: dict[str, float] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        return {**self.metrics, "seconds": self.seconds, "skipped": self.skipped,
                "paths": self.paths}


def _mtime(path: Path) -> float:
    """Newest modification time of a file, or of anything inside a folder."""
    if path.is_dir():
        return max((_mtime(p) for p in path.iterdir()), default=path.stat().st_mtime)
    return path.stat().st_mtime


def profile_configs(profile: str) -> dict[str, Path]:
    if profile not in PROFILES:
        raise StadError(
            f"unknown profile {profile!r}; expected one of {sorted(PROFILES)}")
    found = {}
    for key, pattern in PROFILES[profile].items():
        matches = sorted(CONFIGS.glob(pattern))
        if len(matches) != 1:
            raise StadError(f"expected one config matching {pattern!r}, found "
                            f"{[m.name for m in matches]}", CONFIGS)
        found[key] = matches[0]
    return found


class Tutorial:
    """The tutorial's stages over one work dir; `ensure(stage)` runs what is missing.

    Notebooks call `ensure` for the stage they teach, so each one also works
    alone (earlier stages run first when their outputs are missing) and reuses
    what earlier notebooks produced when run in order.
    """

    def __init__(
        self,
        profile: str = "cpu",
        data: str | os.PathLike | None = None,
        work_dir: str | os.PathLike = "work_dirs/tutorial",
        demo_video: str | os.PathLike | None = None,
        seed: int = 0,
        progress: bool = True,
        cfg_options: dict[str, dict] | None = None,
        synth_options: dict[str, Any] | None = None,
        min_coverage: float | None = None,
    ):
        """`cfg_options`: {"det": {...}, "action": {...}} config overrides;
        `synth_options`: size of the synthetic dataset (see make_synthetic_dataset);
        `min_coverage`: proposal coverage floor (see convert.proposals)."""
        self.profile = profile
        self.configs = profile_configs(profile)
        self.work_dir = Path(work_dir)
        self.user_data = data is not None
        self.data_root = Path(data) if data else self.work_dir / "data" / "multisports"
        self.demo_video = Path(demo_video) if demo_video else None
        self.seed = seed
        self.progress = progress
        self.cfg_options = cfg_options or {}
        self.synth_options = synth_options or {}
        self.min_coverage = min_coverage
        self.seconds: dict[str, float] = {}
        self.skipped: list[str] = []
        self.stages = {s.name: s for s in self._stages()}

    # ---- paths ---------------------------------------------------------------
    @property
    def anno_dir(self) -> Path:
        return self.data_root / "annotations"

    @property
    def gt_file(self) -> Path:
        return self.anno_dir / "multisports_GT.pkl"

    @property
    def det_dir(self) -> Path:
        return self.work_dir / "det"

    @property
    def action_dir(self) -> Path:
        return self.work_dir / "action"

    @property
    def det_results(self) -> Path:
        return self.det_dir / "det_results.pkl"

    @property
    def eval_dir(self) -> Path:
        return self.work_dir / "eval"

    @property
    def demo_mp4(self) -> Path:
        return self.work_dir / "demo" / "demo.mp4"

    def det_checkpoint(self) -> Path:
        return Path((self.det_dir / "last_checkpoint").read_text().strip())

    def action_checkpoint(self) -> Path:
        return Path((self.action_dir / "last_checkpoint").read_text().strip())

    def gt(self):
        from .data.gt import MultiSportsGT

        return MultiSportsGT.load(self.gt_file)

    def demo_input(self) -> Path:
        from .data.gt import video_path

        if self.demo_video:
            return self.demo_video
        return video_path(self.data_root, self.gt().test_videos[0])

    # ---- stages --------------------------------------------------------------
    def _stages(self) -> list[Stage]:
        from . import action, detector
        from .convert import ava, det_anno, extract_frames

        anno, cfg, opts = self.anno_dir, self.configs, self.cfg_options
        det_jsons = [anno / f"multisports_det_anno_{s}.json" for s in ("train", "val")]
        props = [anno / f"multisports_proposals_{s}.pkl" for s in ("train", "val")]
        csvs = [anno / f"multisports_{s}.csv" for s in ("train", "val")]
        det_last = self.det_dir / "last_checkpoint"
        act_last = self.action_dir / "last_checkpoint"
        return [
            Stage("dataset", self._make_data, outputs=[self.gt_file]),
            Stage("det_anno",
                  lambda: det_anno(self.gt_file, anno / "multisports_det_anno.json"),
                  [self.gt_file], det_jsons),
            Stage("frames",
                  lambda: extract_frames(self.data_root / "trainval",
                                         self.data_root / "rawframes",
                                         progress=self.progress),
                  [self.gt_file], [self.data_root / "rawframes"]),
            Stage("train_det",
                  lambda: detector.train_detector(cfg["det_config"], self.data_root,
                                                  self.det_dir,
                                                  cfg_options=opts.get("det")),
                  [cfg["det_config"], *det_jsons], [det_last]),
            Stage("detect",
                  lambda: detector.detect(cfg["det_config"], self.det_checkpoint(),
                                          self.data_root, self.det_results,
                                          progress=self.progress),
                  [det_last], [self.det_results]),
            Stage("proposals", self._proposals, [self.det_results], props),
            Stage("ava", lambda: ava(self.gt_file, anno), [self.gt_file], csvs),
            Stage("train_action",
                  lambda: action.train_action(cfg["action_config"], self.data_root,
                                              self.action_dir,
                                              cfg_options=opts.get("action")),
                  [cfg["action_config"], *props, *csvs], [act_last]),
            Stage("evaluate", self._evaluate, [act_last, self.det_results],
                  [self.eval_dir / "metrics.json"]),
            Stage("demo", self._demo, [act_last, det_last], [self.demo_mp4]),
        ]

    def _make_data(self) -> None:
        if self.user_data:
            raise StadError("annotation missing", self.gt_file)
        from .data.synth import make_synthetic_dataset

        make_synthetic_dataset(self.data_root, seed=self.seed, progress=self.progress,
                               **self.synth_options)

    def _proposals(self) -> None:
        from .convert import proposals

        extra = {} if self.min_coverage is None else {"min_coverage": self.min_coverage}
        report = proposals(self.det_results, self.gt_file,
                           self.anno_dir / "multisports_proposals.pkl",
                           score_thr=self.person_det_score_thr(), **extra)
        if self.progress:
            print("proposal coverage of annotated keyframes:",
                  ", ".join(f"{k} {v:.1%}" for k, v in report["coverage"].items()))
            print("annotated people with a proposal scoring >= "
                  f"{report['score_thr']:g}:",
                  ", ".join(f"{k} {v:.1%}" for k, v in report["recall"].items()))

    def person_det_score_thr(self) -> float:
        """The action config's `person_det_score_thr` (AVADataset's default 0.9)."""
        from .convert.proposals import AVA_SCORE_THR
        from .train import load_config

        cfg = load_config(self.configs["action_config"], self.action_options())
        dataset = cfg.val_dataloader.dataset
        return float(dataset.get("person_det_score_thr", AVA_SCORE_THR))

    def _evaluate(self) -> None:
        from . import evaluate

        evaluate.evaluate(self.configs["action_config"], self.action_checkpoint(),
                          self.data_root, self.eval_dir,
                          cfg_options=self.cfg_options.get("action"),
                          det_results=self.det_results, progress=self.progress)

    def action_options(self) -> dict[str, Any]:
        """cfg-options pointing the action config at this dataset (plus overrides)."""
        from . import action

        return {**action.data_options(self.data_root),
                **self.cfg_options.get("action", {})}

    def _demo(self) -> None:
        from . import demo

        demo.demo(self.demo_input(), self.demo_mp4, self.configs["action_config"],
                  self.action_checkpoint(), self.configs["det_config"],
                  self.det_checkpoint(), progress=self.progress,
                  cfg_options=self.action_options())

    def ensure(self, name: str) -> None:
        """Run stage `name` and every stage before it whose outputs are stale."""
        names = list(self.stages)
        if name not in self.stages:
            raise StadError(f"unknown stage {name!r}; stages: {', '.join(names)}")
        for stage_name in names[: names.index(name) + 1]:
            stage = self.stages[stage_name]
            if stage.up_to_date():
                if stage_name not in self.seconds:
                    self.skipped.append(stage_name)
                    self.seconds[stage_name] = 0.0
                continue
            if self.progress:
                print(f"== {stage_name}", flush=True)
            t0 = time.perf_counter()
            stage.run()
            self.seconds[stage_name] = round(time.perf_counter() - t0, 1)
            if stage_name in self.skipped:
                self.skipped.remove(stage_name)

    def metrics(self) -> dict[str, float]:
        return _read_metrics(self.eval_dir / "metrics.json")

    def summary(self) -> RunAllResult:
        result = RunAllResult(self.work_dir, metrics=self.metrics(),
                              seconds=dict(self.seconds), skipped=list(self.skipped))
        result.seconds["total"] = round(sum(self.seconds.values()), 1)
        result.paths = {
            "data": str(self.data_root), "det_checkpoint": str(self.det_checkpoint()),
            "action_checkpoint": str(self.action_checkpoint()),
            "metrics": str(self.eval_dir / "metrics.json"),
            "demo": str(self.demo_mp4),
            "demo_json": str(self.demo_mp4.with_suffix(".json")),
        }
        return result


def run_all(
    profile: str = "cpu",
    data: str | os.PathLike | None = None,
    work_dir: str | os.PathLike = "work_dirs/tutorial",
    **kwargs: Any,
) -> RunAllResult:
    """Run every stage of the tutorial; return and save metrics, paths and timings."""
    tutorial = Tutorial(profile, data, work_dir, **kwargs)
    tutorial.ensure("demo")
    result = tutorial.summary()
    dump_json(result.summary(), tutorial.work_dir / "summary.json", indent=2)
    return result


def _read_metrics(path: Path) -> dict[str, float]:
    metrics = json.loads(path.read_text())
    keys = ("det_ap50", "frame_map", "video_map_0.2", "video_map_0.5")
    return {k: metrics[k] for k in keys if k in metrics}


def format_summary(result: RunAllResult) -> str:
    lines = [f"work dir: {result.work_dir}"]
    for k, v in result.metrics.items():
        lines.append(f"  {k:<14} {v:.3f}")
    for k, v in result.seconds.items():
        note = " (up to date)" if k in result.skipped else ""
        lines.append(f"  {k + ' s':<14} {v:7.1f}{note}")
    for k, v in result.paths.items():
        lines.append(f"  {k:<18} {v}")
    return "\n".join(lines)
