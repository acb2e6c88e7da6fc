"""The action detector (tutorial section 3): point a config at the data, train it.

The configs in `configs/action/` read the MultiSports layout under
`data/multisports/` (videos of both splits in `trainval/`, the AVA csvs,
proposals and GT in `annotations/`). `data_options` returns the cfg-options that
point them at another dataset folder (and another annotation folder, e.g. a
run's work dir) and size the classifier to that GT's labels; `train_action`
checks the data, then trains with the project's training glue
(`stad_helpers.train.train`: resume, checkpoint checks, progress bar, torchrun).

Used in: 03_action_detector, 05_your_own_data.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .errors import StadError

DATALOADERS = ("train_dataloader", "val_dataloader", "test_dataloader")
EVALUATORS = ("val_evaluator", "test_evaluator")
GT_NAME = "multisports_GT.pkl"
# AVA csv and proposal file of each dataloader (`stad convert ava`, `... proposals`).
SPLIT_OF = {"train_dataloader": "train", "val_dataloader": "val",
            "test_dataloader": "val"}


def annotation_files(anno_dir: str | os.PathLike) -> dict[str, Path]:
    """The annotation files the action configs read, by role, inside `anno_dir`."""
    anno = Path(anno_dir)
    return {
        "train_csv": anno / "multisports_train.csv",
        "val_csv": anno / "multisports_val.csv",
        "train_proposals": anno / "multisports_proposals_train.pkl",
        "val_proposals": anno / "multisports_proposals_val.pkl",
        "gt": anno / GT_NAME,
        "label_map": anno / "multisports_label_map.txt",
    }


def data_options(
    data_root: str | os.PathLike,
    anno_dir: str | os.PathLike | None = None,
    gt_file: str | os.PathLike | None = None,
    num_classes: int | None = None,
) -> dict[str, Any]:
    """cfg-options that point an action config at the dataset in `data_root`.

    Videos are read from `data_root/trainval` (both splits, as in MultiSports);
    csvs and proposals from `anno_dir` (default `data_root/annotations`); the GT
    from `gt_file` (default `data_root/annotations/multisports_GT.pkl`). The
    number of classes is that GT's number of labels unless given.
    """
    root = Path(data_root)
    files = annotation_files(anno_dir if anno_dir is not None else root / "annotations")
    gt = Path(gt_file) if gt_file is not None else root / "annotations" / GT_NAME
    if num_classes is None and gt.is_file():
        from .data.gt import MultiSportsGT

        num_classes = len(MultiSportsGT.load(gt, validate=False).labels)
    options: dict[str, Any] = {}
    for loader in DATALOADERS:
        split = SPLIT_OF[loader]
        prefix = f"{loader}.dataset."
        options[prefix + "data_prefix.img"] = str(root / "trainval")
        options[prefix + "ann_file"] = str(files[f"{split}_csv"])
        options[prefix + "proposal_file"] = str(files[f"{split}_proposals"])
        if num_classes is not None:
            options[prefix + "num_classes"] = int(num_classes)
    for evaluator in EVALUATORS:
        options[f"{evaluator}.ann_file"] = str(gt)
    if num_classes is not None:
        options["model.roi_head.bbox_head.num_classes"] = int(num_classes)
        options["num_classes"] = int(num_classes)
    return options


def check_data(cfg, config: str | os.PathLike, splits: tuple[str, ...] = DATALOADERS
               ) -> None:
    """Raise `StadError` unless the files `cfg`'s dataloaders and metric read exist.

    Pickles (GT, proposals) are opened with the project's restricted unpickler
    first, so a hostile file is refused before MMAction2 unpickles it.
    """
    from .data.gt import MultiSportsGT
    from .data.safe_pickle import safe_load

    hints = {
        "ann_file": "make it with `stad convert ava`",
        "proposal_file": "make it with `stad detect` and `stad convert proposals`",
    }
    seen: set[str] = set()
    for loader in splits:
        dataset = cfg[loader].dataset
        videos = Path((dataset.get("data_prefix") or {}).get("img") or "")
        if not videos.is_dir():
            raise StadError(
                f"{loader}: video folder {videos} not found (point the config at "
                "your data with --data DIR)", config)
        for key, hint in hints.items():
            path = dataset.get(key)
            if path is None or path in seen:
                continue
            if not Path(path).is_file():
                raise StadError(f"{loader}: {key} {path} not found ({hint})", config)
            if key == "proposal_file":
                _check_proposals(safe_load(path), path)
            seen.add(path)
    for evaluator in EVALUATORS:
        ann = (cfg.get(evaluator) or {}).get("ann_file")
        if ann and ann not in seen:
            if not Path(ann).is_file():
                raise StadError(f"{evaluator}: GT file {ann} not found", config)
            gt = MultiSportsGT.load(ann)
            _check_classes(cfg, gt, config)
            seen.add(ann)


def _check_proposals(proposals: object, path: str) -> None:
    if not isinstance(proposals, dict) or not proposals:
        raise StadError("expected a non-empty dict 'sport/video.mp4,0001' -> (N, 5) "
                        "array of normalized boxes and scores", path)


def _check_classes(cfg, gt, config: str | os.PathLike) -> None:
    head = cfg.model.roi_head.bbox_head.num_classes
    if head != len(gt.labels):
        raise StadError(
            f"the model has {head} classes but the GT {gt.source} has "
            f"{len(gt.labels)} labels (pass --data DIR, or set num_classes)", config)


def train_action(
    config: str | os.PathLike,
    data_root: str | os.PathLike | None = None,
    work_dir: str | os.PathLike | None = None,
    resume: bool = False,
    cfg_options: dict[str, Any] | None = None,
    launcher: str = "none",
    quiet: bool = True,
    *,
    anno_dir: str | os.PathLike | None = None,
) -> Path:
    """Train the action detector of `config`; return the last checkpoint's path.

    `data_root` (and `anno_dir`) point the config at a dataset folder
    (`data_options`); `cfg_options` override anything else. The data is checked
    (`check_data`); the rest (resume, checkpoint checks, launcher) is
    `stad_helpers.train.train`.
    """
    from .train import load_config, train

    options: dict[str, Any] = {}
    if data_root is not None:
        options.update(data_options(data_root, anno_dir))
    options.update(cfg_options or {})
    check_data(load_config(config, options), config)
    return train(config, work_dir, resume, options, launcher, quiet)
