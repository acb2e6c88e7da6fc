"""MMEngine trains a tiny model, checkpoints it, and a second Runner resumes; the
project's training glue does the same on it (crash, resume, bad checkpoints)."""

from __future__ import annotations

import torch
from mmengine.model import BaseModel
from torch import nn

import stad_helpers  # noqa: F401  (compat: checkpoint reloading under torch >= 2.6)


class TinyModel(BaseModel):
    """A linear regressor in MMEngine's BaseModel interface."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, targets=None, mode="tensor"):
        out = self.linear(inputs)
        if mode == "loss":
            return {"loss": ((out - targets) ** 2).mean()}
        return out


class ToyData(torch.utils.data.Dataset):
    def __len__(self):
        return 16

    def __getitem__(self, i):
        x = torch.tensor([float(i), 1.0])
        return {"inputs": x, "targets": x[:1] * 2}


def _runner(work_dir, max_iters, resume=False):
    from mmengine.runner import Runner

    torch.manual_seed(0)  # same initial weights for every run
    return Runner(
        model=TinyModel(),
        work_dir=str(work_dir),
        train_dataloader=dict(dataset=ToyData(), batch_size=4,
                              sampler=dict(type="DefaultSampler", shuffle=False),
                              collate_fn=dict(type="default_collate")),
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=1e-4)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(checkpoint=dict(type="CheckpointHook", interval=2,
                                           by_epoch=False),
                           logger=dict(type="LoggerHook", interval=1)),
        resume=resume,
        randomness=dict(seed=0),
        experiment_name=f"tiny_{max_iters}_{resume}",
    )


def test_runner_trains_saves_and_resumes(tmp_path):
    first = _runner(tmp_path / "run", max_iters=2)
    first.train()
    ckpt = tmp_path / "run" / "iter_2.pth"
    assert ckpt.exists()
    saved = torch.load(ckpt, map_location="cpu")  # torch's default weights_only
    assert saved["meta"]["iter"] == 2

    second = _runner(tmp_path / "run", max_iters=4, resume=True)
    second.train()
    assert second.iter == 4
    resumed = torch.load(tmp_path / "run" / "iter_4.pth", map_location="cpu")
    assert resumed["meta"]["iter"] == 4
    # the message hub came back from the checkpoint: 2 losses logged + 2 new
    assert len(resumed["message_hub"]["log_scalars"]["train/loss"].data[0]) == 4

    # 2 + 2 resumed iterations give the same weights as 4 straight ones
    straight = _runner(tmp_path / "straight", max_iters=4)
    straight.train()
    expected = straight.model.state_dict()["linear.weight"]
    assert torch.allclose(resumed["state_dict"]["linear.weight"], expected)
    assert not torch.allclose(saved["state_dict"]["linear.weight"], expected)


# ---------------------------------------------------------------------------
# The project's training glue (`stad_helpers.train.train`) on the same toy model
# ---------------------------------------------------------------------------
def _register_toys():
    """Register the toy model, data and a hook that fails mid-way, by name."""
    from mmengine.hooks import Hook
    from mmengine.registry import DATASETS, HOOKS, MODELS

    class StadToyModel(TinyModel):
        """TinyModel with `outputs` outputs, the first one regressed."""

        def __init__(self, outputs=1):
            super().__init__()
            self.linear = nn.Linear(2, outputs)

        def forward(self, inputs, targets=None, mode="tensor"):
            out = self.linear(inputs)[:, :1]
            if mode == "loss":
                return {"loss": ((out - targets) ** 2).mean()}
            return out

    class StadFailAtIter(Hook):
        """Raise after iteration `at`, as a crash (or a kill) mid-way would."""

        def __init__(self, at):
            self.at = at

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            if runner.iter + 1 == self.at:
                raise RuntimeError(f"simulated crash after iteration {self.at}")

    MODELS.register_module("StadToyModel", module=StadToyModel, force=True)
    DATASETS.register_module("StadToyData", module=ToyData, force=True)
    HOOKS.register_module("StadFailAtIter", module=StadFailAtIter, force=True)


TOY_CONFIG = """
model = dict(type="StadToyModel", outputs={outputs})
# Every batch is the whole dataset, in order; the infinite sampler saves the 2 s
# sleep of MMEngine's iteration loop at each restart of the dataloader.
train_dataloader = dict(dataset=dict(type="StadToyData"), batch_size=16,
                        sampler=dict(type="InfiniteSampler", shuffle=False),
                        collate_fn=dict(type="default_collate"))
optim_wrapper = dict(optimizer=dict(type="SGD", lr=1e-4))
train_cfg = dict(by_epoch=False, max_iters=6)
default_hooks = dict(checkpoint=dict(type="CheckpointHook", interval=2,
                                     by_epoch=False),
                     logger=dict(type="LoggerHook", interval=1))
randomness = dict(seed=0)
"""


def _toy_config(folder, outputs=1):
    _register_toys()
    path = folder / f"toy_{outputs}.py"
    path.write_text(TOY_CONFIG.format(outputs=outputs))
    return path


def test_glue_resumes_a_crashed_training_and_ends_where_a_straight_one_does(
        tmp_path, capsys):
    import pytest

    from stad_helpers.train import train

    config = _toy_config(tmp_path)
    work = tmp_path / "work"
    crash = {"custom_hooks": [dict(type="StadFailAtIter", at=3)]}
    with pytest.raises(RuntimeError, match="after iteration 3"):
        train(config, work, cfg_options=crash)
    assert (work / "last_checkpoint").read_text().strip().endswith("iter_2.pth")

    capsys.readouterr()
    last = train(config, work, resume=True)
    out, err = capsys.readouterr()
    assert last == work / "iter_6.pth"
    assert out == ""  # MMEngine's log is quiet; a progress bar shows instead
    assert "train" in err and "2/6" in err and "6/6" in err  # from iteration 2

    straight = train(config, tmp_path / "straight")
    assert torch.allclose(torch.load(last)["state_dict"]["linear.weight"],
                          torch.load(straight)["state_dict"]["linear.weight"])


def test_glue_resume_without_a_checkpoint_starts_afresh_from_load_from(
        tmp_path, capsys):
    from stad_helpers.train import train

    config = _toy_config(tmp_path)
    first = train(config, tmp_path / "first")
    work = tmp_path / "finetune"
    capsys.readouterr()
    last = train(config, work, resume=True, cfg_options={"load_from": str(first)})
    assert last == work / "iter_6.pth"
    assert "0/6" in capsys.readouterr().err  # not resumed: from iteration 0
    # it started from `first`'s weights: 6 + 6 iterations (each one sees the
    # whole dataset) give the weights of 12
    twelve = train(config, tmp_path / "twelve",
                   cfg_options={"train_cfg.max_iters": 12})
    assert torch.allclose(torch.load(last)["state_dict"]["linear.weight"],
                          torch.load(twelve)["state_dict"]["linear.weight"])


def test_glue_refuses_checkpoints_of_another_model_naming_the_file(tmp_path):
    import pytest

    from stad_helpers.errors import StadError
    from stad_helpers.train import train

    other = train(_toy_config(tmp_path, outputs=3), tmp_path / "other")
    config = _toy_config(tmp_path)
    # Resuming a work dir whose last checkpoint is of another model.
    work = tmp_path / "work"
    work.mkdir()
    (work / "last_checkpoint").write_text(str(other))
    with pytest.raises(StadError, match="does not match the model") as err:
        train(config, work, resume=True)
    assert str(other) in str(err.value) and config.name in str(err.value)
    # Fine-tuning from it: nothing of the model fits.
    with pytest.raises(StadError, match="does not match the model") as err:
        train(config, tmp_path / "b", cfg_options={"load_from": str(other)})
    assert str(other) in str(err.value)
    # A checkpoint the last_checkpoint file names, but which is gone.
    (work / "last_checkpoint").write_text(str(tmp_path / "gone.pth"))
    with pytest.raises(StadError, match="not found") as err:
        train(config, work, resume=True)
    assert "gone.pth" in str(err.value)


def test_glue_says_when_training_saved_no_checkpoint(tmp_path):
    import pytest

    from stad_helpers.errors import StadError
    from stad_helpers.train import train

    with pytest.raises(StadError, match="saved no checkpoint"):
        train(_toy_config(tmp_path), tmp_path / "w",
              cfg_options={"default_hooks.checkpoint": None,
                           "train_cfg.max_iters": 1})


def test_glue_keeps_the_work_dir_movable_and_a_copy_resumes_its_own_checkpoint(
        tmp_path):
    import shutil

    from stad_helpers.train import read_last_checkpoint, train

    config = _toy_config(tmp_path)
    work = tmp_path / "work"
    train(config, work, cfg_options={"train_cfg.max_iters": 4})
    assert (work / "last_checkpoint").read_text() == "iter_4.pth"  # relative

    # A copy whose last_checkpoint still holds the original's absolute path (as
    # MMEngine writes it, e.g. after an interruption), the original gone.
    copy = tmp_path / "copy"
    shutil.copytree(work, copy)
    (copy / "last_checkpoint").write_text(str(work / "iter_4.pth"))
    shutil.rmtree(work)
    assert read_last_checkpoint(copy) == copy / "iter_4.pth"
    last = train(config, copy, resume=True)
    assert last == copy / "iter_6.pth"
    assert torch.load(last)["meta"]["iter"] == 6


def test_schedule_length_follows_the_loop_of_the_config(tmp_path):
    import pytest

    from stad_helpers.errors import StadError
    from stad_helpers.train import (
        load_config,
        schedule_end,
        schedule_options,
        train,
    )

    config = _toy_config(tmp_path)  # iteration-based, 6 iterations
    assert schedule_end(load_config(config)) == ("iter", 6)
    assert schedule_options(config, iters=3, epochs=2) == {"train_cfg.max_iters": 3}
    assert schedule_options(config, epochs=2) == {}
    by_epoch = tmp_path / "by_epoch.py"
    by_epoch.write_text(config.read_text().replace(
        "train_cfg = dict(by_epoch=False, max_iters=6)",
        "train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=3, val_begin=4)\n"
        "param_scheduler = [dict(type='ConstantLR', by_epoch=True, end=3)]"))
    assert schedule_end(load_config(by_epoch)) == ("epoch", 3)
    assert schedule_options(by_epoch, iters=300, epochs=5) == {
        "train_cfg.max_epochs": 5, "train_cfg.val_begin": 6,
        "param_scheduler.0.end": 5}
    # An iteration count for an epoch loop: one clear line, before any work.
    with pytest.raises(StadError, match="trains by epochs.*max_epochs, not "
                                        "train_cfg.max_iters"):
        train(by_epoch, tmp_path / "w", cfg_options={"train_cfg.max_iters": 3})
    assert not (tmp_path / "w").exists()


def test_use_device_puts_the_runner_on_the_device_asked_for(tmp_path):
    import mmengine.runner.runner as runner_module

    from stad_helpers.train import build_runner, use_device

    before = runner_module.get_device
    with use_device("cpu") as device:
        assert device == "cpu" and runner_module.get_device() == "cpu"
        runner = build_runner(_toy_config(tmp_path), tmp_path / "w")
    assert runner_module.get_device is before  # restored
    assert {p.device.type for p in runner.model.parameters()} == {"cpu"}
