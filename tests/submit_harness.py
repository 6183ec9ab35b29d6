"""A harness page for the self-submission page's hashing modules, served from loopback in a
thread (the standard library's HTTP server, behind a strict Content Security Policy), with
every request it receives recorded; and a Chromium page that picks files in it and reads
what hashing.js answered. Shared by the browser test and the benchmark."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from playwright.sync_api import BrowserContext

from tests.browser_modules import STATIC

# The page's own policy will be at least this strict: the modules must work under it.
POLICY = (
    "default-src 'none'; script-src 'self'; worker-src 'self'; media-src blob:; "
    "connect-src 'none'; img-src 'self' blob:; base-uri 'none'; form-action 'none'"
)

PAGE = """<!doctype html>
<html lang="en"><meta charset="utf-8"><title>hashing harness</title>
<input type="file" id="files" multiple>
<script type="module" src="/harness.js"></script>
</html>
"""

HARNESS = """
import { hashFiles } from "/static/hashing.js";

const input = document.getElementById("files");
input.addEventListener("change", async () => {
  const progress = [];
  const started = performance.now();
  try {
    const results = await hashFiles(input.files, { progress: (step) => progress.push(step) });
    window.hashed = { results, progress, ms: performance.now() - started };
  } catch (error) {
    window.hashed = { error: String(error && error.stack ? error.stack : error) };
  }
  document.body.dataset.hashed = "yes";
});
"""

# A request as the server saw it: method, path, Content-Length, Transfer-Encoding.
Received = tuple[str, str, str | None, str | None]
# A request as the browser made it: method, URL, body.
Made = tuple[str, str, bytes | None]


@dataclass
class Seen:
    """Every request the loopback server received."""

    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def received(self) -> list[Received]:
        with self.lock:
            return list(self.requests)


class _Handler(SimpleHTTPRequestHandler):
    seen: Seen

    def parse_request(self) -> bool:
        parsed = super().parse_request()
        if parsed:
            length, chunked = (
                self.headers.get("Content-Length"),
                self.headers.get("Transfer-Encoding"),
            )
            with self.seen.lock:
                self.seen.requests.append((self.command, self.path, length, chunked))
        return parsed

    def end_headers(self) -> None:
        self.send_header("Content-Security-Policy", POLICY)
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the requests are recorded in `seen`."""


@contextmanager
def harness_site(folder: Path, pages: dict[str, str] | None = None) -> Iterator[tuple[str, Seen]]:
    """The harness (and ``pages``, more files by name) and the static modules (under
    /static/) from ``folder``, on a loopback port: the base URL and the requests seen."""
    (folder / "index.html").write_text(PAGE)
    (folder / "harness.js").write_text(HARNESS)
    for name, text in (pages or {}).items():
        (folder / name).write_text(text)
    (folder / "static").symlink_to(STATIC, target_is_directory=True)
    seen = Seen()
    handler = type("Recording", (_Handler,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def hash_in_browser(
    context: BrowserContext, base: str, paths: list[Path], timeout: float = 90.0
) -> tuple[dict[str, Any], list[Made]]:
    """Picks ``paths`` in the harness's file input and waits for hashing.js: its answer
    ({results, progress, ms}) and every request the page made meanwhile."""
    made: list[Made] = []
    errors: list[str] = []
    page = context.new_page()
    try:
        page.on("request", lambda r: made.append((r.method, r.url, r.post_data_buffer)))
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(base + "/")
        page.set_input_files("#files", paths)
        # (A selector, not a function: the policy forbids the eval a function wait needs.)
        page.wait_for_selector("body[data-hashed]", state="attached", timeout=timeout * 1000)
        answer: dict[str, Any] = page.evaluate("window.hashed")
    finally:
        page.close()
    assert errors == [], errors
    assert "error" not in answer, answer.get("error")
    return answer, made
