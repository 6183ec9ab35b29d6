"""The submission route's flood limits, without a clock: per source, for the node, and
bounded in how many sources they remember."""

from __future__ import annotations

import pytest

from hashcheck.api.budgets import Bucket
from hashcheck.submit import limits
from hashcheck.submit.limits import FloodLimit


def test_a_source_may_send_its_hour_at_once_then_waits() -> None:
    flood = FloodLimit(per_source_per_hour=3, per_second=0)
    assert [flood.wait("10.0.0.1", 100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert flood.wait("10.0.0.1", 100.0) == pytest.approx(1200.0)  # one an hour / 3
    assert flood.wait("10.0.0.2", 100.0) == 0.0  # another source is not held back
    assert flood.wait("10.0.0.1", 1300.0) == 0.0  # a token back after 20 minutes


def test_the_node_limit_takes_nothing_from_a_source_it_refuses() -> None:
    flood = FloodLimit(per_source_per_hour=2, per_second=1)
    assert flood.wait("a", 10.0) == 0.0
    assert flood.wait("b", 10.0) == pytest.approx(1.0)  # the node's second is used up
    assert flood.wait("a", 11.0) == 0.0
    assert flood.wait("a", 12.0) > 0  # its two: the refused one did not count


def test_a_node_limit_below_one_a_second_still_lets_submissions_through() -> None:
    flood = FloodLimit(per_source_per_hour=0, per_second=0.5)
    assert flood.wait("a", 0.0) == 0.0
    assert flood.wait("a", 0.0) > 0
    assert flood.wait("a", 2.0) == 0.0


def test_sources_past_the_bound_are_forgotten_oldest_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(limits, "MAX_SOURCES", 2)
    flood = FloodLimit(per_source_per_hour=1, per_second=0)
    for source in ("a", "b"):
        assert flood.wait(source, 0.0) == 0.0
    assert flood.wait("a", 0.0) > 0  # seen again: now the newest
    assert flood.wait("c", 0.0) == 0.0  # b, the least recently seen, is forgotten
    assert flood.wait("a", 0.0) > 0
    assert flood.wait("b", 0.0) == 0.0  # forgotten: in again at once


def test_a_bucket_without_a_bound_keeps_every_key() -> None:
    bucket = Bucket(1, 1)
    for key in ("a", "b", "c"):
        assert bucket.wait(key, 1, 0.0) == 0.0
    assert bucket.wait("a", 1, 0.0) > 0
