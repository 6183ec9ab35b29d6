"""Sealing perceptual hashes for storage: AES-256-GCM under a key derived from the list key.

Exact hashes are stored only as keyed digests, but matching PDQ hashes by distance needs the
hash itself; so it is stored encrypted (AEAD) and opened only in a node's memory. The key is
derived from the list key (kept outside the database); each sealed value is bound to its
entry's keyed digest as associated data, so a value cannot be moved to another entry.
Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hashcheck.hashes.keyed import ListKey

NONCE_BYTES = 12
_PURPOSE = b"hashcheck pdq seal v1"


class SealBroken(ValueError):
    """A sealed value that does not open: wrong key, or altered in the database."""


class Sealer:
    def __init__(self, key: ListKey) -> None:
        self._aead = AESGCM(hmac.new(key.secret, _PURPOSE, hashlib.sha256).digest())

    def seal(self, bound_to: bytes, value: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, value, bound_to)

    def open(self, bound_to: bytes, sealed: bytes) -> bytes:
        try:
            return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], bound_to)
        except InvalidTag:
            raise SealBroken("a sealed PDQ hash does not open with this key") from None
