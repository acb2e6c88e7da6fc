"""The synthetic (or any MultiSports) dataset in numbers and one figure.

- `dataset_stats(gt)`: tubes per class and split, tube lengths, boxes per frame,
  from a `MultiSportsGT`;
- `plot_dataset_stats(gt)`: those three as bar charts in the class colours
  (`stad_helpers.viz.palette`), returned as a matplotlib Figure.

Used in: 01_dataset, 05_your_own_data.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .palette import DEFAULT_PALETTE, Palette


def dataset_stats(gt) -> dict[str, Any]:
    """The numbers behind `plot_dataset_stats`.

    Args:
        gt: A `stad_helpers.data.gt.MultiSportsGT`.

    Returns:
        `tubes_per_class`: {"train": counts, "val": counts}, int64 arrays of
        shape (classes,) (the GT's `test_videos` are the val split);
        `tube_lengths`: {label: [frames per tube]}; `boxes_per_frame`: int array,
        one entry per frame of every video (1-based frames, empty ones as 0).
    """
    n = len(gt.labels)
    per_split = {}
    for split in ("train", "val"):
        counts = np.zeros(n, np.int64)
        for tube in gt.tubes(gt.split_videos(split)):
            if 0 <= tube.label < n:
                counts[tube.label] += 1
        per_split[split] = counts
    lengths: dict[int, list[int]] = {i: [] for i in range(n)}
    for tube in gt.tubes():
        lengths.setdefault(tube.label, []).append(len(tube.boxes))
    table = gt.box_table()
    boxes_per_frame = []
    for vi, video in enumerate(table.videos):
        frames = table.frame[table.video == vi]
        nframes = int(gt.nframes.get(video, frames.max() if len(frames) else 0))
        counts = np.bincount(np.clip(frames, 0, None), minlength=nframes + 1)[1:]
        boxes_per_frame.append(counts)
    bpf = np.concatenate(boxes_per_frame) if boxes_per_frame else np.zeros(0, int)
    return {"tubes_per_class": per_split, "tube_lengths": lengths,
            "boxes_per_frame": bpf}


def plot_dataset_stats(gt, palette: Palette = DEFAULT_PALETTE):
    """Three panels: tubes per class (train solid, val hatched), tube lengths,
    boxes per frame (all frames of all videos, empty ones included).

    Args:
        gt: A `stad_helpers.data.gt.MultiSportsGT`.
        palette: The class colours.

    Returns:
        The matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    stats = dataset_stats(gt)
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(3 * 4.2, 3.2))
    n = len(gt.labels)
    x = np.arange(n)
    colors = [palette.mpl(i) for i in range(n)]
    train, val = stats["tubes_per_class"]["train"], stats["tubes_per_class"]["val"]
    ax1.bar(x, train, color=colors, label="train")
    ax1.bar(x, val, bottom=train, color=colors, alpha=0.55, hatch="//",
            edgecolor="white", label="val")
    ax1.set_xticks(x, gt.labels, rotation=45 if n <= 12 else 90, ha="right",
                   fontsize=8 if n <= 12 else 5)
    ax1.set_ylabel("tubes")
    ax1.set_title("tubes per class")
    ax1.legend(fontsize=8)

    lengths = stats["tube_lengths"]
    data = [np.asarray(lengths.get(i, []), float) for i in range(n)]
    if any(len(d) for d in data):
        top = max(d.max() for d in data if len(d))
        bins = np.histogram_bin_edges(np.concatenate(data),
                                      bins=min(20, max(1, int(top))))
        ax2.hist(data, bins=bins, stacked=True, color=colors, label=gt.labels)
    ax2.set_xlabel("tube length (frames)")
    ax2.set_ylabel("tubes")
    ax2.set_title("tube lengths")

    bpf = stats["boxes_per_frame"]
    counts = np.bincount(bpf) if len(bpf) else np.zeros(1, int)
    ax3.bar(np.arange(len(counts)), counts, color=palette.mpl(None))
    ax3.set_xlabel("action boxes in the frame")
    ax3.set_ylabel("frames")
    ax3.set_title("boxes per frame")
    ax3.set_xticks(np.arange(len(counts)))
    fig.tight_layout()
    return fig
