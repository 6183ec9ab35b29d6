"""Match ids: short tokens a client can quote about a match, and the operator can decode.

A match id names the list item (one file's hashes), the day and the client, and carries a MAC so that nobody can
forge one. It never contains or derives from the submitted hash. Pure; no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from hashcheck.hashes.keyed import ListKey

PREFIX = "m1_"
_MAC_BYTES = 8


@dataclass(frozen=True)
class MatchRef:
    item_id: int
    day_number: int  # days since 1970-01-01, UTC


class MatchIds:
    def __init__(self, key: ListKey) -> None:
        self._key = hmac.new(key.secret, b"hashcheck match ids v1", hashlib.sha256).digest()

    def _mac(self, body: bytes, client_id: str) -> bytes:
        return hmac.new(self._key, body + client_id.encode(), hashlib.sha256).digest()[:_MAC_BYTES]

    def issue(self, item_id: int, day_number: int, client_id: str) -> str:
        body = item_id.to_bytes(8, "big") + day_number.to_bytes(3, "big")
        token = base64.b32encode(body + self._mac(body, client_id)).decode("ascii").rstrip("=")
        return PREFIX + token.lower()

    def read(self, match_id: str, client_id: str) -> MatchRef | None:
        """The item and day of a match id issued to ``client_id``; None if not genuine."""
        if not match_id.startswith(PREFIX):
            return None
        token = match_id[len(PREFIX) :].upper()
        try:
            raw = base64.b32decode(token + "=" * (-len(token) % 8))
        except ValueError:
            return None
        if len(raw) != 11 + _MAC_BYTES:
            return None
        body, mac = raw[:11], raw[11:]
        if not hmac.compare_digest(mac, self._mac(body, client_id)):
            return None
        return MatchRef(int.from_bytes(body[:8], "big"), int.from_bytes(body[8:], "big"))
