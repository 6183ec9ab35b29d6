"""Proof of work for the public submission route, when the operator asks for it
(``HASHCHECK_SUBMISSIONS_PROOF_BITS``): a case is taken only with the answer to a challenge
that took the sender's device some work to find.

The per-address and per-node limits (`submit.limits`) bound what a flood costs the node, but
a flood from many addresses can spend the node's whole budget, and real people then wait.
With proof on, each case costs its sender about 2^bits SHA-256 hashes (18 bits: a fraction
of a second in the page's worker, hours of one core for a flood of 10,000 cases), and the
node one hash to check it.

A challenge is the time it was issued, 16 random bytes and a tag over both under a key
derived from the list key, so every node of a deployment checks any node's challenges
without sharing state; the answer is a counter such that SHA-256(challenge || counter as 8
bytes, big-endian) starts with ``bits`` zero bits. A challenge answers once per node (held
in memory until it expires) and for `LIFETIME_S`. Owns no I/O and no clock of its own.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import struct
from collections import OrderedDict

LIFETIME_S = 300
SKEW_S = 30  # nodes' clocks may differ this much
MAX_BITS = 28
_ISSUED = struct.Struct(">Q")
_TAG_BYTES = 16
_CHALLENGE_BYTES = _ISSUED.size + 16 + _TAG_BYTES
MAX_HELD = 200_000  # challenges answered and not yet expired, held to refuse their reuse


class ProofRefused(Exception):
    """The proof was missing, wrong, expired or used: the message says which."""


class ProofBusy(Exception):
    """More answered challenges than this node holds: try again later."""


class ProofOfWork:
    def __init__(self, key: bytes, bits: int) -> None:
        """``bits``: leading zero bits the answer's hash must have; 0: no proof needed."""
        if not 0 <= bits <= MAX_BITS:
            raise ValueError(f"proof bits must be 0 to {MAX_BITS}")
        self.bits = bits
        self._key = key
        self._used: OrderedDict[bytes, float] = OrderedDict()  # challenge -> when it expires

    def challenge(self, now: float) -> str:
        """A new challenge, in hex."""
        body = _ISSUED.pack(int(now)) + secrets.token_bytes(16)
        return (body + self._tag(body)).hex()

    def check(self, challenge: str | None, counter: int | None, now: float) -> None:
        """Accept the answer, or raise `ProofRefused` (or `ProofBusy`); nothing is needed
        when bits is 0. Marks the challenge used."""
        if self.bits == 0:
            return
        if challenge is None or counter is None:
            raise ProofRefused(
                "this node asks for a proof of work: get a challenge from "
                "GET /v2/submission-challenge and send its answer as `proof`"
            )
        try:
            raw = bytes.fromhex(challenge)
        except ValueError:
            raw = b""
        body, tag = raw[:-_TAG_BYTES], raw[-_TAG_BYTES:]
        if len(raw) != _CHALLENGE_BYTES or not hmac.compare_digest(tag, self._tag(body)):
            raise ProofRefused("the proof's challenge was not issued by this service")
        (issued,) = _ISSUED.unpack_from(body)
        if issued > now + SKEW_S or now - issued > LIFETIME_S:
            raise ProofRefused("the proof's challenge has expired: get a new one")
        if not 0 <= counter < 1 << 64:
            raise ProofRefused("the proof's counter must be 0 to 2^64 - 1")
        digest = hashlib.sha256(raw + counter.to_bytes(8, "big")).digest()
        if int.from_bytes(digest, "big") >> (256 - self.bits):
            raise ProofRefused(f"the proof's hash does not start with {self.bits} zero bits")
        self._forget_expired(now)
        if raw in self._used:
            raise ProofRefused("this challenge was answered already: get a new one")
        if len(self._used) >= MAX_HELD:
            raise ProofBusy("too many submissions just now; try again shortly")
        self._used[raw] = issued + LIFETIME_S + SKEW_S

    def _forget_expired(self, now: float) -> None:
        # Answered in about the order issued: stop at the first one still current (one
        # answered late stays a little longer, refused as expired all the same).
        while self._used and next(iter(self._used.values())) <= now:
            self._used.popitem(last=False)

    def _tag(self, body: bytes) -> bytes:
        return hmac.new(self._key, b"proof of work\0" + body, hashlib.sha256).digest()[:_TAG_BYTES]


def solve(challenge: str, bits: int) -> int:
    """The smallest counter that answers ``challenge`` (for tests and tools; the page has its
    own, `static/proof.js`)."""
    raw = bytes.fromhex(challenge)
    counter = 0
    while int.from_bytes(hashlib.sha256(raw + counter.to_bytes(8, "big")).digest(), "big") >> (
        256 - bits
    ):
        counter += 1
    return counter
