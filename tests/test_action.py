"""The action detector's configs, data options, training and evaluation."""

from __future__ import annotations

import json

import _action_data
import pytest
import torch
from _action_data import ACTION_CONFIG, GPU_ACTION_CONFIG, random_checkpoint

from stad_helpers.action import check_data, data_options, train_action
from stad_helpers.errors import StadError
from stad_helpers.train import load_config

# Session fixtures of tests/_action_data.py
tiny_action_data = _action_data.tiny_action_data


def _build(cfg):
    from mmaction.registry import MODELS
    from mmengine.registry import DefaultScope

    from stad_helpers.registry import register_all

    register_all()
    cfg.model.pop("init_cfg", None)  # never download weights in tests
    cfg.model.backbone.pretrained = None
    with DefaultScope.overwrite_default_scope("mmaction"):
        return MODELS.build(cfg.model)


@pytest.mark.parametrize("config", [ACTION_CONFIG, GPU_ACTION_CONFIG])
def test_config_builds_a_model_whose_head_fits_its_backbone(root, config):
    cfg = load_config(root / config)
    model = _build(cfg)
    head = model.roi_head.bbox_head
    assert head.fc_cls.in_features == model.backbone.feat_dim
    assert head.num_classes == cfg.num_classes
    pipeline = cfg.test_dataloader.dataset.pipeline
    sampler = next(s for s in pipeline if s.type == "SampleAVAFrames")
    assert sampler.test_mode
    assert cfg.test_dataloader.dataset.proposal_file.endswith(
        "multisports_proposals_val.pkl")


def test_gpu_config_is_the_tutorials(root):
    cfg = load_config(root / GPU_ACTION_CONFIG)
    assert cfg.model.backbone.depth == 50 and cfg.num_classes == 66
    assert cfg.load_from.endswith("multisports-rgb_20230320-a1ca5e76.pth")
    assert cfg.train_dataloader.batch_size == 2
    assert cfg.optim_wrapper.optimizer.lr == 0.01
    assert cfg.train_dataloader.dataset.data_prefix.img == "data/multisports/trainval"


def test_slim_model_predicts_one_score_per_class(root):
    from mmaction.structures import ActionDataSample
    from mmengine.structures import InstanceData

    cfg = load_config(root / ACTION_CONFIG)
    model = _build(cfg).eval()
    sample = ActionDataSample()
    sample.proposals = InstanceData(bboxes=torch.tensor([[10.0, 20.0, 60.0, 120.0]]))
    sample.set_metainfo({"img_shape": (128, 170)})
    clip = torch.rand(1, 3, cfg.clip_len, 128, 170)
    with torch.no_grad():
        out = model(clip, [sample], mode="predict")[0]
    assert out.pred_instances.scores.shape == (1, cfg.num_classes)


def test_data_options_point_every_path_at_the_dataset(root, tiny_action_data):
    data, gt = tiny_action_data
    cfg = load_config(root / ACTION_CONFIG, data_options(data))
    for loader, split in (("train_dataloader", "train"), ("val_dataloader", "val"),
                          ("test_dataloader", "val")):
        dataset = cfg[loader].dataset
        assert dataset.data_prefix.img == str(data / "trainval")
        anno = data / "annotations"
        assert dataset.ann_file == str(anno / f"multisports_{split}.csv")
        assert dataset.proposal_file == str(
            data / "annotations" / f"multisports_proposals_{split}.pkl")
        assert dataset.num_classes == len(gt.labels)
    assert cfg.test_evaluator.ann_file == str(data / "annotations/multisports_GT.pkl")
    assert cfg.model.roi_head.bbox_head.num_classes == len(gt.labels)
    check_data(cfg, ACTION_CONFIG)  # everything exists


def test_missing_annotation_is_a_clear_error(root, tiny_action_data, tmp_path):
    data, _ = tiny_action_data
    cfg = load_config(root / ACTION_CONFIG,
                      data_options(data, anno_dir=tmp_path / "nothing"))
    with pytest.raises(StadError, match="train.csv not found.*stad convert"):
        check_data(cfg, ACTION_CONFIG)


def test_hostile_proposal_file_is_refused_before_mmaction_reads_it(
        root, tiny_action_data, tmp_path):
    import pickle

    data, _ = tiny_action_data
    anno = tmp_path / "anno"
    anno.mkdir()
    for name in ("multisports_train.csv", "multisports_val.csv"):
        (anno / name).write_bytes((data / "annotations" / name).read_bytes())

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    for split in ("train", "val"):
        (anno / f"multisports_proposals_{split}.pkl").write_bytes(pickle.dumps(Evil()))
    cfg = load_config(root / ACTION_CONFIG, data_options(data, anno_dir=anno))
    with pytest.raises(StadError, match="refused"):
        check_data(cfg, ACTION_CONFIG)


@pytest.mark.slow
def test_train_then_evaluate_end_to_end(root, tiny_action_data, tmp_path):
    from stad_helpers.evaluate import evaluate, load_predictions

    data, gt = tiny_action_data
    ckpt = train_action(root / ACTION_CONFIG, data, tmp_path / "work",
                        cfg_options={"train_cfg.max_epochs": 1,
                                     "train_dataloader.num_workers": 0,
                                     "train_dataloader.persistent_workers": False})
    assert ckpt.name == "epoch_1.pth" and ckpt.is_file()
    result = evaluate(root / ACTION_CONFIG, ckpt, data, tmp_path / "eval",
                      cfg_options={"test_dataloader.num_workers": 0,
                                   "test_dataloader.persistent_workers": False},
                      progress=False)
    saved = json.loads(result.json_path.read_text())
    for key in ("frame_map", "video_map_0.2", "video_map_0.5"):
        assert 0.0 <= saved[key] <= 1.0
    assert [row["name"] for row in saved["per_class"]] == gt.labels
    preds = load_predictions(result.predictions)
    table = gt.box_table(gt.test_videos)  # one prediction per annotated keyframe
    assert len(preds) == saved["keyframes"] == len(
        set(zip(table.video.tolist(), table.frame.tolist())))
    assert preds[0]["scores"].shape[1] == len(gt.labels)


@pytest.mark.slow
def test_checkpoint_of_another_model_is_a_clear_error(root, tiny_action_data,
                                                      tmp_path):
    from stad_helpers.evaluate import predict_action

    data, _ = tiny_action_data
    other = random_checkpoint(root / ACTION_CONFIG, tmp_path / "other.pth", "mmaction",
                              {**data_options(data), "base_channels": 16,
                               "model.backbone.base_channels": 16,
                               "model.roi_head.bbox_head.in_channels": 128})
    with pytest.raises(StadError, match="does not match"):
        predict_action(root / ACTION_CONFIG, other, tmp_path / "p.pkl", data,
                       progress=False)
