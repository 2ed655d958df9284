"""Debian's Chromium for the browser tests: where it is, how it is launched, and a helper that drives it.

The launch flags keep a headless Chromium from reaching for the network (this machine's closed network
refuses those connections) and from needing a sandbox as root. Never a downloaded browser.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

CHROMIUM = os.environ.get("EVALWHEEL_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def in_browser(fn: Callable[[Any], None], timeout: float = 300) -> None:
    """Run `fn(browser)` in a worker thread: Playwright's sync API runs its own event loop, which must not
    share the test thread with pytest-asyncio's."""
    from playwright.sync_api import sync_playwright

    def session() -> None:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                fn(browser)
            finally:
                browser.close()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(session).result(timeout=timeout)
