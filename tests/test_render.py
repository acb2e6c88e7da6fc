"""Exported check (issue 5, section 6): figures, the video and the player's state
in a notebook exported to HTML, as someone sees it without a kernel (nbviewer, an
executed copy from `make test-gpu`).

A small notebook, written on the fly, shows a figure, an annotated clip and the
widget player. It is executed (nbclient, widget state stored), exported to HTML
(nbconvert) and opened in headless Debian chromium through selenium:

- every figure is an `<img>` that decoded (non-zero natural size), and the
  `<video>` is present, sized, and its H.264 data decodes in chromium;
- a static export loads the widget manager from a CDN, so offline its widgets stay
  blank; the exported notebook must carry the widget state (slider, play, image
  with JPEG bytes).

The live check, each tutorial notebook run in JupyterLab with its pictures, videos
and the working player, is notebooks/test_rendered.py (after nbval). Skipped when
chromium or chromedriver is missing (`apt-get install chromium chromium-driver`).
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from _browser import needs_chromium, start_chromium, wait_for

pytestmark = pytest.mark.slow

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

CELLS = [
    """\
import matplotlib
%matplotlib inline
from stad_helpers.data.gt import MultiSportsGT
from stad_helpers.data.layout import video_path
from stad_helpers.viz import (player, plot_dataset_stats, show_frame, show_video,
                              write_annotated_clip)

gt = MultiSportsGT.load(GT_FILE)
video = gt.train_videos[0]
src = video_path(ROOT, video)""",
    "plot_dataset_stats(gt);",
    "show_frame(src, 10, gt=gt);",
    """\
clip = write_annotated_clip(src, OUT_MP4, gt=gt, progress=False)
show_video(clip, width=320)""",
    """\
from stad_helpers.predictions import Predictions

scores = [[0.0] * len(gt.labels)]
scores[0][1] = 0.9
preds = Predictions([[10, 10, 60, 80]], [10], action_scores=scores,
                    class_names=gt.labels)
p = player(src, predictions=preds, gt=gt)
p""",
]


@pytest.fixture(scope="module")
def notebook(tmp_path_factory) -> Path:
    """The render notebook, unexecuted, beside a tiny synthetic dataset."""
    import nbformat

    from stad_helpers.data.synth import make_synthetic_dataset

    folder = tmp_path_factory.mktemp("render")
    gt_file = make_synthetic_dataset(folder / "data", seed=1, videos=3, frames=32,
                                     width=160, height=120, progress=False)
    params = (f"GT_FILE = {str(gt_file)!r}\nROOT = {str(folder / 'data')!r}\n"
              f"OUT_MP4 = {str(folder / 'clip.mp4')!r}")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(params)] + [
        nbformat.v4.new_code_cell(src) for src in CELLS]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    path = folder / "render.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def executed(notebook) -> tuple[Path, Path]:
    """(executed notebook, its HTML export)."""
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    nb = nbformat.read(notebook, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", store_widget_state=True,
                   resources={"metadata": {"path": str(notebook.parent)}}).execute()
    out_nb = notebook.with_name("render.executed.ipynb")
    nbformat.write(nb, out_nb)
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    html = notebook.with_name("render.html")
    html.write_text(body)
    return out_nb, html


@pytest.fixture
def browser(tmp_path):
    driver = start_chromium(tmp_path / "chromium-profile")
    yield driver
    driver.quit()


def test_exported_notebook_keeps_the_widget_state(executed):
    import nbformat

    nb = nbformat.read(executed[0], as_version=4)
    state = nb.metadata["widgets"][WIDGET_STATE]["state"]
    models = {m["model_name"]: m for m in state.values()}
    assert {"IntSliderModel", "PlayModel", "ImageModel", "ToggleButtonModel",
            "FloatSliderModel", "LinkModel"} <= set(models)
    slider, play = models["IntSliderModel"]["state"], models["PlayModel"]["state"]
    assert slider["max"] == play["max"] > 1
    image = models["ImageModel"]
    assert image["state"]["format"] == "jpeg"
    # Binary traits are saved as base64 buffers: the frame's JPEG bytes.
    value = [b for b in image.get("buffers", []) if b["path"] == ["value"]]
    assert value and base64.b64decode(value[0]["data"])[:2] == b"\xff\xd8"
    outputs = nb.cells[-1].outputs
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {})
               for o in outputs)


@needs_chromium
def test_html_export_shows_figures_and_video(executed, browser):
    _, html = executed
    browser.get(html.as_uri())
    images = wait_for(lambda: browser.execute_script("""
        const imgs = [...document.querySelectorAll('.jp-OutputArea-output img')];
        if (!imgs.length || !imgs.every(i => i.complete)) return null;
        return imgs.map(i => [i.naturalWidth, i.naturalHeight,
                              i.getBoundingClientRect().width,
                              i.getBoundingClientRect().height]);
    """), 60, "the figures to load")
    assert len(images) >= 2  # dataset statistics and the frame
    assert all(min(size) > 0 for size in images), images
    video = wait_for(lambda: browser.execute_script("""
        const v = document.querySelector('video');
        if (!v || v.readyState < 1) return null;  // HAVE_METADATA: it decoded
        const r = v.getBoundingClientRect();
        return [v.videoWidth, v.videoHeight, r.width, r.height, v.duration,
                v.currentSrc.slice(0, 22)];
    """), 60, "the <video> to load its H.264 data")
    assert min(video[:4]) > 0 and video[4] > 0, video
    assert video[5] == "data:video/mp4;base64,"
