"""The upload guard for WSGI apps (Flask, Django, ...): the same reading, checks and answers as
the ASGI `GuardMiddleware` (`hashcheck.client.guard`), with the synchronous client.

The body is read from ``wsgi.input`` as it streams (spooled to disk, memory flat), every part
checked; the app then reads the same body from the spooled copy. Never sends the file. A
rejected upload's matches are reported as `blocked_at_upload` from a thread of the guard's own,
after the answer, unless ``report_actions=False``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from hashcheck.client.guard import Decision, blocked_match_ids, decision, queries_of, refused
from hashcheck.client.multipart import MalformedUpload
from hashcheck.client.protocol import CredentialsRefused
from hashcheck.client.sync import HashcheckClient
from hashcheck.client.uploads import Part, UploadReader

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]
READ_CHUNK = 1 << 18
log = logging.getLogger("hashcheck.guard")
_REASONS = {400: "Bad Request", 413: "Content Too Large", 422: "Unprocessable Content"}


class SyncUploadGuard:
    def __init__(
        self, client: HashcheckClient, *, fail_closed: bool = True, report_actions: bool = True
    ) -> None:
        self._client = client
        self.fail_closed = fail_closed
        self.report_actions = report_actions
        self._reporter = ThreadPoolExecutor(1, thread_name_prefix="hashcheck-guard-report")

    def decide_parts(self, parts: Sequence[Part]) -> Decision:
        asked = queries_of(parts)
        try:
            results = self._client.check(asked)
        except CredentialsRefused as exc:
            return refused(exc, fail_closed=self.fail_closed)
        decided = decision(parts, asked, results, fail_closed=self.fail_closed)
        blocked = blocked_match_ids(decided)
        if blocked and self.report_actions:
            self._reporter.submit(self._report, blocked)
        return decided

    def _report(self, match_ids: Sequence[str]) -> None:
        for match_id in match_ids:
            try:
                self._client.report_action(match_id, "blocked_at_upload")
            except Exception as exc:  # the upload was refused all the same; the log says why
                log.warning("hashcheck upload guard: a blocked upload was not reported: %s", exc)

    def close(self) -> None:
        """Send the reports of blocked uploads still waiting, then stop the thread."""
        self._reporter.shutdown(wait=True)


class WsgiGuard:
    """WSGI middleware: every request with a body — or those for which ``guarded(environ)``
    is true — has its body checked before the app sees it (up to ``max_body`` bytes; larger
    ones are refused). Guard every method: Werkzeug reads a form sent with GET too."""

    def __init__(
        self,
        app: WsgiApp,
        guard: SyncUploadGuard,
        guarded: Callable[[Environ], bool] = lambda environ: True,
        *,
        max_body: int = 4 << 30,
    ) -> None:
        self._app = app
        self._guard = guard
        self._guarded = guarded
        self._max_body = max_body

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if not self._guarded(environ) or not _has_body(environ):
            return self._app(environ, start_response)
        try:
            reader = UploadReader(environ.get("CONTENT_TYPE"))
        except MalformedUpload as exc:
            return _refuse(start_response, 400, str(exc))
        try:
            refusal = self._read(environ, reader)
            if refusal is None:
                decided = self._guard.decide_parts(reader.finish())
                if decided.allowed:
                    environ["wsgi.input"] = reader.body()
                    environ["CONTENT_LENGTH"] = str(reader.size)
                    return _closing(self._app(environ, start_response), reader)
                refusal = decided.status, decided.reason
        except MalformedUpload as exc:
            refusal = 400, str(exc)
        reader.close()
        return _refuse(start_response, *refusal)

    def _read(self, environ: Environ, reader: UploadReader) -> tuple[int, str] | None:
        stream = environ["wsgi.input"]
        text = environ.get("CONTENT_LENGTH") or ""
        if text.strip():
            if not (text.strip().isascii() and text.strip().isdigit()):  # "²" is a digit too
                return 400, "Content-Length is not a number"
            remaining: int | None = int(text)
            if remaining is not None and remaining > self._max_body:
                return 413, "upload too large to check"
        elif environ.get("wsgi.input_terminated"):
            remaining = None  # chunked: read to the end the server marks
        else:
            remaining = 0
        while remaining is None or remaining > 0:
            chunk = stream.read(READ_CHUNK if remaining is None else min(READ_CHUNK, remaining))
            if not chunk:
                if remaining:
                    raise MalformedUpload("the body ended before its Content-Length")
                break
            reader.feed(chunk)
            if remaining is not None:
                remaining -= len(chunk)
            if reader.size > self._max_body:
                return 413, "upload too large to check"
        return None


def _has_body(environ: Environ) -> bool:
    """No Content-Length (or 0) and not chunked: no body (RFC 9112), nothing to check."""
    length = (environ.get("CONTENT_LENGTH") or "").strip()
    return bool(environ.get("wsgi.input_terminated")) or length not in ("", "0")


def _refuse(start_response: StartResponse, status: int, reason: str) -> list[bytes]:
    start_response(
        f"{status} {_REASONS.get(status, 'Service Unavailable')}",
        [("Content-Type", "text/plain; charset=utf-8")],
    )
    return [reason.encode()]


def _closing(answer: Iterable[bytes], reader: UploadReader) -> Iterable[bytes]:
    """The app's answer; the spooled body is closed when the server is done with it."""
    try:
        yield from answer
    finally:
        close = getattr(answer, "close", None)
        if close is not None:
            close()
        reader.close()
