"""The MultiSports layout and the files the tutorial writes into it, in one place.

Every path, file name and key format of the layout is spelled here and nowhere else;
code, tests and notebooks ask this module. The layout is the one of MultiSports
(Li et al., ICCV 2021, https://deeperaction.github.io/datasets/multisports.html) and
of MMAction2's `projects/stad_tutorial`::

    DATA_ROOT/
    ├── trainval/<sport>/<video>.mp4      annotated videos of BOTH splits
    ├── test/<sport>/<video>.mp4          unannotated videos (e.g. the demo clip)
    ├── rawframes/<sport>/<video>/00001.jpg   decoded frames, 1-based (optional)
    └── annotations/
        ├── multisports_GT.pkl                     the annotation (`MultiSportsGT`)
        ├── multisports_det_anno_{train,val}.json  COCO person boxes
        ├── ms_infer_anno.json                     COCO image list for inference
        ├── multisports_proposals_{train,val}.pkl  person proposals per keyframe
        ├── multisports_{train,val}.csv            AVA-format action boxes
        └── multisports_label_map.txt              `0: name` lines (MMAction2's format)

**Split names.** The GT names its splits `train_videos` and `test_videos`; the files
derived from it say `_train` and `_val`, as MultiSports and the original tutorial do:
its "test" videos are the validation set every metric is reported on. One mapping,
`FILE_SPLIT`, turns a GT split into a file suffix.

**AVA image keys.** Proposals and AVA rows name a keyframe `sport/video.mp4,0017`: the
video key plus `.mp4`, a comma, and the 1-based frame number on at least 4 digits.
MMAction2's `AVADataset` builds the same string from a CSV row (timestamp = frame
here, since the tutorial's AVA files use fps=1), so `ava_key` and `parse_ava_key`
are the only places that know it.

Used in: 01_dataset, 02_person_detector, 03_action_detector, 04_inference_demo,
05_your_own_data.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

ANNOTATIONS = "annotations"
TRAINVAL = "trainval"
TEST = "test"
RAWFRAMES = "rawframes"
# Where video files are looked for, in order (MultiSports: trainval/ holds both splits).
VIDEO_DIRS = (TRAINVAL, TEST)
VIDEO_SUFFIX = ".mp4"

GT_FILE = "multisports_GT.pkl"
# The GT relative to a data root, '/'-separated (as in a tar's member names).
GT_REL = f"{ANNOTATIONS}/{GT_FILE}"
LABEL_MAP_FILE = "multisports_label_map.txt"
INFER_ANNO_FILE = "ms_infer_anno.json"
# Stems of the per-split files; `split_file` adds `_train`/`_val` and the suffix.
DET_ANNO_STEM = "multisports_det_anno"
PROPOSALS_STEM = "multisports_proposals"
AVA_STEM = "multisports"

# GT split -> the GT key listing its videos, and -> the suffix of files made from it.
SPLITS = ("train", "test")
GT_SPLIT_KEY = {"train": "train_videos", "test": "test_videos"}
FILE_SPLIT = {"train": "train", "test": "val"}
# ... and back: the suffix of a file -> the GT split it was made from.
GT_SPLIT = {suffix: split for split, suffix in FILE_SPLIT.items()}

# Rawframe names: 1-based frame number on 5 digits (`00001.jpg`), MMAction2's
# `filename_tmpl='{:05}.jpg'` of the tutorial's rawframe configs.
RAWFRAME_TMPL = "{:05d}.jpg"
# Keyframe number inside an AVA image key.
AVA_KEY_TMPL = "{video}" + VIDEO_SUFFIX + ",{frame:04d}"


def annotations_dir(data_root: str | os.PathLike) -> Path:
    """`DATA_ROOT/annotations`."""
    return Path(data_root) / ANNOTATIONS


def gt_file(data_root: str | os.PathLike) -> Path:
    """`DATA_ROOT/annotations/multisports_GT.pkl`."""
    return annotations_dir(data_root) / GT_FILE


def video_path(data_root: str | os.PathLike, video: str) -> Path:
    """The mp4 of `video` ('sport/name') under a data root.

    Looks in `trainval/` first, then `test/`; when neither has it, returns the
    `trainval/` path (so an error message names where it was expected).
    """
    for folder in VIDEO_DIRS:
        path = Path(data_root) / folder / f"{video}{VIDEO_SUFFIX}"
        if path.exists():
            return path
    return Path(data_root) / VIDEO_DIRS[0] / f"{video}{VIDEO_SUFFIX}"


def file_split(split: str) -> str:
    """File suffix of a split: 'train' -> 'train', 'test'/'val' -> 'val'.

    Raises:
        ValueError: `split` is none of 'train', 'test', 'val'.
    """
    if split == "val":
        return "val"
    try:
        return FILE_SPLIT[split]
    except KeyError:
        raise ValueError(f"unknown split {split!r}: expected one of "
                         f"{sorted(FILE_SPLIT) + ['val']}") from None


def split_file(out: str | os.PathLike, split: str, suffix: str | None = None) -> Path:
    """`OUT.json` -> `OUT_train.json` / `OUT_val.json`: a per-split output file.

    `out` names the pair by a stem plus suffix, the naming of the tutorial's
    scripts (`generate_mmdet_anno.py`, `generate_proposals.py`). `suffix`, when
    given, must be `out`'s.

    Raises:
        ValueError: `out` does not end with `suffix`, or `split` is unknown.
    """
    out = Path(out)
    if suffix is not None and not out.name.endswith(suffix):
        raise ValueError(f"output name must end with {suffix}: {out}")
    suffix = suffix if suffix is not None else out.suffix
    stem = out.name[: len(out.name) - len(suffix)] if suffix else out.name
    return out.with_name(f"{stem}_{file_split(split)}{suffix}")


def det_anno_out(anno_dir: str | os.PathLike) -> Path:
    """`multisports_det_anno.json`: the OUT.json that `stad convert det-anno` turns
    into `det_anno_file(anno_dir, split)` of each split (`split_file`)."""
    return Path(anno_dir) / f"{DET_ANNO_STEM}.json"


def proposals_out(anno_dir: str | os.PathLike) -> Path:
    """`multisports_proposals.pkl`: the OUT.pkl that `stad convert proposals` turns
    into `proposals_file(anno_dir, split)` of each split (`split_file`)."""
    return Path(anno_dir) / f"{PROPOSALS_STEM}.pkl"


def det_anno_file(anno_dir: str | os.PathLike, split: str) -> Path:
    """COCO person boxes of a split: `multisports_det_anno_{train,val}.json`."""
    return Path(anno_dir) / f"{DET_ANNO_STEM}_{file_split(split)}.json"


def proposals_file(anno_dir: str | os.PathLike, split: str) -> Path:
    """Person proposals of a split: `multisports_proposals_{train,val}.pkl`."""
    return Path(anno_dir) / f"{PROPOSALS_STEM}_{file_split(split)}.pkl"


def ava_csv(anno_dir: str | os.PathLike, split: str) -> Path:
    """AVA-format action boxes of a split: `multisports_{train,val}.csv`."""
    return Path(anno_dir) / f"{AVA_STEM}_{file_split(split)}.csv"


def label_map_file(anno_dir: str | os.PathLike) -> Path:
    """The label map `multisports_label_map.txt` (`0: name` lines)."""
    return Path(anno_dir) / LABEL_MAP_FILE


def infer_anno_file(anno_dir: str | os.PathLike) -> Path:
    """The COCO image list for inference, `ms_infer_anno.json`."""
    return Path(anno_dir) / INFER_ANNO_FILE


def ava_key(video: str, frame: int) -> str:
    """AVA image key of a keyframe (`frame` 1-based), `AVA_KEY_TMPL`.

    ('basketball/v_x_c001', 17) -> 'basketball/v_x_c001.mp4,0017'.
    """
    return f"{video}{VIDEO_SUFFIX},{int(frame):04d}"


def img_key(video_id: str, timestamp: int) -> str:
    """The `img_key` MMAction2's `AVADataset` gives a sample: `video_id` as it
    stands (a file name with its suffix, e.g. the demo's 'clip.avi'), a comma, and
    the timestamp on at least 4 digits.

    Source: `mmaction/datasets/ava_dataset.py` (MMAction2 1.2.0,
    `AVADataset.load_data_list`: `img_key = f'{video_id},{timestamp:04d}'`). For a
    MultiSports video key plus `.mp4` and a 1-based frame it equals `ava_key`.
    ('clip.avi', 5) -> 'clip.avi,0005'.
    """
    return f"{video_id},{int(timestamp):04d}"


def ava_keys(videos: Iterable[str], frames: Iterable[int]) -> list[str]:
    """`ava_key` of each (video, 1-based frame) pair, for many keys at once.

    One comprehension (about 3x faster than calling `ava_key` per key), for the
    per-box tables of the full dataset (~900k boxes).
    """
    suffix = VIDEO_SUFFIX
    return [f"{v}{suffix},{f:04d}" for v, f in zip(videos, frames)]


def parse_ava_key(key: str) -> tuple[str, int]:
    """'sport/video.mp4,0017' -> ('sport/video', 17).

    Raises:
        ValueError: `key` is not `<video>.mp4,<frame>` with an integer frame.
    """
    name, sep, frame = key.rpartition(",")
    if not sep or not frame.strip().isdigit():
        raise ValueError(f"not an AVA image key 'sport/video.mp4,0017': {key!r}")
    if name.endswith(VIDEO_SUFFIX):
        name = name[: -len(VIDEO_SUFFIX)]
    return name, int(frame)


def rawframe_name(frame: int) -> str:
    """File name of a 1-based frame in a rawframe folder: 17 -> '00017.jpg'."""
    return RAWFRAME_TMPL.format(int(frame))


def rawframe_relpath(video: str, frame: int) -> str:
    """'sport/video/00017.jpg': a 1-based frame below the rawframe root.

    '/'-separated whatever the OS: the COCO `file_name` of the det-anno JSON
    (`generate_mmdet_anno.py`'s naming) and the `img_path` of detector results.
    """
    return f"{video}/{rawframe_name(frame)}"


def rawframe_path(frames_root: str | os.PathLike, video: str, frame: int) -> Path:
    """`FRAMES_ROOT/<sport>/<video>/00017.jpg` for a 1-based frame."""
    return Path(frames_root) / video / rawframe_name(frame)


def annotation_files(anno_dir: str | os.PathLike) -> dict[str, Path]:
    """Every file of `annotations/` the action configs read, by role."""
    return {
        "train_csv": ava_csv(anno_dir, "train"),
        "val_csv": ava_csv(anno_dir, "test"),
        "train_proposals": proposals_file(anno_dir, "train"),
        "val_proposals": proposals_file(anno_dir, "test"),
        "gt": Path(anno_dir) / GT_FILE,
        "label_map": label_map_file(anno_dir),
    }
