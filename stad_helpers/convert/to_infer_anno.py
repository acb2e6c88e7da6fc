"""Rawframes -> COCO image list for the detector (`stad convert infer-anno`).

The tutorial's `images2coco.py` without opening every image: the size is read
once per video folder (from the `.done` marker `extract_frames` writes, else
from the first image's header), since all frames of a video share it. The
JSON has the same keys (`images`, `type`, `categories`, `annotations: []`);
`file_name` is relative to the frames folder (`sport/video/00001.jpg`), so a
detector config uses that folder as `data_prefix`.

With `gt`, only the annotated frames are listed: those are the keyframes
whose proposals the action detector reads, so detecting on them alone gives
the same training and evaluation at a fraction of the cost.

Used in: 02_person_detector.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from ..data.gt import MultiSportsGT
from ..errors import StadError
from ..fileio import atomic_open
from .frames import MARKER, read_marker

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def infer_anno(
    frames_dir: str | os.PathLike,
    out_json: str | os.PathLike,
    classes: Sequence[str] = ("person",),
    gt: MultiSportsGT | str | os.PathLike | None = None,
) -> Path:
    """Write a COCO JSON listing the frames under `frames_dir` (no annotations).

    The image list MMDetection's inference reads (the tutorial's
    `ms_infer_anno.json`; COCO format, https://cocodataset.org/#format-data):
    one `images` entry per frame with `file_name` relative to `frames_dir`
    (`sport/video/00001.jpg`), `height` and `width` in pixels, and `categories`
    from `classes`.

    Args:
        frames_dir: The rawframes folder (`<sport>/<video>/00001.jpg`).
        out_json: The JSON to write (whole or not at all).
        classes: Category names, ids 0-based.
        gt: A `MultiSportsGT` (or its file): list only its annotated frames.

    Returns:
        `out_json`.

    Raises:
        StadError: `frames_dir` is missing, holds no frames (of the GT), or the
            GT is unreadable or invalid.
    """
    root = Path(frames_dir)
    if not root.is_dir():
        raise StadError("frames folder not found", root)
    wanted = None
    if gt is not None:
        from ._common import as_gt

        g = as_gt(gt)
        table = g.box_table()
        wanted = {(g.videos[v], f) for v, f in zip(table.video.tolist(),
                                                   table.frame.tolist())}
    images = []
    for folder, names in _image_folders(root):
        rel = folder.relative_to(root).as_posix()
        if wanted is not None:
            names = [n for n in names if (rel, _frame_number(n)) in wanted]
            if not names:
                continue
        height, width = _folder_size(folder, names[0])
        prefix = "" if rel == "." else rel + "/"
        images += [{"id": len(images) + i, "file_name": prefix + n, "height": height,
                    "width": width} for i, n in enumerate(names)]
    if not images:
        raise StadError("no frames found (expected <sport>/<video>/00001.jpg ...)"
                        + (" for the annotated frames of the GT" if gt is not None
                           else ""), root)
    coco = {
        "images": images,
        "type": "instance",
        "categories": [{"supercategory": "none", "id": i, "name": str(name)}
                       for i, name in enumerate(classes)],
        "annotations": [],
    }
    with atomic_open(out_json, "w") as fh:
        fh.write(json.dumps(coco))
    return Path(out_json)


def _image_folders(root: Path):
    """(folder, sorted image names) for every folder holding images, sorted."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        names = sorted(n for n in filenames
                       if n.lower().endswith(IMAGE_SUFFIXES) and not n.startswith("."))
        if names:
            yield Path(dirpath), names


def _frame_number(name: str) -> int | None:
    try:
        return int(Path(name).stem)
    except ValueError:
        return None


def _folder_size(folder: Path, first: str) -> tuple[int, int]:
    """(height, width) of the frames in `folder`, checking an extraction marker."""
    marker = read_marker(folder)
    if marker is not None:
        count = sum(1 for n in os.listdir(folder) if n.lower().endswith(".jpg"))
        if count != marker["frames"]:
            raise StadError(f"holds {count} frames but its {MARKER} says "
                            f"{marker['frames']}; re-run `stad convert frames`", folder)
        if "height" in marker and "width" in marker:
            return int(marker["height"]), int(marker["width"])
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(folder / first) as img:  # reads the header only
            return img.height, img.width
    except (OSError, UnidentifiedImageError) as exc:
        raise StadError(f"cannot read image ({exc})", folder / first) from None
