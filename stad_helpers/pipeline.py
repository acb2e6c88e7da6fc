"""`stad run-all` and the notebooks' stages: what each needs and writes.

Stages (each one helper call): dataset -> detector annotations -> rawframes ->
train detector -> detect over every frame -> proposals -> AVA annotations ->
train action detector -> evaluate -> demo video.

Models and device are separate choices: `profile` picks the models
(`stad_helpers.profiles`), `device` where they run ("cpu", "cuda", "cuda:N";
default CUDA when torch sees a GPU): either profile runs on either device.

Whether a stage is up to date, and running it, is `stad_helpers.stages`
(manifests under `<work_dir>/stages/`); the summary `run_all` prints and writes
to `<work_dir>/summary.json` is `stad_helpers.run_summary`. Their names are
importable from here too (`Stage`, `INTERRUPTED`, `RunAllResult`,
`format_summary`, `PROFILES`, `PROFILE_HELP`, `profile_configs`).

Used in: 00_setup to 05_your_own_data (`Tutorial.ensure` runs the stage a
notebook teaches, after what it needs).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from . import manifest as mf
from .data import layout
from .errors import StadError
from .fileio import claim_output_dir, dump_json
from .profiles import CONFIGS, PROFILE_HELP, PROFILES, profile_configs
from .run_summary import RunAllResult, format_summary, read_metrics
from .stages import INTERRUPTED, Stage, StageRunner

__all__ = [
    "CONFIGS", "INTERRUPTED", "MODEL_STAGES", "PROFILES", "PROFILE_HELP",
    "RunAllResult", "Stage", "StageRunner", "Tutorial", "format_summary",
    "profile_configs", "run_all",
]

# Stages that run a model, and so have a device in their manifest.
MODEL_STAGES = ("train_det", "detect", "train_action", "evaluate", "demo")


class Tutorial(StageRunner):
    """The tutorial's stages over one work dir; `ensure(stage)` runs what is not
    up to date.

    Notebooks call `ensure` for the stage they teach, so each one also works
    alone (earlier stages run first when they are not up to date) and reuses
    what earlier notebooks produced when run in order.

    The stage machinery (manifests, `why_stale`, `plan`, `preflight`, `ensure`,
    `step`) is `stages.StageRunner`'s; this class says what the stages are, where
    they write (the path properties) and what came out (`metrics`, `summary`).

    Raises:
        StadError: On construction for bad settings (see `__init__`); from
            `ensure`, `preflight` and the checkpoint accessors for data, configs
            or checkpoints that are missing or unusable.
    """

    model_stages = MODEL_STAGES

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
        super().__init__(Path(work_dir), resolve_device(device), progress)
        self.user_data = data is not None
        if self.user_data:  # checked now, not as "annotation missing" stages later
            from .notebook import check_data_folder

            check_data_folder(data, "data")
        self.data_root = Path(data) if data else self.work_dir / "data" / "multisports"
        self.demo_video = Path(demo_video) if demo_video else None
        self.seed = seed
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
        self._score_thr: float | None = None
        self._digests: dict[tuple, str] = {}
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

    def _train_dir(self, stage: str) -> Path:
        """`det_dir` for `train_det`, else `action_dir`."""
        return self.det_dir if stage == "train_det" else self.action_dir

    # ---- results -------------------------------------------------------------
    def metrics(self) -> dict[str, float]:
        """The headline metrics of the last evaluation, fractions in [0, 1]:
        `det_ap50`, `frame_map`, `video_map_0.2`, `video_map_0.5` (those present in
        `WORK_DIR/eval/metrics.json`). Raises FileNotFoundError before `evaluate` ran.
        """
        return read_metrics(self.eval_dir / "metrics.json")

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


def _plain(value: Any) -> Any:
    """JSON for what a config holds beyond JSON's types (never a memory address)."""
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    return f"<{type(value).__module__}.{type(value).__qualname__}>"
