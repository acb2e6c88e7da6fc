"""The demo: same clips as the dataset pipeline, any video size or length, H.264 out,
frames streamed, a JSON that loads."""

from __future__ import annotations

import json
import types
import weakref

import _action_data
import av
import cv2
import numpy as np
import pytest
import torch
from _action_data import ACTION_CONFIG, DET_CONFIG

import stad_helpers.demo.people as people_module
import stad_helpers.video as video_module
from stad_helpers.action import data_options
from stad_helpers.data.layout import video_path
from stad_helpers.demo import ClipSampler, Demo, demo, write_demo
from stad_helpers.errors import StadError
from stad_helpers.predictions import DEMO_FORMAT, Predictions
from stad_helpers.train import load_config
from stad_helpers.video import VideoSink, iter_frames

# Session fixtures of tests/_action_data.py
tiny_action_data = _action_data.tiny_action_data
untrained_checkpoints = _action_data.untrained_checkpoints


def _val_dataset(cfg):
    from mmaction.registry import DATASETS
    from mmengine.registry import DefaultScope

    from stad_helpers.registry import register_all

    register_all()
    with DefaultScope.overwrite_default_scope("mmaction"):
        return DATASETS.build(cfg.test_dataloader.dataset)


def test_demo_input_equals_the_dataset_pipelines(root, tiny_action_data):
    """For keyframes at the start, middle and end of a video (clips clamped at
    both ends), the demo's input tensor is the val dataset's, bit for bit."""
    data, gt = tiny_action_data
    cfg = load_config(root / ACTION_CONFIG, data_options(data))
    dataset = _val_dataset(cfg)
    sampler = ClipSampler(cfg)
    by_video: dict[str, list[int]] = {}
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        by_video.setdefault(info["video_id"], []).append(i)
    video_id, indices = next(iter(by_video.items()))
    path = video_path(data, video_id.removesuffix(".mp4"))
    frames = list(iter_frames(path, rgb=True))
    picks = {indices[0], indices[len(indices) // 2], indices[-1]}
    for i in picks:
        info = dataset.get_data_info(i)
        expected = dataset[i]
        keyframe = info["timestamp"] - 1  # MultiSports timestamps are 1-based frames
        clip_ids = sampler.indices(keyframe, len(frames))
        ours = sampler.pack([frames[j] for j in clip_ids], info["proposals"], keyframe,
                            video_id, cfg.num_classes)
        assert ours["inputs"].dtype == expected["inputs"].dtype
        assert torch.equal(ours["inputs"], expected["inputs"]), f"keyframe {keyframe}"
        torch.testing.assert_close(ours["data_samples"].proposals.bboxes,
                                   expected["data_samples"].proposals.bboxes)
        assert ours["data_samples"].img_shape == expected["data_samples"].img_shape
        # the key AVADataset builds (layout.img_key), as MMAction2 packs it
        assert ours["data_samples"].img_key == expected["data_samples"].img_key


def test_clip_indices_match_sample_ava_frames_and_clamp(root):
    sampler = ClipSampler(load_config(root / ACTION_CONFIG))
    assert (sampler.clip_len, sampler.frame_interval) == (8, 4)
    # Keyframe 20 of 100: 8 frames 4 apart, starting 16 before (as SampleAVAFrames
    # in test mode; upstream's demo starts 12 before).
    assert sampler.indices(20, 100).tolist() == list(range(4, 36, 4))
    assert sampler.indices(2, 5).tolist() == [0, 0, 0, 0, 2, 4, 4, 4]
    assert (sampler.before, sampler.after) == (16, 12)


def _write_video(path, frames, fps=25.0):
    with VideoSink(path, fps) as sink:
        for frame in frames:
            sink.write(frame)
    return path


def _resized_frames(src, size, count):
    """`count` frames of `src` resized to `size` (w, h), the video looped as needed."""
    frames = [cv2.resize(f, size, interpolation=cv2.INTER_AREA)
              for f in iter_frames(src)]
    return [frames[i % len(frames)] for i in range(count)]


def _codec(path) -> tuple[str, int, int, int]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        n = sum(1 for _ in container.decode(stream))
        return stream.codec_context.name, stream.width, stream.height, n


def _fixed_person(det_model, pipeline, frame_bgr, score_thr, cat_id=0):
    h, w = frame_bgr.shape[:2]
    return (np.array([[0.3 * w, 0.2 * h, 0.6 * w, 0.9 * h]], np.float32),
            np.array([0.99], np.float32))


@pytest.mark.slow
def test_demo_on_another_size_with_the_real_detector(root, tiny_action_data,
                                                     untrained_checkpoints, tmp_path):
    data, gt = tiny_action_data
    act, det = untrained_checkpoints
    src = video_path(data, gt.test_videos[0])
    # Wider than tall, unlike the training videos (4:3), and another size.
    video = _write_video(tmp_path / "wide.mp4", _resized_frames(src, (250, 90), 40))
    mp4, out_json = demo(video, tmp_path / "out" / "demo.mp4", root / ACTION_CONFIG,
                         act, root / DET_CONFIG, det, det_score_thr=0.0,
                         action_score_thr=0.0, output_stepsize=2, progress=False,
                         device="cpu", cfg_options=data_options(data))
    codec, w, h, n = _codec(mp4)
    assert codec == "h264"
    assert (w, h) == (250, 90)
    assert n == 20
    result = json.loads(out_json.read_text())
    assert (result["width"], result["height"], result["nframes"]) == (250, 90, 40)
    assert [f["frame"] for f in result["frames"]] == list(range(1, 41, 2))
    assert result["classes"] == {str(i): name for i, name in enumerate(gt.labels)}
    for frame in result["frames"]:
        assert frame["keyframe"] == min((frame["frame"] - 1) // 8 * 8 + 4, 39) + 1
        for det_ in frame["detections"]:
            assert len(det_["box"]) == 4 and 0.0 <= det_["person_score"] <= 1.0
            assert len(det_["labels"]) == len(det_["names"]) == len(det_["scores"])


@pytest.mark.slow
def test_demo_on_a_clip_shorter_than_the_window(root, tiny_action_data,
                                                untrained_checkpoints, tmp_path,
                                                monkeypatch):
    """10 frames, where the model's window is 29: every frame still gets a
    prediction (upstream's demo predicts nothing and crashes)."""
    data, gt = tiny_action_data
    act, det = untrained_checkpoints
    src = video_path(data, gt.test_videos[0])
    video = _write_video(tmp_path / "short.mp4", _resized_frames(src, (160, 120), 10))
    monkeypatch.setattr(people_module, "detect_people", _fixed_person)
    mp4, out_json = demo(video, tmp_path / "short_out.mp4", root / ACTION_CONFIG, act,
                         root / DET_CONFIG, det, action_score_thr=0.0,
                         progress=False, device="cpu", cfg_options=data_options(data))
    assert _codec(mp4)[0] == "h264" and _codec(mp4)[3] == 10
    raw = json.loads(out_json.read_text())
    assert (raw["format"], raw["version"]) == (DEMO_FORMAT, 1)
    frames = raw["frames"]
    assert [f["keyframe"] for f in frames] == [5] * 8 + [10] * 2
    for frame in frames:
        (only,) = frame["detections"]
        assert only["labels"] and only["scores"] == sorted(only["scores"], reverse=True)
        assert only["names"][0] in gt.labels
        # The box is the detector's (through MMAction2's normalized output).
        np.testing.assert_allclose(only["box"], [48, 24, 96, 108], atol=0.02)
    back = Predictions.from_demo_json(out_json)
    assert len(back) == 10 and back.class_names == tuple(gt.labels)


@pytest.mark.slow
def test_demo_streams_frames(root, tiny_action_data, untrained_checkpoints, tmp_path,
                             monkeypatch):
    """The demo holds about one window of frames, never the whole video."""
    data, gt = tiny_action_data
    act, det = untrained_checkpoints
    frames = _resized_frames(video_path(data, gt.test_videos[0]), (64, 48), 96)
    video = _write_video(tmp_path / "long.mp4", frames)
    alive: list[weakref.ref] = []
    peak = [0]
    real = video_module.iter_frames

    def counting(path, rgb=False):
        for frame in real(path, rgb=rgb):
            peak[0] = max(peak[0], sum(r() is not None for r in alive))
            alive.append(weakref.ref(frame))
            yield frame

    monkeypatch.setattr(video_module, "iter_frames", counting)
    monkeypatch.setattr(people_module, "detect_people", _fixed_person)
    demo(video, tmp_path / "long_out.mp4", root / ACTION_CONFIG, act,
         root / DET_CONFIG, det, progress=False, device="cpu",
         cfg_options=data_options(data))
    assert len(alive) == 96
    assert peak[0] <= 16 + 12 + 8 + 1  # clip reach before + after + one segment


@pytest.mark.slow
def test_demo_steps_can_be_called_one_by_one(root, tiny_action_data,
                                            untrained_checkpoints, tmp_path,
                                            monkeypatch):
    """`Demo.predict_keyframe` gives what the streamed frames carry, the annotated
    frames are the `Annotator`'s drawing, and `write_demo`'s JSON reads back as
    the same predictions."""
    data, gt = tiny_action_data
    act, det = untrained_checkpoints
    src = video_path(data, gt.test_videos[0])
    video = _write_video(tmp_path / "steps.mp4", _resized_frames(src, (160, 120), 20))
    monkeypatch.setattr(people_module, "detect_people", _fixed_person)
    d = Demo(root / ACTION_CONFIG, act, root / DET_CONFIG, det, action_score_thr=0.0,
             device="cpu", cfg_options=data_options(data))
    key = d.predict_keyframe(video, 5)  # segment 0's keyframe (frames 1..8)
    assert key.frames.tolist() == [5] and key.class_names == tuple(gt.labels)
    assert key.action_scores.shape == (1, len(gt.labels))
    shown = list(d.frames(video, output_stepsize=4, progress=False))
    assert [f.number for f in shown] == [1, 5, 9, 13, 17]
    first = shown[0].predictions
    assert first.frames.tolist() == [1] and first.keyframes.tolist() == [5]
    np.testing.assert_array_equal(first.boxes, key.boxes)
    np.testing.assert_allclose(first.action_scores, key.action_scores, atol=1e-6)
    raw = list(iter_frames(video, rgb=True))[0]
    np.testing.assert_array_equal(shown[0].image,
                                  d.annotator.annotate(raw[..., ::-1], first))
    _, out_json = write_demo(d, video, tmp_path / "out.mp4", output_stepsize=4,
                             progress=False)
    back = Predictions.from_demo_json(out_json)
    assert back.frame_numbers.tolist() == [1, 5, 9, 13, 17]
    assert back.meta["nframes"] == 20 and back.size == (120, 160)
    np.testing.assert_allclose(back.at(1).boxes, key.boxes, atol=0.01)
    np.testing.assert_allclose(back.at(1).action_scores, key.action_scores, atol=1e-4)
    with pytest.raises(StadError, match="frame 21 is not in 1..20"):
        d.predict_keyframe(video, 21)
    with pytest.raises(StadError, match="output is also an input"):
        write_demo(d, video, video)


@pytest.mark.slow
def test_predict_keyframe_takes_the_boxes_and_clip_the_reader_saw(
        root, tiny_action_data, untrained_checkpoints, tmp_path, monkeypatch):
    """Notebook 04's step 3: the model on exactly the people of step 1 and the
    clip of step 2; the same as the demo's own detection and sampling."""
    data, gt = tiny_action_data
    act, det = untrained_checkpoints
    src = video_path(data, gt.test_videos[0])
    video = _write_video(tmp_path / "given.mp4", _resized_frames(src, (160, 120), 20))
    monkeypatch.setattr(people_module, "detect_people", _fixed_person)
    d = Demo(root / ACTION_CONFIG, act, root / DET_CONFIG, det, action_score_thr=0.0,
             device="cpu", cfg_options=data_options(data))
    own = d.predict_keyframe(video, 5)
    clip = d.sampler.indices(4, 20) + 1  # 1-based, as notebook 04 prints it
    given = d.predict_keyframe(video, 5, boxes=own.boxes,
                               person_scores=own.person_scores, clip=clip)
    np.testing.assert_allclose(given.boxes, own.boxes, atol=1e-3)
    np.testing.assert_allclose(given.action_scores, own.action_scores, atol=1e-6)
    two = np.array([[10, 10, 50, 100], [80, 20, 150, 110]], np.float32)
    both = d.predict_keyframe(video, 5, boxes=two, clip=clip)
    back = d.predict_keyframe(video, 5, boxes=two[::-1], clip=clip)
    np.testing.assert_allclose(both.boxes, two, atol=1e-3)  # rows: the boxes given
    np.testing.assert_allclose(back.action_scores, both.action_scores[::-1], atol=1e-5)
    assert both.person_scores.tolist() == [1.0, 1.0]
    assert len(d.predict_keyframe(video, 5, boxes=np.zeros((0, 4)))) == 0
    with pytest.raises(StadError, match="clip: 3 frames, the model takes clip_len"):
        d.predict_keyframe(video, 5, clip=[1, 2, 3])
    with pytest.raises(StadError, match="clip: frame 0 is not in 1..20"):
        d.predict_keyframe(video, 5, clip=[0] + clip[1:].tolist())
    with pytest.raises(StadError, match=r"boxes: expected an \(N, 4\)"):
        d.predict_keyframe(video, 5, boxes=[1, 2, 3])


# ---------------------------------------------------------------------------
# Issue 14 follow-up 10: the JSON's keyframes, the output suffix, the index
# ---------------------------------------------------------------------------
class _NobodyDemo:
    """A `Demo` stand-in that finds nobody: what `write_video` needs of one."""

    predict_stepsize = 8
    class_names = ["walk"]
    det_score_thr = action_score_thr = 0.5
    sampler = types.SimpleNamespace(clip_len=4, frame_interval=2)
    keyframe = Demo.keyframe

    def predictions(self, video, progress=True):
        for i, rgb in enumerate(iter_frames(video, rgb=True), 1):
            yield i, rgb, Predictions.empty(self.class_names, video=str(video))

    def annotate(self, rgb, preds):
        return rgb[..., ::-1]


def test_frames_without_people_carry_their_segments_keyframe(tmp_path):
    from _odd_videos import grey_clip

    from stad_helpers.demo.writer import write_video

    video = grey_clip(tmp_path / "empty.mp4", nframes=19)
    out = write_video(_NobodyDemo(), video, tmp_path / "out.mp4", progress=False)
    frames = json.loads(out.json.read_text())["frames"]
    assert [f["frame"] for f in frames] == list(range(1, 20))
    assert all(f["detections"] == [] for f in frames)
    # segments of 8: keyframes 5, 13, then the last segment's clamped to 19
    assert [f["keyframe"] for f in frames] == [5] * 8 + [13] * 8 + [19] * 3


def test_demo_refuses_an_output_that_is_not_mp4(tmp_path, capsys):
    from stad_helpers.cli import main

    video = tmp_path / "in.mp4"
    video.write_bytes(b"not read: the output is checked first")
    cfg = tmp_path / "cfg.py"
    cfg.write_text("")
    with pytest.raises(StadError, match=r"out\.avi: the demo writes an H\.264 mp4; "
                       r"name the output 'out\.mp4' \(not '\.avi'\)"):
        demo(video, tmp_path / "out.avi", cfg, cfg, cfg, cfg)
    assert main(["demo", str(video), str(tmp_path / "out.AVI"), "--config", str(cfg),
                 "--checkpoint", str(cfg), "--det-config", str(cfg),
                 "--det-checkpoint", str(cfg)]) == 1
    assert "name the output 'out.mp4'" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cfg.py", "in.mp4"]


def test_a_demo_index_is_not_predictions(tmp_path):
    from stad_helpers.annotations import export_cvat_predictions
    from stad_helpers.demo.batch import INDEX_FORMAT, INDEX_VERSION

    index = tmp_path / "index.json"
    index.write_text(json.dumps({
        "format": INDEX_FORMAT, "version": INDEX_VERSION, "videos": [
            {"video": "a.mp4", "mp4": "a.mp4", "json": "a.json"},
            {"video": "b.mp4", "mp4": "b.mp4", "json": "b.json"}]}))
    with pytest.raises(StadError, match="index.json: this is a demo index .*pass one "
                       "of the per-video JSONs it lists: .*a.json, .*b.json"):
        export_cvat_predictions(index, tmp_path / "a.mp4", tmp_path / "out")
    assert not (tmp_path / "out").exists()
