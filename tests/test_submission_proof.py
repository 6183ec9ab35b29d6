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
NONCE = "a-nonce-of-the-page-0001"


def _digest(challenge: str, nonce: str, counter: int) -> bytes:
    message = bytes.fromhex(challenge) + hashlib.sha256(nonce.encode()).digest()
    return hashlib.sha256(message + counter.to_bytes(8, "big")).digest()


def test_an_answer_found_with_the_work_is_taken_once_by_each_node() -> None:
    first, second = ProofOfWork(KEY, BITS), ProofOfWork(KEY, BITS)
    challenge = first.challenge(NOW)
    counter = solve(challenge, BITS, NONCE)
    assert int.from_bytes(_digest(challenge, NONCE, counter), "big") >> (256 - BITS) == 0
    first.check(challenge, counter, NONCE, NOW + 1)
    with pytest.raises(ProofRefused, match="answered already"):
        first.check(challenge, counter, NONCE, NOW + 2)
    # Another node (or worker) of the deployment checks it with no shared state; the store
    # then takes the nonce once, so one answer makes one case.
    second.check(challenge, counter, NONCE, NOW + 2)


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
        ("nonce", "zero bits"),
        ("newline", "not issued by this service"),
    ],
)
def test_a_wrong_answer_is_refused_with_its_reason(change: str, why: str) -> None:
    proof = ProofOfWork(KEY, BITS)
    challenge = proof.challenge(NOW)
    counter = solve(challenge, BITS, NONCE)
    at, nonce = NOW, NONCE
    given: tuple[str | None, int | None] = (challenge, counter)
    if change == "counter":
        # The next counter that does not answer.
        wrong = next(c for c in range(counter + 1, counter + 10_000) if _fails(challenge, c))
        given = (challenge, wrong)
    elif change == "nonce":
        # The same answer for another case's nonce (one for which it does not answer).
        nonce = next(
            n
            for n in (f"another-nonce-{k:04}" for k in range(10_000))
            if _fails(challenge, counter, n)
        )
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
    elif change == "newline":
        given = (challenge + "\n", counter)
    with pytest.raises(ProofRefused, match=why):
        proof.check(*given, nonce, at)
    proof.check(challenge, counter, NONCE, NOW)  # refused answers do not use the challenge up


def test_no_proof_is_asked_when_the_bits_are_zero() -> None:
    ProofOfWork(KEY, 0).check(None, None, NONCE, NOW)
    with pytest.raises(ValueError, match="0 to 24"):
        ProofOfWork(KEY, 25)


def _fails(challenge: str, counter: int, nonce: str = NONCE) -> bool:
    return bool(int.from_bytes(_digest(challenge, nonce, counter), "big") >> (256 - BITS))


@pytest.fixture
def server(sqlite_url: str, tmp_path: Path) -> Iterator[ServerThread]:
    deployment: Deployment = make_deployment(sqlite_url, tmp_path)
    # The node takes 2 cases a second, at most 2 at once.
    limits = SubmissionLimits(per_source_per_hour=0, per_second=2, proof_bits=BITS)
    yield from serve(deployment, submissions=limits)


def _body(proof: dict[str, Any] | None = None, nonce: str = NONCE) -> dict[str, Any]:
    data = os.urandom(8)
    body: dict[str, Any] = {
        "nonce": nonce,
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
    # Requests without a good answer are refused and take nothing from the node's budget
    # of 2: a flood of them cannot keep real people out.
    for _ in range(5):
        status, answer, _ = call(server.base, "/v2/submissions", _body())
        assert status == 403 and "/v2/submission-challenge" in answer["error"]["message"]
    proof = {"challenge": given["challenge"], "counter": solve(given["challenge"], BITS, NONCE)}
    status, answer, _ = call(server.base, "/v2/submissions", _body(proof))
    assert status == 201, answer
    status, answer, _ = call(server.base, "/v2/submissions", _body(proof))
    assert status == 403 and "answered already" in answer["error"]["message"]
    _, fresh, _ = call(server.base, "/v2/submission-challenge")
    counter = solve(fresh["challenge"], BITS, NONCE)
    other = next(
        n
        for n in (f"another-case-{k:04}" for k in range(10_000))
        if _fails(fresh["challenge"], counter, n)
    )
    moved = {
        "challenge": fresh["challenge"],
        "counter": counter,
    }  # answered for NONCE, sent for other
    status, answer, _ = call(server.base, "/v2/submissions", _body(moved, other))
    assert status == 403 and "zero bits" in answer["error"]["message"]
    for malformed in ({"challenge": "zz", "counter": 1}, {"challenge": given["challenge"]}):
        status, answer, _ = call(server.base, "/v2/submissions", _body(malformed))
        assert status == 400, answer
    assert call(server.base, "/v2/submission-challenge", {}, method="POST")[0] == 405
