"""The demo's models and settings in one object: `Demo` predicts a keyframe at a
time (`predict`, `predict_keyframe`) and streams a whole video's frames with
their predictions (`predictions`, `frames`), annotated by one `Annotator`.

Used in: 04_inference_demo.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import StadError
from ..predictions import ACTION_SCORE_THR, DET_SCORE_THR, Predictions
from . import people
from .clips import ClipSampler
from .models import _default_label_map, load_action_model, load_label_map
from .stream import DemoFrame, _SegmentStream


def check_settings(det_score_thr: float, action_score_thr: float,
                   predict_stepsize: int) -> None:
    """Refuse a demo setting out of range before anything loads.

    Raises:
        StadError: `predict_stepsize < 1`, or a score threshold outside [0, 1]
            (naming the `stad demo` option).
    """
    if predict_stepsize < 1:
        raise StadError(f"--predict-stepsize must be >= 1, got {predict_stepsize}")
    for option, value in (("--det-score-thr", det_score_thr),
                          ("--action-score-thr", action_score_thr)):
        if not 0.0 <= value <= 1.0:
            raise StadError(f"{option} must be in [0, 1], got {value}")


class Demo:
    """Both models and the demo's settings; predictions a keyframe at a time.

    Every `predict_stepsize` frames form a segment whose middle frame is the
    keyframe: people are detected there (`det_score_thr`), the clip around it
    is classified, and the result holds for every frame of the segment.

        d = Demo(config, checkpoint, det_config, det_checkpoint)
        preds = d.predict_keyframe(video, 5)        # look inside one keyframe
        for number, image, preds in d.frames(video):  # annotated, streamed
            ...
        write_demo(d, video, "out/demo.mp4")         # the mp4 and its JSON

    Class names come from `label_map` (classes it leaves out score 0), by
    default from the config's GT (`_default_label_map`). The `annotator` draws
    actions scoring at least `action_score_thr`. Raises `StadError` for a bad
    setting, config, checkpoint or label map.

    Raises:
        StadError: `predict_stepsize < 1`, a score threshold outside [0, 1], an
            unreadable config or checkpoint, a checkpoint of other classes, or a
            label map that is missing, malformed or names classes the model does
            not have.
    """

    def __init__(
        self,
        config: str | os.PathLike,
        checkpoint: str | os.PathLike,
        det_config: str | os.PathLike,
        det_checkpoint: str | os.PathLike,
        det_score_thr: float = DET_SCORE_THR,
        action_score_thr: float = ACTION_SCORE_THR,
        label_map: str | os.PathLike | None = None,
        predict_stepsize: int = 8,
        *,
        device: str | None = None,
        cfg_options: dict[str, Any] | None = None,
        det_cat_id: int = 0,
    ):
        from ..detector import load_detector
        from ..viz.annotate import Annotator

        check_settings(det_score_thr, action_score_thr, predict_stepsize)
        self.det_score_thr, self.action_score_thr = det_score_thr, action_score_thr
        self.predict_stepsize, self.det_cat_id = int(predict_stepsize), det_cat_id
        self.model = load_action_model(config, checkpoint, device, cfg_options)
        self.device = str(next(self.model.parameters()).device)
        self.sampler = ClipSampler(self.model.cfg)
        self.det_model = load_detector(det_config, det_checkpoint, self.device)
        self.det_pipeline = people._det_pipeline(self.det_model)
        num_classes = int(self.model.cfg.model.roi_head.bbox_head.num_classes)
        names = (load_label_map(label_map, num_classes) if label_map is not None
                 else _default_label_map(self.model.cfg, num_classes))
        self.class_names = [names.get(i, str(i)) for i in range(num_classes)]
        self.named = np.array([i in names for i in range(num_classes)], bool)
        self.annotator = Annotator(score_thr=action_score_thr)

    # ---- one keyframe ------------------------------------------------------------
    def keyframe(self, segment: int, total: int) -> int:
        """The 0-based keyframe of `segment` (0-based) in a video of `total` frames."""
        step = self.predict_stepsize
        return min(segment * step + step // 2, total - 1)

    def predict(self, key_rgb: np.ndarray, clip_rgb: Sequence[np.ndarray],
                keyframe: int, video: str = "", boxes: np.ndarray | None = None,
                person_scores: np.ndarray | None = None) -> Predictions:
        """People and action scores at `keyframe` (0-based) from RGB frames.

        `key_rgb` is the keyframe, `clip_rgb` the frames `sampler.indices` names
        for it. People are detected on `key_rgb` (`det_score_thr`) unless
        `boxes` gives them: `(N, 4)` float pixels (x1, y1, x2, y2) on the
        keyframe, with their `(N,)` `person_scores` (default 1.0). Returns a
        `Predictions` at frame `keyframe + 1`, boxes in pixels, full action
        scores (unnamed classes 0), one row per box in the order detected
        (best person first) or given.

        Raises:
            StadError: `boxes` is not `(N, 4)`, or `person_scores` not `(N,)`.
        """
        import torch

        h, w = key_rgb.shape[:2]
        if boxes is None:
            boxes, person_scores = people.detect_people(
                self.det_model, self.det_pipeline,
                np.ascontiguousarray(key_rgb[..., ::-1]), self.det_score_thr,
                self.det_cat_id)
        else:
            boxes = np.asarray(boxes, np.float32)
            if boxes.size == 0:
                boxes = boxes.reshape(0, 4)
            if boxes.ndim != 2 or boxes.shape[1] != 4:
                raise StadError(f"boxes: expected an (N, 4) array of pixel boxes, "
                                f"got shape {boxes.shape}", video)
            person_scores = (np.ones(len(boxes), np.float32) if person_scores is None
                             else np.asarray(person_scores, np.float32).reshape(-1))
            if len(person_scores) != len(boxes):
                raise StadError(f"person_scores: {len(person_scores)} scores for "
                                f"{len(boxes)} boxes", video)
        if not len(boxes):
            return Predictions.empty(self.class_names, video=video, size=(h, w))
        norm = np.clip(boxes / np.array([w, h, w, h], np.float32), 0, 1)
        data = self.sampler.pack(list(clip_rgb), norm, keyframe, Path(video).name,
                                 len(self.class_names))
        with torch.no_grad():
            sample = self.model.test_step({"inputs": [data["inputs"]],
                                           "data_samples": [data["data_samples"]]})[0]
        preds = Predictions.from_mmaction(sample, self.class_names, size=(h, w),
                                          frame=keyframe + 1,
                                          person_scores=person_scores, video=video)
        preds.action_scores[:, ~self.named] = 0.0
        return preds

    def predict_keyframe(self, video: str | os.PathLike, frame: int,
                         boxes: np.ndarray | None = None,
                         person_scores: np.ndarray | None = None,
                         clip: Sequence[int] | None = None) -> Predictions:
        """The predictions at frame `frame` (1-based) of `video`, as the demo makes
        them for a keyframe there (decodes only the frames of its clip).

        With no more arguments it detects the people itself and samples the
        clip as the demo does (`sampler.indices`). To run the action model on
        exactly what you looked at, pass the people you detected (`boxes`,
        `person_scores`, as `detect_people` returns them) and/or the clip you
        sampled (`clip`, 1-based frame numbers, `sampler.indices(...) + 1`):
        the rows then follow the order of `boxes`.

        Args:
            video: The video file.
            frame: 1-based frame number of the keyframe.
            boxes: `(N, 4)` float pixel boxes (x1, y1, x2, y2) on the keyframe;
                None: detect them (`det_score_thr`).
            person_scores: `(N,)` detector scores of `boxes` (default 1.0).
            clip: The clip's 1-based frame numbers, `sampler.clip_len` of them;
                None: the demo's own sampling.

        Returns:
            `Predictions` in pixels of the video's frames, one row per box.

        Raises:
            StadError: `frame` or a `clip` frame is outside 1..(number of
                frames), `clip` has not `sampler.clip_len` frames, `boxes` or
                `person_scores` have the wrong shape, or the video cannot be
                read.
        """
        from ..viz.reader import FrameReader

        with FrameReader(video, rgb=True) as reader:
            total = len(reader)
            if not 1 <= int(frame) <= total:
                raise StadError(f"frame {frame} is not in 1..{total}", video)
            key = int(frame) - 1
            if clip is None:
                numbers = [int(i) + 1 for i in self.sampler.indices(key, total)]
            else:
                numbers = [int(i) for i in np.asarray(clip).reshape(-1)]
                if len(numbers) != self.sampler.clip_len:
                    raise StadError(f"clip: {len(numbers)} frames, the model takes "
                                    f"clip_len = {self.sampler.clip_len}", video)
                outside = [n for n in numbers if not 1 <= n <= total]
                if outside:
                    raise StadError(f"clip: frame {outside[0]} is not in "
                                    f"1..{total}", video)
            frames = [reader[n] for n in numbers]
            return self.predict(reader[key + 1], frames, key, str(video), boxes,
                                person_scores)

    # ---- a whole video, streamed ----------------------------------------------------
    def predictions(self, video: str | os.PathLike,
                    progress: bool = True) -> Iterator[DemoFrame]:
        """Every frame of `video` in order, as (number, RGB frame, its predictions).

        Frames stream: only those a clip or a pending frame still needs are held
        (about one window), never the whole video. A video shorter than the
        model's window still gets predictions (clip indices clamp to the video).
        """
        from tqdm.auto import tqdm

        from ..video import iter_frames, probe

        video = Path(video)
        info = probe(video, exact=False)
        stream = _SegmentStream(self, str(video), info.fps or 25.0)
        with tqdm(total=info.nframes or None, desc="demo", unit="frame",
                  disable=not progress) as bar:
            for frame in iter_frames(video, rgb=True):
                yield from stream.push(frame)
                bar.update(1)
            yield from stream.finish()

    def frames(self, video: str | os.PathLike, output_stepsize: int = 1,
               progress: bool = True) -> Iterator[DemoFrame]:
        """Annotated BGR frames of `video` (one per `output_stepsize`) with their
        predictions, streamed: what `write_demo` writes.

        Args:
            video: The video file.
            output_stepsize: Keep one frame in this many (>= 1).
            progress: Show a tqdm bar.

        Yields:
            `DemoFrame`s: 1-based number, `(H, W, 3)` uint8 BGR picture with the
            boxes and actions drawn, and that frame's `Predictions`.

        Raises:
            StadError: `output_stepsize < 1` or an unreadable video.
        """
        if output_stepsize < 1:
            raise StadError(f"--output-stepsize must be >= 1, got {output_stepsize}")
        for number, rgb, preds in self.predictions(video, progress):
            if (number - 1) % output_stepsize == 0:
                yield DemoFrame(number, self.annotate(rgb, preds), preds)

    def annotate(self, rgb: np.ndarray, predictions: Predictions) -> np.ndarray:
        """The demo's picture: an RGB frame -> BGR with `predictions` drawn."""
        return self.annotator.annotate(rgb[..., ::-1], predictions)
