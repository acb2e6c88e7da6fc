"""Rendered check (issue 5, section 6): figures, the video and the player in a browser.

A small notebook, written on the fly, shows a figure, an annotated clip and the
widget player. It is executed (nbclient, widget state stored), exported to HTML
(nbconvert) and opened in headless Debian chromium through selenium:

- static HTML: every figure is an `<img>` that decoded (non-zero natural size),
  and the `<video>` is present, sized, and its H.264 data decodes in chromium;
- the player: a static export loads the widget manager from a CDN, so offline its
  widgets stay blank; the exported notebook must carry the widget state (slider,
  play, image with JPEG bytes), and a live JupyterLab session runs the notebook
  in chromium and checks that the slider and the image widget render and that
  moving the slider re-renders the frame.

Skipped when chromium or chromedriver is missing (`apt-get install chromium
chromium-driver`).
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CHROMIUM = next((p for p in (shutil.which("chromium"), "/usr/bin/chromium",
                             shutil.which("chromium-browser"))
                 if p and Path(p).exists()), None)
CHROMEDRIVER = next((p for p in (shutil.which("chromedriver"), "/usr/bin/chromedriver")
                     if p and Path(p).exists()), None)
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--window-size=1280,1600")
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="headless chromium/chromedriver not found (Debian: apt-get install -y "
           "chromium chromium-driver)",
)

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
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(120)
    yield driver
    driver.quit()


def _wait(predicate, timeout: float, what: str, interval: float = 0.5,
          on_timeout=None):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            detail = f"\n{on_timeout()}" if on_timeout else ""
            raise AssertionError(
                f"timed out after {timeout:.0f}s waiting for {what}{detail}")
        time.sleep(interval)


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
    images = _wait(lambda: browser.execute_script("""
        const imgs = [...document.querySelectorAll('.jp-OutputArea-output img')];
        if (!imgs.length || !imgs.every(i => i.complete)) return null;
        return imgs.map(i => [i.naturalWidth, i.naturalHeight,
                              i.getBoundingClientRect().width,
                              i.getBoundingClientRect().height]);
    """), 60, "the figures to load")
    assert len(images) >= 2  # dataset statistics and the frame
    assert all(min(size) > 0 for size in images), images
    video = _wait(lambda: browser.execute_script("""
        const v = document.querySelector('video');
        if (!v || v.readyState < 1) return null;  // HAVE_METADATA: it decoded
        const r = v.getBoundingClientRect();
        return [v.videoWidth, v.videoHeight, r.width, r.height, v.duration,
                v.currentSrc.slice(0, 22)];
    """), 60, "the <video> to load its H.264 data")
    assert min(video[:4]) > 0 and video[4] > 0, video
    assert video[5] == "data:video/mp4;base64,"


PLAYER_SHOWN = """
        const img = document.querySelector('.jupyter-widgets.widget-image, '
                                           + 'img.widget-image');
        const slider = document.querySelector('.widget-slider, .widget-hslider');
        if (!img || !slider || !img.complete || img.naturalWidth === 0) return null;
        const r = img.getBoundingClientRect(), s = slider.getBoundingClientRect();
        if (!(r.width > 0 && r.height > 0 && s.width > 0 && s.height > 0)) return null;
        return img.src;
    """


def _page_state(browser, folder: Path) -> str:
    """What the page shows (for a failure message); a screenshot goes to `folder`."""
    browser.save_screenshot(str(folder / "jupyterlab.png"))
    return browser.execute_script("""
        const outs = [...document.querySelectorAll('.jp-Cell')].map((c, i) =>
            i + ': [' + (c.querySelector('.jp-InputPrompt') || {}).textContent + '] '
            + (c.querySelector('.jp-OutputArea') || {}).textContent);
        const status = document.querySelector('.jp-Notebook-ExecutionIndicator');
        return 'kernel: ' + (status ? status.getAttribute('data-status') : '?')
            + '\\n' + outs.join('\\n').slice(0, 3000);
    """)


def _run_all_cells(browser, folder: Path, timeout: float = 180) -> None:
    """Run > Run All Cells, again until the first cell starts (the item is
    disabled until the kernel is connected)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    started = ("return [...document.querySelectorAll('.jp-InputPrompt')]"
               ".some(p => /\\[[*0-9]/.test(p.textContent))")
    deadline = time.monotonic() + timeout
    while not browser.execute_script(started):
        if time.monotonic() > deadline:
            raise AssertionError("Run All Cells never started the notebook\n"
                                 + _page_state(browser, folder))
        menus = [e for e in browser.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-item")
                 if e.text.strip() == "Run"]
        if menus:
            menus[0].click()
            time.sleep(0.5)
            items = [e for e in browser.find_elements(
                By.CSS_SELECTOR, "#jp-mainmenu-run li.lm-Menu-item")
                if e.text.strip().startswith("Run All Cells")
                and "lm-mod-disabled" not in (e.get_attribute("class") or "")]
            if items:
                items[0].click()
                try:
                    _wait(lambda: browser.execute_script(started), 20, "a cell to run")
                    return
                except AssertionError:
                    pass
            else:
                browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
        time.sleep(2)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def jupyter_lab(notebook, tmp_path):
    """A JupyterLab server on a free port (token auth), serving the notebook's dir."""
    port, token = _free_port(), "stad-render-check"
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter-config"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "jupyter-runtime"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "lab-workspaces"),
               PYTHONPATH=os.pathsep.join([str(Path(__file__).parent.parent),
                                           os.environ.get("PYTHONPATH", "")]))
    log = open(tmp_path / "lab.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
         "--ip=127.0.0.1", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={notebook.parent}", "--ServerApp.open_browser=False",
         "--LabApp.news_url=", "--LabApp.extension_manager=readonly",
         "--LabApp.check_for_updates_class="
         "jupyterlab.handlers.announcements.NeverCheckForUpdate",
         *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else [])],
        stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        _wait(lambda: _port_open(port) or proc.poll() is not None, 120,
              "JupyterLab to listen")
        if proc.poll() is not None:
            raise AssertionError("JupyterLab exited: "
                                 + (tmp_path / "lab.log").read_text()[-2000:])
        yield f"http://127.0.0.1:{port}", token
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@needs_chromium
def test_player_renders_in_live_jupyterlab(notebook, jupyter_lab, browser,
                                           tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    url, token = jupyter_lab
    browser.get(f"{url}/lab/tree/{notebook.name}?token={token}")
    _wait(lambda: browser.execute_script(
        "return document.querySelectorAll('.jp-Notebook .jp-Cell').length"), 120,
        "JupyterLab to open the notebook")
    _wait(lambda: browser.execute_script(
        "return document.querySelector('.jp-Notebook-ExecutionIndicator, "
        ".jp-KernelStatus') !== null"), 60, "the kernel indicator")
    _run_all_cells(browser, tmp_path)
    src = _wait(lambda: browser.execute_script(PLAYER_SHOWN), 300,
                "the player's slider and image widgets to render",
                on_timeout=lambda: _page_state(browser, tmp_path))
    assert browser.find_elements(By.CSS_SELECTOR, ".widget-play, .jupyter-widgets "
                                 "button .fa-play, .widget-play button")
    # Move the slider with the keyboard: the kernel must send a new frame.
    handle = browser.find_element(
        By.CSS_SELECTOR, ".widget-slider .noUi-handle, .widget-hslider .noUi-handle")
    readout = browser.find_element(By.CSS_SELECTOR, ".widget-readout")
    assert readout.text.strip() == "1"
    handle.click()
    handle.send_keys(Keys.ARROW_RIGHT, Keys.ARROW_RIGHT, Keys.ARROW_RIGHT)
    _wait(lambda: readout.text.strip() not in ("", "1"), 30, "the slider to move")
    _wait(lambda: browser.execute_script("""
        const img = document.querySelector('.jupyter-widgets.widget-image, '
                                           + 'img.widget-image');
        return img && img.complete && img.naturalWidth > 0 && img.src !== arguments[0];
    """, src), 60, "the image to change after moving the slider")
