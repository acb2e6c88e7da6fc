"""Tiny action-detection datasets for the tests: synthetic videos, AVA files, and
proposals made from the GT boxes (score 1), so no person detector is needed."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from stad_helpers.data import layout
from stad_helpers.data.gt import MultiSportsGT
from stad_helpers.fileio import dump_pickle


def gt_proposals(gt: MultiSportsGT, out_dir: str | os.PathLike) -> dict[str, Path]:
    """`multisports_proposals_{train,val}.pkl`: every GT box as a proposal
    (normalized, score 1)."""
    paths = {}
    for split in layout.SPLITS:
        props: dict[str, list] = {}
        for tube in gt.tubes(gt.split_videos(split)):
            h, w = gt.resolution[tube.video]
            for row in np.asarray(tube.boxes, np.float64):
                key = layout.ava_key(tube.video, int(row[0]))
                box = row[1:5] / np.array([w, h, w, h])
                props.setdefault(key, []).append([*np.clip(box, 0, 1), 1.0])
        paths[layout.file_split(split)] = dump_pickle(
            {k: np.array(v, np.float32) for k, v in props.items()},
            layout.proposals_file(out_dir, split))
    return paths


def prepare(root: str | os.PathLike, gt_path: str | os.PathLike) -> MultiSportsGT:
    """AVA csvs, label map and GT proposals for the dataset at `root`."""
    from stad_helpers.convert.to_ava import ava

    gt = MultiSportsGT.load(gt_path)
    ava(gt, layout.annotations_dir(root))
    gt_proposals(gt, layout.annotations_dir(root))
    return gt


def link_split_videos(root: str | os.PathLike, gt: MultiSportsGT) -> None:
    """Make every annotated video reachable under trainval/ (MultiSports keeps both
    splits there; a dataset writer that puts the test split in test/ gets links)."""
    for video in gt.videos:
        want = Path(root) / layout.TRAINVAL / f"{video}{layout.VIDEO_SUFFIX}"
        have = layout.video_path(root, video)
        if not want.exists() and have.exists():
            want.parent.mkdir(parents=True, exist_ok=True)
            want.symlink_to(have.resolve())


def tiny_dataset(root: str | os.PathLike, videos: int = 3, frames: int = 32,
                 width: int = 128, height: int = 96, seed: int = 0) -> MultiSportsGT:
    """A small synthetic dataset with AVA files and GT proposals, ready to train."""
    from stad_helpers.data.synth import make_synthetic_dataset

    gt_path = make_synthetic_dataset(root, seed=seed, videos=videos, frames=frames,
                                     width=width, height=height, progress=False)
    gt = prepare(root, gt_path)
    link_split_videos(root, gt)
    return gt


def relabel(gt: MultiSportsGT, num_actions: int) -> MultiSportsGT:
    """`gt` with `num_actions` labels: old label i becomes i * num_actions // n_old.

    With fewer actions than `gt`, neighbouring labels merge ('wave' and 'swing
    arms' -> 'action 00' of two); with more, the old labels spread over the new
    ids and the others have no tube (as rare classes of a large label set do).
    """
    old = len(gt.labels)
    gttubes = {}
    for video, by_label in gt.gttubes.items():
        merged: dict[int, list] = {}
        for label, tubes in by_label.items():
            merged.setdefault(int(label) * num_actions // old, []).extend(tubes)
        gttubes[video] = dict(sorted(merged.items()))
    return MultiSportsGT(
        labels=[f"action {i:02d}" for i in range(num_actions)],
        train_videos=list(gt.train_videos), test_videos=list(gt.test_videos),
        nframes=dict(gt.nframes), resolution=dict(gt.resolution), gttubes=gttubes,
        extra=dict(gt.extra))


def relabeled_dataset(src_root: str | os.PathLike, gt: MultiSportsGT,
                      dst_root: str | os.PathLike, num_actions: int) -> MultiSportsGT:
    """A dataset at `dst_root` with the videos of `src_root` (linked) and `gt`
    relabeled to `num_actions` actions, with its AVA files and GT proposals."""
    dst = Path(dst_root)
    dst.mkdir(parents=True, exist_ok=True)
    (dst / layout.TRAINVAL).symlink_to(Path(src_root, layout.TRAINVAL).resolve(),
                                       target_is_directory=True)
    gt_path = relabel(gt, num_actions).save(layout.gt_file(dst))
    return prepare(dst, gt_path)


ACTION_CONFIG = ("configs/action/"
                 "slowonly_r18-slim_8x4x1-8e_synth-multisports-rgbdiff.py")
GPU_ACTION_CONFIG = ("configs/action/"
                     "slowonly_k400-pretrained-r50_1xb2-4x16x1-8e_multisports-rgb.py")
# The CPU person detector config (its schedule is part of its name).
DET_CONFIG = str(next(iter(sorted(
    (Path(__file__).resolve().parent.parent / "configs" / "det").glob(
        "faster-rcnn_r18-slim_*_synth-multisports-person.py"))), ""))


def random_checkpoint(config: str | os.PathLike, out: str | os.PathLike,
                      scope: str, cfg_options: dict | None = None) -> Path:
    """A checkpoint of `config`'s model with its initial (untrained) weights."""
    import torch
    from mmengine.registry import DefaultScope

    from stad_helpers.registry import register_all
    from stad_helpers.train import load_config

    register_all()
    cfg = load_config(config, cfg_options)
    cfg.model.pop("init_cfg", None)
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope(scope):
        from mmengine.registry import MODELS

        model = MODELS.build(cfg.model)
    model.init_weights()
    torch.save({"state_dict": model.state_dict(), "meta": {}}, out)
    return Path(out)


@pytest.fixture(scope="session")
def tiny_action_data(tmp_path_factory):
    """(root, gt) of a 3-video synthetic dataset with AVA files and GT proposals."""
    root = tmp_path_factory.mktemp("tiny_action") / "multisports"
    return root, tiny_dataset(root)


@pytest.fixture(scope="session")
def untrained_checkpoints(tmp_path_factory, tiny_action_data):
    """(action, detector) checkpoints with initial weights, for plumbing tests."""
    from stad_helpers.action import data_options

    folder = tmp_path_factory.mktemp("ckpt")
    root = Path(__file__).resolve().parent.parent
    act = random_checkpoint(root / ACTION_CONFIG, folder / "action.pth", "mmaction",
                            data_options(tiny_action_data[0]))
    det = random_checkpoint(root / DET_CONFIG, folder / "det.pth", "mmdet")
    return act, det


@pytest.fixture(scope="session")
def action_datasets(tmp_path_factory, tiny_action_data):
    """num_actions -> (root, gt): the tiny dataset relabeled to 1, 2, 3 and 66
    actions (videos shared with `tiny_action_data`)."""
    src, gt = tiny_action_data
    folder = tmp_path_factory.mktemp("actions")
    return {n: (folder / f"a{n}", relabeled_dataset(src, gt, folder / f"a{n}", n))
            for n in (1, 2, 3, 66)}
