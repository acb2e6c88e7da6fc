"""Every notebook as a reader sees it (issue 12, item 10).

Each tutorial notebook (`notebooks/0*.ipynb`) is opened in a live JupyterLab in
headless chromium and run top to bottom (*Run All Cells*); once its kernel is done,
the page must show:

- no error output, and every code cell executed;
- the pictures: every output image decoded (natural size > 0), and each cell that
  calls a `plot_*` function or `show_frame` (in a statement outside any `if` or
  loop) shows at least one image per such call, counted from the notebook's source;
- the videos: every `<video>` loaded its H.264 data (readyState >= 1, duration > 0),
  and each cell calling `show_video` shows one;
- the widgets: every widget view rendered (no "Loading widget" or "Error displaying
  widget"); where a cell calls `player(...)`, its slider and frame image are there
  and moving the slider makes the kernel send another frame.

It runs after nbval in `make test`: pytest collects `tests/`, then `notebooks/` in
name order, so the notebooks themselves (`0*.ipynb`, nbval) come before this file
and every stage of the work dirs is up to date; here each notebook only shows what
is made, in seconds to a minute. Run alone on a work dir that is not prepared, a
notebook skips and says how to prepare it (the teacher's kit, `make tutorial`, or
`pytest notebooks/`) rather than train in the browser.

JupyterLab serves copies of the notebooks from a temporary folder, so executed
outputs never reach the committed files (tests/test_notebooks_clean.py); their
paths resolve from the project root (`stad_helpers.notebook.project_root`), so the
copies use the same work dirs. Skipped when chromium or chromedriver is missing.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from _browser import needs_chromium, start_chromium, wait_for  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("0*.ipynb"))
RUN_TIMEOUT = 900  # seconds for one notebook's cells (prepared: well under a minute)
MEDIA_TIMEOUT = 90  # seconds for images, videos and widgets to render once run
CONDITIONAL = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.Try, ast.FunctionDef,
               ast.AsyncFunctionDef, ast.ClassDef)
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def expected_media(source: str) -> dict[str, int]:
    """What a code cell must show, from its source: one image per `plot_*` or
    `show_frame` call, one video per `show_video`, one player per `player`, counting
    calls in statements that always run (not under `if`, loops, `try`, `def`)."""
    from IPython.core.inputtransformer2 import TransformerManager

    counts = {"images": 0, "videos": 0, "players": 0}
    tree = ast.parse(TransformerManager().transform_cell(source))
    for stmt in tree.body:
        if isinstance(stmt, CONDITIONAL):
            continue
        for node in ast.walk(stmt):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name.startswith("plot_") or name == "show_frame":
                counts["images"] += 1
            elif name == "show_video":
                counts["videos"] += 1
            elif name == "player":
                counts["players"] += 1
    return counts


def test_expected_media_counts_calls_that_always_run():
    cell = ("%matplotlib inline\nfrom stad_helpers.viz import plot_tubes\n"
            "plot_tubes(gt, video, tubes)\nviz.plot_frame_matches(m, image, labels);\n"
            "if idle:\n    plot_idle_people(gt, root);\nshow_video(clip)\n"
            "p = player(src, gt=gt)\nprint(show_frame)")
    assert expected_media(cell) == {"images": 2, "videos": 1, "players": 1}


def _parameters(notebook: Path) -> dict:
    """The notebook's parameters cell (papermill tag `parameters`), executed."""
    from stad_helpers.notebook import project_root

    nb = json.loads(notebook.read_text())
    cell = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
    scope: dict = {"project_root": project_root}
    exec("".join(cell["source"]), scope)
    return scope


def unprepared(notebook: Path) -> str | None:
    """Why the stages this notebook shows are not all made yet (None: they are)."""
    from stad_helpers.pipeline import Tutorial

    params = _parameters(notebook)
    if "data" in params:  # 00-04: the tutorial's shared work dir
        tutorial = Tutorial(profile=params["profile"], device=params.get("device"),
                            data=params["data"], work_dir=params["work_dir"],
                            progress=False)
        stale = [f"{s} ({tutorial.why_stale(s)})" for s in tutorial.plan("demo")]
        return f"{params['work_dir']}: {', '.join(stale)}" if stale else None
    # 05 trains its own models under its work_dir (its Tutorial cell: <work_dir>/run).
    done = list(Path(params["work_dir"]).glob("*/stages/evaluate.json"))
    return None if done else f"{params['work_dir']}: no evaluation made yet"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Path:
    """Copies of the notebooks, in the folder JupyterLab serves."""
    folder = tmp_path_factory.mktemp("lab-notebooks")
    for path in NOTEBOOKS:
        shutil.copy(path, folder / path.name)
    return folder


@pytest.fixture(scope="module")
def jupyter_lab(served, tmp_path_factory):
    """A JupyterLab server on a free port (token auth) serving the copies, with
    `window.jupyterapp` exposed and every cell kept in the page (no windowing)."""
    state = tmp_path_factory.mktemp("lab-state")
    settings = state / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text(
        json.dumps({"windowingMode": "none"}))
    port, token = _free_port(), "stad-rendered-check"
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(state / "config"),
               JUPYTER_RUNTIME_DIR=str(state / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(state / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(state / "workspaces"),
               PYTHONPATH=os.pathsep.join([str(ROOT),
                                           os.environ.get("PYTHONPATH", "")]))
    log_path = state / "lab.log"
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
         "--ip=127.0.0.1", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={served}", "--ServerApp.open_browser=False",
         "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=",
         "--LabApp.extension_manager=readonly",
         "--LabApp.check_for_updates_class="
         "jupyterlab.handlers.announcements.NeverCheckForUpdate",
         *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else [])],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=served)
    try:
        wait_for(lambda: _port_open(port) or proc.poll() is not None, 120,
                 "JupyterLab to listen")
        if proc.poll() is not None:
            raise AssertionError("JupyterLab exited: " + log_path.read_text()[-2000:])
        yield f"http://127.0.0.1:{port}", token
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    driver = start_chromium(tmp_path_factory.mktemp("chromium-profile"))
    yield driver
    driver.quit()


# The notebook panel of `arguments[0]` (a path), in JupyterLab's main area.
PANEL = """
    const app = window.jupyterapp;
    const panel = app && [...app.shell.widgets('main')].find(
        w => w.context && w.context.path === arguments[0] && w.content);
"""
READY = PANEL + """
    if (!panel || !panel.context.isReady) return null;
    const session = panel.sessionContext.session;
    const kernel = session && session.kernel;
    if (!kernel || kernel.connectionStatus !== 'connected'
        || kernel.status !== 'idle') return null;
    app.shell.activateById(panel.id);
    return panel.content.widgets.length;
"""
RUN_ALL = PANEL + """
    window.__stadRun = {done: false};
    app.commands.execute('notebook:run-all-cells').then(
        ok => { window.__stadRun = {done: true, ok: ok}; },
        err => { window.__stadRun = {done: true, ok: false, error: String(err)}; });
    return true;
"""
FINISHED = PANEL + """
    const run = window.__stadRun || {done: false};
    const kernel = panel.sessionContext.session.kernel;
    if (!run.done || !kernel || kernel.status !== 'idle') return null;
    const pending = panel.content.widgets.some(
        c => c.model.type === 'code' && c.promptNode
             && c.promptNode.textContent.includes('*'));
    return pending ? null : run;
"""
# Per cell: what the kernel sent (output types and mime types) and what the page shows.
CELLS = PANEL + """
    return panel.content.widgets.map((cell, index) => {
        const m = cell.model;
        if (m.type !== 'code') return {index, type: m.type};
        const outs = m.outputs.toJSON().map(o => ({
            type: o.output_type, mimes: Object.keys(o.data || {}),
            error: o.output_type === 'error'
                ? `${o.ename}: ${String(o.evalue).slice(0, 300)}` : null}));
        const area = '.jp-OutputArea-output';
        const images = [...cell.node.querySelectorAll(area + ' img')].map(i => ({
            done: i.complete, w: i.naturalWidth, h: i.naturalHeight,
            widget: i.classList.contains('widget-image')}));
        const videos = [...cell.node.querySelectorAll(area + ' video')].map(v => ({
            ready: v.readyState, duration: v.duration || 0, w: v.videoWidth,
            h: v.videoHeight, error: v.error ? v.error.code : null,
            src: (v.currentSrc || v.getAttribute('src') || '').slice(0, 40)}));
        // Output k of the model is child k of the cell's output area.
        const children = cell.outputArea ? cell.outputArea.widgets : [];
        const widgets = m.outputs.toJSON()
            .map((o, k) => [o, children[k]])
            .filter(([o, child]) => arguments[1] in (o.data || {}))
            .map(([o, child]) => child ? {
                text: child.node.textContent.slice(0, 120),
                views: child.node.querySelectorAll('.jupyter-widgets').length,
                sliders: child.node.querySelectorAll('.widget-slider').length,
                images: child.node.querySelectorAll('img.widget-image').length,
            } : {text: 'no output element', views: 0, sliders: 0, images: 0});
        return {index, type: 'code', source: m.sharedModel.getSource(),
                count: m.executionCount, outputs: outs, images, videos, widgets};
    });
"""
SAVE_AND_SHUT_DOWN = PANEL + """
    const done = arguments[arguments.length - 1];
    if (!panel) { done('no panel'); return; }
    panel.context.save().then(() => panel.sessionContext.shutdown())
        .then(() => done('ok'), err => done(String(err)));
"""


def _rendered(cell: dict) -> bool:
    """Every picture, video and widget view of the cell has finished rendering."""
    return (all(i["done"] and i["w"] > 0 for i in cell["images"])
            and all(v["ready"] >= 1 and v["duration"] > 0 for v in cell["videos"])
            and all(w["views"] > 0 and "Loading widget" not in w["text"]
                    for w in cell["widgets"]))


def _describe(cells: list[dict]) -> str:
    lines = []
    for c in cells:
        if c["type"] == "code":
            lines.append(f"cell {c['index']} [{c['count']}]: outputs "
                         f"{[o['type'] for o in c['outputs']]}, images {c['images']}, "
                         f"videos {c['videos']}, widgets {c['widgets']}")
    return "\n".join(lines)[-6000:]


def _move_player_slider(browser, path: str, index: int) -> None:
    """Three steps right on the player's slider: the frame image must change."""
    from selenium.webdriver.common.keys import Keys

    find = PANEL + "return panel.content.widgets[arguments[1]].node.querySelector(" \
        "arguments[2]);"
    handle = browser.execute_script(find, path, index, ".widget-slider .noUi-handle")
    readout = browser.execute_script(find, path, index, ".widget-readout")
    image = PANEL + """
        const img = panel.content.widgets[arguments[1]].node.querySelector(
            'img.widget-image');
        return img && img.complete && img.naturalWidth > 0 ? img.src : null;"""
    before = browser.execute_script(image, path, index)
    assert handle is not None and readout is not None and before
    first = readout.text.strip()
    handle.click()
    handle.send_keys(Keys.ARROW_RIGHT, Keys.ARROW_RIGHT, Keys.ARROW_RIGHT)
    wait_for(lambda: readout.text.strip() not in ("", first), 30,
             "the player's slider to move")
    wait_for(lambda: browser.execute_script(image, path, index) not in (None, before),
             60, "the player's frame to change after moving the slider")


@pytest.mark.slow
@needs_chromium
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_renders_in_jupyterlab(notebook, served, jupyter_lab, browser):
    why = unprepared(notebook)
    if why is not None:
        pytest.skip(f"work dir not prepared ({why}); run `make tutorial` (stad "
                    "run-all) or the notebooks under nbval (`pytest notebooks/`) "
                    "first: this check shows made stages, it does not train in the "
                    "browser")
    url, token = jupyter_lab
    path = notebook.name
    started = time.monotonic()
    browser.get(f"{url}/lab/tree/{path}?reset&token={token}")

    def page() -> str:
        browser.save_screenshot(str(served / f"{notebook.stem}.png"))
        return _describe(browser.execute_script(CELLS, path, WIDGET_VIEW) or [])

    try:
        wait_for(lambda: browser.execute_script(READY, path), 180,
                 f"JupyterLab to open {path} with an idle kernel")
        browser.execute_script(RUN_ALL, path)
        run = wait_for(lambda: browser.execute_script(FINISHED, path), RUN_TIMEOUT,
                       f"{path}'s cells to finish", interval=2, on_timeout=page)

        def code_cells_rendered() -> list[dict] | None:
            cells = [c for c in browser.execute_script(CELLS, path, WIDGET_VIEW)
                     if c["type"] == "code"]
            return cells if all(map(_rendered, cells)) else None

        cells = wait_for(code_cells_rendered, MEDIA_TIMEOUT,
                         f"{path}'s pictures, videos and widgets to render",
                         on_timeout=page)
        seconds = time.monotonic() - started

        errors = [f"cell {c['index']}: {o['error']}" for c in cells
                  for o in c["outputs"] if o["error"]]
        assert not errors, "\n".join(errors)
        assert run.get("ok") is True, run
        assert all(isinstance(c["count"], int) for c in cells), page()
        shown = {"images": 0, "videos": 0, "players": 0}
        for cell in cells:
            want = expected_media(cell["source"])
            pictures = [i for i in cell["images"] if not i["widget"]]
            sent = sum("image/png" in o["mimes"] or "image/jpeg" in o["mimes"]
                       for o in cell["outputs"])
            where = f"{path} cell {cell['index']}"
            assert sent >= want["images"], (where, "images sent", sent, want)
            assert len(pictures) >= want["images"], (where, "images shown", pictures)
            assert len(cell["videos"]) >= want["videos"], (where, cell["videos"])
            for widget in cell["widgets"]:
                assert "Error displaying widget" not in widget["text"], (where, widget)
            players = [w for w in cell["widgets"] if w["sliders"] and w["images"]]
            assert len(players) >= want["players"], (where, cell["widgets"])
            if want["players"]:
                _move_player_slider(browser, path, cell["index"])
            shown["images"] += len(pictures)
            shown["videos"] += len(cell["videos"])
            shown["players"] += len(players)
        print(f"{path}: {len(cells)} code cells, {shown} shown, {seconds:.0f} s")
    finally:
        browser.execute_async_script(SAVE_AND_SHUT_DOWN, path)
