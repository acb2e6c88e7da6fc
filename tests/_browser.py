"""Headless chromium for the rendering checks (tests/test_render.py, and
notebooks/test_rendered.py, which opens every notebook in a live JupyterLab).

Debian's chromium and chromedriver, driven by selenium; checks that need them are
marked `needs_chromium` and skip, saying how to install them, when they are missing.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = next((p for p in (shutil.which("chromium"), "/usr/bin/chromium",
                             shutil.which("chromium-browser"))
                 if p and Path(p).exists()), None)
CHROMEDRIVER = next((p for p in (shutil.which("chromedriver"), "/usr/bin/chromedriver")
                     if p and Path(p).exists()), None)
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--window-size=1280,1600",
         "--autoplay-policy=no-user-gesture-required")

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="headless chromium/chromedriver not found (Debian: apt-get install -y "
           "chromium chromium-driver; `make test` does it when it can)",
)


def start_chromium(profile_dir: Path):
    """A selenium Chrome driver on Debian's chromium, headless, with its own profile."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={profile_dir}")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(120)
    driver.set_script_timeout(120)
    return driver


def wait_for(predicate: Callable[[], Any], timeout: float, what: str,
             interval: float = 0.5, on_timeout: Callable[[], str] | None = None) -> Any:
    """Poll `predicate` until it returns something truthy (returned); on timeout an
    AssertionError says what was awaited, plus `on_timeout()`'s description."""
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
