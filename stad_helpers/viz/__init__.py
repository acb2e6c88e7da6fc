"""Pictures of the tutorial: frames with boxes, annotated clips, a player, plots.

One colour per action class everywhere (`palette`); ground truth is drawn solid,
predictions dashed. Boxes come as a `stad_helpers.predictions.Predictions`, and
every cv2 picture (the demo video, clips, the player) is drawn by one
`Annotator`. matplotlib and ipywidgets are imported only when a function needs
them, so `import stad_helpers.viz` stays cheap.

| module        | what                                                          |
|---------------|---------------------------------------------------------------|
| `palette`     | class colours and box styles                                  |
| `annotate`    | `Annotator`: boxes and labels on a frame (any script's labels) |
| `reader`      | `FrameReader`, `read_frame`: frames by number, on demand      |
| `show`        | `show_frame`: one frame with GT, predictions, proposals       |
| `clip`        | `write_annotated_clip` (H.264 mp4), `show_video` (inline)     |
| `widget`      | `player`: ipywidgets frame slider, play, toggles, threshold   |
| `stats`       | `plot_dataset_stats`: tubes per class, lengths, boxes/frame   |
| `scalars`     | `load_scalars`: MMEngine's training log (scalars.json)        |
| `curves`      | `plot_training_curves`: losses, metrics, learning rate        |
| `per_class`   | `load_per_class_ap`, `plot_per_class_ap`: AP per class        |
| `timeline`    | `plot_tube_timeline`: tubes (and predictions) over the frames |
| `inputs`      | `plot_model_input`: a keyframe's clip as the model sees it    |
| `concepts_data` | the pipeline diagram, classes, idle people, COCO, config diff |
| `tables`      | `Table`s: AVA CSV, config changes, thresholds, metric names   |
| `clip_window` | `clip_indices`, `plot_clip_window`: the frames a clip takes   |
| `model_diagram` | the action model as a diagram, one keyframe's box scores    |
| `matching`    | frame-mAP vs video-mAP: linked tubes, one frame's matches     |

Used in: 01_dataset, 02_person_detector, 03_action_detector, 04_inference_demo.
"""

from ..predictions import Predictions
from .annotate import Annotator, annotate_frame, default_font, label_text
from .clip import show_video, write_annotated_clip
from .clip_window import clip_indices, plot_clip_window
from .concepts_data import (
    coco_record,
    config_diff,
    plot_class_strips,
    plot_coco_image,
    plot_idle_people,
    plot_pipeline,
    print_config_diff,
)
from .curves import plot_training_curves
from .inputs import ModelInput, model_input, plot_model_input
from .matching import (
    FrameMatches,
    LinkedTube,
    frame_matches,
    linked_tubes,
    plot_frame_matches,
    plot_tubes,
    tube_iou,
)
from .model_diagram import model_summary, plot_box_scores, plot_model_diagram
from .palette import (
    DEFAULT_PALETTE,
    GT_STYLE,
    PRED_STYLE,
    PROPOSAL_STYLE,
    BoxStyle,
    Palette,
    class_color,
)
from .per_class import load_per_class_ap, plot_per_class_ap
from .reader import FrameReader, read_frame
from .scalars import find_scalars, load_scalars
from .show import show_frame
from .stats import dataset_stats, plot_dataset_stats
from .tables import Table, ava_table, config_changes, metric_table, threshold_table
from .timeline import plot_tube_timeline
from .widget import Player, player

__all__ = [
    "coco_record", "config_diff", "plot_class_strips", "plot_coco_image",
    "plot_idle_people", "plot_pipeline", "print_config_diff",
    "DEFAULT_PALETTE", "GT_STYLE", "PRED_STYLE", "PROPOSAL_STYLE", "Annotator",
    "BoxStyle", "FrameReader", "ModelInput", "Palette", "Player", "Predictions",
    "annotate_frame", "class_color", "dataset_stats", "default_font",
    "find_scalars",
    "label_text", "load_per_class_ap", "load_scalars", "model_input", "player",
    "plot_model_input", "plot_dataset_stats", "plot_per_class_ap",
    "plot_training_curves", "plot_tube_timeline", "read_frame", "show_frame",
    "show_video", "write_annotated_clip",
    # tables, clip_window, model_diagram, matching (03, 04): the action model
    "FrameMatches", "LinkedTube", "Table", "ava_table", "clip_indices",
    "config_changes", "frame_matches", "linked_tubes", "metric_table",
    "model_summary", "plot_box_scores", "plot_clip_window", "plot_frame_matches",
    "plot_model_diagram", "plot_tubes", "threshold_table", "tube_iou",
]
