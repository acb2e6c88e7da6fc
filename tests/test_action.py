"""The action detector's configs, data options, training and evaluation."""

from __future__ import annotations

import json

import _action_data
import numpy as np
import pytest
import torch
from _action_data import ACTION_CONFIG, GPU_ACTION_CONFIG, random_checkpoint

from stad_helpers.action import check_data, data_options, train_action
from stad_helpers.data import layout
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
    # One output per class (the CPU config's head has one more, "no action",
    # which it drops from its scores).
    assert getattr(head, "num_actions", head.num_classes) == cfg.num_classes
    assert head.fc_cls.out_features in (cfg.num_classes, cfg.num_classes + 1)
    pipeline = cfg.test_dataloader.dataset.pipeline
    sampler = next(s for s in pipeline if s.type == "SampleAVAFrames")
    assert sampler.test_mode
    assert cfg.test_dataloader.dataset.proposal_file.endswith(
        layout.proposals_file("", "val").name)


def test_gpu_config_is_the_tutorials(root):
    cfg = load_config(root / GPU_ACTION_CONFIG)
    assert cfg.model.backbone.depth == 50 and cfg.num_classes == 66
    assert cfg.load_from.endswith("multisports-rgb_20230320-a1ca5e76.pth")
    assert cfg.train_dataloader.batch_size == 2
    assert cfg.optim_wrapper.optimizer.lr == 0.01
    assert cfg.train_dataloader.dataset.data_prefix.img == "data/multisports/trainval"


def test_temporal_diff_keeps_motion_and_drops_appearance():
    from stad_helpers.transforms import TemporalDiff

    still = np.full((6, 5, 3), 200, np.uint8)
    moved = still.copy()
    moved[2, 3] = 0  # one pixel changes in the second frame
    out = TemporalDiff()({"imgs": [still, moved, moved]})["imgs"]
    assert len(out) == 3 and out[0].dtype == np.float32
    assert out[0][2, 3].tolist() == [-200.0] * 3
    assert np.count_nonzero(out[0]) == 3  # the static frame itself is gone
    assert not out[1].any() and not out[2].any()  # nothing moves after that


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
        assert dataset.data_prefix.img == str(data / layout.TRAINVAL)
        anno = layout.annotations_dir(data)
        assert dataset.ann_file == str(layout.ava_csv(anno, split))
        assert dataset.proposal_file == str(layout.proposals_file(anno, split))
        assert dataset.num_classes == len(gt.labels)
    assert cfg.test_evaluator.ann_file == str(layout.gt_file(data))
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
    for split in layout.SPLITS:
        src = layout.ava_csv(layout.annotations_dir(data), split)
        layout.ava_csv(anno, split).write_bytes(src.read_bytes())

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    for split in layout.SPLITS:
        layout.proposals_file(anno, split).write_bytes(pickle.dumps(Evil()))
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


# ---------------------------------------------------------------------------
# Training glue (`stad_helpers.train.train`, shared with the person detector):
# resume after a crash, checkpoints of another model, torchrun
# ---------------------------------------------------------------------------
# Tiny trainings: epochs of the first 16 training keyframes, a checkpoint at every
# epoch, a log line at every iteration, no workers.
QUICK = {
    "train_dataloader.dataset.indices": 16,
    "default_hooks.checkpoint.interval": 1,
    "default_hooks.logger.interval": 1,
    "train_dataloader.num_workers": 0,
    "train_dataloader.persistent_workers": False,
}


@pytest.fixture
def one_thread():
    """One intra-op thread: OpenMP threads that spin-wait for each other on a
    shared 2-core machine run many times slower than one thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _register_crash_hook() -> str:
    from mmengine.hooks import Hook
    from mmengine.registry import HOOKS

    class StadCrashInSecondEpoch(Hook):
        """Raise after the first iteration of the second epoch, as a crash would."""

        def after_train_iter(self, runner, batch_idx, data_batch=None,
                             outputs=None):
            if runner.epoch == 1:
                raise RuntimeError("simulated crash in the second epoch")

    HOOKS.register_module("StadCrashInSecondEpoch", module=StadCrashInSecondEpoch,
                          force=True)
    return "StadCrashInSecondEpoch"


def _losses_logged(run_dir) -> list[int]:
    lines = (run_dir / "vis_data" / "scalars.json").read_text().splitlines()
    return [m["iter"] for m in map(json.loads, lines) if "loss" in m]


@pytest.mark.slow
def test_killed_training_resumes_from_its_last_checkpoint(
        root, tiny_action_data, tmp_path, one_thread):
    data, _ = tiny_action_data
    work = tmp_path / "work"
    options = {**QUICK, "train_cfg.max_epochs": 2}
    crash = {"custom_hooks": [dict(type=_register_crash_hook())]}
    with pytest.raises(RuntimeError, match="simulated crash"):
        train_action(root / ACTION_CONFIG, data, work, cfg_options={**options, **crash})
    killed_at = torch.load(work / "epoch_1.pth", map_location="cpu",
                           weights_only=False)["meta"]
    per_epoch = killed_at["iter"]
    assert killed_at["epoch"] == 1 and per_epoch == 2  # 16 keyframes, 8 a batch
    runs_before = set(work.glob("2*"))

    last = train_action(root / ACTION_CONFIG, data, work, resume=True,
                        cfg_options=options)
    assert last == work / "epoch_2.pth"
    meta = torch.load(last, map_location="cpu", weights_only=False)["meta"]
    assert (meta["epoch"], meta["iter"]) == (2, 2 * per_epoch)
    # The resumed run trained the second epoch only.
    (new_run,) = set(work.glob("2*")) - runs_before
    assert _losses_logged(new_run) == list(range(per_epoch + 1, 2 * per_epoch + 1))


def test_training_from_a_checkpoint_of_another_model_is_a_clear_error(
        root, tiny_action_data, tmp_path):
    from stad_helpers.train import check_checkpoint

    data, gt = tiny_action_data
    config = root / ACTION_CONFIG
    wider = random_checkpoint(config, tmp_path / "wider.pth", "mmaction",
                              {**data_options(data), "base_channels": 16,
                               "model.backbone.base_channels": 16,
                               "model.roi_head.bbox_head.in_channels": 128})
    more = len(gt.labels) + 3
    classes = random_checkpoint(config, tmp_path / "classes.pth", "mmaction",
                                data_options(data, num_classes=more))
    # Fine-tuning from another backbone: nothing fits.
    with pytest.raises(StadError, match="does not match the model") as err:
        train_action(config, data, tmp_path / "a",
                     cfg_options={**QUICK, "load_from": str(wider)})
    assert str(wider) in str(err.value) and config.name in str(err.value)
    # Resuming a checkpoint with another number of classes: said in those terms.
    work = tmp_path / "b"
    work.mkdir()
    (work / "last_checkpoint").write_text(str(classes))
    with pytest.raises(StadError, match=f"trained for {more} actions") as err:
        train_action(config, data, work, resume=True, cfg_options=QUICK)
    assert str(classes) in str(err.value) and layout.GT_FILE in str(err.value)
    # ...which fine-tuning (`load_from`, lenient) accepts: only the head is new.
    model = _build(load_config(config, data_options(data)))
    check_checkpoint(model, classes, strict=False)
    with pytest.raises(StadError, match="fc_cls"):
        check_checkpoint(model, classes, strict=True)


@pytest.mark.slow
def test_torchrun_trains_two_iterations_with_two_cpu_processes(
        root, tiny_action_data, tmp_path):
    from _torchrun import torchrun_train

    data, _ = tiny_action_data
    # 16 keyframes, 8 per process, 4 per batch: 2 iterations.
    options = {**QUICK, "train_cfg.max_epochs": 1, "train_dataloader.batch_size": 4}
    work = tmp_path / "dist"
    stdout = torchrun_train(
        "action", str(root / ACTION_CONFIG), "--data", str(data), "--work-dir",
        str(work), "--cfg-options", *(f"{k}={v}" for k, v in options.items()))
    assert stdout.strip().splitlines()[-1].endswith("epoch_1.pth")  # rank 0

    ckpt = torch.load(work / "epoch_1.pth", map_location="cpu", weights_only=False)
    assert ckpt["meta"]["iter"] == 2
    assert not any(k.startswith("module.") for k in ckpt["state_dict"])


def test_no_action_head_learns_bystanders_and_returns_action_scores_only():
    from stad_helpers.heads import BBoxHeadAVANoAction

    head = BBoxHeadAVANoAction(num_classes=3, in_channels=4, topk=(1,))
    assert head.fc_cls.out_features == 4 and head.num_actions == 3
    # Two proposals: an acting person (action 1) and a bystander (no label).
    labels = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    head.get_targets = lambda *a: (labels, torch.ones(2))
    right = torch.tensor([[0.0, 5.0, 0.0, 0.0], [0.0, 0.0, 0.0, 5.0]])
    wrong = torch.tensor([[0.0, 5.0, 0.0, 0.0], [5.0, 0.0, 0.0, 0.0]])
    loss_right = head.loss_and_target(right, None, [], None)["loss_bbox"]
    loss_wrong = head.loss_and_target(wrong, None, [], None)["loss_bbox"]
    assert loss_right["loss_action_cls"] < 0.05 < loss_wrong["loss_action_cls"]
    assert loss_right["acc_no_action"] == 1 and loss_wrong["acc_no_action"] == 0
    assert loss_right["acc_action"] == 1
    # Inference: one score per action; the bystander's are all low.
    roi = torch.tensor([[0, 10, 10, 50, 90], [0, 60, 10, 95, 90]], dtype=torch.float32)
    out = head._predict_by_feat_single(roi, right, {"img_shape": (100, 100)})
    assert out.scores.shape == (2, 3)
    assert out.scores[0].argmax() == 1 and out.scores[0, 1] > 0.9
    assert out.scores[1].max() < 0.05
