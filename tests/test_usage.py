"""Usage statistics: counted in memory on the request path, flushed in batches and on stop."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from hashcheck.admin import importing
from hashcheck.admin import stats as usage
from hashcheck.api.app import HashcheckApp
from hashcheck.hashes.keyed import Digester
from hashcheck.node.runtime import Node
from hashcheck.node.usage import UsageCounters, UsageFlusher
from hashcheck.store.interface import Store
from hashcheck.store.records import StatRow
from tests.http_client import call
from tests.support import ServerThread, basic, legacy_post, make_deployment

LISTED = hashlib.md5(b"listed", usedforsecurity=False).hexdigest()


def test_counts_per_client_list_and_day(sqlite_url: str, tmp_path: Path) -> None:
    deployment = make_deployment(sqlite_url, tmp_path)
    store = deployment.store()
    store.add_list("ngo", "NGO", "", actor="t")
    source = tmp_path / "l.txt"
    source.write_text(LISTED + "\n")
    importing.import_file(
        store, Digester(deployment.key), "police", source, actor="t", category="baseline"
    )
    node = Node(store, deployment.key, stats_flush_interval=3600)
    with ServerThread(HashcheckApp(node)) as server:
        assert node.follower.ready.wait(10)
        auth = basic("acme", deployment.secret)
        for body in (LISTED, LISTED, "0" * 32):
            legacy_post(server.port, "/v1/check/md5", body.encode(), auth)
        legacy_post(server.port, "/v1/check/md5", b"bad", auth)  # a 400 is not a check
        legacy_post(server.port, "/v1/test/check/md5", LISTED.encode(), auth)  # no list
        status, _, _ = call(
            server.base,
            "/v2/check",
            {"hashes": [{"algorithm": "md5", "hash": LISTED}] * 4},
            auth=("acme", deployment.secret),
        )
        assert status == 200
        # Nothing written yet: the flush interval is an hour and there is no write per check.
        assert deployment.store().read_stats() == []
    # Stopping the server flushes what was counted.
    lines = {(line.list, line.checked, line.matched) for line in usage.read(deployment.store())}
    assert lines == {("police", 7, 6), ("ngo", 7, 0)}


class RefusingStore:
    """Stands in for a store that is down: the only double here, for a fault we cannot cause."""

    def __init__(self, real: Store) -> None:
        self.real = real
        self.down = True

    def add_stats(self, rows: list[StatRow]) -> None:
        if self.down:
            raise ConnectionError("database is down")
        self.real.add_stats(rows)


def test_counts_survive_a_failed_flush(store: Store) -> None:
    counters = UsageCounters()
    flaky = RefusingStore(store)
    flusher = UsageFlusher(counters, flaky, interval=3600)  # type: ignore[arg-type]
    counters.count("acme", (1, 2), {1: 1}, hashes=3)
    with pytest.raises(ConnectionError):
        flusher.flush()
    with pytest.raises(ConnectionError):
        flusher.flush()
    assert flusher.failures == 2  # said, on /readyz: never a silent loss
    counters.count("acme", (1,), None, hashes=1)
    flaky.down = False
    assert flusher.flush() == 2
    assert flusher.failures == 0
    rows = {(r.list_id, r.checked, r.matched) for r in store.read_stats()}
    assert rows == {(1, 4, 1), (2, 3, 0)}
    assert flusher.flush() == 0
