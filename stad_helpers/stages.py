"""Stages with manifests: whether each is up to date, what to run, running it.

A `Stage` is one step (`run(resume)`) and what it reads and writes; a
`StageRunner` runs a list of them over one work dir. A stage is up to date only
when its manifest, `<work_dir>/stages/<stage>.json` (`stad_helpers.manifest`),
says it finished from the same inputs (content fingerprints: data, checkpoints,
the demo video), with the same settings (profile, the configs as MMEngine reads
them, config options, seed, thresholds; not the device), and its outputs are
still what it wrote. Anything else reruns it, and every later stage that reads
its outputs reruns because its inputs changed. A training stage is done only
when its checkpoint reached the end of the schedule; one that was interrupted
resumes from its last checkpoint when nothing else changed. Paths kept in the
manifests are relative to the work dir, so it can be moved or copied.

| name            | what                                                        |
|-----------------|-------------------------------------------------------------|
| `why_stale`     | why a stage must run ("not run yet", "inputs changed: gt")  |
| `plan`          | the stages `ensure` would run                               |
| `preflight`     | the checks before any stage starts (pretrained weights)     |
| `ensure`        | run a stage and every stale one before it                   |
| `step`          | the notebooks' form: run a stage as a visible call, or skip |

`stad_helpers.pipeline.Tutorial` is the tutorial's runner (its stages, paths and
results).

Used in: 00_setup to 05_your_own_data (through `Tutorial`).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import manifest as mf
from .errors import StadError

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


class StageRunner:
    """Runs `stages` (name -> `Stage`, in order) over `work_dir`, each when it is
    not up to date, recording a manifest per stage.

    A subclass fills `stages` and says where a training stage's work dir is
    (`_train_dir`); `model_stages` are the stages whose manifests record the
    device. `seconds` (per stage run or skipped, 0.0 when skipped) and `skipped`
    collect what happened since construction.

    Raises:
        StadError: From `ensure`, `step`, `plan` and `why_stale` for an unknown
            stage; from `preflight` for weights that cannot be had; from a stage
            that fails.
    """

    model_stages: tuple[str, ...] = ()

    def __init__(self, work_dir: str | Path, device: str, progress: bool = True):
        """`work_dir`: where the manifests go (`<work_dir>/stages/`); `device`:
        what the stages run under (`train.use_device`); `progress`: print a line
        per stage."""
        self.work_dir = Path(work_dir)
        self.device = device
        self.progress = progress
        self.stages: dict[str, Stage] = {}
        self.seconds: dict[str, float] = {}
        self.skipped: list[str] = []
        self._folders: dict[str, dict | None] | None = None  # within `ensure`

    @property
    def manifest_dir(self) -> Path:
        """`WORK_DIR/stages`: one manifest JSON per stage run."""
        return self.work_dir / "stages"

    def manifest_path(self, stage: str) -> Path:
        """`WORK_DIR/stages/<stage>.json`, the manifest of stage `stage`."""
        return self.manifest_dir / f"{stage}.json"

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
            device=self.device if stage.name in self.model_stages else "",
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
        """The work dir of training stage `stage` (its `last_checkpoint`)."""
        raise NotImplementedError


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
