"""The action model's own reader: MMAction2's pipeline on phone and trimmed videos.

`stad train action` and `stad evaluate` read clips through MMAction2's pipeline
(`DecordInit` -> `SampleAVAFrames` -> `DecordDecode` in configs/action/), not
through `stad_helpers.video`. Here the rgbdiff config's AVADataset and the first
three transforms of its train and val pipelines run on the odd videos of issue 14
(tests/_odd_videos.py): every clip must hold the frames `iter_frames` gives at
the same numbers (index i is frame i + 1), upright, its indices within the frames
players show, and the GT boxes (normalized to the displayed size) land on the
displayed pixels. decord alone gets edit lists and a last packet without a
picture wrong (the `decord_shown_frames` fix in stad_helpers/compat.py).
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
from _odd_videos import grey_clip, rotated_clip, tail_clip, trimmed_clip

from stad_helpers import compat
from stad_helpers.video import iter_frames, probe

decord = pytest.importorskip("decord")

CONFIG = (Path(__file__).resolve().parents[1] / "configs" / "action"
          / "slowonly_r18-slim_8x4x1-8e_synth-multisports-rgbdiff.py")
BOX = (180, 200, 220, 300)  # the phone clip's white block, displayed pixels
# video id -> keyframes (1-based frame numbers, as the AVA CSVs hold them)
KEYFRAMES = {
    "rotm90": (15,),
    "trim": (2, 48),  # 50 shown of 60 packets: 48 asks for frames past the end
    "trim_gop": (45, 88),  # 90 shown of 100, a keyframe every 20
    "tail": (10, 19),  # 20 pictures, 21 packets
    "grey": (30,),  # an ordinary video: decord's reader is kept
}


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    """The odd videos as `<root>/<video id>.mp4`, plus an AVA CSV of them."""
    root = tmp_path_factory.mktemp("train_reader")
    src = root / "src"
    src.mkdir()
    rotated_clip(root / "rotm90.mp4", -90)
    grey = grey_clip(root / "grey.mp4")  # 60 frames, one keyframe
    trimmed_clip(grey, root / "trim.mp4", discard=10)
    trimmed_clip(grey_clip(src / "gop.mp4", nframes=100, gop=20),
                 root / "trim_gop.mp4", discard=10)
    tail_clip(grey_clip(src / "g20.mp4", nframes=20), root / "tail.mp4")
    h, w = 320, 240  # the phone clip's displayed size
    box = f"{BOX[0] / w},{BOX[1] / h},{BOX[2] / w},{BOX[3] / h}"
    rows = [f"{vid},{kf},{box if vid == 'rotm90' else '0.1,0.1,0.5,0.5'},1,0"
            for vid, kfs in KEYFRAMES.items() for kf in kfs]
    (root / "train.csv").write_text("\n".join(rows) + "\n")
    return root


def _dataset(root: Path, split: str):
    """The config's AVADataset over `root`, its pipeline cut after DecordDecode."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    init_default_scope("mmaction")
    from mmaction.registry import DATASETS

    cfg = Config.fromfile(str(CONFIG))
    loader = cfg.train_dataloader if split == "train" else cfg.val_dataloader
    pipeline = cfg.train_pipeline if split == "train" else cfg.val_pipeline
    assert [t["type"] for t in pipeline[:3]] == [
        "DecordInit", "SampleAVAFrames", "DecordDecode"]
    dataset = copy.deepcopy(loader.dataset)
    dataset.update(ann_file=str(root / "train.csv"), proposal_file=None,
                   data_prefix=dict(img=str(root)), pipeline=pipeline[:3])
    return DATASETS.build(dataset)


def _ours(root: Path) -> dict[str, list[np.ndarray]]:
    return {vid: list(iter_frames(root / f"{vid}.mp4", rgb=True)) for vid in KEYFRAMES}


def _same_frame(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal within codec/colour-conversion rounding; neighbouring frames of a
    grey clip differ by 4 grey levels, far more than this tolerance."""
    return a.shape == b.shape and np.abs(a.astype(int) - b).mean() <= 1.0


@pytest.mark.parametrize("split", ["train", "val"])
def test_training_clips_are_the_frames_players_show(videos, split):
    np.random.seed(0)
    ours = _ours(videos)
    dataset = _dataset(videos, split)
    assert len(dataset) == sum(len(k) for k in KEYFRAMES.values())
    seen = set()
    for i in range(len(dataset)):
        sample = dataset[i]
        vid, keyframe = sample["video_id"], sample["timestamp"]
        shown = probe(videos / f"{vid}.mp4").nframes
        assert sample["total_frames"] == shown == len(ours[vid]), vid
        inds = np.asarray(sample["frame_inds"])
        assert inds.min() >= 0 and inds.max() <= shown - 1, (vid, inds)
        assert len(sample["imgs"]) == len(inds) == 8
        for ind, img in zip(inds, sample["imgs"]):
            assert _same_frame(img, ours[vid][ind]), (vid, keyframe, ind)
        # the clip is centred on the keyframe (index keyframe - 1), clamped
        centre = inds[len(inds) // 2]
        assert abs(int(centre) - min(keyframe - 1, shown - 1)) <= 2
        seen.add((vid, keyframe))
        if vid == "rotm90":
            img = sample["imgs"][0]
            assert img.shape == (320, 240, 3)  # upright, as players show it
            np.testing.assert_allclose(sample["gt_bboxes"], [BOX], atol=0.5)
            x1, y1, x2, y2 = BOX
            assert img[y1:y2, x1:x2].min() > 240  # white inside the GT box
            assert img.mean() < 30  # and dark around it
    assert seen == {(v, k) for v, ks in KEYFRAMES.items() for k in ks}


def test_keyframe_near_the_end_of_a_trimmed_video(videos):
    """The issue's trim (60 packets, 50 shown): a keyframe at 48 asks for frames
    past 50; they stop at the last shown frame, which is our frame 50."""
    np.random.seed(0)
    ours = _ours(videos)["trim"]
    dataset = _dataset(videos, "val")
    sample = next(dataset[i] for i in range(len(dataset))
                  if dataset.get_data_info(i)["img_key"] == "trim,0048")
    assert sample["frame_inds"].tolist() == [31, 35, 39, 43, 47, 49, 49, 49]
    assert _same_frame(sample["imgs"][-1], ours[49])
    assert abs(sample["imgs"][-1].mean() - 59 * 4) <= 1.5  # coded frame 59


def test_fix_is_a_no_op_on_ordinary_and_rotated_videos(videos):
    """decord's count is the shown count there: its own reader is kept, so the
    tutorial's videos read exactly as upstream reads them."""
    dataset = _dataset(videos, "val")
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        if info["video_id"] in ("grey", "rotm90"):
            sample = dataset.pipeline.transforms[0](info)
            assert isinstance(sample["video_reader"], decord.VideoReader)
            assert sample["total_frames"] == len(sample["video_reader"])


def test_upstream_reader_is_wrong_on_these_videos(videos, monkeypatch):
    """Why the fix exists (remove it when this fails): decord's own count and
    frames through MMAction2's DecordInit, measured on the same videos."""
    from mmaction.datasets.transforms.loading import DecordInit

    if "decord_shown_frames" not in compat.ORIGINALS:
        pytest.skip("the fix was not needed: upstream's DecordInit is unpatched")
    monkeypatch.setattr(DecordInit, "transform",
                        compat.ORIGINALS["decord_shown_frames"])
    ours = _ours(videos)
    dataset = _dataset(videos, "val")
    by_key = {dataset.get_data_info(i)["img_key"]: i for i in range(len(dataset))}
    trim = dataset[by_key["trim,0048"]]
    assert trim["total_frames"] == 60  # hidden packets counted
    assert trim["frame_inds"].tolist() == [31, 35, 39, 43, 47, 51, 55, 59]
    # indices 51, 55, 59 (past the 50 shown) come back as an earlier frame
    # (measured: our frame 48 three times), not the last shown frame 50
    assert not any(_same_frame(img, ours["trim"][49]) for img in trim["imgs"][5:])
    # After a seek, a trimmed video with several keyframes comes back early:
    gop = dataset[by_key["trim_gop,0045"]]
    assert gop["total_frames"] == 100
    shifted = [_same_frame(img, ours["trim_gop"][ind - 10])
               for ind, img in zip(gop["frame_inds"], gop["imgs"])]
    right = [_same_frame(img, ours["trim_gop"][ind])
             for ind, img in zip(gop["frame_inds"], gop["imgs"])]
    assert any(shifted) and not all(right)
    with pytest.raises(decord.DECORDError):  # a packet without a picture
        dataset[by_key["tail,0019"]]
