"""Debian's headless Chromium, driven by Playwright (which downloads no browser of its own)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")

# As the machine's notes say: without the background-networking flags Chromium keeps
# trying hosts that this closed network refuses; the sandbox needs a non-root user.
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[BrowserContext]:
    """A fresh profile (--user-data-dir) for each test: no token or cache carries over."""
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is not installed: run `bash tests/run`, which installs it")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(CHROMIUM), headless=True,
            args=FLAGS, viewport={"width": 1280, "height": 900},
        )
        context.set_default_timeout(30_000)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser: BrowserContext) -> Iterator[Page]:
    """The browser's tab; a script error on the page fails the test that saw it."""
    page = browser.pages[0] if browser.pages else browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    assert not errors, f"the dashboard's scripts threw: {errors}"
