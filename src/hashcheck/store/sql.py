"""The SQL both backends share; each backend supplies a connection and its dialect.

Owns transactions, the change feed and the audit rows written beside every change.
Statements are written with `?` placeholders; a dialect may rewrite them.
"""

from __future__ import annotations

import abc
import contextlib
import datetime as dt
import json
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from hashcheck.catalog.model import Category, Client, Grant, HashList, Severity
from hashcheck.hashes.keyed import DIGEST_BYTES
from hashcheck.store.errors import AlreadyExists, NotFound, SchemaTooNew
from hashcheck.store.interface import DigestBlock, Store
from hashcheck.store.records import (
    AuditRecord,
    CatalogRecords,
    Changes,
    EntryRows,
    ImportOutcome,
    RemovalOutcome,
    StatRow,
)
from hashcheck.store.schema import MIGRATIONS

FETCH_ROWS = 50_000
# Digests per staging row: few enough that unpacking one by `substr` stays cheap, many enough
# that Python does one row of work per STAGE_ROW entries.
STAGE_ROW = 64


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


class SqlStore(Store):
    """A `Store` over one connection guarded by a lock (the store is not on the hot path)."""

    PK: str
    BLOB: str

    def __init__(self) -> None:
        self._lock = threading.RLock()

    # -- dialect hooks -------------------------------------------------------------------
    @abc.abstractmethod
    def _begin(self, *, write: bool) -> contextlib.AbstractContextManager[Cursor]:
        """A transaction; a write transaction excludes other writers from its start."""

    @abc.abstractmethod
    def _create_staging(self, cur: Cursor) -> None:
        """An empty temporary table `staging (category_id, n, digests)`."""

    def _stage(self, cur: Cursor, rows: list[tuple[int, int, bytes]]) -> None:
        cur.executemany(
            self._sql("INSERT INTO staging (category_id, n, digests) VALUES (?, ?, ?)"), rows
        )

    @abc.abstractmethod
    def _table_exists(self, cur: Cursor, name: str) -> bool: ...

    @abc.abstractmethod
    def _is_unique_violation(self, exc: Exception) -> bool: ...

    def _sql(self, statement: str) -> str:
        return statement

    @contextlib.contextmanager
    def _tx(self, *, write: bool) -> Iterator[Cursor]:
        with self._lock, self._begin(write=write) as cur:
            if write:
                cur.execute(
                    self._sql(
                        "UPDATE meta SET value = CAST(CAST(value AS BIGINT) + 1 AS TEXT) "
                        "WHERE key = 'version'"
                    )
                )
            yield cur

    def _q(self, cur: Cursor, statement: str, params: Sequence[Any] = ()) -> Cursor:
        cur.execute(self._sql(statement), params)
        return cur

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
                    self._q(cur, statement.format(pk=self.PK, blob=self.BLOB))
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

    def version(self) -> int:
        with self._tx(write=False) as cur:
            return self._read_version(cur)

    def _read_version(self, cur: Cursor) -> int:
        return int(self._q(cur, "SELECT value FROM meta WHERE key = 'version'").fetchone()[0])

    # -- catalog -------------------------------------------------------------------------
    def add_category(
        self, name: str, severity: Severity, description: str, *, actor: str
    ) -> Category:
        try:
            with self._tx(write=True) as cur:
                self._q(
                    cur,
                    "INSERT INTO categories (name, severity, description) VALUES (?, ?, ?)",
                    (name, severity.value, description),
                )
                self._audit(cur, actor, "category.add", name, {"severity": severity.value})
        except Exception as exc:
            if self._is_unique_violation(exc):
                raise AlreadyExists(f"category {name!r} exists already") from None
            raise
        return next(c for c in self.categories() if c.name == name)

    def categories(self) -> list[Category]:
        with self._tx(write=False) as cur:
            return self._categories(cur)

    def _categories(self, cur: Cursor) -> list[Category]:
        rows = self._q(
            cur, "SELECT id, name, severity, description FROM categories ORDER BY id"
        ).fetchall()
        return [Category(int(r[0]), r[1], Severity(r[2]), r[3]) for r in rows]

    def add_list(self, name: str, supplier: str, description: str, *, actor: str) -> HashList:
        try:
            with self._tx(write=True) as cur:
                self._q(
                    cur,
                    "INSERT INTO lists (name, supplier, description, created_at) "
                    "VALUES (?, ?, ?, ?)",
                    (name, supplier, description, now_iso()),
                )
                self._audit(cur, actor, "list.add", name, {"supplier": supplier})
        except Exception as exc:
            if self._is_unique_violation(exc):
                raise AlreadyExists(f"list {name!r} exists already") from None
            raise
        return next(item for item in self.lists() if item.name == name)

    def lists(self) -> list[HashList]:
        with self._tx(write=False) as cur:
            return self._lists(cur)

    def _lists(self, cur: Cursor) -> list[HashList]:
        rows = self._q(
            cur, "SELECT id, name, supplier, description FROM lists ORDER BY id"
        ).fetchall()
        return [HashList(int(r[0]), r[1], r[2], r[3]) for r in rows]

    def add_client(
        self, client_id: str, name: str, secret_hash: str, grants: Iterable[Grant], *, actor: str
    ) -> Client:
        grant_list = list(grants)
        stamp = now_iso()
        try:
            with self._tx(write=True) as cur:
                self._q(
                    cur,
                    "INSERT INTO clients (id, name, enabled, secret_hash, created_at, updated_at) "
                    "VALUES (?, ?, 1, ?, ?, ?)",
                    (client_id, name, secret_hash, stamp, stamp),
                )
                for grant in grant_list:
                    self._insert_grant(cur, client_id, grant)
                self._audit(
                    cur,
                    actor,
                    "client.add",
                    client_id,
                    {"name": name, "grants": _grants(grant_list)},
                )
        except Exception as exc:
            if self._is_unique_violation(exc):
                raise AlreadyExists(f"client {client_id!r} exists already") from None
            raise
        return self._client(client_id)

    def _insert_grant(self, cur: Cursor, client_id: str, grant: Grant) -> None:
        self._q(
            cur,
            "INSERT INTO grants (client_id, list_id, category_id) VALUES (?, ?, ?)",
            (client_id, grant.list_id, grant.category_id),
        )

    def _client(self, client_id: str) -> Client:
        for client in self.clients():
            if client.client_id == client_id:
                return client
        raise NotFound(f"no client {client_id!r}")

    def clients(self) -> list[Client]:
        with self._tx(write=False) as cur:
            return self._clients(cur)

    def _clients(self, cur: Cursor) -> list[Client]:
        grants: dict[str, list[Grant]] = {}
        for client_id, list_id, category_id in self._q(
            cur, "SELECT client_id, list_id, category_id FROM grants ORDER BY client_id"
        ).fetchall():
            grants.setdefault(client_id, []).append(
                Grant(
                    None if list_id is None else int(list_id),
                    None if category_id is None else int(category_id),
                )
            )
        rows = self._q(
            cur, "SELECT id, name, enabled, secret_hash FROM clients ORDER BY id"
        ).fetchall()
        return [Client(r[0], r[1], bool(r[2]), r[3], tuple(grants.get(r[0], ()))) for r in rows]

    def _require_client(self, cur: Cursor, client_id: str) -> None:
        if self._q(cur, "SELECT 1 FROM clients WHERE id = ?", (client_id,)).fetchone() is None:
            raise NotFound(f"no client {client_id!r}")

    def set_client_enabled(self, client_id: str, enabled: bool, *, actor: str) -> None:
        with self._tx(write=True) as cur:
            self._require_client(cur, client_id)
            self._q(
                cur,
                "UPDATE clients SET enabled = ?, updated_at = ? WHERE id = ?",
                (int(enabled), now_iso(), client_id),
            )
            self._audit(cur, actor, "client.enable" if enabled else "client.disable", client_id, {})

    def set_client_secret(self, client_id: str, secret_hash: str, *, actor: str) -> None:
        with self._tx(write=True) as cur:
            self._require_client(cur, client_id)
            self._q(
                cur,
                "UPDATE clients SET secret_hash = ?, updated_at = ? WHERE id = ?",
                (secret_hash, now_iso(), client_id),
            )
            self._audit(cur, actor, "client.rotate", client_id, {})

    def add_grant(self, client_id: str, grant: Grant, *, actor: str) -> bool:
        with self._tx(write=True) as cur:
            self._require_client(cur, client_id)
            if self._grant_exists(cur, client_id, grant):
                return False
            self._insert_grant(cur, client_id, grant)
            self._audit(cur, actor, "grant.add", client_id, _grants([grant])[0])
            return True

    def remove_grant(self, client_id: str, grant: Grant, *, actor: str) -> bool:
        with self._tx(write=True) as cur:
            self._require_client(cur, client_id)
            if not self._grant_exists(cur, client_id, grant):
                return False
            self._q(
                cur,
                "DELETE FROM grants WHERE client_id = ? "
                "AND COALESCE(list_id, 0) = ? AND COALESCE(category_id, 0) = ?",
                (client_id, grant.list_id or 0, grant.category_id or 0),
            )
            self._audit(cur, actor, "grant.remove", client_id, _grants([grant])[0])
            return True

    def _grant_exists(self, cur: Cursor, client_id: str, grant: Grant) -> bool:
        row = self._q(
            cur,
            "SELECT 1 FROM grants WHERE client_id = ? "
            "AND COALESCE(list_id, 0) = ? AND COALESCE(category_id, 0) = ?",
            (client_id, grant.list_id or 0, grant.category_id or 0),
        ).fetchone()
        return row is not None

    # -- entries -------------------------------------------------------------------------
    def _require_list(self, cur: Cursor, list_id: int) -> None:
        if self._q(cur, "SELECT 1 FROM lists WHERE id = ?", (list_id,)).fetchone() is None:
            raise NotFound(f"no list with id {list_id}")

    def import_entries(
        self, list_id: int, blocks: Iterable[DigestBlock], *, source: str, actor: str
    ) -> ImportOutcome:
        with self._lock:
            staged = self._stage_all(list_id, blocks)
            try:
                with self._tx(write=True) as cur:
                    batch_id = self._new_batch(cur, list_id, "import", source, actor)
                    self._q(
                        cur,
                        "INSERT INTO entries (list_id, digest, category_id, batch_id) "
                        f"SELECT ?, d, c, ? FROM ({self._expanded()}) AS x "
                        # Sorted input makes the index inserts sequential; of a digest given
                        # twice the lower category id wins. (GROUP BY costs 4x as much.)
                        "WHERE true ORDER BY d, c "
                        "ON CONFLICT (list_id, digest) DO NOTHING",
                        (list_id, batch_id),
                    )
                    added = max(cur.rowcount, 0)
                    self._finish_batch(cur, batch_id, added, staged - added)
                    self._audit(
                        cur,
                        actor,
                        "list.import",
                        str(list_id),
                        {"batch": batch_id, "source": source, "added": added},
                    )
            finally:
                self._drop_staging()
        return ImportOutcome(batch_id, added, staged - added)

    def remove_entries(
        self, list_id: int, digests: Iterable[bytes], *, source: str, actor: str
    ) -> RemovalOutcome:
        with self._lock:
            staged = self._stage_all(list_id, ((0, packed) for packed in digests))
            try:
                with self._tx(write=True) as cur:
                    batch_id = self._new_batch(cur, list_id, "removal", source, actor)
                    matched = (
                        "SELECT id FROM entries WHERE list_id = ? "
                        f"AND digest IN (SELECT d FROM ({self._expanded()}) AS x)"
                    )
                    self._q(
                        cur,
                        "INSERT INTO tombstones (entry_id, list_id, batch_id) "
                        f"SELECT id, ?, ? FROM ({matched}) AS doomed ORDER BY id",
                        (list_id, batch_id, list_id),
                    )
                    removed = max(cur.rowcount, 0)
                    self._q(cur, f"DELETE FROM entries WHERE id IN ({matched})", (list_id,))
                    self._finish_batch(cur, batch_id, removed, staged - removed)
                    self._audit(
                        cur,
                        actor,
                        "list.remove",
                        str(list_id),
                        {"batch": batch_id, "source": source, "removed": removed},
                    )
            finally:
                self._drop_staging()
        return RemovalOutcome(batch_id, removed, staged - removed)

    def _stage_all(self, list_id: int, blocks: Iterable[DigestBlock]) -> int:
        """Stage packed digests in rows of STAGE_ROW digests; returns how many were staged.

        Staging happens before the write transaction, so parsing a large file holds no lock;
        a failure while staging (a refused file) discards everything staged.
        """
        staged = 0
        with self._begin(write=False) as cur:
            self._require_list(cur, list_id)
            self._create_staging(cur)
            try:
                for category_id, packed in blocks:
                    if len(packed) % DIGEST_BYTES:
                        raise ValueError("packed digests must be a multiple of 16 bytes")
                    step = STAGE_ROW * DIGEST_BYTES
                    self._stage(
                        cur,
                        [
                            (category_id, len(piece) // DIGEST_BYTES, piece)
                            for piece in (packed[i : i + step] for i in range(0, len(packed), step))
                        ],
                    )
                    staged += len(packed) // DIGEST_BYTES
            except BaseException:
                self._drop_staging()
                raise
        return staged

    @abc.abstractmethod
    def _expanded(self) -> str:
        """A SELECT of the staged digests one per row, as columns `d` (digest), `c` (category)."""

    @abc.abstractmethod
    def _drop_staging(self) -> None: ...

    def _new_batch(self, cur: Cursor, list_id: int, kind: str, source: str, actor: str) -> int:
        self._q(
            cur,
            "INSERT INTO batches (list_id, kind, source, actor, committed_at, added, unchanged) "
            "VALUES (?, ?, ?, ?, ?, 0, 0)",
            (list_id, kind, source, actor, now_iso()),
        )
        return int(self._q(cur, "SELECT MAX(id) FROM batches").fetchone()[0])

    def _finish_batch(self, cur: Cursor, batch_id: int, added: int, unchanged: int) -> None:
        self._q(
            cur,
            "UPDATE batches SET added = ?, unchanged = ? WHERE id = ?",
            (added, unchanged, batch_id),
        )

    def entry_count(self, list_id: int | None = None) -> int:
        with self._tx(write=False) as cur:
            if list_id is None:
                row = self._q(cur, "SELECT COUNT(*) FROM entries").fetchone()
            else:
                row = self._q(
                    cur, "SELECT COUNT(*) FROM entries WHERE list_id = ?", (list_id,)
                ).fetchone()
            return int(row[0])

    def changes_since(self, entries_cursor: int, tombstones_cursor: int) -> Changes:
        with self._tx(write=False) as cur:
            version = self._read_version(cur)
            catalog = CatalogRecords(
                self._lists(cur), self._categories(cur), self._clients(cur), version
            )
            added, new_entries_cursor = self._read_entries(cur, entries_cursor)
            # A tombstone for an entry the reader never saw (added and removed since its
            # cursor) is of no use to it.
            rows = self._q(
                cur,
                "SELECT seq, entry_id FROM tombstones WHERE seq > ? AND entry_id <= ? ORDER BY seq",
                (tombstones_cursor, entries_cursor),
            ).fetchall()
            top = self._q(cur, "SELECT MAX(seq) FROM tombstones").fetchone()[0]
            new_tombstones_cursor = max(tombstones_cursor, int(top or 0))
            return Changes(
                catalog,
                added,
                [int(r[1]) for r in rows],
                max(entries_cursor, new_entries_cursor),
                new_tombstones_cursor,
            )

    def _read_entries(self, cur: Cursor, after: int) -> tuple[EntryRows, int]:
        self._q(
            cur,
            "SELECT id, digest, list_id, category_id FROM entries WHERE id > ? ORDER BY id",
            (after,),
        )
        # Each fetched batch becomes compact columns at once: a large load must not leave
        # millions of small Python objects behind (their freed memory fragments the heap,
        # and every later request then pays page faults).
        digests: list[bytes] = []
        columns: list[npt.NDArray[np.int64]] = []
        while rows := cur.fetchmany(FETCH_ROWS):
            digests.append(b"".join([bytes(row[1]) for row in rows]))
            columns.append(np.array([(row[0], row[2], row[3]) for row in rows], dtype=np.int64))
            del rows
        table = np.concatenate(columns) if columns else np.empty((0, 3), dtype=np.int64)
        rows_out = EntryRows(
            b"".join(digests),
            np.ascontiguousarray(table[:, 0]),
            np.ascontiguousarray(table[:, 1]),
            np.ascontiguousarray(table[:, 2]),
        )
        return rows_out, (int(table[-1, 0]) if len(table) else after)

    # -- statistics and audit ------------------------------------------------------------
    def add_stats(self, rows: Iterable[StatRow]) -> None:
        params = [(r.client_id, r.list_id, r.day, r.checked, r.matched) for r in rows]
        if not params:
            return
        with self._lock, self._begin(write=True) as cur:
            cur.executemany(
                self._sql(
                    "INSERT INTO stats (client_id, list_id, day, checked, matched) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (client_id, list_id, day) DO UPDATE "
                    "SET checked = stats.checked + excluded.checked, "
                    "matched = stats.matched + excluded.matched"
                ),
                params,
            )

    def read_stats(
        self, *, client_id: str | None = None, list_id: int | None = None, since: str | None = None
    ) -> list[StatRow]:
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (("client_id", client_id), ("list_id", list_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if since is not None:
            clauses.append("day >= ?")
            params.append(since)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._tx(write=False) as cur:
            rows = self._q(
                cur,
                "SELECT client_id, list_id, day, checked, matched FROM stats "
                f"{where} ORDER BY day, client_id, list_id",
                params,
            ).fetchall()
        return [StatRow(r[0], int(r[1]), r[2], int(r[3]), int(r[4])) for r in rows]

    def audit_log(self, limit: int = 100) -> list[AuditRecord]:
        with self._tx(write=False) as cur:
            rows = self._q(
                cur,
                "SELECT id, at, actor, action, subject, detail FROM audit ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [AuditRecord(int(r[0]), r[1], r[2], r[3], r[4], r[5]) for r in rows]


def _grants(grants: Iterable[Grant]) -> list[dict[str, int | None]]:
    return [{"list": g.list_id, "category": g.category_id} for g in grants]
