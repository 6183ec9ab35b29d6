"""A node's first load reads every entry from the store in bulk (`SqliteStore._read_entries`):
the same entries as reading row by row, across chunk boundaries and after removals; and a
damaged row leaves the node not ready, with the reason logged, never a partial index
answering."""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
from tests.support import Deployment, ServerThread, basic, legacy_post, make_deployment


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
        monkeypatch.setattr(postgres_store, "BULK_IDS", 97)
        bulk = store.changes_since(0, 0).added
        reference = row_by_row(store)
    finally:
        store.close()
    assert len(bulk) == len(reference) == 900  # 400 + 500: the replace took 600 off
    assert bulk.digests == reference.digests
    for name in ("entry_ids", "list_ids", "category_ids", "batch_ids", "item_ids"):
        assert np.array_equal(getattr(bulk, name), getattr(reference, name)), name
        assert getattr(bulk, name).dtype == np.int64


def listed_deployment(store_url: str, tmp_path: Path, count: int) -> tuple[Deployment, list[str]]:
    """A deployment whose police list holds ``count`` MD5s (returned, in delivery order)."""
    deployment = make_deployment(store_url, tmp_path)
    listed = md5s("listed", count)
    store = deployment.store()
    try:
        importing.import_file(
            store, Digester(deployment.key), "police", listed, actor="t", category="baseline"
        )
    finally:
        store.close()
    return deployment, listed


def test_a_damaged_entry_leaves_the_node_not_ready(
    store_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    deployment, listed = listed_deployment(store_url, tmp_path, 50)
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
        header = basic(deployment.client_id, deployment.secret)
        answer = legacy_post(server.port, "/v1/check/md5", listed[0].encode(), header)
        assert answer.status == 503 and answer.body not in (b"true", b"false")
    assert any("16 bytes" in record.getMessage() for record in caplog.records)


def damage(url: str, which: str = "(SELECT MAX(id) FROM entries)") -> str:
    """Gives the entry ``which`` selects a digest of 1 byte, as a damaged disk or a hand
    edit would leave it; its digest before, as an SQL literal."""
    sqlite = url.startswith("sqlite")
    row = run_sql(url, f"SELECT digest FROM entries WHERE id = {which}")
    assert row is not None
    original = f"X'{bytes(row[0]).hex()}'" if sqlite else f"'\\x{bytes(row[0]).hex()}'::bytea"
    if sqlite:
        for (name,) in run_sql(
            url,
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'entries'",
            every=True,
        ):
            run_sql(url, f'DROP TRIGGER "{name}"')
    else:
        run_sql(url, "ALTER TABLE entries DISABLE TRIGGER USER")
    broken = "X'00'" if sqlite else "'\\x00'::bytea"
    run_sql(url, f"UPDATE entries SET digest = {broken} WHERE id = {which}")
    return original


def run_sql(url: str, statement: str, *, every: bool = False) -> Any:
    """One statement on its own connection, committed; its first row (or all of them)."""
    if url.startswith("sqlite"):
        raw = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        try:
            cursor = raw.execute(statement)
            return cursor.fetchall() if every else cursor.fetchone()
        finally:
            raw.close()
    import psycopg

    with psycopg.connect(url, autocommit=True) as pg:
        answer = pg.execute(statement)
        if answer.description is None:
            return None
        return answer.fetchall() if every else answer.fetchone()


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


class _Said(logging.Handler):
    """Sets ``event`` once a record saying ``text`` is logged (the test waits on the node's
    own report of the failure, not on a timer)."""

    def __init__(self, text: str) -> None:
        super().__init__(logging.WARNING)
        self.text = text
        self.event = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.event.set()


FAULTS = [
    ("a damaged row partway", "sqlite"),
    ("a damaged row partway", "postgres"),
    ("the server ending the read partway", "postgres"),
    ("the connection lost partway", "postgres"),
]


@pytest.mark.parametrize(("fault", "kind"), FAULTS)
def test_a_bulk_read_failing_partway_leaves_the_node_not_ready_until_repaired(
    fault: str,
    kind: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first load fails after some chunks were read: the node stays not ready (503, no
    check answered, not even for an entry read before the failure), says why, and is ready
    with every entry once the fault is gone."""
    store_url = str(request.getfixturevalue(f"{kind}_url"))
    deployment, listed = listed_deployment(store_url, tmp_path, 1000)
    monkeypatch.setattr(sqlite_store, "BULK_ROWS", 97)
    monkeypatch.setattr(postgres_store, "BULK_IDS", 97)
    # Counts the entries each range read gave (the real function runs): some ranges are
    # read before the failure, so the failure is partway.
    converted: list[int] = []
    read_chunk = postgres_store._read_chunk

    def counted(cur: Any, lo: int, hi: int) -> Any:
        found = read_chunk(cur, lo, hi)
        converted.append(0 if found is None else len(found[1][0]))
        return found

    monkeypatch.setattr(postgres_store, "_read_chunk", counted)
    fault_at, repair, said = inject(fault, store_url)
    header = basic(deployment.client_id, deployment.secret)
    listener = _Said(said)
    logging.getLogger("hashcheck").addHandler(listener)
    node = Node(deployment.store(), deployment.key, poll_interval=0.05, stats_flush_interval=60)
    try:
        with ServerThread(HashcheckApp(node)) as server:
            if fault == "the connection lost partway":
                terminate_the_sleeping_read(store_url)
            assert listener.event.wait(30), f"the node never said {said!r}"
            assert not node.follower.ready.is_set()
            if kind == "postgres":
                assert 97 <= sum(converted) < len(listed)
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(f"{server.base}/readyz", timeout=5)  # noqa: S310 (loopback)
            assert refused.value.code == 503
            # The first entries were read before the failure; none is answered.
            answer = legacy_post(server.port, "/v1/check/md5", listed[0].encode(), header)
            assert answer.status == 503 and answer.body not in (b"true", b"false")
            repair()
            assert node.follower.ready.wait(30)
            for hexed in (listed[0], listed[fault_at], listed[-1]):
                answer = legacy_post(server.port, "/v1/check/md5", hexed.encode(), header)
                assert (answer.status, answer.body) == (200, b"true")
            snapshot = node.follower.snapshot
            assert snapshot is not None and len(snapshot.exact) == len(listed)
    finally:
        logging.getLogger("hashcheck").removeHandler(listener)


def inject(fault: str, url: str) -> tuple[int, Callable[[], None], str]:
    """Breaks the 500th entry's read; the entry's position in the list, how to repair the
    fault, and what the node logs for it."""
    middle = "(SELECT id FROM entries ORDER BY id LIMIT 1 OFFSET 499)"
    if fault == "a damaged row partway":
        original = damage(url, middle)

        def restore() -> None:
            run_sql(url, f"UPDATE entries SET digest = {original} WHERE id = {middle}")

        return 499, restore, "16 bytes"
    import psycopg

    # The entries, read through a view that fails (or stalls) at the 500th row while the
    # `fault` flag is set; the ranges before it are read first.
    with psycopg.connect(url, autocommit=True) as pg:
        target = pg.execute(f"SELECT {middle}").fetchone()
        assert target is not None
        columns = [
            name
            for (name,) in pg.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'entries' ORDER BY ordinal_position"
            ).fetchall()
        ]
        # Only the bulk read meets the fault (the view is read by other statements).
        when = (
            f"id = {target[0]} AND (SELECT active FROM fault) "
            "AND current_query() LIKE '%string_agg%'"
        )
        if fault == "the server ending the read partway":
            broken = f"list_id / (CASE WHEN {when} THEN 0 ELSE 1 END)"
            said = "could not be read in bulk: division by zero"
        else:
            broken = f"CASE WHEN {when} THEN list_id + length(pg_sleep(60)::text) ELSE list_id END"
            said = "lost the connection to PostgreSQL"
        chosen = ", ".join(f"{broken} AS list_id" if c == "list_id" else c for c in columns)
        pg.execute("CREATE TABLE fault (active BOOLEAN)")
        pg.execute("INSERT INTO fault VALUES (true)")
        pg.execute("ALTER TABLE entries RENAME TO stored_entries")
        pg.execute(f"CREATE VIEW entries AS SELECT {chosen} FROM stored_entries")

    def lift() -> None:
        run_sql(url, "UPDATE fault SET active = false")
        if fault == "the connection lost partway":
            terminate_the_sleeping_read(url, at_least=0)

    return 499, lift, said


def terminate_the_sleeping_read(url: str, at_least: int = 1) -> None:
    """Ends the node's connection while its read sleeps inside the view, as a lost network
    would; waits (on the server's own view of its sessions) until there is one to end."""
    import psycopg

    deadline = time.monotonic() + 30
    with psycopg.connect(url, autocommit=True) as pg:
        while True:
            assert time.monotonic() < deadline, "the node's read never reached the stall"
            row = pg.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE wait_event = 'PgSleep' AND pid <> pg_backend_pid()"
            ).fetchone()
            if row is not None and row[0] >= at_least:
                return
