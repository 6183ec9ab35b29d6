"""Operator sign-in to the admin API: an unknown name costs what a wrong secret costs, failures
back off per source and per account (429 with Retry-After), and an operator who signed in
before keeps working; the back-off itself is checked without a clock."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hashcheck.admin import operators
from hashcheck.admin.operators import Actor, Role
from hashcheck.auth.throttle import FREE_FAILURES, MAX_KEYS, MAX_WAIT_S, SignInThrottle
from tests.http_client import call
from tests.support import Deployment, ServerThread, make_deployment, serve


def test_failures_back_off_doubling_up_to_a_bound() -> None:
    throttle = SignInThrottle()
    for _ in range(FREE_FAILURES - 1):
        assert throttle.failed("alice", "10.0.0.1", now=100.0) is False
        assert throttle.wait("alice", "10.0.0.1", now=100.0) == 0
    assert throttle.failed("alice", "10.0.0.1", now=100.0) is True
    assert throttle.wait("alice", "10.0.0.1", now=100.0) == pytest.approx(1.0)
    assert throttle.wait("alice", "10.0.0.1", now=101.0) == 0  # the wait is over
    throttle.failed("alice", "10.0.0.1", now=101.0)
    assert throttle.wait("alice", "10.0.0.1", now=101.0) == pytest.approx(2.0)
    for _ in range(40):
        throttle.failed("alice", "10.0.0.1", now=200.0)
    assert throttle.wait("alice", "10.0.0.1", now=200.0) == pytest.approx(MAX_WAIT_S)
    # Another source is not held back by this one, for the same account or another.
    assert throttle.wait("alice", "10.0.0.2", now=200.0) == 0
    assert throttle.wait("bob", "10.0.0.2", now=200.0) == 0
    # The source stays slowed for every name it tries, even after one right secret.
    throttle.succeeded("alice", "10.0.0.1")
    assert throttle.wait("mallory", "10.0.0.1", now=200.0) == pytest.approx(MAX_WAIT_S)


def test_the_throttle_forgets_the_oldest_keys_beyond_its_bound() -> None:
    throttle = SignInThrottle()
    for n in range(MAX_KEYS):
        throttle.failed(f"name{n}", f"10.{n >> 16}.{(n >> 8) & 255}.{n & 255}", now=0.0)
    assert len(throttle._records) <= MAX_KEYS


@pytest.fixture
def deployment(sqlite_url: str, tmp_path: Path) -> Deployment:
    return make_deployment(sqlite_url, tmp_path)


@pytest.fixture
def server(deployment: Deployment) -> Iterator[ServerThread]:
    yield from serve(deployment)


def whoami(server: ServerThread, name: str, secret: str) -> tuple[int, dict[str, str], float]:
    started = time.perf_counter()
    status, _, headers = call(server.base, "/admin/v1/whoami", auth=(name, secret))
    return status, headers, time.perf_counter() - started


def test_sign_in_leaks_no_names_and_backs_off(server: ServerThread, deployment: Deployment) -> None:
    store = deployment.store()
    setup = Actor("setup", Role.APPROVER)
    alice = operators.add(store, "alice", Role.APPROVER, actor=setup).secret
    bob = operators.add(store, "bob", Role.APPROVER, actor=setup).secret
    store.close()
    assert whoami(server, "bob", bob)[0] == 200  # bob signed in before anything goes wrong
    # An unknown name takes the slow hash too: as long as a known name's wrong secret.
    unknown = [whoami(server, f"nobody{n}", "guess") for n in range(2)]
    wrong = [whoami(server, "alice", f"guess{n}") for n in range(2)]
    assert {s for s, _, _ in unknown + wrong} == {401}
    assert min(t for *_, t in unknown) > 0.5 * min(t for *_, t in wrong)
    # The fifth failure from this source starts the wait: then even the right secret, never
    # used here before, is held back, with a Retry-After.
    assert whoami(server, "alice", "guess-again")[0] == 401
    status, headers, _ = whoami(server, "alice", alice)
    assert status == 429 and int(headers["retry-after"]) >= 1
    # An operator whose credentials signed in before is not locked out by someone else.
    assert whoami(server, "bob", bob)[0] == 200
    store = deployment.store()
    try:
        held = store.audit_log(100, action="operator.sign-in-held")
    finally:
        store.close()
    assert held and "127.0.0.1" in held[0].detail
