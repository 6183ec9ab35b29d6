"""The proof of work a node may ask of each new case (`submit.proof`): what it accepts and
what it refuses, on any node of the deployment, with no shared state; and over HTTP."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hashcheck.api.app import SubmissionLimits
from hashcheck.submit.proof import LIFETIME_S, SKEW_S, ProofOfWork, ProofRefused, solve
from tests.http_client import call
from tests.support import Deployment, ServerThread, make_deployment, serve

KEY = os.urandom(32)
NOW = 1_800_000_000.0
BITS = 10


def test_an_answer_found_with_the_work_is_taken_once_by_each_node() -> None:
    first, second = ProofOfWork(KEY, BITS), ProofOfWork(KEY, BITS)
    challenge = first.challenge(NOW)
    counter = solve(challenge, BITS)
    digest = hashlib.sha256(bytes.fromhex(challenge) + counter.to_bytes(8, "big")).digest()
    assert int.from_bytes(digest, "big") >> (256 - BITS) == 0
    first.check(challenge, counter, NOW + 1)
    with pytest.raises(ProofRefused, match="answered already"):
        first.check(challenge, counter, NOW + 2)
    second.check(challenge, counter, NOW + 2)  # another node of the deployment: no shared state


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ("counter", "zero bits"),
        ("challenge", "not issued by this service"),
        ("key", "not issued by this service"),
        ("short", "not issued by this service"),
        ("late", "expired"),
        ("early", "expired"),
        ("missing", "asks for a proof of work"),
        ("huge", "counter"),
    ],
)
def test_a_wrong_answer_is_refused_with_its_reason(change: str, why: str) -> None:
    proof = ProofOfWork(KEY, BITS)
    challenge = proof.challenge(NOW)
    counter = solve(challenge, BITS)
    at = NOW
    given: tuple[str | None, int | None] = (challenge, counter)
    if change == "counter":
        # The next counter that does not answer.
        wrong = next(c for c in range(counter + 1, counter + 10_000) if _fails(challenge, c))
        given = (challenge, wrong)
    elif change == "challenge":
        flipped = bytearray.fromhex(challenge)
        flipped[10] ^= 1
        given = (flipped.hex(), counter)
    elif change == "key":
        given = (ProofOfWork(os.urandom(32), BITS).challenge(NOW), counter)
    elif change == "short":
        given = (challenge[:-2], counter)
    elif change == "late":
        at = NOW + LIFETIME_S + 1
    elif change == "early":
        at = NOW - SKEW_S - 1
    elif change == "missing":
        given = (None, None)
    elif change == "huge":
        given = (challenge, 1 << 64)
    with pytest.raises(ProofRefused, match=why):
        proof.check(*given, at)
    proof.check(challenge, counter, NOW)  # refused answers do not use the challenge up


def test_no_proof_is_asked_when_the_bits_are_zero() -> None:
    ProofOfWork(KEY, 0).check(None, None, NOW)
    with pytest.raises(ValueError, match="0 to 28"):
        ProofOfWork(KEY, 29)


def _fails(challenge: str, counter: int) -> bool:
    digest = hashlib.sha256(bytes.fromhex(challenge) + counter.to_bytes(8, "big")).digest()
    return bool(int.from_bytes(digest, "big") >> (256 - BITS))


@pytest.fixture
def server(sqlite_url: str, tmp_path: Path) -> Iterator[ServerThread]:
    deployment: Deployment = make_deployment(sqlite_url, tmp_path)
    limits = SubmissionLimits(per_source_per_hour=0, per_second=0, proof_bits=BITS)
    yield from serve(deployment, submissions=limits)


def _body(proof: dict[str, Any] | None = None) -> dict[str, Any]:
    data = os.urandom(8)
    body: dict[str, Any] = {
        "nonce": os.urandom(12).hex(),
        "files": [
            {
                "md5": hashlib.md5(data, usedforsecurity=False).hexdigest(),
                "sha1": hashlib.sha1(data, usedforsecurity=False).hexdigest(),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        ],
    }
    if proof is not None:
        body["proof"] = proof
    return body


def test_a_node_that_asks_for_proof_takes_a_case_only_with_its_answer(
    server: ServerThread,
) -> None:
    status, given, headers = call(server.base, "/v2/submission-challenge")
    assert status == 200 and given["bits"] == BITS and given["expires_in"] == LIFETIME_S
    assert headers["cache-control"] == "no-store"
    status, answer, _ = call(server.base, "/v2/submissions", _body())
    assert status == 403 and "/v2/submission-challenge" in answer["error"]["message"]
    proof = {"challenge": given["challenge"], "counter": solve(given["challenge"], BITS)}
    status, answer, _ = call(server.base, "/v2/submissions", _body(proof))
    assert status == 201, answer
    status, answer, _ = call(server.base, "/v2/submissions", _body(proof))
    assert status == 403 and "answered already" in answer["error"]["message"]
    for malformed in ({"challenge": "zz", "counter": 1}, {"challenge": given["challenge"]}):
        status, answer, _ = call(server.base, "/v2/submissions", _body(malformed))
        assert status == 400, answer
    assert call(server.base, "/v2/submission-challenge", {}, method="POST")[0] == 405
