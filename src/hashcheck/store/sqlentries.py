"""List entries in SQL: bare-hash imports, removals by hash, batches (promotion and
rollback, item by item) and the change feed."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from hashcheck.hashes.keyed import DIGEST_BYTES
from hashcheck.store.errors import Conflict, NotFound
from hashcheck.store.interface import DigestBlock
from hashcheck.store.records import (
    BatchRecord,
    CatalogRecords,
    Changes,
    Collision,
    EntryRows,
    ImportOutcome,
    RemovalOutcome,
)
from hashcheck.store.sqlbase import FETCH_ROWS, STAGE_ROW, Cursor
from hashcheck.store.sqlimport import REMOVE, ImportQueries, StageRow

# A history row of batch h.batch_id is the item's last change when no later batch changed it.
_LAST_CHANGE = (
    "NOT EXISTS (SELECT 1 FROM item_history l WHERE l.item_id = h.item_id AND l.id > h.id)"
)


def _bare_rows(counter: list[int], category_id: int, packed: bytes) -> Iterator[StageRow]:
    """Staging rows of one-hash records (numbered on from ``counter[0]``), STAGE_ROW a row."""
    if len(packed) % DIGEST_BYTES:
        raise ValueError("packed digests must be a multiple of 16 bytes")
    step = STAGE_ROW * DIGEST_BYTES
    for start in range(0, len(packed), step):
        piece = packed[start : start + step]
        count = len(piece) // DIGEST_BYTES
        yield (counter[0], category_id, count, piece, None, None, 1)
        counter[0] += count


class EntryQueries(ImportQueries):
    # -- entries -------------------------------------------------------------------------
    def import_entries(
        self,
        list_id: int,
        blocks: Iterable[DigestBlock],
        *,
        source: str,
        actor: str,
        shadow: bool = False,
        pdq: Sequence[tuple[int, bytes, bytes]] = (),
    ) -> ImportOutcome:
        """Hashes without a supplier record around them: each its own item."""
        counter = [0]
        sealed: dict[bytes, bytes] = {}

        def rows() -> Iterator[list[StageRow]]:
            for category_id, packed in blocks:
                yield list(_bare_rows(counter, category_id, packed))
            staged: list[StageRow] = []
            for category_id, digest, value in pdq:
                sealed[digest] = value
                staged.append((counter[0], category_id, 1, digest, None, None, 0))
                counter[0] += 1
            yield staged

        return self.import_records(
            list_id, rows(), source=source, actor=actor, shadow=shadow, sealed=sealed
        )

    def known_good_collisions(self, limit: int = 1000) -> list[Collision]:
        with self._tx(write=False) as cur:
            good = dict(self._q(cur, "SELECT id, name FROM lists WHERE known_good = 1").fetchall())
            if not good:
                return []
            marks = ", ".join("?" for _ in good)
            # Probes the (list_id, digest) index of the known-good lists per entry.
            rows = self._q(
                cur,
                "SELECT e.item_id, l.name, c.name, e.batch_id, "
                f"(SELECT a.list_id FROM entries a WHERE a.list_id IN ({marks}) "
                "AND a.digest = e.digest LIMIT 1) AS good "
                "FROM entries e JOIN lists l ON l.id = e.list_id AND l.known_good = 0 "
                "JOIN categories c ON c.id = e.category_id "
                f"WHERE EXISTS (SELECT 1 FROM entries a WHERE a.list_id IN ({marks}) "
                "AND a.digest = e.digest) ORDER BY e.id LIMIT ?",
                [*good, *good, limit],
            ).fetchall()
        return [Collision(int(r[0]), r[1], r[2], int(r[3]), good[r[4]]) for r in rows]

    def remove_entries(
        self, list_id: int, digests: Iterable[bytes], *, source: str, actor: str
    ) -> RemovalOutcome:
        """Every item holding one of the digests leaves the list with all its hashes."""
        with self._lock:
            counter = [0]
            self._stage_records(
                list_id, ([*_bare_rows(counter, REMOVE, packed)] for packed in digests)
            )
            try:
                with self._tx(write=True) as cur:
                    batch_id = self._new_batch(cur, list_id, "removal", source, actor)
                    self._q(
                        cur,
                        f"CREATE TEMP TABLE imp_x AS SELECT d FROM ({self._expanded()}) s",
                    )
                    self._q(
                        cur,
                        "CREATE TEMP TABLE imp_doomed AS SELECT DISTINCT e.item_id AS item "
                        "FROM imp_x x JOIN entries e ON e.list_id = ? AND e.digest = x.d",
                        (list_id,),
                    )
                    not_found = int(
                        self._q(
                            cur,
                            "SELECT COUNT(*) FROM imp_x x WHERE NOT EXISTS (SELECT 1 FROM "
                            "entries e WHERE e.list_id = ? AND e.digest = x.d)",
                            (list_id,),
                        ).fetchone()[0]
                    )
                    removed = self._remove_items(cur, "imp_doomed", batch_id, reason="removed")
                    self._finish_batch(cur, batch_id, removed, 0, removed=removed)
                    self._audit(
                        cur,
                        actor,
                        "list.remove",
                        self._names(cur, "lists", [list_id])[list_id],
                        {
                            "list_id": list_id,
                            "batch": batch_id,
                            "source": source,
                            "removed": removed,
                            "not_found": not_found,
                        },
                    )
            finally:
                self._drop_import_tables()
        return RemovalOutcome(batch_id, removed, not_found)

    def batches(self, list_id: int | None = None, limit: int = 100) -> list[BatchRecord]:
        where = "" if list_id is None else "WHERE b.list_id = ? "
        params: list[object] = [] if list_id is None else [list_id]
        with self._tx(write=False) as cur:
            rows = self._q(
                cur,
                f"{_BATCH_COLUMNS} {where}ORDER BY b.id DESC LIMIT ?",
                [*params, limit],
            ).fetchall()
            # One pass over the entries for all batches shown (there is no batch index:
            # it would cost every import more than this costs an occasional listing).
            live = {
                int(batch): int(count)
                for batch, count in self._q(
                    cur, "SELECT batch_id, COUNT(*) FROM entries GROUP BY batch_id"
                ).fetchall()
            }
        return [_batch(r, live.get(int(r[0]), 0)) for r in rows]

    def batch(self, batch_id: int) -> BatchRecord:
        with self._tx(write=False) as cur:
            return self._batch(cur, batch_id)

    def _batch(self, cur: Cursor, batch_id: int) -> BatchRecord:
        row = self._q(cur, f"{_BATCH_COLUMNS} WHERE b.id = ?", (batch_id,)).fetchone()
        if row is None:
            raise NotFound(f"no batch {batch_id}")
        live = self._q(
            cur, "SELECT COUNT(*) FROM entries WHERE batch_id = ?", (batch_id,)
        ).fetchone()[0]
        return _batch(row, int(live))

    def promote_batch(self, batch_id: int, *, actor: str) -> BatchRecord:
        with self._lock, self._tx(write=True) as cur:
            self._apply_promote(cur, batch_id, actor)
            return self._batch(cur, batch_id)

    def _apply_promote(self, cur: Cursor, batch_id: int, actor: str) -> None:
        batch = self._batch(cur, batch_id)
        if batch.state != "shadow":
            raise Conflict(f"batch {batch_id} is {batch.state}, not in shadow mode")
        self._q(cur, "UPDATE batches SET state = 'active' WHERE id = ?", (batch_id,))
        self._audit(
            cur,
            actor,
            "batch.promote",
            str(batch_id),
            {"before": {"state": "shadow"}, "after": {"state": "active"}, "live": batch.live},
        )

    def rollback_batch(self, batch_id: int, *, actor: str) -> RemovalOutcome:
        with self._lock, self._tx(write=True) as cur:
            row = self._q(
                cur, "SELECT list_id, kind, state FROM batches WHERE id = ?", (batch_id,)
            ).fetchone()
            if row is None:
                raise NotFound(f"no batch {batch_id}")
            list_id, kind, state = int(row[0]), row[1], row[2]
            if kind != "import":
                raise Conflict(
                    f"batch {batch_id} is a {kind}, not an import; only imports roll back"
                )
            if state == "rolled-back":
                raise Conflict(f"batch {batch_id} is rolled back already")
            self._write_runs(cur, list_id)
            rollback_id = self._new_batch(cur, list_id, "rollback", f"batch {batch_id}", actor)
            # Items the batch brought onto the list leave it again.
            self._q(cur, "DROP TABLE IF EXISTS imp_doomed")
            self._q(
                cur,
                "CREATE TEMP TABLE imp_doomed AS SELECT i.id AS item FROM items i "
                "WHERE i.first_batch = ? AND i.state = 'active' "
                "UNION SELECT h.item_id AS item FROM item_history h "
                f"WHERE h.batch_id = ? AND h.change = 'restored' AND {_LAST_CHANGE}",
                (batch_id, batch_id),
            )
            removed = self._remove_items(
                cur, "imp_doomed", rollback_id, reason="rolled-back", state="rolled-back"
            )
            self._q(cur, "DROP TABLE imp_doomed")
            reverted = self._revert_recategorised(cur, batch_id, rollback_id)
            self._q(cur, "UPDATE batches SET state = 'rolled-back' WHERE id = ?", (batch_id,))
            self._finish_batch(cur, rollback_id, removed, 0, changed=reverted, removed=removed)
            self._audit(
                cur,
                actor,
                "batch.rollback",
                str(batch_id),
                {
                    "removed": removed,
                    "reverted": reverted,
                    "list": self._names(cur, "lists", [list_id]).get(list_id),
                    "list_id": list_id,
                    "before": {"state": state},
                    "after": {"state": "rolled-back"},
                },
            )
        return RemovalOutcome(rollback_id, removed, 0)

    def _revert_recategorised(self, cur: Cursor, batch_id: int, rollback_id: int) -> int:
        """Items the batch moved to another category (and nothing moved since) go back."""
        rows = self._q(
            cur,
            "SELECT h.item_id, h.before_category, h.before_value, h.after_category, "
            "h.after_value FROM item_history h JOIN items i ON i.id = h.item_id "
            "WHERE h.batch_id = ? AND h.change = 'recategorised' AND i.state = 'active' "
            f"AND {_LAST_CHANGE} ORDER BY h.item_id",
            (batch_id,),
        ).fetchall()
        if not rows:
            return 0
        self._rewrite_items(cur, [(int(r[0]), int(r[0]), int(r[1])) for r in rows], rollback_id)
        cur.executemany(
            self._sql("UPDATE items SET category_id = ?, value = ?, last_batch = ? WHERE id = ?"),
            [(int(r[1]), r[2], rollback_id, int(r[0])) for r in rows],
        )
        self._history(
            cur,
            [
                (int(r[0]), rollback_id, "rolled-back", int(r[3]), int(r[1]), r[4], r[2])
                for r in rows
            ],
        )
        return len(rows)

    def entry_count(self, list_id: int | None = None) -> int:
        with self._tx(write=False) as cur:
            # Kept by every write (schema 14): a COUNT(*) of a large list takes half a second.
            if list_id is None:
                row = self._q(cur, "SELECT SUM(entries) FROM list_sizes").fetchone()
            else:
                row = self._q(
                    cur, "SELECT entries FROM list_sizes WHERE list_id = ?", (list_id,)
                ).fetchone()
            return int(row[0]) if row is not None and row[0] is not None else 0

    def changes_since(
        self, entries_cursor: int, tombstones_cursor: int, pdq_cursor: int | None = None
    ) -> Changes:
        with self._tx(write=False) as cur:
            version = self._read_version(cur)
            catalog = self._catalog_records(cur, version)
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
            pdq = [
                (int(r[0]), bytes(r[1]), bytes(r[2]), int(r[3]))
                for r in self._q(
                    cur,
                    "SELECT s.entry_id, e.digest, s.sealed, e.item_id FROM pdq_sealed s "
                    "JOIN entries e ON e.id = s.entry_id WHERE s.entry_id > ? ORDER BY s.entry_id",
                    (entries_cursor if pdq_cursor is None else pdq_cursor,),
                ).fetchall()
            ]
            return Changes(
                catalog,
                added,
                [int(r[1]) for r in rows],
                max(entries_cursor, new_entries_cursor),
                new_tombstones_cursor,
                pdq,
            )

    def _catalog_records(self, cur: Cursor, version: int) -> CatalogRecords:
        shadow = frozenset(
            int(row[0])
            for row in self._q(cur, "SELECT id FROM batches WHERE state = 'shadow'").fetchall()
        )
        holds = {
            int(row[0]): str(row[1])
            for row in self._q(
                cur, "SELECT entry_id, reason FROM holds WHERE state = 'open'"
            ).fetchall()
        }
        policy = {
            str(row[0])[len("policy.") :]: str(row[1])
            for row in self._q(
                cur, "SELECT key, value FROM meta WHERE key LIKE ?", ("policy.%",)
            ).fetchall()
        }
        return CatalogRecords(
            self._lists(cur),
            self._categories(cur),
            self._clients(cur),
            version,
            shadow,
            holds,
            policy,
        )

    def _read_entries(self, cur: Cursor, after: int) -> tuple[EntryRows, int]:
        self._q(
            cur,
            "SELECT id, digest, list_id, category_id, batch_id, item_id FROM entries WHERE id > ? "
            "ORDER BY id",
            (after,),
        )
        # Each fetched batch becomes compact columns at once: a large load must not leave
        # millions of small Python objects behind (their freed memory fragments the heap,
        # and every later request then pays page faults).
        digests: list[bytes] = []
        columns: list[npt.NDArray[np.int64]] = []
        while rows := cur.fetchmany(FETCH_ROWS):
            digests.append(b"".join([bytes(row[1]) for row in rows]))
            columns.append(
                np.array([(row[0], row[2], row[3], row[4], row[5]) for row in rows], dtype=np.int64)
            )
            del rows
        table = np.concatenate(columns) if columns else np.empty((0, 5), dtype=np.int64)
        rows_out = EntryRows(
            b"".join(digests),
            np.ascontiguousarray(table[:, 0]),
            np.ascontiguousarray(table[:, 1]),
            np.ascontiguousarray(table[:, 2]),
            np.ascontiguousarray(table[:, 3]),
            np.ascontiguousarray(table[:, 4]),
        )
        return rows_out, (int(table[-1, 0]) if len(table) else after)


_BATCH_COLUMNS = (
    "SELECT b.id, b.list_id, b.kind, b.source, b.actor, b.committed_at, b.added, b.unchanged, "
    "b.state, b.shadow, b.categories, b.changed, b.removed FROM batches b"
)


def _batch(row: Any, live: int) -> BatchRecord:
    return BatchRecord(
        int(row[0]),
        int(row[1]),
        row[2],
        row[3],
        row[4],
        row[5],
        int(row[6]),
        int(row[7]),
        live,
        row[8],
        # "Shadow" is the batch's state; that it once was one shows in its audit record.
        row[8] == "shadow",
        tuple(int(c) for c in str(row[10]).split(",") if c),
        int(row[11]),
        int(row[12]),
    )
