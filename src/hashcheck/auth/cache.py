"""Remembers which (client id, secret) pairs were verified, so requests skip the slow hash.

Entries are tied to the stored secret hash: rotating a secret invalidates them at once.
Secrets are kept only as keyed fingerprints under a per-process random key.
No I/O. Not thread-safe: read and `remember` from one thread (the event loop).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import OrderedDict

from hashcheck.auth.secrets import verify_secret

MAX_ENTRIES = 10_000
MAX_FAILURES = 10_000


class CredentialCache:
    def __init__(self) -> None:
        self._pepper = secrets.token_bytes(32)
        self._verified: dict[str, tuple[str, bytes]] = {}
        self._failed: OrderedDict[bytes, str] = OrderedDict()

    def _fingerprint(self, client_id: str, secret: str) -> bytes:
        message = client_id.encode() + b"\x00" + secret.encode()
        return hmac.new(self._pepper, message, hashlib.sha256).digest()

    def check_cached(self, client_id: str, secret: str, stored_hash: str) -> bool | None:
        """True/False when the answer is known without the slow hash, else None."""
        fingerprint = self._fingerprint(client_id, secret)
        known = self._verified.get(client_id)
        if (
            known is not None
            and known[0] == stored_hash
            and hmac.compare_digest(known[1], fingerprint)
        ):
            return True
        if self._failed.get(fingerprint) == stored_hash:
            return False
        return None

    @staticmethod
    def verify_slowly(secret: str, stored_hash: str) -> bool:
        """The slow hash itself; thread-safe, touches no cache state."""
        return verify_secret(secret, stored_hash)

    def remember(self, client_id: str, secret: str, stored_hash: str, ok: bool) -> None:
        """Record the outcome of `verify_slowly` (call from the thread that reads the cache)."""
        fingerprint = self._fingerprint(client_id, secret)
        if ok:
            if len(self._verified) >= MAX_ENTRIES:
                self._verified.pop(next(iter(self._verified)))
            self._verified[client_id] = (stored_hash, fingerprint)
            return
        self._failed[fingerprint] = stored_hash
        while len(self._failed) > MAX_FAILURES:
            self._failed.popitem(last=False)
