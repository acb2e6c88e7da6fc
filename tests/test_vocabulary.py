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


METRICS = ("bbox AP50", "frame-mAP", "video-mAP@0.2", "video-mAP@0.5")
# How the documents name each metric (ours, MMAction2's log names, "@0.5" after
# "video-mAP@0.2"), followed by a quoted figure (bold, "about" allowed).
QUOTED = re.compile(
    r"(?P<metric>(?:bbox )?AP50|frame-mAP(?:@0\.5)?|frameAP|video-mAP@0\.[25]"
    r"|v_map@0\.[25]|(?<![\w-])@0\.[25])"
    r"(?:\*\*)?\s+(?:about\s+)?(?:\*\*)?(?P<value>\d+\.\d+)")
FIGURE_DOCS = {
    **{name: path for name, path in DOCS.items() if path.suffix == ".md"},
    "data/README.md": ROOT / "data" / "README.md",
    **{path.stem: path for path in sorted((ROOT / "notebooks").glob("0*.ipynb"))},
}


def _expected_figures() -> dict[str, dict[str, float]]:
    """benchmarks/README.md's table of expected figures: {run: {metric: value}}."""
    text = (ROOT / "benchmarks" / "README.md").read_text()
    section = text[text.index("### Expected figures"):]
    header = "| run | " + " | ".join(METRICS) + " |"
    assert header in section, header
    rows = {}
    for line in section[section.index(header):].splitlines()[2:]:
        if not line.startswith("|"):
            break
        run, *values = [c.strip() for c in line.strip("|").split("|")]
        rows[run] = dict(zip(METRICS, map(float, values)))
    return rows


def _benchmark(metric: str) -> float:
    """The CPU profile's expected figure of `metric` (benchmarks/README.md)."""
    cpu = [row for run, row in _expected_figures().items() if run.startswith("CPU")]
    assert len(cpu) == 1
    return cpu[0][metric]


def _metric(name: str) -> str:
    """One of METRICS for a name as quoted; a bare "@0.5" continues a video-mAP."""
    if "AP50" in name:
        return "bbox AP50"
    if name.startswith("frame"):
        return "frame-mAP"
    assert name.startswith(("video-mAP", "v_map", "@")), name
    return "video-mAP" + name[name.index("@"):]


def quoted_figures(text: str) -> list[tuple[str, float, int]]:
    """(metric, value as a fraction, decimal digits) of every figure quoted after a
    metric name; percent figures (MMAction2's logs: `frameAP 51.33`) as fractions."""
    found = []
    for match in QUOTED.finditer(text):
        value = match.group("value")
        digits = len(value.split(".")[1])
        number = float(value)
        if number > 1:  # percent
            number, digits = number / 100, digits + 2
        found.append((_metric(match.group("metric")),
                      round(number, digits), digits))
    return found


def test_quoted_figures_are_found_whatever_their_form():
    text = ("bbox AP50 0.952, frame-mAP **0.749**; video-mAP@0.2 about\n0.632 and @0.5 "
            "0.295. Original: frameAP 51.33, v_map@0.2 45.0; frame-mAP@0.5, "
            "video-mAP@0.2/0.5 (IoU 0.5 per frame)")
    assert quoted_figures(text) == [
        ("bbox AP50", 0.952, 3), ("frame-mAP", 0.749, 3), ("video-mAP@0.2", 0.632, 3),
        ("video-mAP@0.5", 0.295, 3), ("frame-mAP", 0.5133, 4),
        ("video-mAP@0.2", 0.45, 3)]


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


@pytest.mark.parametrize("name", FIGURE_DOCS)
def test_every_quoted_figure_is_an_expected_one(name):
    """A metric figure quoted in a reader's document (markdown of the notebooks) is
    one of benchmarks/README.md's expected figures, at the digits quoted (two at
    least: "about 0.6" is no figure)."""
    path = FIGURE_DOCS[name]
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text())["cells"]
        text = "\n".join("".join(c["source"]) for c in cells
                         if c["cell_type"] == "markdown")
    else:
        text = path.read_text()
    rows = _expected_figures()
    for metric, value, digits in quoted_figures(text):
        assert digits >= 2, (name, metric, value)
        runs = [run for run, row in rows.items() if round(row[metric], digits) == value]
        assert runs, (name, metric, value, "not in benchmarks/README.md's table")


def test_documents_quote_the_cpu_figures():
    cpu = {m: _benchmark(m) for m in METRICS}
    for name in ("README.md", "docs/workshop.md", "00_setup", "03_action_detector"):
        text = _text(FIGURE_DOCS[name])
        quoted = {(m, v) for m, v, d in quoted_figures(text) if d == 3}
        assert {("bbox AP50", cpu["bbox AP50"]), ("frame-mAP", cpu["frame-mAP"])} \
            <= quoted, name
    text = _text(FIGURE_DOCS["03_action_detector"])
    assert all((m, v, 3) in quoted_figures(text) for m, v in cpu.items())
    assert re.search(r"run\s+after\s+run", text)  # and says they are reproducible


def test_metric_names_map_to_mmaction2s_log_names_everywhere():
    for name in ("notebooks/README.md", "00_setup"):
        text = _text(DOCS[name])
        for ours, theirs in (("frame_map", "frameAP"), ("video_map_0.2", "v_map@0.2"),
                             ("video_map_0.5", "v_map@0.5")):
            assert ours in text and theirs in text, (name, ours)
        assert "percent" in text, name
