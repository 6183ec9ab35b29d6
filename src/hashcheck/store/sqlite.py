"""SQLite backend: the embedded default. WAL mode, one writer at a time, stdlib only."""

from __future__ import annotations

import contextlib
import itertools
import os
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import numpy.typing as npt

from hashcheck.store.errors import StoreError, Unavailable
from hashcheck.store.records import EntryRows
from hashcheck.store.sql import STAGE_ROW, Cursor, SqlStore

BUSY_TIMEOUT_MS = 30_000
# Entries a bulk read takes per statement (`_read_entries`): about 13 MB of text a chunk.
BULK_ROWS = 200_000
_BULK = (
    "SELECT max(id), count(*), total(length(digest)), group_concat(digest, ''), "
    "group_concat(id), group_concat(list_id), group_concat(category_id), "
    "group_concat(batch_id), group_concat(item_id) "
    "FROM (SELECT * FROM entries WHERE id > ? AND id <= ? ORDER BY id LIMIT ?)"
)
# Connections a large read is split over, and the entries that make each worth its start.
READERS = max(1, min(4, os.cpu_count() or 1))
PARALLEL_ROWS = 1_000_000
# A range's packed digests and its five number columns, chunk by chunk.
_Chunk = tuple[list[bytes], list[list[npt.NDArray[np.int64]]]]


def _read_range(connection: sqlite3.Connection, cur: Cursor, lo: int, hi: int) -> _Chunk:
    """Entries ``lo < id <= hi``, a statement per `BULK_ROWS` of them."""
    text_factory = connection.text_factory
    connection.text_factory = bytes  # the concatenated digests are not text
    digests: list[bytes] = []
    columns: list[list[npt.NDArray[np.int64]]] = [[], [], [], [], []]
    last = lo
    try:
        while True:
            top, count, length, joined, *numbers = cur.execute(
                _BULK, (last, hi, BULK_ROWS)
            ).fetchone()
            if top is None:
                break
            if int(length) != 16 * count or len(joined) != 16 * count:
                raise StoreError(
                    f"the entries after id {last} hold a digest that is not 16 bytes: "
                    "the database is damaged"
                )
            digests.append(joined)
            for column, text in zip(columns, numbers, strict=True):
                values = np.fromstring(text, dtype=np.int64, sep=",")
                if len(values) != count:
                    raise StoreError(
                        f"the entries after id {last} hold an empty or unreadable number: "
                        "the database is damaged"
                    )
                column.append(values)
            last = int(top)
    finally:
        connection.text_factory = text_factory
    return digests, columns


class SqliteStore(SqlStore):
    # AUTOINCREMENT: ids are never reused, which the change feed (id > cursor) relies on.
    PK = "INTEGER PRIMARY KEY AUTOINCREMENT"
    # The row id itself: one tree, not a table and an index.
    KEY = "INTEGER PRIMARY KEY"
    BLOB = "BLOB"
    # The first day (days since 1970) of the month of the column `day`.
    MONTH_OF_DAY = (
        "CAST(julianday(date(day * 86400, 'unixepoch', 'start of month')) - 2440587.5 AS INTEGER)"
    )

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
            )
            # Large pages make a big import's inserts and commit cheaper (bench.import_rate:
            # 10-15% at 10M). Takes effect only on a database not yet written.
            self._conn.execute("PRAGMA page_size = 65536")
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = NORMAL")
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._conn.execute("PRAGMA temp_store = FILE")
            self._conn.execute("PRAGMA cache_size = -131072")
            # The import's work tables live in the temp schema, whose cache is its own (2 MiB
            # unless set): a delivery's joins against them then read their file page by page,
            # and a --replace of 1M items took 39.5 s instead of 23.3 s (bench.import_rate).
            self._conn.execute("PRAGMA temp.cache_size = -262144")
            # Let the sorter of large imports use a second core.
            self._conn.execute("PRAGMA threads = 2")
        except (sqlite3.Error, OSError) as exc:
            raise Unavailable(f"cannot open SQLite database {path}: {exc}") from None

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextlib.contextmanager
    def _begin(self, *, write: bool) -> Iterator[Cursor]:
        cur = self._conn.cursor()
        cur.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield cur
        except BaseException:
            self._conn.rollback()
            raise
        else:
            cur.execute("COMMIT")
        finally:
            cur.close()

    def _read_entries(self, cur: Cursor, after: int) -> tuple[EntryRows, int]:
        """The entries after ``after`` in bulk: each statement answers a chunk's digests and
        each number column as one value (concatenated in SQLite's own C), not a Python tuple
        per row; twice as fast, a cold start at 100M entries being mostly this read. A large
        read is split by id over connections of its own on other threads (SQLite's work
        holds no interpreter lock), each checked to read the same version of the store."""
        count, top = cur.execute(
            "SELECT count(*), max(id) FROM entries WHERE id > ?", (after,)
        ).fetchone()
        if not count:
            empty = np.empty(0, dtype=np.int64)
            return EntryRows(b"", empty, empty, empty, empty, empty), after
        parts = min(READERS, max(1, int(count) // PARALLEL_ROWS))
        bounds = [after + (int(top) - after) * k // parts for k in range(parts)] + [int(top)]
        ranges = list(itertools.pairwise(bounds))
        version = self._read_version(cur)
        with ThreadPoolExecutor(max(1, parts - 1)) as helpers:
            others = [helpers.submit(self._read_apart, lo, hi, version) for lo, hi in ranges[1:]]
            chunks = [_read_range(self._conn, cur, *ranges[0])]
            for (lo, hi), other in zip(ranges[1:], others, strict=True):
                found = other.result()
                # Another version (a write came between): that range from this snapshot.
                chunks.append(found if found is not None else _read_range(self._conn, cur, lo, hi))
        digests = b"".join(d for chunk in chunks for d in chunk[0])
        ids, lists, categories, batches, items = (
            np.concatenate([c for chunk in chunks for c in chunk[1][k]]) for k in range(5)
        )
        return EntryRows(digests, ids, lists, categories, batches, items), int(top)

    def _read_apart(self, lo: int, hi: int, version: int) -> _Chunk | None:
        """Entries ``lo < id <= hi`` on a connection of their own, if it reads ``version``."""
        connection = sqlite3.connect(
            self.path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000
        )
        try:
            apart = connection.cursor()
            apart.execute("BEGIN")
            if self._read_version(apart) != version:
                return None
            return _read_range(connection, apart, lo, hi)
        finally:
            connection.close()

    def _create_staging(self, cur: Cursor) -> None:
        cur.execute("DROP TABLE IF EXISTS temp.staging")
        cur.execute(
            "CREATE TEMP TABLE staging (rec INTEGER, category_id INTEGER, n INTEGER, "
            "digests BLOB, ref TEXT, value TEXT, bare INTEGER)"
        )
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS slots (i INTEGER PRIMARY KEY)")
        if cur.execute("SELECT COUNT(*) FROM temp.slots").fetchone()[0] != STAGE_ROW:
            cur.execute("DELETE FROM temp.slots")
            cur.executemany("INSERT INTO temp.slots VALUES (?)", [(i,) for i in range(STAGE_ROW)])

    def _expanded(self) -> str:
        return (
            "SELECT substr(s.digests, k.i * 16 + 1, 16) AS d, s.category_id AS c, "
            "s.rec + s.bare * k.i AS r, s.ref AS ref, s.value AS v, s.bare AS b, k.i AS k "
            "FROM temp.staging AS s JOIN temp.slots AS k ON k.i < s.n"
        )

    def _drop_staging(self) -> None:
        self._conn.execute("DROP TABLE IF EXISTS temp.staging")

    def _append_only(self, table: str) -> list[str]:
        return [
            f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            for verb in ("UPDATE", "DELETE")
        ]

    def _table_exists(self, cur: Cursor, name: str) -> bool:
        row = cur.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone()
        return row is not None

    def _is_unique_violation(self, exc: Exception) -> bool:
        return isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc)
