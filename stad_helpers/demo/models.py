"""The demo's models and class names: the action detector with its checkpoint
(`load_action_model`), and the names it shows (`load_label_map` for MMAction2's
`id: name` label-map files, `_default_label_map` for the config's GT).

Used in: 04_inference_demo.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import StadError


def load_action_model(config: str | os.PathLike, checkpoint: str | os.PathLike,
                      device: str | None = None,
                      cfg_options: dict[str, Any] | None = None):
    """The action detector of `config` with `checkpoint`'s weights, in eval mode.

    Its classes are those of the GT the config (with `cfg_options`, e.g.
    `action.data_options(DIR)`) evaluates on; when there is no such GT, those
    the checkpoint was trained for (`action.checkpoint_classes`). The checkpoint
    must have been trained for these classes (`action.check_checkpoint_classes`)
    and fit the model exactly (MMEngine would only warn), and no pretrained
    weights are downloaded for initialization. `model.cfg` is the merged config,
    `model.dataset_meta` the checkpoint's (`classes` when it stored them).

    Raises:
        StadError: the checkpoint is missing, of another model, or of other
            classes than the dataset's (naming both files).
    """
    import torch
    from mmaction.registry import MODELS
    from mmengine.registry import DefaultScope

    from ..action import (
        action_options,
        check_checkpoint_classes,
        checkpoint_classes,
        class_options,
        load_checkpoint_file,
    )
    from ..registry import register_all
    from ..train import check_checkpoint, load_config

    register_all()
    options = action_options(config, None, cfg_options)
    stored = load_checkpoint_file(checkpoint)
    if stored is not None and "num_classes" not in options:  # no dataset named
        count, names = checkpoint_classes(stored, load_config(config, options))
        if count is not None and count >= 1:
            options = {**class_options(count, names), **options}
    cfg = load_config(config, options)
    check_checkpoint_classes(checkpoint, cfg, config, loaded=stored)
    cfg.model.pop("init_cfg", None)
    if "backbone" in cfg.model:
        cfg.model.backbone.pretrained = None
    with DefaultScope.overwrite_default_scope("mmaction"):
        model = MODELS.build(cfg.model)
    loaded = check_checkpoint(model, checkpoint, strict=True, source=config)
    weights = loaded.get("state_dict", loaded)
    model.load_state_dict({k[7:] if k.startswith("module.") else k: v
                           for k, v in weights.items()}, strict=False)
    model.cfg = cfg
    meta = loaded.get("meta") if isinstance(loaded, dict) else None
    model.dataset_meta = dict((meta or {}).get("dataset_meta") or {})
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return model.to(device).eval()



KIND_NAMES = {"action": "an action detector", "detector": "a person detector"}


def config_kind(cfg) -> str | None:
    """`"action"` or `"detector"`: what the model of an MMEngine config is.

    An action detector (MMAction2's `FastRCNN` with `AVARoIHead`, fed by
    `ActionDataPreprocessor`) or a person detector (MMDetection: a `rpn_head`, a
    `DetDataPreprocessor`, or a single-stage `bbox_head` without `roi_head`);
    None when neither sign is there.
    """
    model = cfg.get("model") or {}
    roi = str((model.get("roi_head") or {}).get("type", ""))
    pre = str((model.get("data_preprocessor") or cfg.get("data_preprocessor")
               or {}).get("type", ""))
    if roi.endswith("AVARoIHead") or pre.endswith("ActionDataPreprocessor"):
        return "action"
    if ("rpn_head" in model or pre.endswith("DetDataPreprocessor")
            or ("bbox_head" in model and "roi_head" not in model)):
        return "detector"
    return None


def checkpoint_kind(loaded: dict | None) -> str | None:
    """`"action"` or `"detector"`: what a loaded checkpoint's weights are of.

    A person detector's state dict has `rpn_head.` weights (two-stage) or no
    3D convolution; an action detector's backbone has 3D convolutions (5-D
    weights: SlowOnly, SlowFast, X3D...). None for an empty or unknown dict.
    """
    if not loaded:
        return None
    weights = loaded.get("state_dict", loaded)
    if not isinstance(weights, dict) or not weights:
        return None
    keys = [k[7:] if k.startswith("module.") else k for k in weights]
    if any(k.startswith("rpn_head.") for k in keys):
        return "detector"
    if any(getattr(v, "ndim", 0) == 5 for v in weights.values()):
        return "action"
    if any(k.startswith("backbone.") for k in keys):
        return "detector"  # 2D backbone only
    return None


def check_model_files(files: dict[str, tuple[str | os.PathLike, str]]) -> None:
    """Refuse configs and checkpoints given in each other's place, before any work.

    Args:
        files: `{option: (path, kind)}`: e.g. `{"--config": (cfg, "action"),
            "--det-checkpoint": (pth, "detector")}`; options ending in
            `checkpoint` (any case) are checkpoints (a URL is not checked), the
            others configs. A file that cannot be read is left to the step
            that reads it.

    Raises:
        StadError: A file whose model is of the other kind (naming it, and the
            option it belongs to: "did you swap --config and --det-config?").
    """
    from ..checkpoints import load_checkpoint_file
    from ..train import load_config

    def is_ckpt(option: str) -> bool:
        return option.lower().endswith("checkpoint")

    found: dict[str, str | None] = {}
    for option, (path, _) in files.items():
        try:
            found[option] = (checkpoint_kind(load_checkpoint_file(path))
                             if is_ckpt(option) else config_kind(load_config(path)))
        except StadError:  # unreadable: the step that reads it says so
            found[option] = None
    for option, (path, want) in files.items():
        got = found[option]
        if got is None or got == want:
            continue
        other = next((o for o, (_, w) in files.items() if o != option and w == got
                      and is_ckpt(o) == is_ckpt(option)),
                     None)
        hint = (f"did you swap {option} and {other}?" if other is not None
                and found[other] == want else
                f"{option} takes {KIND_NAMES[want]}'s")
        what = "checkpoint" if is_ckpt(option) else "config"
        raise StadError(f"{option}: looks like {KIND_NAMES[got]} {what}, not "
                        f"{KIND_NAMES[want]}'s; {hint}", path)


def load_label_map(path: str | os.PathLike,
                   num_classes: int | None = None) -> dict[int, str]:
    """`0: name` lines (the format of MMAction2's label_map.txt) -> {0: 'name'}.

    `stad convert ava` writes one for the GT's labels (ids 0-based). A map may
    name a subset of the classes (the demo shows only those); with
    `num_classes` (the model's), an id it cannot output is an error.

    Raises:
        StadError: the file is missing, a line is not `id: name`, or an id is
            outside 0..num_classes-1.
    """
    out: dict[int, str] = {}
    path = Path(path)
    if not path.is_file():
        raise StadError("label map not found", path)
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        key, sep, name = line.partition(":")
        try:
            out[int(key)] = name.strip()
        except ValueError:
            raise StadError(f"line {n}: expected 'id: name', got {line!r}",
                            path) from None
        if not sep:
            raise StadError(f"line {n}: expected 'id: name', got {line!r}", path)
    bad = sorted(i for i in out if num_classes is not None
                 and not 0 <= i < int(num_classes))
    if bad:
        raise StadError(f"label id {bad[0]} (line of '{out[bad[0]]}'): the model has "
                        f"{num_classes} classes, ids 0..{int(num_classes) - 1} (a "
                        "label map of another dataset?)", path)
    return out


def _default_label_map(cfg, num_classes: int) -> dict[int, str]:
    """Class names from the GT of the config's test evaluator, else the names the
    config's datasets carry (`metainfo.classes`, set from the checkpoint by
    `load_action_model`), else the numbers."""
    from ..data.gt import MultiSportsGT

    ann = (cfg.get("test_evaluator") or {}).get("ann_file")
    if ann and Path(ann).is_file():
        labels = MultiSportsGT.load(ann, validate=False).labels
        if len(labels) == num_classes:
            return {i: str(n) for i, n in enumerate(labels)}
    dataset = (cfg.get("test_dataloader") or {}).get("dataset") or {}
    names = (dataset.get("metainfo") or {}).get("classes")
    if names and len(names) == num_classes:
        return {i: str(n) for i, n in enumerate(names)}
    return {i: str(i) for i in range(num_classes)}
