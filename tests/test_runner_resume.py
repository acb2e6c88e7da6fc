"""MMEngine trains a tiny model, checkpoints it, and a second Runner resumes."""

from __future__ import annotations

import torch
from torch import nn

import stad_helpers  # noqa: F401  (compat: checkpoint reloading under torch >= 2.6)
from mmengine.model import BaseModel


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
