"""Remembers the outcome of checking an `Authorization` header, so requests skip the slow hash.

Keyed by a keyed fingerprint (BLAKE2b under a per-process random key) of the whole header:
the secret itself is never kept. Each outcome is tied to the stored secret hash it was checked
against, so rotating a secret invalidates it at once. No I/O. Not thread-safe: read and
`remember` from one thread (the event loop); `verify_slowly` may run anywhere.
"""

from __future__ import annotations

import hashlib
import secrets

from hashcheck.auth.secrets import verify_secret

MAX_ENTRIES = 20_000


class CredentialCache:
    def __init__(self) -> None:
        self._pepper = secrets.token_bytes(32)
        # fingerprint -> (client id, stored secret hash checked against, outcome)
        self._known: dict[bytes, tuple[str, str, bool]] = {}

    def fingerprint(self, authorization: bytes) -> bytes:
        return hashlib.blake2b(authorization, key=self._pepper, digest_size=16).digest()

    def lookup(self, fingerprint: bytes) -> tuple[str, str, bool] | None:
        """(client id, stored hash, outcome) of an earlier check of the same header."""
        return self._known.get(fingerprint)

    @staticmethod
    def verify_slowly(secret: str, stored_hash: str) -> bool:
        """The slow hash itself; thread-safe, touches no cache state."""
        return verify_secret(secret, stored_hash)

    def remember(self, fingerprint: bytes, client_id: str, stored_hash: str, ok: bool) -> None:
        if len(self._known) >= MAX_ENTRIES:
            # Oldest first: dicts keep insertion order.
            del self._known[next(iter(self._known))]
        self._known[fingerprint] = (client_id, stored_hash, ok)
