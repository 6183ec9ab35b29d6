"""SQLite backend: the embedded default. WAL mode, one writer at a time, stdlib only."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from hashcheck.store.errors import Unavailable
from hashcheck.store.sql import Cursor, SqlStore

BUSY_TIMEOUT_MS = 30_000


class SqliteStore(SqlStore):
    # AUTOINCREMENT: ids are never reused, which the change feed (id > cursor) relies on.
    PK = "INTEGER PRIMARY KEY AUTOINCREMENT"
    BLOB = "BLOB"

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
            )
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = NORMAL")
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._conn.execute("PRAGMA temp_store = FILE")
            self._conn.execute("PRAGMA cache_size = -131072")
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

    def _create_staging(self, cur: Cursor, columns: str) -> None:
        cur.execute("DROP TABLE IF EXISTS temp.staging")
        cur.execute(f"CREATE TEMP TABLE staging ({columns.format(blob=self.BLOB)})")

    def _stage(self, cur: Cursor, rows: Iterable[Sequence[Any]], columns: str) -> None:
        marks = ", ".join("?" for _ in columns.split(","))
        cur.executemany(f"INSERT INTO temp.staging ({columns}) VALUES ({marks})", rows)

    def _drop_staging(self) -> None:
        self._conn.execute("DROP TABLE IF EXISTS temp.staging")

    def _table_exists(self, cur: Cursor, name: str) -> bool:
        row = cur.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone()
        return row is not None

    def _is_unique_violation(self, exc: Exception) -> bool:
        return isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc)
