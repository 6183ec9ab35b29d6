"""uvicorn's httptools HTTP protocol, with each response leaving the node in one write.

uvicorn writes a response's head when the app sends `http.response.start` and its body with
the next message: two `write` calls, two TCP segments. A node that dies between them (SIGKILL,
OOM, power) leaves the balancer holding a head without a body. nginx passes a head on to the
client as soon as it has one, and from then on it cannot try another node: it retries a request
only while nothing has gone to the client. The client gets a cut-off answer
(`IncompleteRead(0 bytes read, 5 more expected)` for a legacy `false`) although two healthy
nodes were there to answer it.

Sending everything the app writes in one turn of the event loop as one write closes that
window for every response that fits the socket buffer (all legacy answers, and v2 answers of
up to a few thousand hashes): a node dies either before the write (nginx received nothing and
retries elsewhere) or after it (the whole answer is in the kernel and reaches nginx).

Owns only that batching of writes on each connection; parses no HTTP and knows nothing of the
app. `hashcheck serve` runs uvicorn with this protocol.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class _JoinedWrites(asyncio.Transport):
    """A connection's transport whose writes within one event-loop turn go out as one."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._pending:
            # Runs after the task that is writing now yields: an app sends its response's
            # head and body without yielding in between, so both are pending by then.
            self._loop.call_soon(self._flush)
        self._pending.append(bytes(data))

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def _flush(self) -> None:
        if not self._pending:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending.clear()
        self._transport.abort()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._pending))

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._transport.get_write_buffer_limits()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._transport.set_write_buffer_limits(high, low)

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._transport.get_protocol()


class OneWriteHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol on a transport that joins each turn's writes."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_JoinedWrites(transport, self.loop))
