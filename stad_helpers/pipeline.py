"""`stad run-all` and the notebooks' stages: what each needs, and whether it is done.

Stages (each one helper call): dataset -> detector annotations -> rawframes ->
train detector -> detect over every frame -> proposals -> AVA annotations ->
train action detector -> evaluate -> demo video.

Models and device are separate choices. `profile` picks the models: "cpu" = slim
models trained from scratch (minutes on a laptop), "gpu" = the original
tutorial's R50 models, fine-tuned from pretrained weights. `device` picks where
they run ("cpu", "cuda", "cuda:N"; default CUDA when torch sees a GPU): either
profile runs on either device.

A stage is up to date only when its manifest, `<work_dir>/stages/<stage>.json`
(`stad_helpers.manifest`), says it finished from the same inputs (content
fingerprints: data, checkpoints, the demo video), with the same settings (profile,
the configs as MMEngine reads them, config options, seed, thresholds; not the
device), and its
outputs are still what it wrote. Anything else reruns it, and every later stage
that reads its outputs reruns because its inputs changed. A training stage is
done only when its checkpoint reached the end of the schedule; one that was
interrupted resumes from its last checkpoint when nothing else changed. Paths
kept in the work dir are relative to it, so it can be moved or copied. The
summary (metrics, models, device, paths, seconds per stage) is printed and
written to `<work_dir>/summary.json`.

Used in: 00_setup to 05_your_own_data (`Tutorial.ensure` runs the stage a
notebook teaches, after what it needs).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import manifest as mf
from .data import layout
from .errors import StadError
from .fileio import claim_output_dir, dump_json

CONFIGS = Path(__file__).resolve().parent.parent / "configs"

# What each profile trains. The CPU profile learns the synthetic dataset from
# scratch with slim models; the GPU profile is the tutorial's own models, which
# start from pretrained weights (`stad_helpers.weights`: fetched into torch's cache
# before any stage runs, or beforehand with `stad weights fetch [--from DIR]`).
# Config files are found by pattern so that a retuned schedule (which renames the
# file, e.g. `-600it_`) needs no code change; each pattern must match one file.
PROFILES: dict[str, dict[str, str]] = {
    "cpu": {
        "det_config": "det/faster-rcnn_r18-slim_fpn_*_synth-multisports-person.py",
        "action_config": "action/slowonly_r18-slim_*_synth-multisports-*.py",
    },
    "gpu": {
        "det_config": "det/faster-rcnn_r50-caffe_fpn_*_multisports-person.py",
        "action_config": "action/slowonly_k400-pretrained-r50_*_multisports-rgb.py",
    },
}
PROFILE_HELP = ("cpu = slim models trained from scratch; gpu = the original "
                "tutorial's R50 models with pretrained weights")
# Stages that run a model, and so have a device in their manifest.
MODEL_STAGES = ("train_det", "detect", "train_action", "evaluate", "demo")
INTERRUPTED = "interrupted"


@dataclass
class Stage:
    """One step: `run(resume)` does it; the rest say what it reads and writes.

    `inputs`/`outputs`: name -> path (file or folder), evaluated when asked (a
    checkpoint's path is known only once training wrote `last_checkpoint`);
    `settings`: everything else its outputs depend on (JSON-able); `training`:
    (config, cfg-options) for a training stage, whose output must have reached
    the end of that config's schedule.
    """

    name: str
    run: Callable[[bool], Any]
    inputs: Callable[[], dict[str, Path]] = dict
    outputs: Callable[[], dict[str, Path]] = dict
    settings: Callable[[], dict[str, Any]] = dict
    training: Callable[[], tuple[Path, dict]] | None = None


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


def profile_configs(profile: str) -> dict[str, Path]:
    """{"det_config": path, "action_config": path} of a profile (`PROFILES`).

    Args:
        profile: `"cpu"` (slim models, synthetic data) or `"gpu"` (the
            tutorial's R50 models).

    Returns:
        The two config files under `configs/`.

    Raises:
        StadError: An unknown profile, or not exactly one config file matching
            the profile's pattern.
    """
    if profile not in PROFILES:
        raise StadError(
            f"unknown profile {profile!r}; expected one of {sorted(PROFILES)} "
            f"({PROFILE_HELP})")
    found = {}
    for key, pattern in PROFILES[profile].items():
        matches = sorted(CONFIGS.glob(pattern))
        if len(matches) != 1:
            raise StadError(f"expected one config matching {pattern!r}, found "
                            f"{[m.name for m in matches]}", CONFIGS)
        found[key] = matches[0]
    return found


class Tutorial:
    """The tutorial's stages over one work dir; `ensure(stage)` runs what is not
    up to date.

    Notebooks call `ensure` for the stage they teach, so each one also works
    alone (earlier stages run first when they are not up to date) and reuses
    what earlier notebooks produced when run in order.

    Raises:
        StadError: On construction for bad settings (see `__init__`); from
            `ensure`, `preflight` and the checkpoint accessors for data, configs
            or checkpoints that are missing or unusable.
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
        device: str | None = None,
        schedule: dict[str, dict[str, int | None]] | None = None,
    ):
        """`profile`: the models (`PROFILE_HELP`); `device`: where they run
        (None: "cuda" when torch sees a GPU, else "cpu"); `cfg_options`:
        {"det": {...}, "action": {...}} config overrides; `schedule`: training
        lengths that fit either loop, {"det": {"iters": 300, "epochs": 2},
        "action": {"epochs": 8}} (`train.schedule_options`: an iteration-based
        config takes "iters", an epoch-based one "epochs"); `synth_options`: size
        of the synthetic dataset (see make_synthetic_dataset); `min_coverage`:
        proposal coverage floor (see convert.to_proposals). Raises `StadError` for
        an unknown profile, a device torch does not have, or a `data` folder
        that is missing or has no `annotations/multisports_GT.pkl`.

        Raises:
            StadError: An unknown profile, a device torch does not have, or a
                `schedule` with an unknown model or key, or a length that is not a
                whole number >= 1.
        """
        from .train import resolve_device, schedule_options

        self.profile = profile
        self.configs = profile_configs(profile)
        self.device = resolve_device(device)
        self.work_dir = Path(work_dir)
        self.user_data = data is not None
        if self.user_data:  # checked now, not as "annotation missing" stages later
            from .notebook import check_data_folder

            check_data_folder(data, "data")
        self.data_root = Path(data) if data else self.work_dir / "data" / "multisports"
        self.demo_video = Path(demo_video) if demo_video else None
        self.seed = seed
        self.progress = progress
        self.cfg_options = {k: dict(v or {}) for k, v in (cfg_options or {}).items()}
        for kind, lengths in (schedule or {}).items():
            if kind not in ("det", "action"):
                raise StadError(f"schedule: unknown model {kind!r}; expected det "
                                "or action")
            unknown = set(lengths or {}) - {"iters", "epochs"}
            if unknown:
                raise StadError(f"schedule[{kind!r}]: unknown {sorted(unknown)}; "
                                "expected iters and/or epochs")
            for unit, length in (lengths or {}).items():
                if length is not None and (isinstance(length, bool) or not
                                           isinstance(length, int) or length < 1):
                    raise StadError(f"schedule[{kind!r}][{unit!r}] = {length!r}: "
                                    "expected None or a whole number >= 1")
            config = self.configs[f"{kind}_config"]
            self.cfg_options.setdefault(kind, {}).update(
                schedule_options(config, **(lengths or {})))
        self.synth_options = synth_options or {}
        self.min_coverage = min_coverage
        self.seconds: dict[str, float] = {}
        self.skipped: list[str] = []
        self._score_thr: float | None = None
        self._digests: dict[tuple, str] = {}
        self._folders: dict[str, dict | None] | None = None  # within `ensure`
        self.stages = {s.name: s for s in self._stages()}

    # ---- paths ---------------------------------------------------------------
    @property
    def anno_dir(self) -> Path:
        """`DATA_ROOT/annotations`: GT, COCO JSONs, proposals, AVA csvs."""
        return layout.annotations_dir(self.data_root)

    @property
    def gt_file(self) -> Path:
        """`DATA_ROOT/annotations/multisports_GT.pkl`."""
        return layout.gt_file(self.data_root)

    @property
    def videos_dir(self) -> Path:
        """`DATA_ROOT/trainval`: the annotated videos of both splits."""
        return self.data_root / layout.TRAINVAL

    @property
    def rawframes_dir(self) -> Path:
        """`DATA_ROOT/rawframes`: decoded frames `<video>/00001.jpg` (1-based)."""
        return self.data_root / layout.RAWFRAMES

    @property
    def det_dir(self) -> Path:
        """`WORK_DIR/det`: the person detector's work dir (logs, checkpoints)."""
        return self.work_dir / "det"

    @property
    def action_dir(self) -> Path:
        """`WORK_DIR/action`: the action detector's work dir."""
        return self.work_dir / "action"

    @property
    def det_results(self) -> Path:
        """`WORK_DIR/det/det_results.pkl`: `detector.detect`'s per-frame boxes."""
        return self.det_dir / "det_results.pkl"

    @property
    def eval_dir(self) -> Path:
        """`WORK_DIR/eval`: `metrics.json`, `per_class_ap.csv`, `predictions.pkl`."""
        return self.work_dir / "eval"

    @property
    def demo_mp4(self) -> Path:
        """`WORK_DIR/demo/demo.mp4` (its predictions beside it, `demo.json`)."""
        return self.work_dir / "demo" / "demo.mp4"

    @property
    def manifest_dir(self) -> Path:
        """`WORK_DIR/stages`: one manifest JSON per stage run."""
        return self.work_dir / "stages"

    def manifest_path(self, stage: str) -> Path:
        """`WORK_DIR/stages/<stage>.json`, the manifest of stage `stage`."""
        return self.manifest_dir / f"{stage}.json"

    def det_checkpoint(self) -> Path:
        """The trained detector (the det work dir's `last_checkpoint`).

        Raises:
            StadError: No `last_checkpoint` yet (the `train_det` stage has not run).
        """
        return self._checkpoint(self.det_dir, "train_det")

    def action_checkpoint(self) -> Path:
        """The trained action detector (the action work dir's `last_checkpoint`).

        Raises:
            StadError: No `last_checkpoint` yet (`train_action` has not run).
        """
        return self._checkpoint(self.action_dir, "train_action")

    @staticmethod
    def _checkpoint(folder: Path, stage: str) -> Path:
        from .train import read_last_checkpoint

        ckpt = read_last_checkpoint(folder)
        if ckpt is None:
            raise StadError(f"no checkpoint yet: run the {stage} stage first",
                            folder / "last_checkpoint")
        return ckpt

    def _checkpoint_or_none(self, folder: Path) -> Path:
        """The checkpoint, or a path that does not exist (fingerprint None)."""
        from .train import read_last_checkpoint

        return read_last_checkpoint(folder) or folder / "(no last_checkpoint)"

    def gt(self):
        """The dataset's annotation, loaded and validated (`MultiSportsGT.load`).

        Raises:
            StadError: The GT is missing or invalid (run the `dataset` stage).
        """
        from .data.gt import MultiSportsGT

        return MultiSportsGT.load(self.gt_file)

    def demo_input(self) -> Path:
        """The demo's video: `demo_video`, else the dataset's first test video."""
        if self.demo_video:
            return self.demo_video
        return layout.video_path(self.data_root, self.gt().test_videos[0])

    # ---- stages --------------------------------------------------------------
    def _stages(self) -> list[Stage]:
        from . import action, detector
        from .convert import ava, det_anno, extract_frames

        anno, cfg = self.anno_dir, self.configs
        det_json = {f"det_anno_{s}": layout.det_anno_file(anno, s)
                    for s in ("train", "val")}
        props = {f"proposals_{s}": layout.proposals_file(anno, s)
                 for s in ("train", "val")}
        csvs = {f"ava_{s}": layout.ava_csv(anno, s) for s in ("train", "val")}
        gt = {"gt": self.gt_file}
        videos = {"videos": self.videos_dir}
        det_opts = self.cfg_options.get("det", {})
        act_opts = self.cfg_options.get("action", {})
        models = {"profile": self.profile}

        def det_ckpt() -> dict[str, Path]:
            return {"det_checkpoint": self._checkpoint_or_none(self.det_dir)}

        def act_ckpt() -> dict[str, Path]:
            return {"action_checkpoint": self._checkpoint_or_none(self.action_dir)}

        def det_model() -> dict[str, str]:
            return {**models, "det_config": self.config_digest("det_config")}

        def act_model() -> dict[str, str]:
            return {**models, "action_config": self.config_digest("action_config")}

        return [
            Stage("dataset", lambda resume: self._make_data(),
                  outputs=lambda: {**gt, **videos,
                                   "test_videos": self.data_root / layout.TEST},
                  settings=self._data_settings),
            Stage("det_anno",
                  lambda resume: det_anno(self.gt_file, layout.det_anno_out(anno)),
                  inputs=lambda: gt, outputs=lambda: det_json),
            Stage("frames",
                  lambda resume: extract_frames(self.videos_dir, self.rawframes_dir,
                                                progress=self.progress),
                  inputs=lambda: {**gt, **videos},
                  outputs=lambda: {"rawframes": self.rawframes_dir}),
            Stage("train_det",
                  lambda resume: detector.train_detector(
                      cfg["det_config"], self.data_root, self.det_dir, resume=resume,
                      cfg_options=det_opts),
                  inputs=lambda: {**det_json, "rawframes": self.rawframes_dir},
                  outputs=det_ckpt,
                  settings=lambda: {**det_model(), "det_options": det_opts},
                  training=lambda: (cfg["det_config"], det_opts)),
            Stage("detect",
                  lambda resume: detector.detect(
                      cfg["det_config"], self.det_checkpoint(), self.data_root,
                      self.det_results, progress=self.progress, device=self.device),
                  inputs=lambda: {**det_ckpt(), **gt, **videos},
                  outputs=lambda: {"det_results": self.det_results},
                  settings=det_model),
            Stage("proposals", lambda resume: self._proposals(),
                  inputs=lambda: {"det_results": self.det_results, **gt},
                  outputs=lambda: props,
                  settings=lambda: {"min_coverage": self.min_coverage,
                                    "person_det_score_thr":
                                        self.person_det_score_thr()}),
            Stage("ava", lambda resume: ava(self.gt_file, anno),
                  inputs=lambda: gt, outputs=lambda: csvs),
            Stage("train_action",
                  lambda resume: action.train_action(
                      cfg["action_config"], self.data_root, self.action_dir,
                      resume=resume, cfg_options=act_opts),
                  inputs=lambda: {**props, **csvs, **gt, **videos},
                  outputs=act_ckpt,
                  settings=lambda: {**act_model(), "action_options": act_opts},
                  training=lambda: (cfg["action_config"], act_opts)),
            Stage("evaluate", lambda resume: self._evaluate(),
                  inputs=lambda: {**act_ckpt(), "det_results": self.det_results,
                                  "det_anno_val": det_json["det_anno_val"],
                                  "proposals_val": props["proposals_val"],
                                  "ava_val": csvs["ava_val"], **gt, **videos},
                  outputs=lambda: {"metrics": self.eval_dir / "metrics.json"},
                  settings=lambda: {**act_model(), "action_options": act_opts}),
            Stage("demo", lambda resume: self._demo(),
                  inputs=lambda: {"video": self.demo_input(), **act_ckpt(),
                                  **det_ckpt(), **gt},
                  outputs=lambda: {"demo": self.demo_mp4,
                                   "demo_json": self.demo_mp4.with_suffix(".json")},
                  settings=lambda: {**act_model(), **det_model(),
                                    "action_options": act_opts}),
        ]

    def config_digest(self, key: str) -> str:
        """SHA-256 of a profile config as MMEngine reads it (`_base_` files merged
        in, comments gone): a stage's outputs depend on what the config says, not
        on how its file is written. Recomputed when the file changes."""
        from .train import load_config

        path = self.configs[key]
        st = path.stat()
        cache_key = (key, str(path), st.st_mtime_ns, st.st_size)
        if cache_key not in self._digests:
            text = json.dumps(load_config(path).to_dict(), sort_keys=True,
                              default=_plain)
            self._digests[cache_key] = hashlib.sha256(text.encode()).hexdigest()
        return self._digests[cache_key]

    def _data_settings(self) -> dict[str, Any]:
        if self.user_data:
            return {"data": "user"}
        return {"data": "synthetic", "seed": self.seed,
                "synth_options": self.synth_options}

    def _make_data(self) -> None:
        if self.user_data:  # the user's dataset: checked, never (re)made
            if not self.gt_file.is_file():
                raise StadError("annotation missing", self.gt_file)
            self.gt()  # loads and validates
            return
        from .data.synth import make_synthetic_dataset

        make_synthetic_dataset(self.data_root, seed=self.seed, progress=self.progress,
                               **self.synth_options)

    def _proposals(self) -> None:
        from .convert import proposals

        extra = {} if self.min_coverage is None else {"min_coverage": self.min_coverage}
        report = proposals(self.det_results, self.gt_file,
                           layout.proposals_out(self.anno_dir),
                           score_thr=self.person_det_score_thr(),
                           score_thr_source="person_det_score_thr of "
                           f"{self.configs['action_config']}", **extra)
        if self.progress:
            print("proposal coverage of annotated keyframes:",
                  ", ".join(f"{k} {v:.1%}" for k, v in report["coverage"].items()))
            print("annotated people with a proposal scoring >= "
                  f"{report['score_thr']:g}:",
                  ", ".join(f"{k} {v:.1%}" for k, v in report["recall"].items()))

    def person_det_score_thr(self) -> float:
        """The action config's `person_det_score_thr` (AVADataset's default 0.9)."""
        from . import action

        if self._score_thr is None:
            self._score_thr = action.person_det_score_thr(
                self.configs["action_config"], self.action_options())
        return self._score_thr

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
                  cfg_options=self.action_options(), device=self.device)

    # ---- freshness -----------------------------------------------------------
    def why_stale(self, name: str) -> str | None:
        """None when stage `name` is up to date, else why it must run, in a few
        words ("not run yet", "settings changed: det_options", "inputs changed:
        gt", "interrupted", "outputs changed: det_results", ...)."""
        stage = self._stage(name)
        record = mf.Manifest.load(self.manifest_path(name))
        if record is None:
            return "not run yet"
        try:
            settings = mf.normalize(stage.settings())
            inputs = stage.inputs()
        except (StadError, OSError) as exc:
            return f"inputs not ready ({exc})"
        if record.settings != settings:
            keys = sorted(k for k in {*settings, *record.settings}
                          if settings.get(k) != record.settings.get(k))
            return "settings changed: " + ", ".join(keys)
        changed = self._changed(inputs, record.inputs)
        if changed:
            return "inputs changed: " + ", ".join(changed)
        if record.status != "done":
            return INTERRUPTED
        outputs = stage.outputs()
        missing = [k for k, p in outputs.items()
                   if record.outputs.get(k) is not None and not p.exists()]
        if missing:
            return "outputs missing: " + ", ".join(missing)
        changed = self._changed(outputs, record.outputs)
        if changed:
            return "outputs changed: " + ", ".join(changed)
        return None

    def up_to_date(self, name: str) -> bool:
        """Whether stage `name` would be skipped (`why_stale` is None)."""
        return self.why_stale(name) is None

    def _changed(self, paths: dict[str, Path], recorded: dict) -> list[str]:
        return sorted(
            k for k in {*paths, *recorded}
            if k not in paths or k not in recorded
            or not mf.same(self._fingerprint(paths[k], recorded[k]), recorded[k]))

    def _fingerprint(self, path: Path, known: dict | None = None) -> dict | None:
        """`manifest.fingerprint`, folders remembered until a stage runs (a
        folder of a million frames is listed once per check, not per stage)."""
        if self._folders is None or not path.is_dir():
            return mf.fingerprint(path, known)
        key = str(path.absolute())
        if key not in self._folders:
            self._folders[key] = mf.fingerprint(path)
        return self._folders[key]

    def _stage(self, name: str) -> Stage:
        if name not in self.stages:
            raise StadError(f"unknown stage {name!r}; stages: "
                            f"{', '.join(self.stages)}")
        return self.stages[name]

    def _record(self, stage: Stage, status: str, inputs: dict[str, Any],
                seconds: float | None = None) -> None:
        paths = stage.inputs() if status == "running" else {
            **stage.inputs(), **stage.outputs()}
        outputs = {} if status == "running" else {
            k: self._fingerprint(p) for k, p in stage.outputs().items()}
        mf.Manifest(
            stage=stage.name, status=status, settings=mf.normalize(stage.settings()),
            inputs=inputs, outputs=outputs,
            paths={k: mf.display_path(p, self.work_dir) for k, p in paths.items()},
            device=self.device if stage.name in MODEL_STAGES else "",
            seconds=seconds,
        ).save(self.manifest_path(stage.name))

    def _check_finished(self, stage: Stage) -> None:
        """A training stage is done only when its checkpoint ends the schedule."""
        from .train import load_config, training_finished

        config, options = stage.training()
        ckpt = stage.outputs()
        (path,) = ckpt.values()
        done, where = training_finished(load_config(config, options), path)
        if not done:
            raise StadError(f"training stopped at {where}: run again to resume it",
                            path)

    # ---- running -------------------------------------------------------------
    def plan(self, name: str) -> list[str]:
        """The stages `ensure(name)` would run: from the first one not up to date
        through `name` (later ones rerun when an earlier one changes their inputs).
        """
        names = list(self.stages)
        upto = names[: names.index(self._stage(name).name) + 1]
        for i, stage_name in enumerate(upto):
            if not self.up_to_date(stage_name):
                return upto[i:]
        return []

    def preflight(self, stages: Sequence[str]) -> None:
        """What must hold before any of `stages` runs, checked before the first
        one starts: the one place for such checks (run_all and every notebook's
        `ensure` come through here).

        Every checkpoint the training stages' configs start from (`load_from`,
        pretrained backbones) is resolved now, from the cache or a download
        (`stad_helpers.weights.preflight`): offline, the run stops at once with a
        one-line `StadError` naming the file and the fix, before any data work.

        Raises:
            StadError: An unknown stage, a config that cannot be read, a missing
                local checkpoint, or a remote one that cannot be had (offline).
        """
        from .train import read_last_checkpoint

        configs, options = [], []
        for stage_name in stages:
            training_of = self._stage(stage_name).training
            if training_of is None:
                continue
            config, opts = training_of()
            if (self.why_stale(stage_name) == INTERRUPTED
                    and read_last_checkpoint(self._train_dir(stage_name))):
                opts = {**opts, "load_from": None}  # resumes its own checkpoint
            configs.append(config)
            options.append(opts)
        if configs:
            from .weights import preflight

            preflight(configs, options, progress=self.progress)

    def ensure(self, name: str) -> None:
        """Run stage `name` and every stage before it that is not up to date.

        Each stage that runs records a manifest when it starts and when it ends
        (`stad_helpers.manifest`); a training stage interrupted earlier, with the
        same inputs and settings, resumes from its last checkpoint. Raises
        `StadError` for an unknown stage, a failed pre-flight check
        (`preflight`), or from the stage itself.

        Raises:
            StadError: An unknown stage, a failed pre-flight check, or any
                `StadError` of a stage that runs (bad data, configs, checkpoints).
        """
        self._folders = {}
        try:
            self._ensure(name)
        finally:
            self._folders = None

    def _ensure(self, name: str) -> None:
        todo = self.plan(name)
        names = list(self.stages)
        fresh = [n for n in names[: names.index(name) + 1] if n not in todo]
        for stage_name in fresh:
            self._mark_skipped(stage_name)
        if self.progress and fresh:
            print("up to date:", ", ".join(fresh), flush=True)
        if not todo:
            return
        self.preflight(todo)
        for stage_name in todo:
            reason = self.why_stale(stage_name)
            if reason is None:  # an earlier stage's rerun left its inputs as they were
                self._mark_skipped(stage_name)
                continue
            if self.progress:
                why = "resuming" if self._resumes(stage_name, reason) else reason
                print(f"== {stage_name} ({why})", flush=True)
            self._run_stage(stage_name, reason, self.stages[stage_name].run)

    def _mark_skipped(self, name: str) -> None:
        if name not in self.seconds:
            self.skipped.append(name)
            self.seconds[name] = 0.0

    def _resumes(self, name: str, reason: str) -> bool:
        """Whether a stale stage resumes (an interrupted training) or starts anew."""
        return reason == INTERRUPTED and self.stages[name].training is not None

    def _run_stage(self, name: str, reason: str, run: Callable[[bool], Any]) -> Any:
        """Run stale stage `name` as `run(resume)` between its 'running' and 'done'
        manifests, under the tutorial's device; return what `run` returns."""
        from .train import use_device

        stage = self.stages[name]
        resume = self._resumes(name, reason)
        if stage.training is not None and not resume:
            self._start_afresh(stage)
        inputs = {k: self._fingerprint(p) for k, p in stage.inputs().items()}
        self._record(stage, "running", inputs)
        t0 = time.perf_counter()
        self._folders = {}  # the stage may write into any folder
        with use_device(self.device):
            result = run(resume)
        self._folders = {}
        if stage.training is not None:
            self._check_finished(stage)
        seconds = round(time.perf_counter() - t0, 1)
        self._record(stage, "done", inputs, seconds)
        self.seconds[name] = seconds
        if name in self.skipped:
            self.skipped.remove(name)
        return result

    def step(self, name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any
             ) -> Any:
        """Run stage `name` as the visible call `fn(*args, **kwargs)`, or skip it.

        The notebooks' form of `ensure`: the cell shows the helper and its
        arguments, which must be those of the stage's own call in `_stages()` (the
        manifest records that stage's inputs, settings and outputs). Up to date:
        prints one line, "<name>: up to date (made <local time> from <inputs>),
        skipped", and returns None without calling `fn`. Otherwise: runs every
        earlier stage that is not up to date (`ensure`), the pre-flight checks,
        records the stage's manifest ("running"), calls `fn` under the tutorial's
        device, records "done" (so `ensure` and `run_all` see the stage done),
        prints "<name>: done in N s -> <outputs>" and returns `fn`'s result. A
        training stage passes `resume=` (True when interrupted earlier with the
        same inputs) when `fn` takes it and the call does not set it.

        Raises:
            StadError: unknown stage, a failed pre-flight check, a training that
                stopped before the end of its schedule, or from `fn`.
        """
        stage = self._stage(name)
        names = list(self.stages)
        self._folders = {}
        try:
            if self.up_to_date(name):
                self._mark_skipped(name)
                print(self._skip_line(name), flush=True)
                return None
            index = names.index(name)
            if index:
                self.ensure(names[index - 1])
                self._folders = {}
            reason = self.why_stale(name)
            if reason is None:  # an earlier rerun left its inputs as they were
                self._mark_skipped(name)
                print(self._skip_line(name), flush=True)
                return None
            self.preflight([name])
            takes_resume = stage.training is not None and "resume" not in kwargs \
                and _accepts(fn, "resume")

            def run(resume: bool) -> Any:
                extra = {"resume": resume} if takes_resume else {}
                return fn(*args, **kwargs, **extra)

            result = self._run_stage(name, reason, run)
            outputs = ", ".join(mf.display_path(p, self.work_dir)
                                for p in stage.outputs().values())
            print(f"{name}: done in {self.seconds[name]:g} s -> {outputs}",
                  flush=True)
            return result
        finally:
            self._folders = None

    def _skip_line(self, name: str) -> str:
        """"<name>: up to date (made <local time> from <inputs>), skipped"."""
        record = mf.Manifest.load(self.manifest_path(name))
        made = _local_time(record.time) if record else "?"
        sources = ", ".join(record.inputs) if record and record.inputs else (
            "settings " + ", ".join(record.settings) if record else "?")
        return f"{name}: up to date (made {made} from {sources}), skipped"

    def _start_afresh(self, stage: Stage) -> None:
        """Before a training starts from scratch: forget the work dir's last
        checkpoint (made with other inputs or settings), so that an interruption
        of the new training can never resume the old one. Checkpoint files stay."""
        from .train import LAST_CHECKPOINT

        (self._train_dir(stage.name) / LAST_CHECKPOINT).unlink(missing_ok=True)

    def _train_dir(self, stage: str) -> Path:
        return self.det_dir if stage == "train_det" else self.action_dir

    # ---- results -------------------------------------------------------------
    def metrics(self) -> dict[str, float]:
        """The headline metrics of the last evaluation, fractions in [0, 1]:
        `det_ap50`, `frame_map`, `video_map_0.2`, `video_map_0.5` (those present in
        `WORK_DIR/eval/metrics.json`). Raises FileNotFoundError before `evaluate` ran.
        """
        return _read_metrics(self.eval_dir / "metrics.json")

    def produced_on(self) -> str:
        """The device(s) the model stages' outputs were made on, from their
        manifests: "cpu", or e.g. "cuda (train_det, train_action), cpu (detect)"."""
        devices: dict[str, list[str]] = {}
        for name in MODEL_STAGES:
            record = mf.Manifest.load(self.manifest_path(name))
            if record is not None and record.device:
                devices.setdefault(record.device, []).append(name)
        if len(devices) <= 1:
            return next(iter(devices), self.device)
        return ", ".join(f"{d} ({', '.join(s)})" for d, s in devices.items())

    def summary(self) -> RunAllResult:
        """What `run_all` returns (a `RunAllResult`), read from the work dir.

        Raises:
            StadError: A model stage has not run yet (no checkpoint).
        """
        result = RunAllResult(
            self.work_dir, profile=self.profile,
            models={"det": self.configs["det_config"].name,
                    "action": self.configs["action_config"].name},
            device=self.produced_on(), metrics=self.metrics(),
            seconds=dict(self.seconds), skipped=list(self.skipped))
        result.seconds["total"] = round(sum(self.seconds.values()), 1)
        paths = {
            "data": self.data_root, "det_checkpoint": self.det_checkpoint(),
            "action_checkpoint": self.action_checkpoint(),
            "metrics": self.eval_dir / "metrics.json",
            "demo": self.demo_mp4, "demo_json": self.demo_mp4.with_suffix(".json"),
        }
        result.paths = {k: mf.display_path(p, self.work_dir) for k, p in paths.items()}
        return result


def run_all(
    profile: str = "cpu",
    data: str | os.PathLike | None = None,
    work_dir: str | os.PathLike = "work_dirs/tutorial",
    **kwargs: Any,
) -> RunAllResult:
    """Run every stage of the tutorial; return and save metrics, paths and timings.

    `profile` picks the models, `device=` (in `kwargs`, with the rest of
    `Tutorial`'s options) where they run. Writes `<work_dir>/summary.json`, whose
    paths are relative to the work dir.
    """
    tutorial = Tutorial(profile, data, work_dir, **kwargs)
    # Never a folder of the user's (data= is an input: never the work dir).
    claim_output_dir(tutorial.work_dir, kind="tutorial run", inputs=[data],
                     legacy=_tutorial_layout)
    tutorial.ensure("demo")
    result = tutorial.summary()
    dump_json(result.summary(), tutorial.work_dir / "summary.json", indent=2)
    return result


def _tutorial_layout(work_dir: Path) -> bool:
    """True for a `run_all` work dir written before output folders were marked."""
    names = {p.name for p in work_dir.iterdir() if not p.name.startswith(".")}
    return names <= {"data", "det", "action", "eval", "demo", "stages", "summary.json"}


def _accepts(fn: Callable[..., Any], name: str) -> bool:
    """Whether `fn` takes a keyword argument `name` (or any keyword)."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _local_time(utc: str) -> str:
    """A manifest's UTC stamp ("2026-12-03T09:15:00Z") as local "2026-12-03 10:15"."""
    try:
        stamp = datetime.strptime(utc, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return utc or "?"
    return stamp.replace(tzinfo=timezone.utc).astimezone().strftime("%Y-%m-%d %H:%M")


def _plain(value: Any) -> Any:
    """JSON for what a config holds beyond JSON's types (never a memory address)."""
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    return f"<{type(value).__module__}.{type(value).__qualname__}>"


def _read_metrics(path: Path) -> dict[str, float]:
    metrics = json.loads(path.read_text())
    keys = ("det_ap50", "frame_map", "video_map_0.2", "video_map_0.5")
    return {k: metrics[k] for k in keys if k in metrics}


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
