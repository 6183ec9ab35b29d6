"""Items in SQL: taking items off a list, moving their hashes to another category, their
history, and looking one up.

Every change to an item rewrites all of its entries at once (tombstones for the old rows,
new rows with new ids), so a node that follows the change feed sees the whole item change
in one step and never a mix. Holds no import logic (`sqlimport`) and no HTTP.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from hashcheck.store.errors import NotFound
from hashcheck.store.records import ItemChange, ItemRecord
from hashcheck.store.sqlbase import IN_CHUNK, Cursor, now_iso
from hashcheck.store.sqlcatalog import CatalogQueries

# When an item was first and last delivered is its batches' commit time.
_ITEM_COLUMNS = (
    "SELECT i.id, i.list_id, i.ref, i.category_id, i.value, i.state, i.merged_into, "
    "i.first_batch, i.last_batch, f.committed_at, l.committed_at FROM all_items i "
    "JOIN batches f ON f.id = i.first_batch JOIN batches l ON l.id = i.last_batch"
)


class ItemQueries(CatalogQueries):
    # -- writing -------------------------------------------------------------------------
    def _write_runs(self, cur: Cursor, list_id: int) -> None:
        """Give the items of the list's plain first delivery (schema 10: ids only, no rows)
        their rows, before anything changes an item of the list: a change, a removal and a
        merge then work on rows alone. Once per list, at the cost the first delivery saved."""
        if not self._q(cur, "SELECT 1 FROM item_runs WHERE list_id = ?", (list_id,)).fetchone():
            return
        self._q(
            cur,
            "INSERT INTO items (id, list_id, ref, category_id, value, state, merged_into, "
            "first_batch, last_batch) SELECT e.item_id, e.list_id, NULL, e.category_id, NULL, "
            "'active', NULL, e.batch_id, e.batch_id FROM item_runs r JOIN entries e "
            "ON e.item_id BETWEEN r.first_item AND r.last_item AND e.list_id = r.list_id "
            "WHERE r.list_id = ? ORDER BY e.item_id",
            (list_id,),
        )
        self._q(cur, "DELETE FROM item_runs WHERE list_id = ?", (list_id,))

    def _write_runs_of(self, cur: Cursor, table: str, column: str = "item") -> None:
        """`_write_runs` for every list that has an item named in temp table ``table``."""
        for (list_id,) in self._q(
            cur,
            "SELECT DISTINCT r.list_id FROM item_runs r JOIN "
            f"{table} t ON t.{column} BETWEEN r.first_item AND r.last_item",
        ).fetchall():
            self._write_runs(cur, int(list_id))

    def _has_items(self, cur: Cursor, list_id: int) -> bool:
        """Whether anything was ever delivered to the list (items of any state)."""
        return any(
            self._q(cur, f"SELECT 1 FROM {table} WHERE list_id = ? LIMIT 1", (list_id,)).fetchone()
            for table in ("items", "item_runs")
        )

    def _fill(self, cur: Cursor, table: str, ids: Iterable[int]) -> None:
        """A temporary one-column table ``table (item)`` holding ``ids``."""
        self._q(cur, f"DROP TABLE IF EXISTS {table}")
        self._q(cur, f"CREATE TEMP TABLE {table} (item BIGINT PRIMARY KEY)")
        rows = [(i,) for i in sorted(set(ids))]
        if rows:
            cur.executemany(self._sql(f"INSERT INTO {table} (item) VALUES (?)"), rows)

    def _remove_items(
        self, cur: Cursor, table: str, batch_id: int, *, reason: str, state: str = "removed"
    ) -> int:
        """Take the items named in temp table ``table`` off their lists, every hash at once:
        tombstones, retractions for every client that was answered a match on one, history.
        Returns how many active items left."""
        self._write_runs_of(cur, table)
        self._q(
            cur,
            "INSERT INTO tombstones (entry_id, list_id, batch_id, item_id) "
            f"SELECT e.id, e.list_id, ?, e.item_id FROM entries e JOIN {table} t "
            "ON t.item = e.item_id ORDER BY e.id",
            (batch_id,),
        )
        leaving = self._q(
            cur,
            f"SELECT list_id, COUNT(*) FROM entries WHERE item_id IN (SELECT item FROM {table}) "
            "GROUP BY list_id",
        ).fetchall()
        self._q(
            cur,
            # IN probes the item index per doomed item; EXISTS would scan every entry.
            f"DELETE FROM entries WHERE item_id IN (SELECT item FROM {table})",
        )
        for list_id, count in leaving:
            self._sized(cur, int(list_id), -int(count))
        self._retract_items(cur, table, reason)
        stamp = now_iso()
        self._q(
            cur,
            "INSERT INTO item_history (item_id, batch_id, at, change, before_category, "
            "after_category, before_value, after_value) "
            f"SELECT i.id, ?, ?, ?, i.category_id, NULL, i.value, NULL FROM items i "
            f"JOIN {table} t ON t.item = i.id WHERE i.state = 'active' ORDER BY i.id",
            (batch_id, stamp, state),
        )
        removed = max(cur.rowcount, 0)
        self._q(
            cur,
            "UPDATE items SET state = ?, last_batch = ? WHERE state = 'active' "
            f"AND id IN (SELECT item FROM {table})",
            (state, batch_id),
        )
        return removed

    def _retract_items(self, cur: Cursor, table: str, reason: str) -> None:
        """Tell every client that was answered a match on an item in ``table`` (the
        retraction feed), once per match id."""
        self._q(
            cur,
            "INSERT INTO retractions (client_id, entry_id, day, list_id, reason, at) "
            "SELECT s.client_id, s.entry_id, s.day, i.list_id, ?, ? "
            f"FROM {table} t JOIN items i ON i.id = t.item "
            "JOIN sightings s ON s.entry_id = t.item "
            "WHERE s.answered = 1 ORDER BY t.item, s.client_id, s.day "
            "ON CONFLICT (client_id, entry_id, day) DO NOTHING",
            (reason, now_iso()),
        )

    def _rewrite_items(
        self, cur: Cursor, rows: Sequence[tuple[int, int, int]], batch_id: int
    ) -> int:
        """Give items their new category and owner: ``rows`` of (item, target, category),
        target being the item itself or the item it merges into. Every entry is tombstoned
        and written anew in ``batch_id``. Returns the entries rewritten."""
        table = "imp_rw"
        self._q(cur, f"DROP TABLE IF EXISTS {table}")
        self._q(
            cur,
            f"CREATE TEMP TABLE {table} (item BIGINT PRIMARY KEY, target BIGINT NOT NULL, "
            "c BIGINT NOT NULL)",
        )
        cur.executemany(
            self._sql(f"INSERT INTO {table} (item, target, c) VALUES (?, ?, ?)"), sorted(rows)
        )
        self._write_runs_of(cur, table)
        self._write_runs_of(cur, table, "target")
        self._q(cur, "DROP TABLE IF EXISTS imp_moved")
        self._q(
            cur,
            f"CREATE TEMP TABLE imp_moved AS SELECT e.id AS old, e.list_id AS l, e.digest AS d, "
            f"t.target AS item, t.c AS c FROM entries e JOIN {table} t ON t.item = e.item_id",
        )
        self._q(
            cur,
            "INSERT INTO tombstones (entry_id, list_id, batch_id, item_id) "
            "SELECT e.id, e.list_id, ?, e.item_id FROM entries e "
            "JOIN imp_moved m ON m.old = e.id ORDER BY e.id",
            (batch_id,),
        )
        self._q(cur, "DROP TABLE IF EXISTS imp_sealed_moved")
        self._q(
            cur,
            "CREATE TEMP TABLE imp_sealed_moved AS SELECT m.l AS l, m.d AS d, s.sealed AS sealed "
            "FROM imp_moved m JOIN pdq_sealed s ON s.entry_id = m.old",
        )
        self._q(cur, "CREATE INDEX imp_moved_old ON imp_moved (old)")
        self._q(
            cur,
            "DELETE FROM pdq_sealed WHERE entry_id IN (SELECT old FROM imp_moved)",
        )
        self._q(
            cur,
            "DELETE FROM entries WHERE id IN (SELECT old FROM imp_moved)",
        )
        self._q(
            cur,
            "INSERT INTO entries (list_id, digest, category_id, batch_id, item_id) "
            "SELECT l, d, c, ?, item FROM imp_moved ORDER BY item, d",
            (batch_id,),
        )
        moved = max(cur.rowcount, 0)
        self._q(
            cur,
            "INSERT INTO pdq_sealed (entry_id, sealed) SELECT e.id, s.sealed "
            "FROM imp_sealed_moved s JOIN entries e ON e.list_id = s.l AND e.digest = s.d",
        )
        self._q(cur, "DROP TABLE imp_sealed_moved")
        self._q(cur, "DROP TABLE imp_moved")
        self._q(cur, f"DROP TABLE {table}")
        return moved

    def _history(
        self,
        cur: Cursor,
        rows: Sequence[tuple[int, int, str, int | None, int | None, str | None, str | None]],
    ) -> None:
        """(item, batch, change, before category, after category, before value, after)."""
        if rows:
            stamp = now_iso()
            cur.executemany(
                self._sql(
                    "INSERT INTO item_history (item_id, batch_id, at, change, before_category, "
                    "after_category, before_value, after_value) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                ),
                [(r[0], r[1], stamp, *r[2:]) for r in rows],
            )

    def _next_item_id(self, cur: Cursor) -> int:
        # Writers are serialised (the version row), and items are never deleted, so ids are
        # never handed out twice (nor the ids of items that have no rows yet: `item_runs`).
        row = self._q(
            cur,
            "SELECT COALESCE(MAX(id), 0), "
            "(SELECT COALESCE(MAX(last_item), 0) FROM item_runs) FROM items",
        ).fetchone()
        return max(int(row[0]), int(row[1])) + 1

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
        *,
        changed: int = 0,
        removed: int = 0,
    ) -> None:
        self._q(
            cur,
            "UPDATE batches SET added = ?, unchanged = ?, categories = ?, changed = ?, "
            "removed = ? WHERE id = ?",
            (added, unchanged, ",".join(map(str, categories)), changed, removed, batch_id),
        )

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

    # -- reading -------------------------------------------------------------------------
    def item(self, item_id: int) -> ItemRecord:
        with self._tx(write=False) as cur:
            return self._item(cur, item_id)

    def _item(self, cur: Cursor, item_id: int) -> ItemRecord:
        row = self._q(cur, f"{_ITEM_COLUMNS} WHERE i.id = ?", (item_id,)).fetchone()
        if row is None:
            raise NotFound(f"no item {item_id}")
        hashes = tuple(
            ("perceptual" if r[1] is not None else "exact", bytes(r[0]))
            for r in self._q(
                cur,
                "SELECT e.digest, s.entry_id FROM entries e "
                "LEFT JOIN pdq_sealed s ON s.entry_id = e.id WHERE e.item_id = ? ORDER BY e.id",
                (item_id,),
            ).fetchall()
        )
        return _item_record(row, hashes)

    def find_items(
        self,
        *,
        list_id: int | None = None,
        ref: str | None = None,
        digests: Sequence[bytes] = (),
        limit: int = 100,
    ) -> list[ItemRecord]:
        """Items by the supplier's id or holding one of ``digests`` (keyed digests; the
        submitted hash itself never reaches the store), on one list or any."""
        with self._tx(write=False) as cur:
            ids: list[int] = []
            if ref is not None:
                where, params = "ref = ?", list[object]([ref])
                if list_id is not None:
                    where, params = "list_id = ? AND ref = ?", [list_id, ref]
                ids += [
                    int(r[0])
                    for r in self._q(
                        cur,
                        f"SELECT id FROM items WHERE {where} ORDER BY id LIMIT ?",
                        [*params, limit],
                    ).fetchall()
                ]
            # The (list_id, digest) index answers only with the list named: on any list, each
            # list is probed (a digest alone would scan every entry).
            on_list = "(SELECT id FROM lists)" if list_id is None else "(?)"
            for start in range(0, len(digests), IN_CHUNK):
                chunk: list[object] = list(digests[start : start + IN_CHUNK])
                marks = ", ".join("?" for _ in chunk)
                ids += [
                    int(r[0])
                    for r in self._q(
                        cur,
                        f"SELECT DISTINCT item_id FROM entries WHERE list_id IN {on_list} "
                        f"AND digest IN ({marks})",
                        chunk if list_id is None else [list_id, *chunk],
                    ).fetchall()
                ]
            seen = sorted(set(ids))[:limit]
            return [self._item(cur, item_id) for item_id in seen]

    def item_history(self, item_id: int) -> list[ItemChange]:
        with self._tx(write=False) as cur:
            rows = self._q(
                cur,
                "SELECT at, batch_id, change, before_category, after_category, before_value, "
                "after_value FROM item_history WHERE item_id = ? ORDER BY id",
                (item_id,),
            ).fetchall()
        return [
            ItemChange(
                r[0],
                int(r[1]),
                r[2],
                None if r[3] is None else int(r[3]),
                None if r[4] is None else int(r[4]),
                r[5],
                r[6],
            )
            for r in rows
        ]

    def item_matches(self, item_id: int) -> list[tuple[str, int, bool]]:
        """(client id, day, answered) of the item's match records, oldest day first."""
        with self._tx(write=False) as cur:
            rows = self._q(
                cur,
                "SELECT client_id, day, answered FROM sightings WHERE entry_id = ? "
                "ORDER BY day, client_id",
                (item_id,),
            ).fetchall()
        return [(r[0], int(r[1]), bool(r[2])) for r in rows]


def _item_record(row: Sequence[object], hashes: tuple[tuple[str, bytes], ...]) -> ItemRecord:
    return ItemRecord(
        int(str(row[0])),
        int(str(row[1])),
        None if row[2] is None else str(row[2]),
        int(str(row[3])),
        None if row[4] is None else str(row[4]),
        str(row[5]),
        None if row[6] is None else int(str(row[6])),
        int(str(row[7])),
        int(str(row[8])),
        str(row[9]),
        str(row[10]),
        hashes,
    )
