"""The action detector (tutorial section 3): point a config at the data, train it.

The configs in `configs/action/` read the MultiSports layout under
`data/multisports/` (videos of both splits in `trainval/`, the AVA csvs,
proposals and GT in `annotations/`). `data_options` returns the cfg-options that
point them at another dataset folder (and another annotation folder, e.g. a
run's work dir); `train_action` checks the data, then trains with the project's
training glue (`stad_helpers.train.train`: resume, checkpoint checks, progress
bar, torchrun).

**The number of actions follows the dataset, by one rule** (`class_options`):
every value of an action config that depends on it -- the model's and the
datasets' `num_classes`, the head's `topk`, the class names stored with each
checkpoint (`dataset.metainfo.classes`, which MMEngine saves as the checkpoint's
`meta.dataset_meta`) -- is set from the GT's labels. Training, evaluation, the
demo and the pipeline all go through `action_options`, which applies it; any
number of actions from 1 up works (the "no action" output of the CPU config's
head is added by the head itself, `stad_helpers.heads`).

**Inputs that belong together are checked together** before anything is
written: the proposals against the GT (`check_data`: videos the GT has, frames
inside them), and a checkpoint against the config and GT it is used with
(`check_checkpoint_classes`: number and names of its actions).

Used in: 03_action_detector, 04_inference_demo, 05_your_own_data.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .checkpoints import load_checkpoint_file
from .data import layout
from .data.layout import annotation_files as _layout_annotation_files
from .data.validate import check_split_annotations
from .errors import StadError

DATALOADERS = ("train_dataloader", "val_dataloader", "test_dataloader")
EVALUATORS = ("val_evaluator", "test_evaluator")
# AVA csv and proposal file of each dataloader (`stad convert ava`, `... proposals`).
SPLIT_OF = {"train_dataloader": "train", "val_dataloader": "val",
            "test_dataloader": "val"}
GT_SPLIT = layout.GT_SPLIT  # file suffix -> split of the GT
HEAD = "model.roi_head.bbox_head"
# recall@k that MMAction2's `BBoxHeadAVA` logs while training: the k below the
# number of classes (it asserts k < num_classes).
TOPK = (1, 3, 5)
# Columns of the datasets' one-hot label vectors: MMAction2's AVA assigner
# (`MaxIoUAssignerAVA`) asserts at least two, so one action gets a second column
# that no box ever sets (heads read the first `num_classes` columns).
MIN_DATASET_CLASSES = 2
MAX_NAMES = 6  # class names quoted in an error


def annotation_files(anno_dir: str | os.PathLike) -> dict[str, Path]:
    """The annotation files the action configs read, by role, inside `anno_dir`."""
    return _layout_annotation_files(anno_dir)


# ---------------------------------------------------------------------------
# The number of actions
# ---------------------------------------------------------------------------
def class_options(num_classes: int, labels: Sequence[str] | None = None
                  ) -> dict[str, Any]:
    """cfg-options that size every class-dependent value of an action config.

    `num_classes` is the number of actions (the GT's labels; no background, no
    "no action"); `labels` their names, label id = index. Sets the top-level
    `num_classes`, the head's `num_classes` and `topk` (the k of `TOPK` below
    `num_classes`: none for one action), every dataset's `num_classes` (the
    width of its one-hot labels: `dataset_num_classes`) and, with `labels`,
    every dataset's `metainfo.classes` (saved in each checkpoint).

    Raises:
        StadError: `num_classes` < 1, or `labels` has another length.
    """
    n = int(num_classes)
    if n < 1:
        raise StadError(f"an action detector needs at least one action, got {n}")
    if labels is not None and len(labels) != n:
        raise StadError(f"{len(labels)} class names for {n} classes")
    options: dict[str, Any] = {
        "num_classes": n,
        f"{HEAD}.num_classes": n,
        f"{HEAD}.topk": tuple(k for k in TOPK if k < n),
    }
    for loader in DATALOADERS:
        options[f"{loader}.dataset.num_classes"] = dataset_num_classes(n)
        if labels is not None:
            options[f"{loader}.dataset.metainfo"] = {
                "classes": tuple(str(name) for name in labels)}
    return options


def dataset_num_classes(num_classes: int) -> int:
    """`num_classes` of the datasets for that many actions (see
    `MIN_DATASET_CLASSES`)."""
    return max(int(num_classes), MIN_DATASET_CLASSES)


def _gt_labels(gt_file: str | os.PathLike | None) -> list[str] | None:
    """The labels of a GT file, or None when there is none."""
    if not gt_file or not Path(gt_file).is_file():
        return None
    from .data.gt import MultiSportsGT

    return list(MultiSportsGT.load(gt_file, validate=False).labels)


def data_options(
    data_root: str | os.PathLike,
    anno_dir: str | os.PathLike | None = None,
    gt_file: str | os.PathLike | None = None,
    num_classes: int | None = None,
) -> dict[str, Any]:
    """cfg-options that point an action config at the dataset in `data_root`.

    Videos are read from `data_root/trainval` (both splits, as in MultiSports);
    csvs and proposals from `anno_dir` (default `data_root/annotations`); the GT
    from `gt_file` (default `data_root/annotations/multisports_GT.pkl`). Every
    class-dependent value follows that GT's labels (`class_options`), or
    `num_classes` when given (then without names, unless the GT has as many).

    Args:
        data_root: The dataset root (MultiSports layout).
        anno_dir: Folder of the csvs, proposals and label map.
        gt_file: The GT pickle.
        num_classes: Number of actions, if not the GT's.

    Returns:
        `{dotted key: value}` for MMEngine's `cfg_options`.

    Raises:
        StadError: The GT file exists but cannot be read (a missing one is
            skipped), or the number of classes is below 1.
    """
    root = Path(data_root)
    files = annotation_files(anno_dir if anno_dir is not None
                             else layout.annotations_dir(root))
    gt = Path(gt_file) if gt_file is not None else layout.gt_file(root)
    labels = _gt_labels(gt)
    if num_classes is not None and labels is not None and len(labels) != num_classes:
        labels = None
    options: dict[str, Any] = {}
    for loader in DATALOADERS:
        split = SPLIT_OF[loader]
        prefix = f"{loader}.dataset."
        options[prefix + "data_prefix.img"] = str(root / layout.TRAINVAL)
        options[prefix + "ann_file"] = str(files[f"{split}_csv"])
        options[prefix + "proposal_file"] = str(files[f"{split}_proposals"])
    for evaluator in EVALUATORS:
        options[f"{evaluator}.ann_file"] = str(gt)
    count = num_classes if num_classes is not None else (
        len(labels) if labels is not None else None)
    if count is not None:
        options.update(class_options(count, labels))
    return options


def action_options(
    config: str | os.PathLike,
    data_root: str | os.PathLike | None = None,
    cfg_options: dict[str, Any] | None = None,
    *,
    anno_dir: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """The cfg-options every use of an action config goes through.

    `data_options(data_root, anno_dir)` when `data_root` is given, then
    `cfg_options`; then, unless those set `num_classes` themselves, the class
    options of the GT the result evaluates on (the config's own GT when no
    `data_root`), so the classes follow the dataset whichever way it was named.

    Returns:
        `{dotted key: value}` for MMEngine's `cfg_options`.

    Raises:
        StadError: The config or GT is unreadable, or the number of classes is
            below 1 (see `data_options`).
    """
    from .train import load_config

    options: dict[str, Any] = {}
    if data_root is not None:
        options.update(data_options(data_root, anno_dir))
    options.update(cfg_options or {})
    if "num_classes" not in options and f"{HEAD}.num_classes" not in options:
        cfg = load_config(config, options)
        labels = _gt_labels((cfg.get("test_evaluator") or {}).get("ann_file"))
        if labels:
            options = {**class_options(len(labels), labels), **options}
    return options


def person_det_score_thr(config: str | os.PathLike,
                         cfg_options: dict[str, Any] | None = None) -> float:
    """The proposal score threshold of an action config (its val dataset's
    `person_det_score_thr`; AVADataset's default, 0.9, when unset).

    The value `stad detect --proposals` and the pipeline measure proposal recall
    at, so that its warning speaks of the threshold training will use.

    Raises:
        StadError: the config cannot be read, or the value is not a number.
    """
    from .convert.to_proposals import AVA_SCORE_THR
    from .train import load_config

    dataset = load_config(config, cfg_options).val_dataloader.dataset
    value = dataset.get("person_det_score_thr", AVA_SCORE_THR)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise StadError(f"person_det_score_thr {value!r} is not a number",
                        config) from None


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------
def check_data(cfg, config: str | os.PathLike, splits: tuple[str, ...] = DATALOADERS
               ):
    """Raise `StadError` unless the files `cfg`'s dataloaders and metric read exist
    and fit together; return the GT of the test evaluator (a `MultiSportsGT`).

    Checked: the GT files of the evaluators (and that the model has one output
    per label, `topk` below that), the video folder and AVA csv of each of
    `splits`, and their proposals: a non-empty dict whose keys are keyframes of
    the GT (a video it lists, a frame inside it) and cover some videos of the
    loader's split. Pickles are opened with the project's restricted unpickler
    first, so a hostile file is refused before MMAction2 unpickles it.

    Args:
        cfg: The MMEngine `Config` of an action model (a `configs/action/` file).
        config: Its path, named in errors.
        splits: The dataloaders to check (`train_dataloader`, ...).

    Returns:
        The `MultiSportsGT` of the test evaluator (None if the config has none).

    Raises:
        StadError: A GT, video folder, AVA csv or proposal file is missing; the
            model's `num_classes`/`topk` do not fit the GT's labels; a proposal
            file is not one of this GT and split (see `check_proposals`); or a
            pickle is refused by the restricted unpickler.
    """
    from .data.gt import MultiSportsGT
    from .data.safe_pickle import safe_load

    gts = {}
    for evaluator in EVALUATORS:
        ann = (cfg.get(evaluator) or {}).get("ann_file")
        if ann and ann not in gts:
            if not Path(ann).is_file():
                raise StadError(f"{evaluator}: GT file {ann} not found", config)
            gts[ann] = MultiSportsGT.load(ann)
            _check_classes(cfg, gts[ann], config)
    gt = gts.get((cfg.get("test_evaluator") or {}).get("ann_file")) or next(
        iter(gts.values()), None)

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
                check_proposals(safe_load(path), path, gt, GT_SPLIT[SPLIT_OF[loader]])
            seen.add(path)
    return gt


def check_proposals(proposals: object, path: str | os.PathLike, gt=None,
                    split: str | None = None) -> None:
    """Raise `StadError` unless `proposals` is a proposal file of the GT `gt`.

    A proposal file (`stad convert proposals`) is a non-empty dict
    'sport/video.mp4,0017' -> (N, 4 or 5) normalized boxes (and scores). With
    `gt`, every key must be a frame (1-based, up to its frame count) of a video
    of the GT, and with `split` ('train' or 'test') some key must be of a video
    of that split: proposals made for another dataset, or the other split's
    file, are refused instead of training on whole-frame boxes.

    Args:
        proposals: The unpickled proposal file.
        path: Its path, named in errors.
        gt: The `MultiSportsGT` the proposals must belong to (None: only the
            container is checked).
        split: `"train"` or `"test"` (the GT's split names).

    Raises:
        StadError: Not a non-empty dict; a key is not an AVA image key
            (`data.layout.parse_ava_key`); a key's video is not in `gt` or its
            frame outside the video; a value is not `(N, 4)` or `(N, 5)`; or no
            key is of a video of `split`.
    """
    import numpy as np

    if not isinstance(proposals, dict) or not proposals:
        example = layout.ava_key("sport/video", 1)
        raise StadError(f"expected a non-empty dict {example!r} -> (N, 5) array of "
                        "normalized boxes and scores", path)
    if gt is None:
        return
    where = f" of the GT {gt.source}" if gt.source else " of the GT"
    in_split = set(gt.split_videos(split)) if split else None
    hits = 0
    for key, boxes in proposals.items():
        try:
            video, frame = layout.parse_ava_key(str(key))
        except ValueError as exc:
            raise StadError(f"proposal key {key!r}: {exc}", path) from None
        n = gt.nframes.get(video)
        if n is None:
            raise StadError(f"proposal {key!r}: video {video!r} is not a video{where} "
                            "(proposals made for another dataset?)", path)
        if not 1 <= frame <= int(n):
            raise StadError(f"proposal {key!r}: frame {frame} is outside video "
                            f"{video!r}, which has {int(n)} frames{where}", path)
        shape = np.shape(boxes)
        if len(shape) != 2 or shape[1] not in (4, 5):
            raise StadError(f"proposal {key!r}: expected an (N, 5) array of "
                            f"normalized boxes and scores, got shape {shape}", path)
        hits += in_split is not None and video in in_split
    if in_split and not hits:
        raise StadError(f"no proposal is for a video of the {split} split{where} "
                        "(the other split's proposal file?)", path)


def _check_classes(cfg, gt, config: str | os.PathLike) -> None:
    head = cfg.model.roi_head.bbox_head
    n = len(gt.labels)
    hint = "(pass --data DIR of that dataset, or set num_classes)"
    if head.num_classes != n:
        raise StadError(
            f"the model has {head.num_classes} classes but the GT {gt.source} has "
            f"{n} labels {hint}", config)
    for loader in DATALOADERS:
        dataset = (cfg.get(loader) or {}).get("dataset") or {}
        want = dataset_num_classes(n)
        if dataset.get("num_classes", want) != want:
            raise StadError(f"{loader}.dataset.num_classes is "
                            f"{dataset.get('num_classes')} but the GT {gt.source} "
                            f"has {n} labels (expected {want}) {hint}", config)
    topk = head.get("topk")
    topk = (topk,) if isinstance(topk, int) else tuple(topk or ())
    if any(k >= n for k in topk) and _extra_outputs(cfg) == 0:
        raise StadError(f"{HEAD}.topk {topk} must be below the number of classes "
                        f"({n}, the labels of the GT {gt.source})", config)


# ---------------------------------------------------------------------------
# Checkpoints and the classes they were trained for
# ---------------------------------------------------------------------------
def _extra_outputs(cfg) -> int:
    """Outputs of the config's head beyond one per action (1 with "no action")."""
    from .heads import extra_outputs

    return extra_outputs(cfg.model.roi_head.bbox_head.get("type"))


def checkpoint_classes(loaded: dict, cfg=None) -> tuple[int | None, tuple | None]:
    """(number of actions, their names) a loaded checkpoint was trained for.

    The names come from `meta.dataset_meta.classes` (saved by training with
    `class_options`); the number from them, else from the rows of the head's
    classifier (`roi_head.bbox_head.fc_cls`) less the extra outputs of `cfg`'s
    head. Either is None when the checkpoint does not tell.
    """
    meta = loaded.get("meta") if isinstance(loaded, dict) else None
    dataset_meta = (meta or {}).get("dataset_meta") if isinstance(meta, dict) else None
    names = (dataset_meta or {}).get("classes") if isinstance(dataset_meta,
                                                               dict) else None
    names = tuple(str(n) for n in names) if isinstance(names, (list, tuple)) else None
    if names is not None:
        return len(names), names
    weights = loaded.get("state_dict", loaded) if isinstance(loaded, dict) else {}
    rows = None
    for key, value in weights.items():
        key = key.removeprefix("module.")
        if key.startswith("roi_head.bbox_head.fc_cls") and key.endswith(".weight"):
            rows = int(value.shape[0])  # the last Linear of the classifier
    if rows is None:
        return None, None
    return rows - (_extra_outputs(cfg) if cfg is not None else 0), None


def quote_names(names: Sequence[str] | None) -> str:
    """' (a, b, c, ...)': the first names of a class list, for messages."""
    if not names:
        return ""
    shown = ", ".join(names[:MAX_NAMES]) + (", ..." if len(names) > MAX_NAMES else "")
    return f" ({shown})"


def check_checkpoint_classes(
    checkpoint: str | os.PathLike,
    cfg,
    config: str | os.PathLike,
    *,
    fine_tune: bool = False,
    loaded: dict | None = None,
) -> None:
    """Raise `StadError` unless `checkpoint` was trained for the classes of `cfg`.

    The config's classes are the labels of its test evaluator's GT (else the
    names in its datasets' `metainfo`, else its head's `num_classes`); the
    checkpoint's are `checkpoint_classes`. A different number or different names
    (label id i must mean the same action) is an error naming both files, so
    evaluation, the demo and resuming never run a model on another dataset's
    classes. `fine_tune` (training from `load_from`) accepts another number of
    classes (the head is new) and only warns about the same number with other
    names. URLs are not checked here.

    Args:
        checkpoint: The checkpoint path (or URL: not checked).
        cfg: The MMEngine `Config` it is to be used with.
        config: The config's path, named in errors.
        fine_tune: Training from it with a new head (`load_from`).
        loaded: The checkpoint already loaded (`load_checkpoint_file`), to avoid
            reading it twice.

    Raises:
        StadError: The checkpoint file is missing or unreadable, or (unless
            `fine_tune`) it was trained for another number of actions, or for the
            same number with other names in another order.
    """
    if loaded is None:
        loaded = load_checkpoint_file(checkpoint)
    if loaded is None:
        return
    have_n, have = checkpoint_classes(loaded, cfg)
    if have_n is None:
        return
    gt_file = (cfg.get("test_evaluator") or {}).get("ann_file")
    want = _gt_labels(gt_file)
    against = f"the GT {gt_file}"
    if want is None:
        meta = (cfg.test_dataloader.dataset.get("metainfo") or {}).get("classes")
        want = list(meta) if meta else None
        against = f"config {config}"
    want_n = len(want) if want is not None else int(
        cfg.model.roi_head.bbox_head.num_classes)
    hint = ("; pass --data DIR of the dataset it was trained on, or its own "
            "config" if not fine_tune else "")
    if have_n != want_n:
        if fine_tune:
            return  # a new head: MMEngine skips the classifier's weights
        raise StadError(
            f"the checkpoint was trained for {have_n} actions{quote_names(have)}, "
            f"but {against} has {want_n}{quote_names(want)}{hint}", checkpoint)
    if have is None or want is None or list(have) == list(want):
        return
    i = next(i for i, (a, b) in enumerate(zip(have, want)) if a != b)
    message = (f"label {i} is {have[i]!r} in the checkpoint but {want[i]!r} in "
               f"{against} (checkpoint labels{quote_names(have)}, "
               f"dataset labels{quote_names(want)})")
    if fine_tune:
        warnings.warn(f"{checkpoint}: {message}; fine-tuning retrains the head with "
                      "the dataset's labels", stacklevel=3)
        return
    raise StadError(message + hint, checkpoint)


def start_checkpoint(cfg, config: str | os.PathLike,
                     work_dir: str | os.PathLike | None, resume: bool
                     ) -> tuple[str | None, bool]:
    """(checkpoint a training of `cfg` starts from, whether it is a fine-tuning).

    As `stad_helpers.train.train` chooses it: with `resume` the work dir's last
    checkpoint when there is one, else `load_from`.
    """
    from .train import default_work_dir, read_last_checkpoint

    work = Path(work_dir or cfg.get("work_dir") or default_work_dir(config))
    last = read_last_checkpoint(work) if resume else None
    if last is not None:
        return os.fspath(last), False
    start = cfg.get("load_from")
    return (os.fspath(start) if start else None), True


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------
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

    `data_root` (and `anno_dir`) point the config at a dataset folder, whose GT
    sets the classes (`action_options`); `cfg_options` override anything else.
    The data is checked (`check_data`), and the checkpoint training starts from
    (the resumed one, or `load_from`) against the dataset's classes
    (`check_checkpoint_classes`); the rest (resume, checkpoint checks, launcher)
    is `stad_helpers.train.train`.

    Raises:
        StadError: missing, empty or mismatched data, or a checkpoint of other classes;
            nothing is written then.
    """
    from .train import load_config, train

    options = action_options(config, data_root, cfg_options, anno_dir=anno_dir)
    cfg = load_config(config, options)
    check_data(cfg, config)
    check_split_annotations(cfg, config)  # an empty train/val split: one clear line
    if _extra_outputs(cfg) == 0 and int(cfg.model.roi_head.bbox_head.num_classes) == 1:
        raise StadError(
            "one action and a head without a 'no action' output: it learns from "
            "the annotated people only, who all have that action, so it learns "
            f"nothing; use the CPU config's head ({HEAD}.type=BBoxHeadAVANoAction) "
            "or annotate a second action", config)
    start, fine_tune = start_checkpoint(cfg, config, work_dir, resume)
    if start:
        check_checkpoint_classes(start, cfg, config, fine_tune=fine_tune)
    return train(config, work_dir, resume, options, launcher, quiet)
