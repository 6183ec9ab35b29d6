"""Flood limits for the public submission route: a token bucket per source address and one
for the whole node, in memory only.

An address is held only as a keyed fingerprint (a random key per process), only as long as
its bucket is not full again, and never written anywhere. Bounded in size: past `MAX_SOURCES`
the oldest bucket goes (which can only let that source in sooner). No clock of its own.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

MAX_SOURCES = 100_000
WINDOW_S = 3600.0


@dataclass
class _Bucket:
    tokens: float
    at: float


class FloodLimit:
    def __init__(self, per_source_per_hour: float, per_second: float) -> None:
        """0 turns either limit off. A source may send its hour's worth at once."""
        self._per_source = per_source_per_hour
        self._per_second = per_second
        self._key = secrets.token_bytes(32)
        self._sources: dict[bytes, _Bucket] = {}
        self._node = _Bucket(per_second, 0.0)

    def wait(self, source: str, now: float) -> float:
        """Take one submission from ``source``'s and the node's budgets; 0 if it may go now,
        else the seconds until it could (and nothing is taken)."""
        node_wait = self._node_wait(now)
        if node_wait > 0:
            return node_wait
        if self._per_source > 0:
            fingerprint = hmac.new(self._key, source.encode(), hashlib.sha256).digest()[:16]
            bucket = self._sources.pop(fingerprint, None) or _Bucket(self._per_source, now)
            bucket.tokens = min(
                self._per_source,
                bucket.tokens + (now - bucket.at) * self._per_source / WINDOW_S,
            )
            bucket.at = now
            if bucket.tokens < 1:
                self._sources[fingerprint] = bucket
                return (1 - bucket.tokens) * WINDOW_S / self._per_source
            bucket.tokens -= 1
            self._sources[fingerprint] = bucket  # re-inserted: the newest last
            while len(self._sources) > MAX_SOURCES:
                del self._sources[next(iter(self._sources))]
        if self._per_second > 0:
            self._node.tokens -= 1
        return 0.0

    def _node_wait(self, now: float) -> float:
        if self._per_second <= 0:
            return 0.0
        node = self._node
        node.tokens = min(self._per_second, node.tokens + (now - node.at) * self._per_second)
        node.at = now
        return 0.0 if node.tokens >= 1 else (1 - node.tokens) / self._per_second

    @property
    def sources_held(self) -> int:
        return len(self._sources)
