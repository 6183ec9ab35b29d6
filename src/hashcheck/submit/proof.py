"""Proof of work for the public submission route, when the operator asks for it
(``HASHCHECK_SUBMISSIONS_PROOF_BITS``): a case is taken only with the answer to a challenge
that took the sender's device some work to find.

The per-address and per-node limits (`submit.limits`) bound what a flood costs the node, but
a flood from many addresses can spend the node's whole budget, and real people then wait.
With proof on, each case costs its sender about 2^bits SHA-256 hashes (18 bits: about 0.1 s
in the page's worker here; a flood of 10,000 cases about 16 minutes of one core at the
page's speed, less with native code), and the node two hashes to check it; a request
without a good answer takes nothing from the node's budget.

A challenge is the time it was issued, 16 random bytes and a tag over both under a key
derived from the list key, so every node of a deployment checks any node's challenges
without sharing state. The answer is a counter such that
SHA-256(challenge || SHA-256(the case's nonce) || counter as 8 bytes, big-endian) starts with
``bits`` zero bits: bound to the nonce, which the store takes once, one answer makes at most
one case in the whole deployment. A challenge answers once per worker process (held in
memory until it expires, so that a replay is refused before it costs anything) and for
`LIFETIME_S`. Owns no I/O and no clock of its own.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import struct
from collections import OrderedDict

LIFETIME_S = 300
SKEW_S = 30  # nodes' clocks may differ this much
MAX_BITS = 24  # 2^24 hashes: seconds in a browser, well inside the lifetime on a slow phone
_HEX = re.compile(r"[0-9a-f]{80}")
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

    def check(self, challenge: str | None, counter: int | None, nonce: str, now: float) -> None:
        """Accept the answer for the case of ``nonce``, or raise `ProofRefused` (or
        `ProofBusy`); nothing is needed when bits is 0. Marks the challenge used."""
        if self.bits == 0:
            return
        if challenge is None or counter is None:
            raise ProofRefused(
                "this node asks for a proof of work: get a challenge from "
                "GET /v2/submission-challenge and send its answer as `proof`"
            )
        raw = bytes.fromhex(challenge) if _HEX.fullmatch(challenge) else b""
        body, tag = raw[:-_TAG_BYTES], raw[-_TAG_BYTES:]
        if len(raw) != _CHALLENGE_BYTES or not hmac.compare_digest(tag, self._tag(body)):
            raise ProofRefused("the proof's challenge was not issued by this service")
        (issued,) = _ISSUED.unpack_from(body)
        if issued > now + SKEW_S or now - issued > LIFETIME_S:
            raise ProofRefused("the proof's challenge has expired: get a new one")
        if not 0 <= counter < 1 << 64:
            raise ProofRefused("the proof's counter must be 0 to 2^64 - 1")
        if not _answers(raw, nonce, counter, self.bits):
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


def _answers(raw: bytes, nonce: str, counter: int, bits: int) -> bool:
    message = raw + hashlib.sha256(nonce.encode()).digest() + counter.to_bytes(8, "big")
    return not int.from_bytes(hashlib.sha256(message).digest(), "big") >> (256 - bits)


def solve(challenge: str, bits: int, nonce: str) -> int:
    """The smallest counter that answers ``challenge`` for ``nonce`` (for tests and tools;
    the page has its own, `static/proof.js`)."""
    raw = bytes.fromhex(challenge)
    counter = 0
    while not _answers(raw, nonce, counter, bits):
        counter += 1
    return counter
