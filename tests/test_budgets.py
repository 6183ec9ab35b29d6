"""Per-client budgets (issue 14): requests and work per second per client id, token buckets
that refuse with the wait rather than queue, a perceptual hash costing a thousand exact
ones; over real HTTP, a 429 with Retry-After that never reads as an answer, and another
client untouched."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hashcheck.admin import clients, operators
from hashcheck.admin.errors import AdminError, PermissionDenied
from hashcheck.admin.operators import Actor, Role
from hashcheck.api.budgets import PERCEPTUAL_COST, Bucket, Budgets
from hashcheck.cli.exitcodes import ExitCode
from tests.http_client import call
from tests.support import (
    Deployment,
    ServerThread,
    another_client,
    basic,
    legacy_post,
    make_deployment,
    serve,
)
from tests.test_cli import run

TEST_MD5 = b"258228aed7b04862fb4f41da4cde67e5"
OPERATOR = Actor("olga", Role.OPERATOR)


def test_a_bucket_refills_at_its_rate_and_says_the_wait() -> None:
    bucket = Bucket(rate=2.0, capacity=4.0)
    assert [bucket.wait("a", 1, 0.0) for _ in range(4)] == [0.0] * 4
    assert bucket.wait("a", 1, 0.0) == pytest.approx(0.5)  # empty: half a second for one
    assert bucket.wait("b", 1, 0.0) == 0.0  # another client has its own
    assert bucket.wait("a", 1, 0.5) == 0.0  # refilled by then
    assert bucket.wait("a", 100, 100.0) == 0.0  # a request over the capacity fits a full one
    assert Bucket(rate=0, capacity=0).wait("a", 10**9, 0.0) == 0.0  # 0: no limit


def test_a_refused_request_takes_nothing() -> None:
    budgets = Budgets(requests_per_second=1, work_per_second=10, burst_seconds=1)
    assert budgets.wait("a", 10, 0.0) == 0.0
    assert budgets.wait("a", 1, 0.5) > 0  # no work left yet, and no request taken for it
    assert budgets.wait("a", 5, 1.0) == 0.0


@pytest.fixture
def two_clients(sqlite_url: str, tmp_path: Path) -> tuple[Deployment, str, str]:
    deployed = make_deployment(sqlite_url, tmp_path)
    return (deployed, *another_client(deployed))


@pytest.fixture
def server(two_clients: tuple[Deployment, str, str]) -> Iterator[ServerThread]:
    budgets = Budgets(requests_per_second=0.2, work_per_second=0.2 * PERCEPTUAL_COST)
    yield from serve(two_clients[0], budgets=budgets)


def test_over_its_budget_a_client_is_told_when_to_come_back(
    server: ServerThread, two_clients: tuple[Deployment, str, str]
) -> None:
    deployed, other_id, other_secret = two_clients
    acme = basic(deployed.client_id, deployed.secret)
    answers = [legacy_post(server.port, "/v1/test/check/md5", TEST_MD5, acme) for _ in range(3)]
    assert [a.body for a in answers[:2]] == [b"true", b"true"]  # the burst: 10 s of 0.2/s
    refused = answers[2]
    assert refused.status == 429 and refused.body not in (b"true", b"false")
    assert int(refused.headers["retry-after"]) >= 1
    other = basic(other_id, other_secret)
    assert legacy_post(server.port, "/v1/test/check/md5", TEST_MD5, other).body == b"true"


def test_the_setting_and_the_app_default_to_the_same_work_budget() -> None:
    from hashcheck.api.budgets import DEFAULT_WORK_PER_SECOND
    from hashcheck.config import Settings

    assert Settings().client_work_per_second == DEFAULT_WORK_PER_SECOND


def test_a_client_s_own_limit_replaces_the_node_s_and_keeps_its_tokens_bounded() -> None:
    budgets = Budgets(requests_per_second=0, work_per_second=0, burst_seconds=1)
    assert all(budgets.wait("a", 1, 0.0) == 0.0 for _ in range(100))  # the node: no limit
    assert budgets.wait("a", 1, 0.0, requests_per_second=2) == 0.0
    assert budgets.wait("a", 1, 0.0, requests_per_second=2) == 0.0
    assert budgets.wait("a", 1, 0.0, requests_per_second=2) == pytest.approx(0.5)
    assert budgets.wait("b", 1, 0.0, requests_per_second=2) == 0.0  # per client still
    assert budgets.wait("a", 1, 0.0) == 0.0  # back to the node's: no limit
    # A lower limit takes away tokens the higher one had left.
    budgets = Budgets(requests_per_second=100, burst_seconds=1)
    assert budgets.wait("a", 1, 0.0) == 0.0
    assert budgets.wait("a", 1, 0.0, requests_per_second=1) == 0.0
    assert budgets.wait("a", 1, 0.0, requests_per_second=1) > 0


@pytest.fixture
def operated(two_clients: tuple[Deployment, str, str]) -> tuple[str, str]:
    store = two_clients[0].store()
    try:
        made = operators.add(store, "olga", Role.OPERATOR, actor=Actor("setup", Role.APPROVER))
        operators.add(store, "vera", Role.VIEWER, actor=Actor("setup", Role.APPROVER))
    finally:
        store.close()
    return "olga", made.secret


def _until(status: int, port: int, auth: str, deadline_s: float = 10.0) -> int:
    """Checks sent until one is answered ``status``, how many it took (the node learns of a
    change within a second)."""
    deadline = time.monotonic() + deadline_s
    sent = 0
    while time.monotonic() < deadline:
        sent += 1
        answer = legacy_post(port, "/v1/test/check/md5", TEST_MD5, auth)
        assert answer.status in (200, 429) and (answer.status == 429) == (
            answer.body not in (b"true", b"false")
        )
        if answer.status == status:
            return sent
    raise AssertionError(f"no {status} within {deadline_s} s")


def put_budgets(
    server: ServerThread, auth: tuple[str, str], body: dict[str, object], client_id: str = "acme"
) -> tuple[int, Any]:
    status, answer, _ = call(
        server.base, f"/admin/v1/clients/{client_id}/budgets", body, auth=auth, method="PUT"
    )
    return status, answer


def test_the_operator_sets_a_client_s_budgets_and_every_node_applies_them(
    two_clients: tuple[Deployment, str, str], operated: tuple[str, str]
) -> None:
    deployed, other_id, other_secret = two_clients
    acme = basic(deployed.client_id, deployed.secret)
    for server in serve(deployed):  # the node's own: no request limit
        status, done = put_budgets(server, operated, {"requests_per_second": 1})
        assert (status, done["requests_per_second"], done["work_per_second"]) == (200, 1, None)
        assert done["changed"] is True
        _until(429, server.port, acme)  # once the node knows: its burst (10 s of 1/s) and no more
        other = basic(other_id, other_secret)
        assert legacy_post(server.port, "/v1/test/check/md5", TEST_MD5, other).body == b"true"
        status, listed, _ = call(server.base, "/admin/v1/clients", auth=operated)
        mine = next(c for c in listed if c["client_id"] == "acme")
        assert (mine["requests_per_second"], mine["work_per_second"]) == (1, None)
        # Left out: kept. null: the node's again, answered within a second.
        status, done = put_budgets(server, operated, {"work_per_second": 5000})
        assert (done["requests_per_second"], done["work_per_second"]) == (1, 5000)
        put_budgets(server, operated, {"requests_per_second": None, "work_per_second": None})
        _until(200, server.port, acme)
    store = deployed.store()
    try:
        trail = store.audit_log(action="client.budgets")
    finally:
        store.close()
    assert len(trail) == 3 and all(r.actor == "olga" and r.subject == "acme" for r in trail)


@pytest.mark.parametrize(
    "body",
    [
        {"requests_per_second": -1},
        {"requests_per_second": 1_000_001},
        {"work_per_second": 10**13},
        {"requests_per_second": "5"},
        {"requests_per_second": 1.5},
        {"requests": 5},
    ],
)
def test_budgets_out_of_range_are_refused_and_change_nothing(
    two_clients: tuple[Deployment, str, str], operated: tuple[str, str], body: dict[str, object]
) -> None:
    for server in serve(two_clients[0]):
        status, error = put_budgets(server, operated, body)
        assert status == 400 and "error" in error
        status, listed, _ = call(server.base, "/admin/v1/clients", auth=operated)
        assert all(c["requests_per_second"] is None for c in listed)


def test_budgets_of_an_unknown_client_or_by_a_viewer_are_refused(
    two_clients: tuple[Deployment, str, str], operated: tuple[str, str]
) -> None:
    store = two_clients[0].store()
    try:
        with pytest.raises(PermissionDenied):
            clients.set_budgets(store, "acme", requests_per_second=1, actor=Actor("v", Role.VIEWER))
        with pytest.raises(AdminError, match="0 \\(no limit\\) to 1,000,000"):
            clients.set_budgets(store, "acme", requests_per_second=10**7, actor=OPERATOR)
    finally:
        store.close()
    for server in serve(two_clients[0]):
        assert put_budgets(server, operated, {}, "nobody")[0] == 404


def test_the_cli_sets_and_lists_budgets_strictly(
    two_clients: tuple[Deployment, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    deployed = two_clients[0]
    monkeypatch.setenv("HASHCHECK_DATABASE_URL", deployed.url)
    monkeypatch.setenv("HASHCHECK_KEY_FILE", str(deployed.key_file))
    code, out, _ = run("clients", "budgets", "acme", "--work-per-second", "20000", "--json")
    assert code == ExitCode.OK
    assert json.loads(out) == {
        "client_id": "acme",
        "requests_per_second": None,
        "work_per_second": 20000,
        "changed": True,
    }
    code, out, _ = run("clients", "budgets", "acme", "--requests-per-second", "0")
    assert code == ExitCode.OK and "unlimited requests and 20,000 work" in out
    code, out, _ = run("clients", "list", "--json")
    mine = next(c for c in json.loads(out) if c["client_id"] == "acme")
    assert (mine["requests_per_second"], mine["work_per_second"]) == (0, 20000)
    code, out, _ = run("clients", "budgets", "acme", "--work-per-second", "default")
    assert code == ExitCode.OK and "the node's work" in out
    for bad in ("٣", "-1", "1.5", "", "99999999999999999999"):
        code, _, err = run("clients", "budgets", "acme", "--requests-per-second", bad)
        assert code == ExitCode.USAGE and "Traceback" not in err
    code, _, err = run("clients", "budgets", "acme", "--requests-per-second", "2000000")
    assert code != ExitCode.OK and "1,000,000" in err
    code, _, err = run("clients", "budgets", "nobody", "--requests-per-second", "1")
    assert code == ExitCode.NOT_FOUND and "nobody" in err
