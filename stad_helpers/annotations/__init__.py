"""Your own videos: annotations from CVAT, Label Studio or CSV in, and back out.

- `import_annotations`: annotation exports + videos -> the MultiSports layout
  (`stad data import`), via the plain `Track` object and `tracks_to_gt`.
- `export_cvat`, `export_label_studio`, `export_csv`: any MultiSports GT -> files
  those tools import (`stad data export`); importing them back gives the same GT.
- `export_cvat_predictions`: `stad demo` predictions -> a CVAT task to correct, so
  a user fixes the model's tracks instead of drawing from scratch, then retrains.
- `merge_sources`: one video in several files, tasks or jobs -> each tube once
  (identical ones warned about, conflicting ones refused).
- Label ids follow one rule for every format: `labels.LABEL_ID_RULE`.

Modules, one job each: `tracks` (the `Track`/`VideoAnnotation` objects),
`interpolate` (keyframes <-> one box per frame, tubes cut), `build` (tracks ->
`MultiSportsGT`), `linking` (demo boxes -> tracks by person id), `merge`; per tool a
reader and a writer (`cvat_xml` + `cvat` / `cvat_export`, `label_studio`,
`csv_format`); `importer` (the whole import), with `videos` (finding the
annotated videos) and `labels` (label ids); `floats` (exact coordinate text).

Used in: 05_your_own_data.
"""

from __future__ import annotations

from .build import tracks_to_gt
from .csv_format import export_csv, read_csv
from .cvat import read_cvat
from .cvat_export import export_cvat, export_cvat_predictions
from .importer import import_annotations, read_sources
from .label_studio import export_label_studio, read_label_studio
from .labels import LABEL_ID_RULE, read_label_list
from .linking import load_predictions, predictions_to_tracks
from .merge import merge_sources
from .tracks import IDLE_LABEL, Track, VideoAnnotation, gt_to_tracks

__all__ = [
    "IDLE_LABEL",
    "LABEL_ID_RULE",
    "Track",
    "VideoAnnotation",
    "export_csv",
    "export_cvat",
    "export_cvat_predictions",
    "export_label_studio",
    "gt_to_tracks",
    "import_annotations",
    "load_predictions",
    "merge_sources",
    "predictions_to_tracks",
    "read_csv",
    "read_cvat",
    "read_label_list",
    "read_label_studio",
    "read_sources",
    "tracks_to_gt",
]
