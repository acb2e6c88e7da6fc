"""Pictures of the tutorial: frames with boxes, annotated clips, a player, plots.

One colour per action class everywhere (`palette`); ground truth is drawn solid,
predictions dashed. matplotlib and ipywidgets are imported only when a function
needs them, so `import stad_helpers.viz` stays cheap.

| module    | what                                                          |
|-----------|---------------------------------------------------------------|
| `palette` | class colours and box styles                                  |
| `frames`  | `show_frame`, `annotate_frame`, `FrameReader`, predictions I/O |
| `clip`    | `write_annotated_clip` (H.264 mp4), `show_video` (inline)     |
| `player`  | `player`: ipywidgets frame slider, play, toggles, threshold   |
| `plots`   | dataset statistics, training curves, per-class AP, timelines  |
| `model_input` | `plot_model_input`: a keyframe's clip as the model sees it  |
| `draw`    | the demo video's drawing: `Annotator`, `draw_detections`      |

Used in: 01_dataset, 02_person_detector, 03_action_detector, 04_inference_demo.
"""

from .clip import show_video, write_annotated_clip
from .draw import Annotator, draw_detections
from .frames import (
    FrameBoxes,
    FrameReader,
    Predictions,
    annotate_frame,
    draw_boxes,
    gt_frames,
    load_predictions,
    read_frame,
    show_frame,
)
from .model_input import ModelInput, model_input, plot_model_input
from .palette import (
    DEFAULT_PALETTE,
    GT_STYLE,
    PRED_STYLE,
    PROPOSAL_STYLE,
    BoxStyle,
    Palette,
    class_color,
)
from .player import Player, player
from .plots import (
    dataset_stats,
    load_per_class_ap,
    load_scalars,
    plot_dataset_stats,
    plot_per_class_ap,
    plot_training_curves,
    plot_tube_timeline,
)

__all__ = [
    "DEFAULT_PALETTE", "GT_STYLE", "PRED_STYLE", "PROPOSAL_STYLE", "Annotator",
    "BoxStyle", "draw_detections",
    "FrameBoxes", "FrameReader", "ModelInput", "Palette", "Player", "Predictions",
    "annotate_frame", "class_color", "dataset_stats", "draw_boxes", "gt_frames",
    "load_per_class_ap", "load_predictions", "load_scalars", "model_input",
    "player", "plot_model_input",
    "plot_dataset_stats", "plot_per_class_ap", "plot_training_curves",
    "plot_tube_timeline", "read_frame", "show_frame", "show_video",
    "write_annotated_clip",
]

