"""The inference demo (tutorial section 4): detect people, recognize their actions,
draw both on the video.

Like MMAction2's `demo/demo_spatiotemporal_det.py`, with the tutorial's flags,
but:

- clips are sampled and preprocessed exactly as in training and testing: the
  frame indices come from the config's own `SampleAVAFrames` (test mode), the
  frames are RGB as decord gives them, and the config's own transforms after
  decoding (`Resize`, `FormatShape`, `PackActionInputs`) build the input, so the
  model sees the tensor the val dataset would give it (tests/test_demo.py checks);
  upstream feeds BGR and samples one frame interval later;
- any mp4 works, of any size and length: a video shorter than the model's window
  still gets predictions (indices are clamped to the video, as `SampleAVAFrames`
  does), and every frame is covered, not only those a full window away from the
  ends;
- frames stream: only the frames a clip or a pending output frame still needs
  are held (a ring of about one window), never the whole video;
- output is an H.264 mp4 browsers play (`stad_helpers.video.VideoSink`) and a
  JSON with every output frame's boxes, labels, scores and person track ids
  (ByteTrack over the keyframes, `stad_helpers.tracking`: the same person keeps
  one id through the video)
  (`Predictions.to_demo_json`, read back by `Predictions.from_demo_json`), both
  written whole or not at all.

Every `predict_stepsize` frames form a segment; its middle frame is the
keyframe: people are detected there and the clip around it is classified, and
the result is drawn on every frame of the segment (as upstream does).

The steps, each callable on its own (a notebook can look inside one keyframe):

    d = Demo(config, checkpoint, det_config, det_checkpoint)  # both models
    d.predict_keyframe(video, 5)         # -> Predictions of one keyframe
    for number, image, preds in d.frames(video): ...   # annotated, streamed
    write_demo(d, video, "demo.mp4")     # -> (demo.mp4, demo.json)

`demo(...)` (and `stad demo` with one video) is `Demo` then `write_demo`;
`demo_many(videos, out_dir, ...)` (`stad demo` with several videos, a folder or a
glob) reuses the models over many videos, in parallel processes or shards under
torchrun, and writes an index.

One job per module:

- `clips.py`: `ClipSampler`, the config's test-time clip sampling and
  preprocessing;
- `models.py`: `load_action_model`, `load_label_map` (class names);
- `people.py`: `detect_people` on one frame;
- `stream.py`: `DemoFrame`, the ring of frames a video streams through;
- `runner.py`: `Demo`, both models and the settings;
- `writer.py`: `write_demo` (one video's mp4 + JSON), `demo()`;
- `batch.py`: `demo_many`, many videos (`find_videos`, `output_names`), the
  index.

Used in: 04_inference_demo.
"""

from .batch import demo_many, find_videos, output_names
from .clips import ClipSampler
from .models import _default_label_map, load_action_model, load_label_map
from .people import _det_pipeline, detect_people
from .runner import Demo, check_settings
from .stream import DemoFrame, _SegmentStream
from .writer import DemoOutput, demo, write_demo, write_video

__all__ = [
    "ClipSampler", "Demo", "DemoFrame", "DemoOutput", "_SegmentStream",
    "_default_label_map", "_det_pipeline", "check_settings", "demo", "demo_many",
    "detect_people", "find_videos", "load_action_model", "load_label_map",
    "output_names", "write_demo", "write_video",
]
