"""Per-client budgets (issue 14): requests and work per second per client id, token buckets
that refuse with the wait rather than queue, a perceptual hash costing a thousand exact
ones; over real HTTP, a 429 with Retry-After that never reads as an answer, and another
client untouched."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hashcheck.api.budgets import PERCEPTUAL_COST, Bucket, Budgets
from tests.support import (
    Deployment,
    ServerThread,
    another_client,
    basic,
    legacy_post,
    make_deployment,
    serve,
)

TEST_MD5 = b"258228aed7b04862fb4f41da4cde67e5"


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
