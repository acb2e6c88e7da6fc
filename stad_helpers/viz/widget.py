"""A video player widget for notebooks: browse frames with their boxes.

A frame slider with a play button (`ipywidgets.Play`, linked in the browser),
toggles for ground truth and predictions and a score-threshold slider. Each
change re-renders one frame: decoded on demand (`FrameReader`: seek + small
cache, never the whole video), drawn by the `Annotator`s (`annotate_frame`, as
in the demo video and the clips), JPEG-encoded into an
`ipywidgets.Image`. Live kernels only: a static HTML export shows the widgets
only when their state is saved and the widget manager can be fetched.

    player("demo.mp4", predictions="demo.json", gt=gt)

Used in: 04_inference_demo.
"""

from __future__ import annotations

import os
from typing import Union

import numpy as np

from ..predictions import ACTION_SCORE_THR, Predictions
from .annotate import annotate_frame
from .palette import DEFAULT_PALETTE, Palette
from .reader import FrameReader
from .show import frame_sources, video_key

PathLike = Union[str, os.PathLike]


class Player:
    """The player's widgets and state; displays as its `widget` (a VBox).

    `predictions` is a `Predictions` in pixels of `video` or the demo's JSON;
    `gt` a `MultiSportsGT` whose video is `video_name` (default: the 'sport/name'
    of the path, when `gt` has it). Raises `StadError` for an unreadable video
    or predictions file.

    Raises:
        StadError: On construction, an unreadable video or predictions file.
    """

    def __init__(
        self,
        video: PathLike,
        predictions: Predictions | PathLike | None = None,
        gt=None,
        *,
        video_name: str | None = None,
        score_thr: float = ACTION_SCORE_THR,
        max_width: int = 640,
        quality: int = 85,
        cache_mb: float = 96,
        palette: Palette = DEFAULT_PALETTE,
    ):
        import ipywidgets as w

        self.reader = FrameReader(video, cache_mb=cache_mb)
        info = self.reader.info
        self.video = video_name or video_key(video, gt)
        gt_all, self.predictions = frame_sources(gt, predictions, self.video)
        self.gt_by_frame = dict(gt_all.by_frame()) if gt_all is not None else None
        self.pred_by_frame = (dict(self.predictions.by_frame())
                              if self.predictions is not None else {})
        self.max_width, self.quality, self.palette = max_width, quality, palette
        n = len(self.reader)
        self.slider = w.IntSlider(value=1, min=1, max=n, description="frame",
                                  continuous_update=True,
                                  layout=w.Layout(width="60%"))
        self.play = w.Play(value=1, min=1, max=n, step=1,
                           interval=max(40, round(1000 / (info.fps or 25))),
                           description="play")
        w.jslink((self.play, "value"), (self.slider, "value"))
        self.show_gt = w.ToggleButton(value=self.gt_by_frame is not None,
                                      description="ground truth",
                                      disabled=self.gt_by_frame is None,
                                      tooltip="solid boxes")
        self.show_pred = w.ToggleButton(value=self.predictions is not None,
                                        description="predictions",
                                        disabled=self.predictions is None,
                                        tooltip="dashed boxes")
        self.threshold = w.FloatSlider(value=score_thr, min=0.0, max=1.0, step=0.05,
                                       description="score ≥",
                                       disabled=self.predictions is None,
                                       continuous_update=False)
        self.image = w.Image(format="jpeg")
        self.status = w.Label()
        for control in (self.slider, self.show_gt, self.show_pred, self.threshold):
            control.observe(self._on_change, names="value")
        self.widget = w.VBox([
            w.HBox([self.play, self.slider, self.status]),
            self.image,
            w.HBox([self.show_gt, self.show_pred, self.threshold]),
        ])
        self.renders = 0
        self.render()

    # ---- rendering ---------------------------------------------------------------
    def frame_image(self, frame: int | None = None) -> np.ndarray:
        """The annotated BGR frame as the current controls show it."""
        import cv2

        frame = self.slider.value if frame is None else int(frame)
        gt = pred = None
        if self.show_gt.value and self.gt_by_frame is not None:
            gt = self.gt_by_frame.get(frame)
        if self.show_pred.value:
            pred = self.pred_by_frame.get(frame)
        image = annotate_frame(self.reader[frame], gt, pred,
                               score_thr=float(self.threshold.value),
                               palette=self.palette)
        h, w = image.shape[:2]
        if self.max_width and w > self.max_width:
            size = (self.max_width, round(h * self.max_width / w))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        return image

    def render(self) -> bytes:
        """Draw the current frame into the image widget; return its JPEG bytes."""
        import cv2

        frame = self.slider.value
        image = self.frame_image(frame)
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:  # pragma: no cover - cv2 encodes any uint8 image
            raise RuntimeError("JPEG encoding failed")
        self.image.value = buf.tobytes()
        self.renders += 1
        n_gt = len(self.gt_by_frame.get(frame, ())) if self.gt_by_frame else 0
        pred = self.pred_by_frame.get(frame)
        n_pred = (len(pred.with_action(float(self.threshold.value)))
                  if pred is not None else 0)
        self.status.value = (f"{frame}/{len(self.reader)} · {n_gt} GT · "
                             f"{n_pred} predicted")
        return self.image.value

    def _on_change(self, change: dict) -> None:
        self.render()

    # ---- display ---------------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def close(self) -> None:
        """Close the widgets and the video file."""
        for widget in (self.play, self.slider, self.status, self.image, self.show_gt,
                       self.show_pred, self.threshold, *self.widget.children,
                       self.widget):
            widget.close()
        self.reader.close()


def player(video: PathLike, predictions: Predictions | PathLike | None = None, gt=None,
           **kwargs) -> Player:
    """A notebook player over `video` with GT (from a `MultiSportsGT`) and predictions.

    `predictions` is the demo's JSON (path) or a `Predictions`; the GT video is
    `video_name`, or the 'sport/name' of the path when `gt` has it. The
    threshold hides actions scoring below it (a person with none left is drawn
    grey, unlabelled). Other keyword arguments go to `Player`
    (`score_thr`, `max_width`, `cache_mb`, ...).
    """
    return Player(video, predictions, gt, **kwargs)
