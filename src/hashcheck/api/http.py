"""Small ASGI helpers: reading a bounded body, finding the headers we need, sending a response."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from hashcheck.api.errors import BadRequest, PayloadTooLarge

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class ClientGone(Exception):
    """The client disconnected before the body arrived."""


def auth_and_length(scope: Scope) -> tuple[bytes | None, bytes | None]:
    """The Authorization and Content-Length headers, in one pass over the headers."""
    authorization = length = None
    for key, value in scope["headers"]:
        if key == b"authorization":
            if authorization is not None:
                raise _two_authorizations()
            authorization = bytes(value)
        elif key == b"content-length":
            length = bytes(value)
    return authorization, length


def single_authorization(scope: Scope) -> None:
    """Two Authorization headers are refused on every path: parts of a stack read them
    differently (the first, the last, both joined), so which credential counts is unclear."""
    if sum(1 for key, _ in scope["headers"] if key == b"authorization") > 1:
        raise _two_authorizations()


def _two_authorizations() -> BadRequest:
    return BadRequest("more than one Authorization header")


async def read_body(
    scope: Scope, receive: Receive, limit: int, declared: bytes | None = None
) -> bytes:
    """The whole body, refused as soon as it passes ``limit`` (or declares it will)."""
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body larger than {limit} bytes")
    message = await receive()
    if message["type"] == "http.request" and not message.get("more_body", False):
        # The usual case: the whole (small) body came in one message.
        body: bytes = message.get("body", b"")
        if len(body) > limit:
            raise PayloadTooLarge(f"body larger than {limit} bytes")
        return body
    chunks: list[bytes] = []
    size = 0
    while True:
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body larger than {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
        message = await receive()


async def respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if extra:
        headers.extend(extra)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


TEXT = b"text/plain; charset=utf-8"
JSON = b"application/json"
