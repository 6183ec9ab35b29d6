"""Upload guards for Python web apps: check an upload's hashes before the app accepts it.

`GuardMiddleware` (ASGI: Starlette, FastAPI, ...) and `hashcheck.client.wsgiguard` (WSGI:
Flask, Django, ...) read the body of the requests they are told to guard as it streams in
(spooled to disk, memory flat: `uploads.UploadReader`), hash every part of a
`multipart/form-data` body — or the raw body — and check all of them in one request. A match
rejects the upload (422); a body that is not the multipart it claims is refused (400); when
the service cannot answer, the guard fails closed (503, "try again") unless configured to fail
open. `UploadGuard.decide(data)` checks bytes already in hand. Never sends the file, only its
hashes. A rejected upload's matches are reported to the service as `blocked_at_upload` (its
takedown timing), after the answer and never delaying it, unless ``report_actions=False``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

from hashcheck.client.aio import AsyncHashcheckClient
from hashcheck.client.multipart import MalformedUpload
from hashcheck.client.protocol import CredentialsRefused
from hashcheck.client.queries import Query
from hashcheck.client.results import Outcome, Result, match_ids_of
from hashcheck.client.uploads import Part, UploadReader
from hashcheck.client.verdicts import verdict

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]
REPLAY_CHUNK = 1 << 20
log = logging.getLogger("hashcheck.guard")


@dataclass(frozen=True)
class Decision:
    allowed: bool
    status: int  # what to answer when not allowed: 422 (match), 400 (malformed), 503
    reason: str
    results: tuple[Result, ...] = ()


def queries_of(parts: Sequence[Part]) -> list[Query]:
    """Every hash of every part, each once (many empty fields share one)."""
    found: dict[Query, None] = {}
    for part in parts:
        if part.hashes is not None:
            found.update(dict.fromkeys(part.hashes.queries()))
    return list(found)


def decision(
    parts: Sequence[Part], asked: list[Query], results: Sequence[Result], *, fail_closed: bool
) -> Decision:
    """Reject on any part's match; accept only when every part was checked (or fail open)."""
    answer = dict(zip(asked, results, strict=True))
    verdicts = [
        verdict([answer[q] for q in part.hashes.queries()], part.hashes)
        for part in parts
        if part.hashes is not None
    ]
    kept = tuple(results)
    if any(v.outcome is Outcome.MATCH for v in verdicts):
        return Decision(False, 422, "this file is not accepted", kept)
    unchecked = [v for v in verdicts if v.outcome is not Outcome.NO_MATCH]
    if not unchecked:
        return Decision(True, 200, "checked: no match", kept)
    reason = unchecked[0].reason or "not checked"
    # The reason (a connection error, the service's answer) is for the hoster's log, not for
    # the person uploading.
    log.warning("hashcheck upload guard: an upload could not be checked: %s", reason)
    if fail_closed:
        return Decision(False, 503, "upload could not be checked, try again later", kept)
    return Decision(True, 200, f"not checked, accepted (fail open): {reason}", kept)


def blocked_match_ids(decided: Decision) -> tuple[str, ...]:
    """The match ids of an upload the decision rejects for a match (none otherwise)."""
    if decided.allowed or decided.status != 422:
        return ()
    return match_ids_of(m for r in decided.results if r.matched for m in r.matches)


def refused(exc: CredentialsRefused, *, fail_closed: bool) -> Decision:
    # Every upload is affected until the credentials are fixed: said loudly in the log.
    log.error("hashcheck upload guard: %s", exc)
    if fail_closed:
        return Decision(False, 503, "upload could not be checked, try again later")
    return Decision(True, 200, "not checked, accepted (fail open): credentials refused")


class UploadGuard:
    def __init__(
        self,
        client: AsyncHashcheckClient,
        *,
        fail_closed: bool = True,
        report_actions: bool = True,
    ) -> None:
        self._client = client
        self.fail_closed = fail_closed
        self.report_actions = report_actions
        self._reporting: set[asyncio.Task[None]] = set()  # held until done: not collected

    async def decide(self, data: bytes, content_type: str | None = None) -> Decision:
        """The decision on a body already in memory (a raw body, or a multipart one)."""
        reader = UploadReader(content_type)
        try:
            reader.feed(data)
            parts = await asyncio.to_thread(reader.finish)
        except MalformedUpload as exc:
            return Decision(False, 400, str(exc))
        finally:
            reader.close()
        return await self.decide_parts(parts)

    async def decide_parts(self, parts: Sequence[Part]) -> Decision:
        asked = queries_of(parts)
        try:
            results = await self._client.check(asked)
        except CredentialsRefused as exc:
            return refused(exc, fail_closed=self.fail_closed)
        decided = decision(parts, asked, results, fail_closed=self.fail_closed)
        blocked = blocked_match_ids(decided)
        if blocked and self.report_actions:
            task = asyncio.get_running_loop().create_task(self._report(blocked))
            self._reporting.add(task)
            task.add_done_callback(self._reporting.discard)
        return decided

    async def _report(self, match_ids: Sequence[str]) -> None:
        for match_id in match_ids:
            try:
                await self._client.report_action(match_id, "blocked_at_upload")
            except Exception as exc:  # the upload was refused all the same; the log says why
                log.warning("hashcheck upload guard: a blocked upload was not reported: %s", exc)

    async def reported(self) -> None:
        """Wait for the reports of blocked uploads still being sent (a graceful stop)."""
        while self._reporting:
            await asyncio.gather(*self._reporting, return_exceptions=True)


class GuardMiddleware:
    """ASGI middleware: every request with a body — or those for which ``guarded(scope)`` is
    true — has its body checked before the app sees it (up to ``max_body`` bytes; larger
    uploads are refused, 413). Guard every method: Starlette and Werkzeug read a form sent
    with GET or OPTIONS as readily as one sent with POST."""

    def __init__(
        self,
        app: App,
        guard: UploadGuard,
        guarded: Callable[[Scope], bool] = lambda scope: True,
        *,
        max_body: int = 4 << 30,
    ) -> None:
        self._app = app
        self._guard = guard
        self._guarded = guarded
        self._max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._guarded(scope) or not _has_body(scope):
            await self._app(scope, receive, send)
            return
        types = [v for k, v in scope.get("headers", []) if k.lower() == b"content-type"]
        if len(types) > 1:  # the app may read the other one
            await _answer(send, 400, b"more than one Content-Type header")
            return
        try:
            reader = UploadReader(bytes(types[0]).decode("latin-1") if types else None)
        except MalformedUpload as exc:
            await _answer(send, 400, str(exc).encode())
            return
        try:  # the spooled body is closed whatever happens: disconnect, refusal, the app
            try:
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return
                    reader.feed(message.get("body", b""))
                    if reader.size > self._max_body:
                        await _answer(send, 413, b"upload too large to check")
                        return
                    if not message.get("more_body", False):
                        break
                parts = await asyncio.to_thread(reader.finish)  # PDQ decoding: off the loop
            except MalformedUpload as exc:
                await _answer(send, 400, str(exc).encode())
                return
            decided = await self._guard.decide_parts(parts)
            if not decided.allowed:
                await _answer(send, decided.status, decided.reason.encode())
                return
            await self._app(scope, _replay(reader, receive), send)
        finally:
            reader.close()


def _has_body(scope: Scope) -> bool:
    """A request without Content-Length (or with 0) and without Transfer-Encoding has no body
    (RFC 9112): nothing to check, and no check request for it."""
    for key, value in scope.get("headers", []):
        name = key.lower()
        if name == b"transfer-encoding" or (
            name == b"content-length" and bytes(value).strip() != b"0"
        ):
            return True
    return False


def _replay(reader: UploadReader, receive: Receive) -> Receive:
    """The app's `receive`: the spooled body again, in chunks, then what the client sends."""
    body = reader.body()
    done = False

    async def replay() -> Message:
        nonlocal done
        if done:
            return await receive()
        chunk = body.read(REPLAY_CHUNK)
        more = len(chunk) == REPLAY_CHUNK
        done = not more
        return {"type": "http.request", "body": chunk, "more_body": more}

    return replay


async def _answer(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain; charset=utf-8")],
        }
    )
    await send({"type": "http.response.body", "body": body})
