"""A real browser for the console's tests: Playwright driving Debian's Chromium (installed
with apt-get when missing, as nginx is), headless, with a fresh profile every time."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from bench.debian import program
from playwright.sync_api import BrowserContext, sync_playwright

FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def browser(*, scripts: bool = True) -> Iterator[BrowserContext]:
    chromium = program("chromium", "chromium", also=("/usr/bin",))
    with (
        tempfile.TemporaryDirectory(prefix="hashcheck-chromium-") as profile,
        sync_playwright() as pw,
    ):
        context = pw.chromium.launch_persistent_context(
            profile,
            executable_path=chromium,
            headless=True,
            args=FLAGS,
            java_script_enabled=scripts,
        )
        try:
            yield context
        finally:
            context.close()
