"""List entries in SQL: atomic staged imports and removals, and the change feed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from hashcheck.hashes.keyed import DIGEST_BYTES
from hashcheck.store.errors import Conflict, NotFound
from hashcheck.store.interface import REMOVE, DigestBlock
from hashcheck.store.records import (
    BatchRecord,
    CatalogRecords,
    Changes,
    Collision,
    EntryRows,
    ImportOutcome,
    RemovalOutcome,
)
from hashcheck.store.sqlbase import FETCH_ROWS, STAGE_ROW, Cursor, now_iso
from hashcheck.store.sqlcatalog import CatalogQueries


class EntryQueries(CatalogQueries):
    # -- entries -------------------------------------------------------------------------
    def _require_list(self, cur: Cursor, list_id: int) -> None:
        if self._q(cur, "SELECT 1 FROM lists WHERE id = ?", (list_id,)).fetchone() is None:
            raise NotFound(f"no list with id {list_id}")

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
        with self._lock:
            staged = self._stage_all(list_id, blocks)
            try:
                with self._tx(write=True) as cur:
                    categories = sorted(
                        int(row[0])
                        for row in self._q(
                            cur, "SELECT DISTINCT category_id FROM staging"
                        ).fetchall()
                    )
                    removals = int(
                        self._q(
                            cur,
                            "SELECT COALESCE(SUM(n), 0) FROM staging WHERE category_id = ?",
                            (REMOVE,),
                        ).fetchone()[0]
                    )
                    batch_id = self._new_batch(cur, list_id, "import", source, actor, shadow=shadow)
                    collisions = self._known_good_collisions(cur, list_id)
                    added = self._insert_staged(cur, list_id, batch_id, removals > 0)
                    perceptual = {digest: (c, sealed) for c, digest, sealed in pdq}
                    if perceptual:
                        added += self._insert_pdq(cur, list_id, batch_id, perceptual)
                        categories = sorted({*categories, *(c for c, _ in perceptual.values())})
                    removed = self._remove_staged(cur, list_id, batch_id) if removals else 0
                    unchanged = staged - removals + len(perceptual) - added
                    self._finish_batch(
                        cur, batch_id, added, unchanged, [c for c in categories if c >= 0]
                    )
                    self._audit(
                        cur,
                        actor,
                        "list.import",
                        str(list_id),
                        {
                            "batch": batch_id,
                            "source": source,
                            "shadow": shadow,
                            "added": added,
                            "removed": removed,
                            "known_good_collisions": collisions,
                        },
                    )
            finally:
                self._drop_staging()
        return ImportOutcome(batch_id, added, unchanged, removed, collisions)

    def _known_good_collisions(self, cur: Cursor, list_id: int) -> int:
        """How many staged digests are on a list of the other kind (known-good vs not)."""
        kind = self._q(cur, "SELECT known_good FROM lists WHERE id = ?", (list_id,)).fetchone()[0]
        others = [
            int(row[0])
            for row in self._q(
                cur, "SELECT id FROM lists WHERE known_good <> ?", (kind,)
            ).fetchall()
        ]
        if not others:
            return 0  # the usual case costs nothing
        marks = ", ".join("?" for _ in others)
        row = self._q(
            cur,
            f"SELECT COUNT(DISTINCT d) FROM ({self._expanded()}) AS x WHERE c >= 0 AND EXISTS "
            f"(SELECT 1 FROM entries a WHERE a.list_id IN ({marks}) AND a.digest = x.d)",
            others,
        ).fetchone()
        return int(row[0])

    def known_good_collisions(self, limit: int = 1000) -> list[Collision]:
        with self._tx(write=False) as cur:
            good = dict(self._q(cur, "SELECT id, name FROM lists WHERE known_good = 1").fetchall())
            if not good:
                return []
            marks = ", ".join("?" for _ in good)
            # Probes the (list_id, digest) index of the known-good lists per entry.
            rows = self._q(
                cur,
                "SELECT e.id, l.name, c.name, e.batch_id, "
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
        with self._lock:
            staged = self._stage_all(list_id, ((REMOVE, packed) for packed in digests))
            try:
                with self._tx(write=True) as cur:
                    batch_id = self._new_batch(cur, list_id, "removal", source, actor)
                    removed = self._remove_staged(cur, list_id, batch_id)
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
            rollback_id = self._new_batch(cur, list_id, "rollback", f"batch {batch_id}", actor)
            top = self._top_tombstone(cur)
            doomed = "SELECT id FROM entries WHERE batch_id = ?"
            self._q(
                cur,
                "INSERT INTO tombstones (entry_id, list_id, batch_id) "
                f"SELECT id, ?, ? FROM ({doomed}) AS d ORDER BY id",
                (list_id, rollback_id, batch_id),
            )
            removed = max(cur.rowcount, 0)
            self._q(cur, "DELETE FROM entries WHERE batch_id = ?", (batch_id,))
            self._retract_since(cur, top, "rolled-back")
            self._q(cur, "UPDATE batches SET state = 'rolled-back' WHERE id = ?", (batch_id,))
            self._finish_batch(cur, rollback_id, removed, 0)
            self._audit(
                cur,
                actor,
                "batch.rollback",
                str(batch_id),
                {
                    "removed": removed,
                    "list": list_id,
                    "before": {"state": state},
                    "after": {"state": "rolled-back"},
                },
            )
        return RemovalOutcome(rollback_id, removed, 0)

    def _insert_staged(self, cur: Cursor, list_id: int, batch_id: int, has_removals: bool) -> int:
        # A digest the same batch also removes is not added: the supplier retracted it.
        retracted = (
            f"AND d NOT IN (SELECT d FROM ({self._expanded()}) AS r WHERE c = {REMOVE}) "
            if has_removals
            else ""
        )
        self._q(
            cur,
            "INSERT INTO entries (list_id, digest, category_id, batch_id) "
            f"SELECT ?, d, c, ? FROM ({self._expanded()}) AS x WHERE c >= 0 {retracted}"
            # Sorted input makes the index inserts sequential; of a digest given twice the
            # lower category id wins. (GROUP BY costs 4x as much.)
            "ORDER BY d, c ON CONFLICT (list_id, digest) DO NOTHING",
            (list_id, batch_id),
        )
        return max(cur.rowcount, 0)

    def _remove_staged(self, cur: Cursor, list_id: int, batch_id: int) -> int:
        """Tombstone and delete the list's entries whose digests are staged for removal."""
        matched = (
            "SELECT id FROM entries WHERE list_id = ? AND digest IN "
            f"(SELECT d FROM ({self._expanded()}) AS x WHERE c = {REMOVE})"
        )
        top = self._top_tombstone(cur)
        self._q(
            cur,
            "INSERT INTO tombstones (entry_id, list_id, batch_id) "
            f"SELECT id, ?, ? FROM ({matched}) AS doomed ORDER BY id",
            (list_id, batch_id, list_id),
        )
        removed = max(cur.rowcount, 0)
        self._q(cur, f"DELETE FROM entries WHERE id IN ({matched})", (list_id,))
        self._retract_since(cur, top, "removed")
        return removed

    def _insert_pdq(
        self, cur: Cursor, list_id: int, batch_id: int, rows: dict[bytes, tuple[int, bytes]]
    ) -> int:
        """Perceptual entries (keyed digest -> category, sealed hash) into the batch; an entry
        already on the list is left as it is. Returns how many were added."""
        cur.executemany(
            self._sql(
                "INSERT INTO entries (list_id, digest, category_id, batch_id) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (list_id, digest) DO NOTHING"
            ),
            [(list_id, digest, category, batch_id) for digest, (category, _) in rows.items()],
        )
        cur.executemany(
            self._sql(
                "INSERT INTO pdq_sealed (entry_id, sealed) SELECT id, ? FROM entries "
                "WHERE list_id = ? AND digest = ? AND batch_id = ?"
            ),
            [(sealed, list_id, digest, batch_id) for digest, (_, sealed) in rows.items()],
        )
        return int(
            self._q(
                cur,
                "SELECT COUNT(*) FROM pdq_sealed s JOIN entries e ON e.id = s.entry_id "
                "WHERE e.batch_id = ?",
                (batch_id,),
            ).fetchone()[0]
        )

    def _top_tombstone(self, cur: Cursor) -> int:
        return int(self._q(cur, "SELECT COALESCE(MAX(seq), 0) FROM tombstones").fetchone()[0])

    def _retract_since(self, cur: Cursor, after_seq: int, reason: str) -> None:
        """Tell every client that was answered a match on an entry tombstoned after
        ``after_seq`` (the retraction feed), once per match id."""
        self._q(
            cur,
            "INSERT INTO retractions (client_id, entry_id, day, list_id, reason, at) "
            "SELECT s.client_id, s.entry_id, s.day, t.list_id, ?, ? "
            "FROM tombstones t JOIN sightings s ON s.entry_id = t.entry_id "
            "WHERE t.seq > ? AND s.answered = 1 ORDER BY t.seq, s.client_id, s.day "
            "ON CONFLICT (client_id, entry_id, day) DO NOTHING",
            (reason, now_iso(), after_seq),
        )

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

    def _new_batch(
        self, cur: Cursor, list_id: int, kind: str, source: str, actor: str, *, shadow: bool = False
    ) -> int:
        self._q(
            cur,
            "INSERT INTO batches (list_id, kind, source, actor, committed_at, added, unchanged, "
            "shadow, state) VALUES (?, ?, ?, ?, ?, 0, 0, ?, ?)",
            (
                list_id,
                kind,
                source,
                actor,
                now_iso(),
                int(shadow),
                "shadow" if shadow else "active",
            ),
        )
        return int(self._q(cur, "SELECT MAX(id) FROM batches").fetchone()[0])

    def _finish_batch(
        self,
        cur: Cursor,
        batch_id: int,
        added: int,
        unchanged: int,
        categories: Iterable[int] = (),
    ) -> None:
        self._q(
            cur,
            "UPDATE batches SET added = ?, unchanged = ?, categories = ? WHERE id = ?",
            (added, unchanged, ",".join(map(str, categories)), batch_id),
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
                (int(r[0]), bytes(r[1]), bytes(r[2]))
                for r in self._q(
                    cur,
                    "SELECT s.entry_id, e.digest, s.sealed FROM pdq_sealed s "
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
            "SELECT id, digest, list_id, category_id, batch_id FROM entries WHERE id > ? "
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
                np.array([(row[0], row[2], row[3], row[4]) for row in rows], dtype=np.int64)
            )
            del rows
        table = np.concatenate(columns) if columns else np.empty((0, 4), dtype=np.int64)
        rows_out = EntryRows(
            b"".join(digests),
            np.ascontiguousarray(table[:, 0]),
            np.ascontiguousarray(table[:, 1]),
            np.ascontiguousarray(table[:, 2]),
            np.ascontiguousarray(table[:, 3]),
        )
        return rows_out, (int(table[-1, 0]) if len(table) else after)


_BATCH_COLUMNS = (
    "SELECT b.id, b.list_id, b.kind, b.source, b.actor, b.committed_at, b.added, b.unchanged, "
    "b.state, b.shadow, b.categories FROM batches b"
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
        bool(row[9]),
        tuple(int(c) for c in str(row[10]).split(",") if c),
    )
