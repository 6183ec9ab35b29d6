"""Flood limits for the public submission route: a token bucket per source address and one
for the whole node (`api.budgets.Bucket`), in memory only.

An address is held only as a keyed fingerprint (a random key per process) and never written
anywhere; at most `MAX_SOURCES` are kept, the least recently seen forgotten first (which can
only let that source in sooner). No clock of its own.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from hashcheck.api.budgets import Bucket

MAX_SOURCES = 100_000
WINDOW_S = 3600.0
NODE = "node"


class FloodLimit:
    def __init__(self, per_source_per_hour: float, per_second: float) -> None:
        """0 turns either limit off. A source may send its hour's worth at once; the node
        takes a second's worth at once."""
        self._key = secrets.token_bytes(32)
        self._sources = Bucket(
            per_source_per_hour / WINDOW_S, per_source_per_hour, most_keys=MAX_SOURCES
        )
        self._node = Bucket(per_second, per_second)

    def wait(self, source: str, now: float) -> float:
        """Take one submission from ``source``'s and the node's budgets; 0 if it may go now,
        else the seconds until it could (and nothing is taken)."""
        fingerprint = hmac.new(self._key, source.encode(), hashlib.sha256).hexdigest()[:32]
        waits = self._sources.wait(fingerprint, 1, now)
        if waits > 0:
            return waits
        waits = self._node.wait(NODE, 1, now)
        if waits > 0:
            self._sources.refund(fingerprint, 1)  # it was not taken
        return waits
