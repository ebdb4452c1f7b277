"""Opening a report in a real, headless Chromium: for tests and for screenshots.

Drives the system's Chromium (Debian's ``chromium``, which the Makefile installs as root) through
Playwright's Python client with ``executable_path``: no browser is downloaded. Chromium is
started with the flags a closed network needs (no background networking, component updates,
sync or first-run work) and a fresh profile (Playwright makes one per launch), and with ``--disable-gpu`` (WebGL then runs on
Chromium's software renderer). :func:`browser_missing` says why a browser cannot be started here,
so tests skip with that reason.
"""
from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

__all__ = ["CHROMIUM_FLAGS", "chromium_path", "browser_missing", "ReportPage", "open_report"]

#: Command-line flags for a headless Chromium on a machine without internet access.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic")
_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium_path() -> str | None:
    """The Chromium executable (``$FACERECON_CHROMIUM``, else the first on PATH), or None."""
    configured = os.environ.get("FACERECON_CHROMIUM")
    if configured:
        return configured if Path(configured).is_file() else None
    return next((path for name in _CANDIDATES if (path := shutil.which(name))), None)


def browser_missing() -> str | None:
    """Why no headless browser can be driven here (None when one can)."""
    if importlib.util.find_spec("playwright") is None:
        return "the Python package playwright is not installed (pip install playwright; `make` installs it)"
    if chromium_path() is None:
        return ("no Chromium executable found (Debian: apt-get install chromium, which `make` does as root; "
                "or set FACERECON_CHROMIUM)")
    return None


@dataclass
class ReportPage:
    """An open page and what the browser said while loading it.

    Attributes:
        page: the Playwright page; errors: console errors and uncaught exceptions, as text.
    """

    page: Any
    errors: list[str] = field(default_factory=list)

    def wait_for_views(self, timeout_ms: float = 20_000) -> list[str]:
        """Wait until every 3D view in sight has finished loading; return their states."""
        self.page.wait_for_function(
            "() => [...document.querySelectorAll('.mesh3d[data-mesh]')].filter(e => {"
            " const r = e.getBoundingClientRect(); return r.top < innerHeight && r.bottom > 0; })"
            ".every(e => e.dataset.state === 'ready' || e.dataset.state === 'error')", timeout=timeout_ms)
        return self.page.eval_on_selector_all(".mesh3d[data-mesh]", "els => els.map(e => e.dataset.state || '')")


@contextlib.contextmanager
def open_report(path: Path, width: int = 1280, height: int = 900) -> Iterator[ReportPage]:
    """Open ``path`` (an HTML file) in headless Chromium, loaded, with its console errors collected.

    Raises:
        RuntimeError: no browser can be driven here (:func:`browser_missing` says why).
    """
    missing = browser_missing()
    if missing:
        raise RuntimeError(missing)
    from playwright.sync_api import sync_playwright

    # Playwright starts every browser it launches with a fresh, temporary profile.
    flags = [flag for flag in CHROMIUM_FLAGS if flag != "--headless"]  # headless=True adds its own
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=flags)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            opened = ReportPage(page)
            page.on("console", lambda message: opened.errors.append(f"console {message.type}: {message.text}")
                    if message.type == "error" else None)
            page.on("pageerror", lambda error: opened.errors.append(f"uncaught: {error}"))
            page.goto(Path(path).resolve().as_uri(), wait_until="load")
            yield opened
        finally:
            browser.close()
