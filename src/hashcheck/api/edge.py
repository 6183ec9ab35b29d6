"""The HTTP protocol a node serves with: uvicorn's httptools protocol with each response in one
write (`onewrite`), and what a node refuses before any request reaches the app.

- **No connection upgrades.** A request with an `Upgrade` header (WebSocket, `h2c`) is
  answered 400 and its connection closed. httptools stops parsing at an upgrade; uvicorn then
  reads the bytes that follow — the request's own body among them — as a new request, so a
  check hidden in a body could be answered as if it had been sent on its own (request
  smuggling past a proxy that saw one request). The service never upgrades, and nginx in
  front of it does not forward `Upgrade` (`deploy/nginx.conf`).
- **Bounded heads.** A request line over `MAX_LINE` bytes is 414; more than `MAX_HEADERS`
  header lines, or a head (request line and headers) over `MAX_HEAD` bytes, 431 — counted as
  the bytes arrive, before httptools has buffered a header line of any length.
- **Deadlines.** A connection whose request head is not complete within `HEAD_SECONDS` of its
  first byte (or of the connection, for one that sends nothing) is answered 408 and closed
  (slowloris, silent connections); so is a body that sends nothing for `BODY_IDLE_SECONDS`
  while the node is waiting for it. Idle keep-alive connections are uvicorn's
  `timeout_keep_alive`; the cap on connections per worker is its `limit_concurrency` (503).
- **Lingering close.** A refusal is written, the sending side shut, and what the client is
  still sending read and dropped for at most `LINGER_SECONDS` and `LINGER_BYTES` before the
  connection closes. Closing a socket with unread bytes sends a reset, which can destroy the
  refusal before the client has read it: the client would see a broken connection, not 431.

Parses no HTTP itself and knows nothing of the app.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hashcheck.api.onewrite import OneWriteHttpToolsProtocol

UPGRADE_REFUSED = "this service does not upgrade connections: send the request without Upgrade"
MAX_LINE = 8 * 1024
MAX_HEADERS = 100
MAX_HEAD = 24 * 1024  # the request line and 16 KiB of headers
HEAD_SECONDS = 10.0
BODY_IDLE_SECONDS = 30.0
LINGER_SECONDS = 5.0
LINGER_BYTES = 16 * 1024 * 1024
_REASONS = {400: "Bad Request", 408: "Request Timeout", 414: "URI Too Long"}
_REASONS[431] = "Request Header Fields Too Large"


class EdgeHttpProtocol(OneWriteHttpToolsProtocol):
    _refused = False
    _in_head = True
    _head_bytes = 0
    _header_count = 0
    _parsed_a_part = False  # a head or a message was completed by the bytes being parsed
    _timer: asyncio.TimerHandle | None = None
    _lingered = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(HEAD_SECONDS)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            # After a refusal what still arrives is dropped unparsed, up to a bound.
            self._lingered += len(data)
            if self._lingered > LINGER_BYTES:
                self.transport.close()
            return
        self._parsed_a_part = False
        super().data_received(data)
        if self._refused:
            return
        if self._in_head and not self._parsed_a_part:
            # No head or message was completed by these bytes: all of them were head. (A chunk
            # that completes one may carry a body or the next head's start: not counted.)
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD:
                self._refuse(431, "the request head is too large")
        elif self._timer is not None:
            self._arm(BODY_IDLE_SECONDS)  # the body is coming: the idle clock starts again

    # -- parser callbacks -------------------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._header_count = True, 0
        self._arm(HEAD_SECONDS)

    def on_url(self, url: bytes) -> None:
        if self._refused:
            return
        super().on_url(url)
        if len(self.url) > MAX_LINE:
            self._refuse(414, "the request line is too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._refused:
            return
        self._header_count += 1
        if self._header_count > MAX_HEADERS:
            self._refuse(431, "too many header lines")
            return
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._refused:
            return
        self._in_head, self._head_bytes, self._parsed_a_part = False, 0, True
        if any(name == b"upgrade" for name, _ in self.headers):
            self._refuse(400, UPGRADE_REFUSED)
            return
        self._arm(BODY_IDLE_SECONDS)
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        self._disarm()
        # What comes next is the next request's head.
        self._in_head, self._head_bytes, self._parsed_a_part = True, 0, True
        super().on_message_complete()

    def _should_upgrade(self) -> bool:
        return False

    def _unsupported_upgrade_warning(self) -> None:
        """Answered already (400), not a server problem to warn about."""

    # -- deadlines and refusals ---------------------------------------------------------------
    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, self._deadline)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _deadline(self) -> None:
        self._timer = None
        if self._refused or self.transport.is_closing():
            return
        if not self._in_head and self.flow is not None and self.flow.read_paused:
            self._arm(BODY_IDLE_SECONDS)  # the app is not reading yet: not the client's delay
            return
        cycle: Any = self.cycle
        if not self._in_head and cycle is not None and cycle.response_started:
            self.transport.close()  # answered already; the rest of the body never came
            return
        self._refuse(408, "the request did not arrive in time")

    def _refuse(self, status: int, reason: str) -> None:
        self._refused = True
        self._disarm()
        body = reason.encode()
        self.transport.write(
            f"HTTP/1.1 {status} {_REASONS[status]}\r\ncontent-type: text/plain; charset=utf-8"
            f"\r\ncontent-length: {len(body)}\r\nconnection: close\r\n\r\n".encode()
            + body
        )
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        self.transport.write_eof()
        cycle: Any = self.cycle
        if cycle is not None:  # an app waiting for the body hears now that none will come
            cycle.disconnected = True
            cycle.message_event.set()
        self.transport.resume_reading()  # a paused body must drain too, or the reset comes
        self._timer = self.loop.call_later(LINGER_SECONDS, self.transport.close)
