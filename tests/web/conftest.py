"""The web tests' world: a copy of the review world (tests/review_world.py), one per
module, and one real headless browser (Debian's chromium driven by Playwright)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import review_world

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A copy of the shared world this module may write to (feedback, settings)."""
    return review_world.shared(tmp_path_factory).copy(tmp_path_factory.mktemp("web-world"))


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: apt-get install -y chromium (see .ci/run)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        yield b
        b.close()
