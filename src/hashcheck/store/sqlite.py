"""SQLite backend: the embedded default. WAL mode, one writer at a time, stdlib only."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from hashcheck.store.errors import Unavailable
from hashcheck.store.sql import STAGE_ROW, Cursor, SqlStore

BUSY_TIMEOUT_MS = 30_000


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
