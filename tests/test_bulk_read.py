"""A node's first load reads every entry from the store in bulk (`SqliteStore._read_entries`):
the same entries as reading row by row, across chunk boundaries and after removals; and a
damaged row leaves the node not ready, with the reason logged, never a partial index
answering."""

from __future__ import annotations

import base64
import hashlib
import logging
import sqlite3
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from hashcheck.admin import importing
from hashcheck.api.app import HashcheckApp
from hashcheck.hashes.keyed import Digester
from hashcheck.node.runtime import Node
from hashcheck.store import postgres as postgres_store
from hashcheck.store import sqlite as sqlite_store
from hashcheck.store.errors import StoreError
from hashcheck.store.records import EntryRows
from hashcheck.store.sql import SqlStore
from tests.support import Deployment, ServerThread, legacy_post, make_deployment


def md5s(seed: str, count: int) -> list[str]:
    return [
        hashlib.md5(f"{seed}{n}".encode(), usedforsecurity=False).hexdigest() for n in range(count)
    ]


def row_by_row(store: SqlStore) -> EntryRows:
    """The generic reading every backend shares, as the reference."""
    with store._tx(write=False) as cur:
        rows, _ = SqlStore._read_entries(store, cur, 0)
        return rows


def test_the_bulk_read_gives_what_reading_row_by_row_gives(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployment = make_deployment(store_url, tmp_path)
    digester = Digester(deployment.key)
    store = deployment.store()
    try:
        store.add_list("interpol", "Interpol", "", actor="t")
        importing.import_file(
            store, digester, "police", md5s("a", 700), actor="t", category="baseline"
        )
        importing.import_file(
            store, digester, "interpol", md5s("b", 500), actor="t", category="illegal"
        )
        importing.import_file(
            store, digester, "police", md5s("c", 300), actor="t", category="baseline"
        )
        # A correction takes some entries away: the feed's ids then have gaps.
        importing.import_file(
            store,
            digester,
            "police",
            md5s("a", 400),
            actor="t",
            category="baseline",
            replace=True,
            confirm_removals=True,
        )
        assert isinstance(store, SqlStore)
        # Many chunks, a short last one; on SQLite over three connections.
        monkeypatch.setattr(sqlite_store, "BULK_ROWS", 97)
        monkeypatch.setattr(sqlite_store, "PARALLEL_ROWS", 200)
        monkeypatch.setattr(sqlite_store, "READERS", 3)
        monkeypatch.setattr(postgres_store, "_COPY_ROWS", 97)
        bulk = store.changes_since(0, 0).added
        reference = row_by_row(store)
    finally:
        store.close()
    assert len(bulk) == len(reference) == 900  # 400 + 500: the replace took 600 off
    assert bulk.digests == reference.digests
    for name in ("entry_ids", "list_ids", "category_ids", "batch_ids", "item_ids"):
        assert np.array_equal(getattr(bulk, name), getattr(reference, name)), name
        assert getattr(bulk, name).dtype == np.int64


def test_a_damaged_entry_leaves_the_node_not_ready(
    store_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    deployment: Deployment = make_deployment(store_url, tmp_path)
    listed = md5s("listed", 50)
    store = deployment.store()
    try:
        importing.import_file(
            store, Digester(deployment.key), "police", listed, actor="t", category="baseline"
        )
    finally:
        store.close()
    # A row whose digest is not 16 bytes, as a damaged disk or a hand edit would leave it.
    damage(store_url)
    with pytest.raises(StoreError, match="16 bytes"):
        deployment.store().changes_since(0, 0)

    caplog.set_level(logging.WARNING)
    node = Node(deployment.store(), deployment.key, poll_interval=0.05, stats_flush_interval=60)
    with ServerThread(HashcheckApp(node)) as server:
        # The node tries, fails and tries again; never ready, and no check is answered.
        assert not node.follower.ready.wait(1.0)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{server.base}/readyz", timeout=5)  # noqa: S310 (loopback)
        assert refused.value.code == 503
        auth = f"{deployment.client_id}:{deployment.secret}"
        header = "Basic " + base64.b64encode(auth.encode()).decode()
        answer = legacy_post(server.port, "/v1/check/md5", listed[0].encode(), header)
        assert answer.status == 503 and answer.body not in (b"true", b"false")
    assert any("16 bytes" in record.getMessage() for record in caplog.records)


def damage(url: str) -> None:
    last = "UPDATE entries SET digest = {} WHERE id = (SELECT MAX(id) FROM entries)"
    if url.startswith("sqlite"):
        raw = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        try:
            for (name,) in raw.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'entries'"
            ).fetchall():
                raw.execute(f'DROP TRIGGER "{name}"')
            raw.execute(last.format("X'00'"))
        finally:
            raw.close()
        return
    import psycopg

    with psycopg.connect(url, autocommit=True) as pg:
        pg.execute("ALTER TABLE entries DISABLE TRIGGER USER")
        pg.execute(last.format("'\\x00'::bytea"))


def test_a_range_read_apart_is_used_only_from_the_same_version(
    sqlite_url: str, tmp_path: Path
) -> None:
    """A range read on a connection of its own counts only if that connection sees the
    version the reader's snapshot has; else (a write came between) the range is read again
    from the snapshot."""
    deployment = make_deployment(sqlite_url, tmp_path)
    store = deployment.store()
    try:
        importing.import_file(
            store,
            Digester(deployment.key),
            "police",
            md5s("v", 10),
            actor="t",
            category="baseline",
        )
        assert isinstance(store, sqlite_store.SqliteStore)
        version = store.version()
        found = store._read_apart(0, 10**9, version)
        assert found is not None and sum(len(d) for d in found[0]) == 16 * 10
        assert store._read_apart(0, 10**9, version + 1) is None
    finally:
        store.close()
