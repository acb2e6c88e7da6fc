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
| `concepts_model` | AVA CSV, config changes, clip window, model, scores, mAPs |

Used in: 01_dataset, 02_person_detector, 03_action_detector, 04_inference_demo.
"""

from ..predictions import Predictions
from .annotate import Annotator, annotate_frame, default_font, label_text
from .clip import show_video, write_annotated_clip
from .concepts_data import (
    coco_record,
    config_diff,
    plot_class_strips,
    plot_coco_image,
    plot_idle_people,
    plot_pipeline,
    print_config_diff,
)
from .concepts_model import (
    LinkedTube,
    Table,
    ava_table,
    clip_indices,
    config_changes,
    frame_matches,
    linked_tubes,
    metric_table,
    plot_box_scores,
    plot_clip_window,
    plot_frame_matches,
    plot_model_diagram,
    plot_tubes,
    threshold_table,
    tube_iou,
)
from .curves import plot_training_curves
from .inputs import ModelInput, model_input, plot_model_input
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
    # concepts_model (03, 04): the action model's tables and pictures
    "LinkedTube", "Table", "ava_table", "clip_indices", "config_changes",
    "frame_matches", "linked_tubes", "metric_table", "plot_box_scores",
    "plot_clip_window", "plot_frame_matches", "plot_model_diagram", "plot_tubes",
    "threshold_table", "tube_iou",
]
