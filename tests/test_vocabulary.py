"""One vocabulary: the documents a reader meets name files, splits and metrics as the
code does, and quote the measured figures of benchmarks/README.md."""

from __future__ import annotations

import json
import re

import pytest
from _paths import ROOT

from stad_helpers.data import layout

DOCS = {
    "README.md": ROOT / "README.md",
    "notebooks/README.md": ROOT / "notebooks" / "README.md",
    "docs/workshop.md": ROOT / "docs" / "workshop.md",
    "00_setup": ROOT / "notebooks" / "00_setup.ipynb",
}


def _text(path) -> str:
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text())["cells"]
        return "\n".join("".join(c["source"]) for c in cells)
    return path.read_text()


def _benchmark(metric: str) -> float:
    """A metric of the whole-tutorial table in benchmarks/README.md."""
    text = (ROOT / "benchmarks" / "README.md").read_text()
    found = re.search(rf"\|\s*{re.escape(metric)}\s*\|\s*([0-9.]+)\s*\|", text)
    assert found, metric
    return float(found.group(1))


def test_data_readme_names_every_file_of_the_layout():
    text = (ROOT / "data" / "README.md").read_text()
    for name in (layout.GT_FILE, layout.LABEL_MAP_FILE, layout.INFER_ANNO_FILE,
                 f"{layout.DET_ANNO_STEM}_{{train,val}}.json",
                 f"{layout.PROPOSALS_STEM}_{{train,val}}.pkl",
                 f"{layout.AVA_STEM}_{{train,val}}.csv"):
        assert name in text, name
    assert "├── label_map.txt" not in text
    rows = {line.split("/")[0].strip("├└─ "): line for line in text.splitlines()
            if re.match(r"[├└]── (trainval|test)/", line)}
    assert "unannotated" in rows[layout.TEST]
    assert "BOTH splits" in rows[layout.TRAINVAL]


def test_splits_are_train_and_val_the_files_say_so_too():
    assert set(layout.FILE_SPLIT.values()) == {"train", "val"}
    for name, path in DOCS.items():
        text = _text(path)
        assert not re.search(r"(?i)\btest split\b", text), name


@pytest.mark.parametrize("name", DOCS)
def test_metric_figures_quoted_are_the_benchmarks(name):
    text = _text(DOCS[name])
    ap50 = round(_benchmark("detector bbox AP50"), 2)
    frame_map = round(_benchmark("frame-mAP@0.5"), 2)
    quoted = re.findall(r"bbox AP50 (0\.\d+)", text)
    quoted_map = re.findall(r"frame-mAP (0\.\d+)", text)
    for value in quoted:
        assert float(value) == pytest.approx(ap50), (name, value)
    for value in quoted_map:
        assert float(value) == pytest.approx(frame_map), (name, value)
    if name != "notebooks/README.md":  # the others quote both
        assert quoted and quoted_map, name


def test_metric_names_map_to_mmaction2s_log_names_everywhere():
    for name in ("notebooks/README.md", "00_setup"):
        text = _text(DOCS[name])
        for ours, theirs in (("frame_map", "frameAP"), ("video_map_0.2", "v_map@0.2"),
                             ("video_map_0.5", "v_map@0.5")):
            assert ours in text and theirs in text, (name, ours)
        assert "percent" in text, name
