"""Upload guards for Python web apps: check an upload's hashes before accepting it.

`UploadGuard.decide(data)` for any framework; `GuardMiddleware` for ASGI apps (it checks the
raw body of the requests it is told to guard). A match rejects the upload; when the service
cannot answer, the guard fails closed (rejects, "try again later") unless configured to fail
open. Never sends the file, only its hashes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from hashcheck.client.aio import AsyncHashcheckClient
from hashcheck.client.results import Outcome, Result

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class Decision:
    allowed: bool
    status: int  # what to answer when not allowed: 422 (match) or 503 (could not check)
    reason: str
    results: tuple[Result, ...] = ()


def _items(data: bytes) -> list[tuple[str, str]]:
    return [
        ("md5", hashlib.md5(data, usedforsecurity=False).hexdigest()),
        ("sha1", hashlib.sha1(data, usedforsecurity=False).hexdigest()),
        ("sha256", hashlib.sha256(data).hexdigest()),
    ]


class UploadGuard:
    def __init__(self, client: AsyncHashcheckClient, *, fail_closed: bool = True) -> None:
        self._client = client
        self._fail_closed = fail_closed

    async def decide(self, data: bytes) -> Decision:
        results = tuple(await self._client.check(_items(data)))
        if any(r.outcome is Outcome.MATCH for r in results):
            return Decision(False, 422, "this file is not accepted", results)
        if all(r.outcome is Outcome.NO_MATCH for r in results):
            return Decision(True, 200, "checked: no match", results)
        reason = next(r.reason or "" for r in results if r.outcome is Outcome.INDETERMINATE)
        if self._fail_closed:
            return Decision(
                False, 503, f"upload could not be checked, try again ({reason})", results
            )
        return Decision(True, 200, f"not checked, accepted (fail open): {reason}", results)


class GuardMiddleware:
    """ASGI middleware: requests for which ``guarded(scope)`` is true have their body checked
    before the app sees it (up to ``max_body`` bytes; larger uploads are refused)."""

    def __init__(
        self,
        app: App,
        guard: UploadGuard,
        guarded: Callable[[Scope], bool],
        *,
        max_body: int = 256 << 20,
    ) -> None:
        self._app = app
        self._guard = guard
        self._guarded = guarded
        self._max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._guarded(scope):
            await self._app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_body:
                await _answer(send, 413, b"upload too large to check")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        decision = await self._guard.decide(body)
        if not decision.allowed:
            await _answer(send, decision.status, decision.reason.encode())
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self._app(scope, replay, send)


async def _answer(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain; charset=utf-8")],
        }
    )
    await send({"type": "http.response.body", "body": body})
