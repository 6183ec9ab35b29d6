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
_PDQ_BYTES = 32
# The plaintext of an image entry is its one PDQ hash; a video entry's is this byte and then
# its frame hashes, so that the two never read alike (a video may have a single frame).
_VIDEO_FORM = b"\x01"


class SealBroken(ValueError):
    """A sealed value that does not open: wrong key, or altered in the database."""


class Sealer:
    def __init__(self, key: ListKey) -> None:
        self._aead = AESGCM(hmac.new(key.secret, _PURPOSE, hashlib.sha256).digest())

    def seal(self, bound_to: bytes, value: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, value, bound_to)

    def seal_video(self, bound_to: bytes, frames: bytes) -> bytes:
        """Seal a video entry's frame hashes (packed 32-byte PDQ hashes)."""
        if not frames or len(frames) % _PDQ_BYTES:
            raise ValueError("frame hashes must be whole 32-byte PDQ hashes")
        return self.seal(bound_to, _VIDEO_FORM + frames)

    def open_perceptual(self, bound_to: bytes, sealed: bytes) -> tuple[bytes, bool]:
        """(hashes, is a video) of a sealed perceptual entry."""
        plain = self.open(bound_to, sealed)
        if len(plain) == _PDQ_BYTES:
            return plain, False
        if plain[:1] == _VIDEO_FORM and len(plain) > 1 and (len(plain) - 1) % _PDQ_BYTES == 0:
            return plain[1:], True
        raise SealBroken("a sealed perceptual value of unknown form")

    def open(self, bound_to: bytes, sealed: bytes) -> bytes:
        try:
            return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], bound_to)
        except InvalidTag:
            raise SealBroken("a sealed PDQ hash does not open with this key") from None
