"""The base of the SQL both backends share: transactions, schema, meta and the dialect hooks.

Statements are written with `?` placeholders; a dialect may rewrite them. Every write
transaction bumps `meta.version` first, which also serialises writers.
"""

from __future__ import annotations

import abc
import contextlib
import datetime as dt
import json
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol

from hashcheck.store.errors import SchemaTooNew
from hashcheck.store.interface import Store
from hashcheck.store.schema import MIGRATIONS

FETCH_ROWS = 50_000
# Digests per staging row: few enough that unpacking one by `substr` stays cheap, many enough
# that Python does one row of work per STAGE_ROW entries.
STAGE_ROW = 64
# Values per `IN (...)` list: well under every backend's limit on parameters.
IN_CHUNK = 500


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...
    def executemany(self, sql: str, params: Iterable[Sequence[Any]]) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def fetchmany(self, size: int) -> list[Any]: ...


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class SqlBase(Store):
    """A `Store` over one connection guarded by a lock (the store is not on the hot path)."""

    PK: str
    KEY: str
    BLOB: str
    MONTH_OF_DAY: str

    def __init__(self) -> None:
        self._lock = threading.RLock()

    # -- dialect hooks -------------------------------------------------------------------
    @abc.abstractmethod
    def _begin(self, *, write: bool) -> contextlib.AbstractContextManager[Cursor]:
        """A transaction; a write transaction excludes other writers from its start."""

    @abc.abstractmethod
    def _create_staging(self, cur: Cursor) -> None:
        """An empty temporary table `staging (rec, category_id, n, digests, ref, value, bare)`
        (the columns of `sqlimport.StageRow`)."""

    def _stage(
        self, cur: Cursor, rows: list[tuple[int, int, int, bytes, str | None, str | None, int]]
    ) -> None:
        cur.executemany(
            self._sql(
                "INSERT INTO staging (rec, category_id, n, digests, ref, value, bare) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)"
            ),
            rows,
        )

    def _analyze(self, cur: Cursor, table: str) -> None:
        """Give the planner statistics of a temporary table just filled (where it needs
        them to choose hash joins over nested loops)."""

    def _same(self, left: str, right: str) -> str:
        """SQL that is true when two nullable values are equal (NULL equals NULL)."""
        return f"{left} IS {right}"

    @abc.abstractmethod
    def _table_exists(self, cur: Cursor, name: str) -> bool: ...

    @abc.abstractmethod
    def _is_unique_violation(self, exc: Exception) -> bool: ...

    @abc.abstractmethod
    def _expanded(self) -> str:
        """A SELECT of the staged digests one per row, as columns `d` (digest), `c`
        (category), `r` (record number), `ref`, `v` (supplier value), `b` (bare) and `k`
        (the digest's place in its staging row)."""

    @abc.abstractmethod
    def _drop_staging(self) -> None: ...

    @abc.abstractmethod
    def _append_only(self, table: str) -> list[str]:
        """Statements that make the database refuse UPDATE and DELETE on ``table``."""

    def _sql(self, statement: str) -> str:
        return statement

    def _announce(self, cur: Cursor) -> None:
        """Tell followers of a change as it commits (a backend that can, does)."""

    @contextlib.contextmanager
    def _tx(self, *, write: bool) -> Iterator[Cursor]:
        with self._lock, self._begin(write=write) as cur:
            if write:
                self._bump_version(cur)
            yield cur

    def _bump_version(self, cur: Cursor) -> None:
        """Mark a change: followers see the version grow (and, where the backend can, are
        told at commit)."""
        cur.execute(
            self._sql(
                "UPDATE meta SET value = CAST(CAST(value AS BIGINT) + 1 AS TEXT) "
                "WHERE key = 'version'"
            )
        )
        self._announce(cur)

    def _q(self, cur: Cursor, statement: str, params: Sequence[Any] = ()) -> Cursor:
        cur.execute(self._sql(statement), params)
        return cur

    def _sized(self, cur: Cursor, list_id: int, delta: int) -> None:
        """Keep ``list_sizes`` right: ``delta`` entries were just added to (or, negative,
        deleted from) the list. Every statement that adds or deletes entries calls this."""
        if delta:
            self._q(
                cur,
                "INSERT INTO list_sizes (list_id, entries) VALUES (?, ?) ON CONFLICT (list_id) "
                "DO UPDATE SET entries = list_sizes.entries + excluded.entries",
                (list_id, delta),
            )

    def _names(self, cur: Cursor, table: str, ids: Iterable[int | None]) -> dict[int, str]:
        """Names of lists or categories by id, for audit records that an operator reads."""
        wanted = sorted({int(i) for i in ids if i is not None and int(i) >= 0})
        if not wanted:
            return {}
        assert table in ("lists", "categories")
        marks = ", ".join("?" for _ in wanted)
        rows = self._q(cur, f"SELECT id, name FROM {table} WHERE id IN ({marks})", wanted)
        return {int(i): str(name) for i, name in rows.fetchall()}

    def _audit(self, cur: Cursor, actor: str, action: str, subject: str, detail: Any) -> None:
        self._q(
            cur,
            "INSERT INTO audit (at, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
            (now_iso(), actor, action, subject, json.dumps(detail, sort_keys=True)),
        )

    # -- schema --------------------------------------------------------------------------
    def migrate(self) -> int:
        with self._lock, self._begin(write=True) as cur:
            current = self._read_schema_version(cur)
            if current > len(MIGRATIONS):
                raise SchemaTooNew(
                    f"database schema is version {current}, this hashcheck knows up to "
                    f"{len(MIGRATIONS)}; upgrade hashcheck"
                )
            if current == 0:
                self._q(cur, "CREATE TABLE schema_version (version INTEGER NOT NULL)")
                self._q(cur, "INSERT INTO schema_version (version) VALUES (0)")
            for number, statements in enumerate(MIGRATIONS[current:], start=current + 1):
                for statement in statements:
                    if statement.startswith("@append-only "):
                        for guard in self._append_only(statement.split()[1]):
                            cur.execute(guard)
                        continue
                    self._q(
                        cur,
                        statement.format(
                            pk=self.PK, key=self.KEY, blob=self.BLOB, month=self.MONTH_OF_DAY
                        ),
                    )
                self._q(cur, "UPDATE schema_version SET version = ?", (number,))
            return len(MIGRATIONS)

    def _read_schema_version(self, cur: Cursor) -> int:
        if not self._table_exists(cur, "schema_version"):
            return 0
        return int(self._q(cur, "SELECT version FROM schema_version").fetchone()[0])

    def schema_version(self) -> int:
        with self._tx(write=False) as cur:
            return self._read_schema_version(cur)

    # -- meta ----------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        with self._tx(write=False) as cur:
            row = self._q(cur, "SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._tx(write=True) as cur:
            self._q(
                cur,
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def ensure_meta(self, key: str, value: str) -> str:
        with self._lock, self._begin(write=True) as cur:
            self._q(
                cur,
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                (key, value),
            )
            return str(self._q(cur, "SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0])

    def version(self) -> int:
        with self._tx(write=False) as cur:
            return self._read_version(cur)

    def _read_version(self, cur: Cursor) -> int:
        return int(self._q(cur, "SELECT value FROM meta WHERE key = 'version'").fetchone()[0])
