"""The list key and keyed digests: HMAC-SHA256 over algorithm tag and raw digest, truncated.

Pure: the key arrives as bytes; reading and writing key files is done in `keyfile`.
Only keyed digests (never raw list hashes) go to storage or into the index.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from hashcheck.hashes.algorithms import Algorithm

KEY_BYTES = 32
DIGEST_BYTES = 16  # 128 bits: collision-free at any list size we will see, half the memory
HMAC_BYTES = 32  # what `Digester.joined` gives per hash: the digest, then the unused tail
_SELF_TEST_MESSAGE = b"hashcheck key self-test v1"
# Domain separation for PDQ entries, beside the exact algorithms' tags ("md5\0", ...).
PDQ_TAG = b"pdq\x00"
VPDQ_TAG = b"vpdq\x00"


@dataclass(frozen=True)
class ListKey:
    """A 256-bit secret with an id. The id names the key; it reveals nothing about it."""

    key_id: str
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.secret) != KEY_BYTES:
            raise ValueError(f"list key must be {KEY_BYTES} bytes, got {len(self.secret)}")

    def self_test_value(self) -> str:
        """A value stored beside the data so that start-up can tell the right key from a wrong one."""
        return hmac.new(self.secret, _SELF_TEST_MESSAGE, hashlib.sha256).hexdigest()


class Digester:
    """Computes keyed digests fast: the HMAC inner and outer states are computed once.

    Equal to ``hmac.digest(secret, tag + raw, "sha256")[:16]``, about twice as fast as it,
    because the per-call key set-up of HMAC is done once here.
    """

    def __init__(self, key: ListKey) -> None:
        padded = key.secret + bytes(64 - KEY_BYTES)
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))
        self.key_id = key.key_id

    def digest(self, algorithm: Algorithm, raw: bytes) -> bytes:
        return self.for_algorithm(algorithm)(raw)

    def digest_many(self, algorithm: Algorithm, raws: Iterable[bytes]) -> list[bytes]:
        """Keyed digests of many raw hashes of one algorithm, in order."""
        return list(map(self.for_algorithm(algorithm), raws))

    def for_algorithm(self, algorithm: Algorithm) -> Callable[[bytes], bytes]:
        """A one-argument digest function bound to ``algorithm``, for tight loops."""
        return self.for_tag(algorithm.tag)

    def joined(self, algorithm: Algorithm, raws: Iterable[bytes]) -> bytes:
        """The full 32-byte HMACs of many raw hashes, back to back; the keyed digest is the
        first 16 bytes of each. For batch lookups and large imports, where cutting each
        digest costs more than carrying its tail (or cutting them all at once in numpy)."""
        return b"".join(map(self._full(algorithm.tag), raws))

    def _full(self, tag: bytes) -> Callable[[bytes], bytes]:
        # The tag is hashed into the inner state once, not once per hash.
        tagged = self._inner.copy()
        tagged.update(tag)
        inner_copy = tagged.copy
        outer_copy = self._outer.copy

        def full(raw: bytes) -> bytes:
            inner = inner_copy()
            inner.update(raw)
            outer = outer_copy()
            outer.update(inner.digest())
            return outer.digest()

        return full

    def pdq(self, bits: bytes) -> bytes:
        """The keyed digest of a PDQ hash: how a list entry holding it is named and deduped."""
        return self.for_tag(PDQ_TAG)(bits)

    def vpdq(self, frames: bytes) -> bytes:
        """The keyed digest of a video's prepared frame set (`pdq.video.usable_frames`)."""
        return self.for_tag(VPDQ_TAG)(frames)

    def for_tag(self, tag: bytes) -> Callable[[bytes], bytes]:
        full = self._full(tag)

        def one(raw: bytes) -> bytes:
            return full(raw)[:DIGEST_BYTES]

        return one


def derived_key(key: ListKey, purpose: bytes) -> bytes:
    """A key of its own for one purpose (console sessions, say), derived from the list key:
    every node has it without storing anything more, and it reveals nothing of the list key."""
    return hmac.new(key.secret, b"hashcheck derived key\0" + purpose, hashlib.sha256).digest()
