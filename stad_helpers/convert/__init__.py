"""The tutorial's data conversions, one function each (`stad convert ...`).

| function         | CLI                       | replaces (mmaction2 script)      |
|------------------|---------------------------|----------------------------------|
| `det_anno`       | `stad convert det-anno`   | stad_tutorial generate_mmdet_anno |
| `extract_frames` | `stad convert frames`     | stad_tutorial generate_rgb       |
| `infer_anno`     | `stad convert infer-anno` | stad_tutorial images2coco        |
| `proposals`      | `stad convert proposals`  | stad_tutorial convert_proposals  |
| `ava`            | `stad convert ava`        | data/multisports/parse_anno      |

Each validates the annotation first and writes its outputs whole or not at all.

Used in: 02_person_detector, 03_action_detector.
"""

from .frames import FramesSummary, extract_frames
from .to_ava import ava
from .to_coco import det_anno
from .to_infer_anno import infer_anno
from .to_proposals import proposals

__all__ = ["FramesSummary", "ava", "det_anno", "extract_frames", "infer_anno",
           "proposals"]
