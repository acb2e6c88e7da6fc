"""Configs and checkpoints given in each other's place (issue 14 follow-up 4):
`stad demo`, `stad evaluate` and `stad train` name the swapped file first."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from _paths import ROOT

from stad_helpers.cli import main
from stad_helpers.demo.models import checkpoint_kind, config_kind
from stad_helpers.train import load_config

ACTION = next((ROOT / "configs" / "action").glob("slowonly_r18-slim*.py"))
DET = next((ROOT / "configs" / "det").glob("faster-rcnn_r18-slim*.py"))


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory) -> dict[str, Path]:
    """Tiny checkpoints with the telltale weights of each kind."""
    root = tmp_path_factory.mktemp("ckpts")
    action = {"backbone.conv1.conv.weight": torch.zeros(2, 3, 1, 3, 3),
              "roi_head.bbox_head.fc_cls.weight": torch.zeros(3, 2)}
    det = {"backbone.conv1.weight": torch.zeros(2, 3, 3, 3),
           "rpn_head.rpn_cls.weight": torch.zeros(3, 2, 1, 1),
           "roi_head.bbox_head.fc_cls.weight": torch.zeros(2, 2)}
    out = {}
    for name, sd in (("action", action), ("det", det)):
        out[name] = root / f"{name}.pth"
        torch.save({"state_dict": sd, "meta": {}}, out[name])
    return out


def test_kinds_of_the_project_configs_and_checkpoints(ckpts):
    assert config_kind(load_config(ACTION)) == "action"
    assert config_kind(load_config(DET)) == "detector"
    assert checkpoint_kind(torch.load(ckpts["action"])) == "action"
    assert checkpoint_kind(torch.load(ckpts["det"])) == "detector"
    assert checkpoint_kind({}) is None


@pytest.mark.parametrize("swap, message", [
    ("configs", f"{DET}: --config: looks like a person detector config, not an "
                "action detector's; did you swap --config and --det-config?"),
    ("checkpoints", "det.pth: --checkpoint: looks like a person detector "
                    "checkpoint, not an action detector's; did you swap "
                    "--checkpoint and --det-checkpoint?"),
    ("det-as-action", "det.pth: --checkpoint: looks like a person detector "
                      "checkpoint, not an action detector's; --checkpoint takes "
                      "an action detector's"),
])
def test_demo_names_the_swapped_file(ckpts, tmp_path, capsys, swap, message):
    video = tmp_path / "v.mp4"
    video.write_bytes(b"")  # never opened: the check comes first
    cfg, det_cfg = (DET, ACTION) if swap == "configs" else (ACTION, DET)
    ckpt, det_ckpt = {"configs": (ckpts["action"], ckpts["det"]),
                      "checkpoints": (ckpts["det"], ckpts["action"]),
                      "det-as-action": (ckpts["det"], ckpts["det"])}[swap]
    code = main(["demo", str(video), str(tmp_path / "out.mp4"), "--config", str(cfg),
                 "--checkpoint", str(ckpt), "--det-config", str(det_cfg),
                 "--det-checkpoint", str(det_ckpt)])
    assert code != 0
    assert message in capsys.readouterr().err
    assert not list(tmp_path.glob("out*"))


def test_evaluate_and_train_refuse_the_other_kind(ckpts, tmp_path, capsys):
    assert main(["evaluate", str(ACTION), str(ckpts["det"]),
                 "--out-dir", str(tmp_path / "ev")]) != 0
    assert ("CHECKPOINT: looks like a person detector checkpoint"
            in capsys.readouterr().err)
    assert main(["train", "det", str(ACTION), "--work-dir", str(tmp_path / "w")]) != 0
    assert ("looks like an action detector config, not a person detector's; train "
            "it with `stad train action`" in capsys.readouterr().err)
    assert not (tmp_path / "w").exists() and not (tmp_path / "ev").exists()
