"""A stage reruns exactly when what made its outputs changed (`Tutorial.ensure`).

The heavy stages (frames, both trainings, detection, proposals, evaluation, demo)
are replaced by stand-ins that record each call and write outputs of the right
names (a checkpoint whose `meta` ends the config's schedule, ...); each new
"training" gives new weights, as a real one does. The dataset (annotation only,
no videos), detector annotations and AVA files are the real stages. What is
tested is the bookkeeping: which stages run, resume, or are skipped, after
switching profile, changing an option, replacing the data, pointing the demo at
another video, interrupting a training, and moving or copying the work dir.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch

from stad_helpers import manifest as mf
from stad_helpers import pipeline
from stad_helpers.data import layout
from stad_helpers.errors import StadError
from stad_helpers.fileio import dump_json, dump_pickle
from stad_helpers.pipeline import Tutorial, run_all

STAGES = ["dataset", "det_anno", "frames", "train_det", "detect", "proposals", "ava",
          "train_action", "evaluate", "demo"]
AFTER_DET = ["train_det", "detect", "proposals", "train_action", "evaluate", "demo"]
SYNTH = dict(videos=4, frames=48, width=160, height=120, write_videos=False)
REAL = {"dataset", "det_anno", "ava"}  # cheap: the real stages run


class Recorder:
    """Stand-ins for the heavy stages; `calls`: (stage, resumed) in call order."""

    def __init__(self):
        self.calls: list[tuple[str, bool]] = []
        self.preflights: list[list[str]] = []
        self.interrupt: dict[str, int] = {}  # stage -> stop after this many steps

    def ran(self) -> list[str]:
        names = [name for name, _ in self.calls]
        self.calls.clear()
        return names

    # -- stand-ins -----------------------------------------------------------
    def frames(self, t: Tutorial, resume: bool) -> None:
        # One file per state of the videos: new videos, new frames.
        videos = mf.fingerprint(t.videos_dir) or {"sha256": "none"}
        shutil.rmtree(t.rawframes_dir, ignore_errors=True)
        t.rawframes_dir.mkdir(parents=True)
        (t.rawframes_dir / f"{videos['sha256'][:12]}.jpg").write_bytes(b"jpg")

    def train(self, t: Tutorial, resume: bool, name: str) -> None:
        from stad_helpers.train import (
            checkpoint_progress,
            load_config,
            read_last_checkpoint,
            schedule_end,
        )

        folder = t.det_dir if name == "train_det" else t.action_dir
        config, options = t.stages[name].training()
        unit, end = schedule_end(load_config(config, options))
        start = 0
        if resume:
            start = checkpoint_progress(read_last_checkpoint(folder))[unit]
        stop = self.interrupt.pop(name, end)
        folder.mkdir(parents=True, exist_ok=True)
        ckpt = folder / f"{unit}_{stop}.pth"
        torch.save({"meta": {"epoch": stop if unit == "epoch" else 0,
                             "iter": stop if unit == "iter" else 0,
                             "started_at": start},
                    "state_dict": {"w": torch.randn(4)}}, ckpt)
        # MMEngine writes the absolute path
        (folder / "last_checkpoint").write_text(str(ckpt.absolute()))
        if stop < end:
            raise KeyboardInterrupt

    def detect(self, t: Tutorial, resume: bool) -> None:
        dump_pickle({"boxes": torch.randn(3).tolist()}, t.det_results)

    def proposals(self, t: Tutorial, resume: bool) -> None:
        for split in ("train", "val"):
            dump_pickle({"p": torch.randn(3).tolist()},
                        layout.proposals_file(t.anno_dir, split))

    def evaluate(self, t: Tutorial, resume: bool) -> None:
        dump_json({"frame_map": 0.5, "video_map_0.2": 0.4, "video_map_0.5": 0.3,
                   "det_ap50": 0.9}, t.eval_dir / "metrics.json")

    def demo(self, t: Tutorial, resume: bool) -> None:
        t.demo_mp4.parent.mkdir(parents=True, exist_ok=True)
        t.demo_mp4.write_bytes(os.urandom(64))
        dump_json({"video": str(t.demo_input())}, t.demo_mp4.with_suffix(".json"))


@pytest.fixture
def rec(monkeypatch) -> Recorder:
    recorder = Recorder()
    original = Tutorial._stages

    def stages(self):
        out = original(self)
        for stage in out:
            real = stage.run if stage.name in REAL else None

            def run(resume, name=stage.name, real=real, tutorial=self):
                recorder.calls.append((name, resume))
                if real is not None:
                    return real(resume)
                if name.startswith("train_"):
                    return recorder.train(tutorial, resume, name)
                return getattr(recorder, name)(tutorial, resume)

            stage.run = run
        return out

    def preflight(configs, options=None, **kwargs):
        recorder.preflights.append([Path(c).name for c in configs])
        return []

    monkeypatch.setattr(Tutorial, "_stages", stages)
    monkeypatch.setattr("stad_helpers.weights.preflight", preflight)
    return recorder


def tutorial(work: Path, **kwargs) -> Tutorial:
    options = dict(synth_options=SYNTH, progress=False, min_coverage=0.0,
                   device="cpu")
    return Tutorial(work_dir=work, **{**options, **kwargs})


def test_first_run_runs_every_stage_and_an_unchanged_one_nothing(rec, tmp_path):
    t = tutorial(tmp_path / "w")
    t.ensure("demo")
    assert rec.ran() == STAGES
    assert rec.preflights == [[t.configs["det_config"].name,
                               t.configs["action_config"].name]]
    again = tutorial(tmp_path / "w")
    assert again.plan("demo") == []
    again.ensure("demo")
    assert rec.ran() == [] and again.skipped == STAGES
    # The manifests say what made each output, and on which device.
    record = json.loads((tmp_path / "w" / "stages" / "train_det.json").read_text())
    assert record["status"] == "done" and record["device"] == "cpu"
    assert record["settings"]["profile"] == "cpu"
    assert record["paths"]["det_checkpoint"].startswith("det/")  # relative
    assert set(record["inputs"]) == {"det_anno_train", "det_anno_val", "rawframes"}
    assert set(record["settings"]) == {"profile", "det_config", "det_options"}


def test_notebooks_reuse_what_earlier_ones_made(rec, tmp_path):
    tutorial(tmp_path / "w").ensure("frames")
    assert rec.ran() == ["dataset", "det_anno", "frames"]
    tutorial(tmp_path / "w").ensure("evaluate")
    assert rec.ran() == ["train_det", "detect", "proposals", "ava", "train_action",
                         "evaluate"]


def test_switching_profile_reruns_the_models_not_the_data(rec, tmp_path):
    tutorial(tmp_path / "w").ensure("demo")
    rec.ran()
    gpu = tutorial(tmp_path / "w", profile="gpu")
    assert gpu.why_stale("train_det") == "settings changed: det_config, profile"
    gpu.ensure("demo")
    assert rec.ran() == AFTER_DET
    assert rec.preflights[-1] == [gpu.configs["det_config"].name,
                                  gpu.configs["action_config"].name]
    # ... and back: the CPU models are trained again (the GPU run replaced them).
    tutorial(tmp_path / "w").ensure("demo")
    assert rec.ran() == AFTER_DET


def test_changing_an_option_reruns_the_stages_it_affects(rec, tmp_path):
    tutorial(tmp_path / "w").ensure("demo")
    rec.ran()
    longer = {"action": {"train_cfg.max_epochs": 3}}
    t = tutorial(tmp_path / "w", cfg_options=longer)
    assert t.why_stale("train_action") == "settings changed: action_options"
    t.ensure("demo")
    assert rec.ran() == ["train_action", "evaluate", "demo"]
    t = tutorial(tmp_path / "w", cfg_options=longer, schedule={"det": {"iters": 7}})
    t.ensure("demo")
    assert rec.ran() == AFTER_DET
    assert t.det_checkpoint().name == "iter_7.pth"
    # The same options again: nothing to do.
    tutorial(tmp_path / "w", cfg_options=longer,
             schedule={"det": {"iters": 7}}).ensure("demo")
    assert rec.ran() == []


def test_a_config_edit_reruns_what_it_changes_not_a_comment(rec, tmp_path):
    det = pipeline.profile_configs("cpu")["det_config"]
    mine = tmp_path / det.name
    shutil.copy(det, mine)

    def with_my_config():
        t = tutorial(tmp_path / "w")
        t.configs["det_config"] = mine
        return t

    with_my_config().ensure("demo")
    rec.ran()
    mine.write_text(mine.read_text() + "\n# a note of mine\n")
    with_my_config().ensure("demo")
    assert rec.ran() == []
    text = mine.read_text()
    assert "max_iters = 600" in text
    mine.write_text(text.replace("max_iters = 600", "max_iters = 500"))
    t = with_my_config()
    assert t.why_stale("train_det") == "settings changed: det_config"
    t.ensure("demo")
    assert rec.ran() == AFTER_DET
    assert t.det_checkpoint().name == "iter_500.pth"


def test_replacing_the_data_reruns_everything_made_from_it(rec, tmp_path):
    tutorial(tmp_path / "w").ensure("demo")
    rec.ran()
    tutorial(tmp_path / "w", seed=1).ensure("demo")
    assert rec.ran() == STAGES


def test_user_data_a_copy_reruns_nothing_a_changed_video_what_reads_videos(
        rec, tmp_path):
    from stad_helpers.data.synth import make_synthetic_dataset

    data = tmp_path / "data"
    make_synthetic_dataset(data, progress=False, **SYNTH)
    gt = Tutorial(data=data, work_dir=tmp_path / "x", device="cpu").gt()
    for video in [*gt.train_videos, *gt.test_videos]:
        path = data / "trainval" / f"{video}.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"video " + video.encode())
    tutorial(tmp_path / "w", data=data).ensure("demo")
    assert rec.ran() == STAGES  # the dataset stage only checks the user's data

    copy = tmp_path / "copy"
    shutil.copytree(data, copy)
    tutorial(tmp_path / "w", data=copy).ensure("demo")
    assert rec.ran() == []  # same contents: nothing to redo

    video = copy / "trainval" / f"{gt.train_videos[0]}.mp4"
    video.write_bytes(b"another video, another size")
    tutorial(tmp_path / "w", data=copy).ensure("demo")
    assert rec.ran() == ["dataset", "frames", *AFTER_DET]


def test_user_data_is_never_regenerated(rec, tmp_path):
    with pytest.raises(StadError, match="does not exist"):
        tutorial(tmp_path / "w", data=tmp_path / "none").ensure("dataset")
    assert not (tmp_path / "none").exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(StadError, match="annotation missing"):
        tutorial(tmp_path / "w", data=tmp_path / "empty").ensure("dataset")
    assert list((tmp_path / "empty").iterdir()) == []


def test_another_demo_video_reruns_the_demo_only(rec, tmp_path):
    tutorial(tmp_path / "w").ensure("demo")
    rec.ran()
    clip = tmp_path / "street.mp4"
    clip.write_bytes(b"my own clip")
    t = tutorial(tmp_path / "w", demo_video=clip)
    assert t.why_stale("demo") == "inputs changed: video"
    t.ensure("demo")
    assert rec.ran() == ["demo"]
    assert json.loads(t.demo_mp4.with_suffix(".json").read_text())["video"] == str(clip)
    tutorial(tmp_path / "w", demo_video=clip).ensure("demo")
    assert rec.ran() == []
    clip.write_bytes(b"my own clip, edited")  # same path, new contents
    tutorial(tmp_path / "w", demo_video=clip).ensure("demo")
    assert rec.ran() == ["demo"]


def test_an_interrupted_training_resumes_and_is_done_only_at_its_end(rec, tmp_path):
    rec.interrupt["train_det"] = 2
    with pytest.raises(KeyboardInterrupt):
        tutorial(tmp_path / "w").ensure("demo")
    assert rec.ran() == ["dataset", "det_anno", "frames", "train_det"]
    t = tutorial(tmp_path / "w")
    assert t.why_stale("train_det") == pipeline.INTERRUPTED
    t.ensure("demo")
    assert rec.calls[0] == ("train_det", True)  # resumed, nothing before it redone
    assert rec.ran() == ["train_det", "detect", "proposals", "ava", "train_action",
                         "evaluate", "demo"]
    assert t.det_checkpoint().name == "iter_600.pth"

    # Interrupted, then an option changed: that training starts afresh, and the
    # old run's last checkpoint is not resumed even if the new one stops early.
    rec.interrupt["train_action"] = 3
    opts = {"action": {"train_cfg.max_epochs": 5}}
    with pytest.raises(KeyboardInterrupt):
        tutorial(tmp_path / "w", cfg_options=opts).ensure("demo")
    assert rec.ran() == ["train_action"]
    opts = {"action": {"train_cfg.max_epochs": 6}}
    tutorial(tmp_path / "w", cfg_options=opts).ensure("demo")
    assert rec.calls[0] == ("train_action", False)
    assert rec.ran() == ["train_action", "evaluate", "demo"]


def test_a_training_that_ends_early_is_not_recorded_as_done(rec, tmp_path,
                                                            monkeypatch):
    t = tutorial(tmp_path / "w")
    train = rec.train

    def short(t, resume, name):  # returns normally, but stopped at 2 of 600
        rec.interrupt[name] = 2
        try:
            train(t, resume, name)
        except KeyboardInterrupt:
            pass

    monkeypatch.setattr(rec, "train", short)
    with pytest.raises(StadError, match="iteration 2 of 600"):
        t.ensure("train_det")
    assert t.why_stale("train_det") == pipeline.INTERRUPTED


@pytest.mark.parametrize("how", ["move", "copy"])
def test_a_moved_or_copied_work_dir_stays_up_to_date_and_uses_its_own_files(
        rec, tmp_path, how):
    first = tmp_path / "teacher"
    run_all("cpu", work_dir=first, synth_options=SYNTH, progress=False,
            min_coverage=0.0, device="cpu")
    rec.ran()
    student = tmp_path / "student"
    if how == "move":
        shutil.move(first, student)
    else:
        shutil.copytree(first, student)
        shutil.rmtree(first)  # the original is gone; the copy must not need it
    t = tutorial(student)
    assert t.plan("demo") == []
    assert t.det_checkpoint().parent == student / "det"
    assert t.action_checkpoint().parent == student / "action"
    result = run_all("cpu", work_dir=student, synth_options=SYNTH, progress=False,
                     min_coverage=0.0, device="cpu")
    assert rec.ran() == [] and result.skipped == STAGES
    assert result.path("det_checkpoint") == student / "det" / "iter_600.pth"
    summary = json.loads((student / "summary.json").read_text())
    assert summary["paths"]["det_checkpoint"] == "det/iter_600.pth"
    assert not any(str(tmp_path) in v for v in summary["paths"].values())


def test_summary_says_which_models_and_device_made_it(rec, tmp_path):
    result = run_all("cpu", work_dir=tmp_path / "w", synth_options=SYNTH,
                     progress=False, min_coverage=0.0, device="cpu")
    summary = json.loads((tmp_path / "w" / "summary.json").read_text())
    assert summary["profile"] == "cpu" and summary["device"] == "cpu"
    assert summary["models"] == {
        "det": result.models["det"], "action": result.models["action"]}
    assert "r18-slim" in summary["models"]["det"]
    text = pipeline.format_summary(result)
    assert "profile cpu: " + summary["models"]["det"] in text
    assert "device  cpu" in text


def test_a_deleted_or_edited_output_reruns_its_stage_and_what_follows(rec, tmp_path):
    tutorial(tmp_path / "w").ensure("demo")
    rec.ran()
    t = tutorial(tmp_path / "w")
    layout.ava_csv(t.anno_dir, "train").unlink()
    assert t.why_stale("ava") == "outputs missing: ava_train"
    t.ensure("demo")
    # the csv comes back the same (made from the same GT): nothing after reruns
    assert rec.ran() == ["ava"]
    dump_pickle({"boxes": []}, t.det_results)  # edited by hand
    tutorial(tmp_path / "w").ensure("demo")
    assert rec.ran() == ["detect", "proposals", "train_action", "evaluate", "demo"]


def test_cuda_asked_for_without_a_gpu_is_a_clear_error(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(StadError, match="device 'cuda'.*--device cpu"):
        Tutorial(work_dir=tmp_path, device="cuda")
    with pytest.raises(StadError, match="unknown device"):
        Tutorial(work_dir=tmp_path, device="tpu")


def test_schedule_fits_either_loop_and_refuses_unknown_keys(tmp_path):
    cpu = Tutorial(work_dir=tmp_path, device="cpu",
                   schedule={"det": {"iters": 50, "epochs": 3},
                             "action": {"iters": 50, "epochs": 3}})
    assert cpu.cfg_options["det"]["train_cfg.max_iters"] == 50  # by iterations
    assert "train_cfg.max_epochs" not in cpu.cfg_options["det"]
    assert cpu.cfg_options["action"]["train_cfg.max_epochs"] == 3  # by epochs
    gpu = Tutorial("gpu", work_dir=tmp_path, device="cpu",
                   schedule={"det": {"iters": 50, "epochs": 3}})
    assert gpu.cfg_options["det"] == {"train_cfg.max_epochs": 3}
    with pytest.raises(StadError, match="unknown \\['steps'\\]"):
        Tutorial(work_dir=tmp_path, device="cpu", schedule={"det": {"steps": 3}})


def test_every_command_running_a_model_takes_device(capsys, tmp_path):
    from stad_helpers.cli import main

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    configs = pipeline.profile_configs("cpu")
    det, act = str(configs["det_config"]), str(configs["action_config"])
    ckpt = tmp_path / "model.pth"
    ckpt.write_bytes(b"not read: the device is checked first")
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"not read either")
    commands = {
        "run-all": ["run-all", "--work-dir", str(tmp_path / "w")],
        "train": ["train", "det", det, "--work-dir", str(tmp_path / "t")],
        "detect": ["detect", det, str(ckpt), "--data", str(tmp_path), "--out",
                   str(tmp_path / "det.pkl")],
        "evaluate": ["evaluate", act, str(ckpt), "--out-dir", str(tmp_path / "e")],
        "demo": ["demo", str(video), str(tmp_path / "out.mp4"), "--config", act,
                 "--checkpoint", str(ckpt), "--det-config", det,
                 "--det-checkpoint", str(ckpt)],
    }
    for name, argv in commands.items():
        assert main([*argv, "--device", "cuda"]) == 1, name
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"stad {name}: error: device 'cuda' asked for"), err
        assert "\n" not in err
    assert not (tmp_path / "w").exists() and not (tmp_path / "t").exists()


@pytest.mark.slow
def test_a_real_interrupted_detector_training_resumes_where_it_stopped(
        tmp_path, monkeypatch):
    """The one real run here: a tiny detector, Ctrl-C after iteration 3 of 4
    (checkpoint at 2), then `ensure` again resumes from iteration 2."""
    from mmengine.hooks import Hook

    import stad_helpers.train as train_module
    from stad_helpers.train import checkpoint_progress

    started: list[int] = []
    stop_after = [3]

    class Watch(Hook):
        def before_train(self, runner):
            started.append(runner.iter)

        def after_train_iter(self, runner, batch_idx, data_batch=None,
                             outputs=None):
            if stop_after and runner.iter + 1 == stop_after[0]:
                stop_after.clear()
                raise KeyboardInterrupt

    monkeypatch.setattr(train_module, "_progress_hook", Watch)

    def tiny():
        return Tutorial(
            work_dir=tmp_path / "w", progress=False, device="cpu",
            synth_options=dict(videos=4, frames=48, width=160, height=120),
            cfg_options={"det": {"train_cfg.max_iters": 4,
                                 "default_hooks.checkpoint.interval": 2,
                                 "train_dataloader.batch_size": 2}})

    with pytest.raises(KeyboardInterrupt):
        tiny().ensure("train_det")
    t = tiny()
    assert t.why_stale("train_det") == pipeline.INTERRUPTED
    assert checkpoint_progress(t.det_checkpoint())["iter"] == 2
    t.ensure("train_det")
    assert started == [0, 2]  # the second run resumed from the checkpoint
    assert t.seconds["train_det"] > 0 and t.skipped == ["dataset", "det_anno",
                                                          "frames"]
    assert checkpoint_progress(t.det_checkpoint())["iter"] == 4
    assert (t.det_dir / "last_checkpoint").read_text() == "iter_4.pth"
    assert tiny().plan("train_det") == []


@pytest.mark.slow
def test_notebook_05_run_twice_trains_nothing_again(tmp_path):
    """Notebook 05's loop, tiny: export, import (replacing the dataset folder),
    train, evaluate; the second pass re-imports the same annotation and only
    remakes the converted files the import replaced, no model."""
    from stad_helpers.annotations import export_cvat, import_annotations
    from stad_helpers.data.synth import make_synthetic_dataset

    ran = []
    for _ in range(2):
        gt = make_synthetic_dataset(tmp_path / "source", seed=1, videos=8, frames=48,
                                    width=160, height=120, progress=False)
        shutil.rmtree(tmp_path / "cvat", ignore_errors=True)
        export = export_cvat(gt, tmp_path / "cvat")
        import_annotations("cvat", export if isinstance(export, list) else [export],
                           tmp_path / "source" / "trainval", tmp_path / "dataset",
                           test_ratio=0.3, overwrite=True)
        t = Tutorial(data=tmp_path / "dataset", work_dir=tmp_path / "run",
                     min_coverage=0.0, progress=False, device="cpu",
                     schedule={"det": {"iters": 4, "epochs": 1},
                               "action": {"epochs": 1}},
                     cfg_options={"det": {"train_dataloader.batch_size": 2}})
        t.ensure("evaluate")
        ran.append([s for s in t.seconds if s not in t.skipped])
    assert ran[0] == STAGES[:-1]
    assert ran[1] == ["det_anno", "frames", "proposals", "ava"]
