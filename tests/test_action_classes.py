"""Any number of actions, and inputs that belong together checked together.

Every class-dependent value of the action configs follows the dataset
(`stad_helpers.action.class_options`): trained and evaluated here with 1, 2, 3
and 66 actions. Proposals are checked against the GT, checkpoints against the
config and GT they are used with; a mismatch is one error naming both files,
and nothing is written.
"""

from __future__ import annotations

import json
import warnings

import _action_data
import numpy as np
import pytest
import torch
from _action_data import ACTION_CONFIG, GPU_ACTION_CONFIG, random_checkpoint

from stad_helpers.action import (
    TOPK,
    action_options,
    check_checkpoint_classes,
    check_data,
    checkpoint_classes,
    class_options,
    data_options,
    train_action,
)
from stad_helpers.data import layout
from stad_helpers.data.safe_pickle import safe_load
from stad_helpers.errors import StadError
from stad_helpers.fileio import dump_pickle
from stad_helpers.train import load_config

# Session fixtures of tests/_action_data.py
tiny_action_data = _action_data.tiny_action_data
action_datasets = _action_data.action_datasets

COUNTS = (1, 2, 3, 66)


def _build(cfg):
    from mmaction.registry import MODELS
    from mmengine.registry import DefaultScope

    from stad_helpers.registry import register_all

    register_all()
    cfg.model.pop("init_cfg", None)  # never download weights in tests
    cfg.model.backbone.pretrained = None
    with DefaultScope.overwrite_default_scope("mmaction"):
        return MODELS.build(cfg.model)


# ---------------------------------------------------------------------------
# The rule
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("n", COUNTS)
def test_class_options_size_every_class_dependent_value(n):
    labels = [f"a{i}" for i in range(n)]
    options = class_options(n, labels)
    assert options["num_classes"] == n
    assert options["model.roi_head.bbox_head.num_classes"] == n
    topk = options["model.roi_head.bbox_head.topk"]
    assert all(k < n for k in topk) and set(topk) == {k for k in TOPK if k < n}
    for loader in ("train_dataloader", "val_dataloader", "test_dataloader"):
        # One-hot label width: MMAction2's AVA assigner needs two columns.
        assert options[f"{loader}.dataset.num_classes"] == max(n, 2)
        assert list(options[f"{loader}.dataset.metainfo"]["classes"]) == labels
    with pytest.raises(StadError, match="at least one action"):
        class_options(0)
    with pytest.raises(StadError, match="names"):
        class_options(n, labels + ["extra"])


@pytest.mark.parametrize("config", [ACTION_CONFIG, GPU_ACTION_CONFIG])
@pytest.mark.parametrize("n", COUNTS)
def test_both_configs_build_with_any_number_of_actions(root, config, n):
    # Upstream's BBoxHeadAVA asserts topk < num_classes: (3, 5) by default, which
    # crashed on one or two actions before the topk followed the class count.
    cfg = load_config(root / config, class_options(n, [str(i) for i in range(n)]))
    head = _build(cfg).roi_head.bbox_head
    extra = 1 if config == ACTION_CONFIG else 0  # the CPU head's "no action"
    assert head.fc_cls.out_features == n + extra
    assert getattr(head, "num_actions", head.num_classes) == n


def test_data_options_take_classes_and_names_from_the_gt(root, action_datasets):
    for n, (data, gt) in action_datasets.items():
        cfg = load_config(root / ACTION_CONFIG, data_options(data))
        assert cfg.model.roi_head.bbox_head.num_classes == len(gt.labels) == n
        assert list(cfg.train_dataloader.dataset.metainfo.classes) == gt.labels
        assert check_data(cfg, ACTION_CONFIG).labels == gt.labels


def test_the_configs_own_gt_sets_the_classes_without_data(root, action_datasets):
    data, gt = action_datasets[2]
    gt_file = str(layout.gt_file(data))
    options = action_options(root / ACTION_CONFIG, None, {
        "val_evaluator.ann_file": gt_file, "test_evaluator.ann_file": gt_file})
    assert options["num_classes"] == 2
    assert list(options["test_dataloader.dataset.metainfo"]["classes"]) == gt.labels


def test_one_action_with_a_head_that_cannot_learn_it_is_refused(
        root, action_datasets, tmp_path):
    data, _ = action_datasets[1]
    with pytest.raises(StadError, match="one action.*BBoxHeadAVANoAction"):
        train_action(root / GPU_ACTION_CONFIG, data, tmp_path / "w")
    assert not (tmp_path / "w").exists()


def test_a_topk_the_head_cannot_have_is_a_clear_error(root, action_datasets):
    data, _ = action_datasets[2]
    cfg = load_config(root / GPU_ACTION_CONFIG, {
        **data_options(data), "model.roi_head.bbox_head.topk": (1, 3)})
    with pytest.raises(StadError, match=r"topk \(1, 3\) must be below"):
        check_data(cfg, GPU_ACTION_CONFIG)


# ---------------------------------------------------------------------------
# Proposals and the GT
# ---------------------------------------------------------------------------
def _anno_copy(data, tmp_path, edit_split: str, edit) -> object:
    """An annotation folder like `data`'s whose `edit_split` proposals are edited."""
    anno = tmp_path / "anno"
    anno.mkdir()
    for f in layout.annotations_dir(data).iterdir():
        (anno / f.name).write_bytes(f.read_bytes())
    path = layout.proposals_file(anno, edit_split)
    dump_pickle(edit(safe_load(path)), path)
    return anno


@pytest.mark.parametrize("edit, message", [
    (lambda p: {**p, layout.ava_key("nosport/v_other", 1): next(iter(p.values()))},
     "video 'nosport/v_other' is not a video of the GT"),
    (lambda p: {layout.ava_key(layout.parse_ava_key(k)[0], 9999): v
                for k, v in p.items()},
     "frame 9999 is outside video"),
    (lambda p: {k: v[:, :3] for k, v in p.items()}, r"expected an \(N, 5\) array"),
])
def test_proposals_that_do_not_belong_to_the_gt_are_refused(
        root, tiny_action_data, tmp_path, edit, message):
    data, _ = tiny_action_data
    anno = _anno_copy(data, tmp_path, "train", edit)
    cfg = load_config(root / ACTION_CONFIG, data_options(data, anno_dir=anno))
    with pytest.raises(StadError, match=message) as err:
        check_data(cfg, ACTION_CONFIG)
    text = str(err.value)
    assert layout.proposals_file("", "train").name in text  # both files named
    if "GT" in message or "outside" in message:
        assert layout.GT_FILE in text


def test_the_other_splits_proposal_file_is_refused(root, tiny_action_data, tmp_path):
    data, _ = tiny_action_data
    val = safe_load(layout.proposals_file(layout.annotations_dir(data), "val"))
    anno = _anno_copy(data, tmp_path, "train", lambda _: val)
    cfg = load_config(root / ACTION_CONFIG, data_options(data, anno_dir=anno))
    with pytest.raises(StadError, match="no proposal is for a video of the train"):
        check_data(cfg, ACTION_CONFIG)


# ---------------------------------------------------------------------------
# Checkpoints and the classes of the config and GT
# ---------------------------------------------------------------------------
def _checkpoint_for(root, data_or_options, path, labels=None):
    options = (data_options(data_or_options) if not isinstance(data_or_options, dict)
               else data_or_options)
    ckpt = random_checkpoint(root / ACTION_CONFIG, path, "mmaction", options)
    if labels is not None:  # as training saves them (dataset metainfo)
        saved = torch.load(ckpt, map_location="cpu", weights_only=False)
        saved["meta"] = {"dataset_meta": {"classes": tuple(labels)}}
        torch.save(saved, ckpt)
    return ckpt


def test_checkpoint_classes_from_names_or_classifier_rows(root, action_datasets,
                                                          tmp_path):
    data, gt = action_datasets[3]
    cfg = load_config(root / ACTION_CONFIG, data_options(data))
    bare = _checkpoint_for(root, data, tmp_path / "bare.pth")
    named = _checkpoint_for(root, data, tmp_path / "named.pth", gt.labels)
    load = lambda p: torch.load(p, map_location="cpu", weights_only=False)  # noqa: E731
    assert checkpoint_classes(load(bare), cfg) == (3, None)  # 4 rows, "no action"
    assert checkpoint_classes(load(named), cfg) == (3, tuple(gt.labels))


def test_checkpoint_of_other_classes_is_refused_naming_both_files(
        root, action_datasets, tmp_path):
    from stad_helpers.evaluate import evaluate

    data3, gt3 = action_datasets[3]
    data2, gt2 = action_datasets[2]
    two = _checkpoint_for(root, data2, tmp_path / "two.pth", gt2.labels)
    cfg3 = load_config(root / ACTION_CONFIG, data_options(data3))
    with pytest.raises(StadError, match="trained for 2 actions") as err:
        check_checkpoint_classes(two, cfg3, ACTION_CONFIG)
    assert str(two) in str(err.value)
    assert str(layout.gt_file(data3)) in str(err.value)
    # `stad evaluate`: refused before anything is written.
    out = tmp_path / "eval"
    with pytest.raises(StadError, match="trained for 2 actions"):
        evaluate(root / ACTION_CONFIG, two, data3, out, progress=False)
    assert not out.exists()
    # Same number of classes, other names (ids would mean other actions).
    swapped = _checkpoint_for(root, data2, tmp_path / "swapped.pth",
                              list(reversed(gt2.labels)))
    cfg2 = load_config(root / ACTION_CONFIG, data_options(data2))
    with pytest.raises(StadError, match="label 0 is 'action 01' in the checkpoint"):
        check_checkpoint_classes(swapped, cfg2, ACTION_CONFIG)
    # Fine-tuning (`load_from`) may bring another head; same count, other names
    # only warns.
    check_checkpoint_classes(two, cfg3, ACTION_CONFIG, fine_tune=True)
    with pytest.warns(UserWarning, match="fine-tuning retrains the head"):
        check_checkpoint_classes(swapped, cfg2, ACTION_CONFIG, fine_tune=True)


def test_resuming_a_checkpoint_of_other_classes_is_refused(root, action_datasets,
                                                           tmp_path):
    data3, _ = action_datasets[3]
    data2, gt2 = action_datasets[2]
    two = _checkpoint_for(root, data2, tmp_path / "two.pth", gt2.labels)
    work = tmp_path / "work"
    work.mkdir()
    (work / "last_checkpoint").write_text(str(two))
    with pytest.raises(StadError, match="trained for 2 actions.*has 3") as err:
        train_action(root / ACTION_CONFIG, data3, work, resume=True)
    assert str(two) in str(err.value)
    assert sorted(p.name for p in work.iterdir()) == ["last_checkpoint"]
    # load_from of another class count: fine-tuning, passes the class check (the
    # check of the rest of the model is `train.check_checkpoint`'s).
    cfg = load_config(root / ACTION_CONFIG, {**data_options(data3),
                                             "load_from": str(two)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_checkpoint_classes(two, cfg, ACTION_CONFIG, fine_tune=True)


def test_saved_predictions_of_other_classes_are_refused(root, action_datasets,
                                                        tmp_path):
    from stad_helpers.evaluate import action_metrics

    data3, gt3 = action_datasets[3]
    preds = dump_pickle({"version": 1, "labels": ["x", "y", "z"], "detections": []},
                        tmp_path / "p.pkl")
    with pytest.raises(StadError, match="predictions made for 3 classes") as err:
        action_metrics(preds, gt3)
    assert "p.pkl" in str(err.value) and layout.GT_FILE in str(err.value)


def test_demo_model_follows_the_dataset_or_the_checkpoint(root, action_datasets,
                                                          tmp_path):
    from stad_helpers.demo import _default_label_map, load_action_model, load_label_map

    data2, gt2 = action_datasets[2]
    data3, _ = action_datasets[3]
    two = _checkpoint_for(root, data2, tmp_path / "two.pth", gt2.labels)
    # With its dataset: classes and names of the GT.
    model = load_action_model(root / ACTION_CONFIG, two, "cpu", data_options(data2))
    assert model.cfg.model.roi_head.bbox_head.num_classes == 2
    # Without a dataset (the config's GT absent): the checkpoint's classes.
    missing = str(tmp_path / "no_gt.pkl")
    model = load_action_model(root / ACTION_CONFIG, two, "cpu", {
        "val_evaluator.ann_file": missing, "test_evaluator.ann_file": missing})
    assert model.cfg.model.roi_head.bbox_head.num_classes == 2
    assert list(_default_label_map(model.cfg, 2).values()) == gt2.labels
    assert list(model.dataset_meta["classes"]) == gt2.labels
    # With another dataset: one clear error naming both.
    with pytest.raises(StadError, match="trained for 2 actions") as err:
        load_action_model(root / ACTION_CONFIG, two, "cpu", data_options(data3))
    assert str(two) in str(err.value) and "a3" in str(err.value)
    # A label map with ids the model cannot output.
    label_map = tmp_path / "labels.txt"
    label_map.write_text("0: a\n1: b\n2: c\n")
    assert len(load_label_map(label_map)) == 3
    with pytest.raises(StadError, match="label id 2.*2 classes"):
        load_label_map(label_map, num_classes=2)


# ---------------------------------------------------------------------------
# Training and evaluation with 1, 2, 3 and 66 actions
# ---------------------------------------------------------------------------
QUICK = {
    "train_cfg.max_epochs": 1,
    "train_dataloader.dataset.indices": 8,
    "train_dataloader.num_workers": 0,
    "train_dataloader.persistent_workers": False,
    "test_dataloader.num_workers": 0,
    "test_dataloader.persistent_workers": False,
    "test_dataloader.dataset.indices": 8,
}


@pytest.fixture
def one_thread():
    """One intra-op thread (OpenMP threads spin-wait on a shared 2-core machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.slow
@pytest.mark.parametrize("n", COUNTS)
def test_train_and_evaluate_with_any_number_of_actions(root, action_datasets,
                                                       tmp_path, one_thread, n):
    from stad_helpers.evaluate import evaluate, load_predictions

    data, gt = action_datasets[n]
    ckpt = train_action(root / ACTION_CONFIG, data, tmp_path / "work",
                        cfg_options=QUICK)
    saved = torch.load(ckpt, map_location="cpu", weights_only=False)
    assert list(saved["meta"]["dataset_meta"]["classes"]) == gt.labels
    assert saved["state_dict"]["roi_head.bbox_head.fc_cls.weight"].shape[0] == n + 1

    result = evaluate(root / ACTION_CONFIG, ckpt, data, tmp_path / "eval",
                      cfg_options=QUICK, progress=False)
    metrics = json.loads(result.json_path.read_text())
    assert [row["name"] for row in metrics["per_class"]] == gt.labels
    assert 0.0 <= metrics["frame_map"] <= 1.0
    preds = load_predictions(result.predictions, gt)
    assert len(preds) == QUICK["test_dataloader.dataset.indices"]  # keyframes
    assert all(np.shape(p["scores"])[1] == n for p in preds if len(p["boxes"]))
