"""The HTTP protocol a node serves with: uvicorn's httptools protocol with each response in one
write (`onewrite`), and what a node refuses before any request reaches the app.

- **No connection upgrades.** A request with an `Upgrade` header (WebSocket, `h2c`) is
  answered 400 and its connection closed. httptools stops parsing at an upgrade; uvicorn then
  reads the bytes that follow — the request's own body among them — as a new request, so a
  check hidden in a body could be answered as if it had been sent on its own (request
  smuggling past a proxy that saw one request). The service never upgrades, and nginx in
  front of it does not forward `Upgrade` (`deploy/nginx.conf`).

Parses no HTTP itself and knows nothing of the app.
"""

from __future__ import annotations

from hashcheck.api.onewrite import OneWriteHttpToolsProtocol

UPGRADE_REFUSED = "this service does not upgrade connections: send the request without Upgrade"


class EdgeHttpProtocol(OneWriteHttpToolsProtocol):
    _refused = False

    def data_received(self, data: bytes) -> None:
        if not self._refused:  # after a refusal nothing more on this connection is read
            super().data_received(data)

    def on_headers_complete(self) -> None:
        if any(name == b"upgrade" for name, _ in self.headers):
            self._refused = True
            self.send_400_response(UPGRADE_REFUSED)  # closes the connection
            return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self._refused:
            super().on_message_complete()

    def _should_upgrade(self) -> bool:
        return False

    def _unsupported_upgrade_warning(self) -> None:
        """Answered already (400), not a server problem to warn about."""
