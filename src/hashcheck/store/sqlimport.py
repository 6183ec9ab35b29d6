"""Imports in SQL: a delivery of records resolved against the items already on the list.

A record is one supplier item as delivered: its keyed digests, the supplier's id (or none),
its category and the supplier's value. A known item (same supplier id, or holding one of the
record's hashes) is updated — recategorised, extended, or taken off the list by a value that
is not imported; a new one is added; with ``replace``, items the delivery lacks leave. All in
one transaction. Set-based SQL for the bulk (new and unchanged items); the few records that
change something are decided one by one here. Holds no parsing and no keying.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from hashcheck.hashes.keyed import DIGEST_BYTES
from hashcheck.store.errors import Conflict, NotFound
from hashcheck.store.interface import NOT_IMPORTED, REMOVE, StageRow
from hashcheck.store.presort import PlainDelivery
from hashcheck.store.records import RECATEGORISED_SHOWN, ImportOutcome, Recategorisation
from hashcheck.store.sqlbase import STAGE_ROW, Cursor
from hashcheck.store.sqlitems import ItemQueries

__all__ = ["NOT_IMPORTED", "REMOVE", "ImportQueries", "ReplaceRefused", "StageRow"]

REPEATED = "repeated in the file"
DELETED_HERE = "deleted by the same file"
ON_OTHER_ITEM = "its hashes belong to another item of the list"

_TEMP_TABLES = (
    "imp_x",
    "imp_r",
    "imp_t",
    "imp_same",
    "imp_new",
    "imp_force_new",
    "imp_doomed",
    "imp_rw",
    "imp_add",
    "imp_seen",
    "imp_del",
    "imp_gone",
)


class _DryRun(Exception):
    """Not an error: how a dry run leaves its transaction, undoing all of it."""

    def __init__(self, outcome: ImportOutcome) -> None:
        super().__init__("dry run")
        self.outcome = outcome


class _Repeated(Exception):
    """A first delivery repeats a hash: the general path sorts that out."""


class ReplaceRefused(Conflict):
    """A replacing delivery would take more of the list off than the policy allows."""


@dataclass
class _Candidate:
    item_id: int
    ref: str | None
    state: str
    category_id: int
    value: str | None


@dataclass
class _Plan:
    """What the records that change something will do, applied set-wise afterwards."""

    doomed: set[int] = field(default_factory=set)
    rewrite: dict[int, tuple[int, int]] = field(default_factory=dict)  # item -> (target, c)
    updates: dict[int, tuple[int, str | None, str | None, str]] = field(default_factory=dict)
    merges: list[tuple[int, int]] = field(default_factory=list)  # (merged item, into)
    adds: list[tuple[bytes, int, int]] = field(default_factory=list)  # (digest, item, c)
    force_new: list[int] = field(default_factory=list)  # record numbers
    history: list[tuple[int, int, str, int | None, int | None, str | None, str | None]] = field(
        default_factory=list
    )
    recategorised: list[Recategorisation] = field(default_factory=list)
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str, count: int = 1) -> None:
        if count:
            self.skipped[reason] = self.skipped.get(reason, 0) + count


def _refuse_shadow_changes(plan: _Plan, replace: bool) -> None:
    """A shadow batch is not answered until promoted, so a change it made to a known item
    would take that item out of the answers meanwhile: a shadow import may only add."""
    changes = len(plan.doomed) + len(plan.rewrite) + len(plan.merges)
    if replace or changes:
        what = "replaces the list" if replace else f"changes or removes {changes} known items"
        raise Conflict(
            f"this shadow delivery {what}; a shadow import may only add (its batch is not "
            "answered until promoted). Import it without shadow mode; nothing was changed"
        )


class ImportQueries(ItemQueries):
    def import_records(
        self,
        list_id: int,
        rows: Iterable[Sequence[StageRow]],
        *,
        source: str,
        actor: str,
        shadow: bool = False,
        sealed: Mapping[bytes, bytes] | None = None,
        replace: bool = False,
        max_removed_share: float | None = None,
        dry_run: bool = False,
    ) -> ImportOutcome:
        with self._lock:
            presorted = self._stage_records(list_id, rows)
            try:
                with self._tx(write=True) as cur:
                    outcome = self._apply_import(
                        cur,
                        list_id,
                        presorted=presorted,
                        source=source,
                        actor=actor,
                        shadow=shadow,
                        sealed=sealed or {},
                        replace=replace,
                        max_removed_share=max_removed_share,
                    )
                    if dry_run:
                        # Leaving the transaction by an exception rolls all of it back.
                        raise _DryRun(outcome)
                    return outcome
            except _DryRun as done:
                return done.outcome
            finally:
                self._drop_import_tables()

    # -- staging ---------------------------------------------------------------------------
    def _require_list(self, cur: Cursor, list_id: int) -> None:
        if self._q(cur, "SELECT 1 FROM lists WHERE id = ?", (list_id,)).fetchone() is None:
            raise NotFound(f"no list with id {list_id}")

    def _stage_records(self, list_id: int, chunks: Iterable[Sequence[StageRow]]) -> bool:
        """Stage every record before the write transaction, so parsing a large file holds no
        lock; a failure while staging (a refused file) discards everything staged. Returns
        whether the rows were staged in digest order (`presort`)."""
        with self._begin(write=False) as cur:
            self._require_list(cur, list_id)
            self._create_staging(cur)
            first = not self._has_items(cur, list_id)
            plain = PlainDelivery() if first else None
            try:
                for chunk in chunks:
                    for row in chunk:
                        if len(row[3]) != row[2] * DIGEST_BYTES:
                            raise ValueError("a staged row's digests do not match its count")
                        if row[6] and row[2] > STAGE_ROW:
                            raise ValueError(f"a bare staged row holds at most {STAGE_ROW}")
                    if plain is not None:
                        if plain.take(chunk):
                            continue
                        self._stage(cur, plain.release())
                        plain = None
                    self._stage(cur, list(chunk))
                if plain is not None:
                    for rows in plain.sorted_rows(STAGE_ROW):
                        self._stage(cur, list(rows))
                    return plain.in_order
            except BaseException:
                self._drop_staging()
                raise
        return False

    def _drop_import_tables(self) -> None:
        self._drop_staging()
        with self._begin(write=False) as cur:
            for table in _TEMP_TABLES:
                self._q(cur, f"DROP TABLE IF EXISTS {table}")

    # -- the import ------------------------------------------------------------------------
    def _apply_import(
        self,
        cur: Cursor,
        list_id: int,
        *,
        presorted: bool,
        source: str,
        actor: str,
        shadow: bool,
        sealed: Mapping[bytes, bytes],
        replace: bool,
        max_removed_share: float | None,
    ) -> ImportOutcome:
        self._write_runs(cur, list_id)
        active_before = int(
            self._q(
                cur,
                "SELECT COUNT(*) FROM items WHERE list_id = ? AND state = 'active'",
                (list_id,),
            ).fetchone()[0]
        )
        first_entry = (
            int(self._q(cur, "SELECT COALESCE(MAX(id), 0) FROM entries").fetchone()[0]) + 1
        )
        batch_id = self._new_batch(cur, list_id, "import", source, actor, shadow=shadow)
        collisions = self._known_good_collisions(cur, list_id)
        plan = _Plan()
        fast = self._first_delivery(cur, list_id, batch_id, plan, presorted=presorted)
        if fast is not None:
            self._seal(cur, list_id, batch_id, sealed)
            return self._finish_import(
                cur,
                list_id,
                batch_id,
                plan,
                source,
                actor,
                shadow,
                replace,
                collisions,
                removed=0,
                not_found=0,
                hashes_added=fast,
                replaced=0,
                first_entry=None,
            )
        self._materialise(cur)
        self._dedupe(cur, plan)
        not_found = self._resolve_deletions(cur, list_id, plan)
        self._resolve(cur, list_id)
        plan.unchanged += self._plain_unchanged(cur, batch_id)
        self._decide(cur, list_id, plan)
        if shadow:
            _refuse_shadow_changes(plan, replace)
        removed = self._apply_plan(cur, list_id, batch_id, plan)
        new_items, hashes_added = self._insert_new(cur, list_id, batch_id, plan)
        plan.added += new_items
        hashes_added += self._insert_adds(cur, list_id, batch_id, plan)
        self._seal(cur, list_id, batch_id, sealed)
        replaced = self._replace(cur, list_id, batch_id) if replace else 0
        removed += replaced
        if (
            replace
            and max_removed_share is not None
            and active_before
            and removed > max_removed_share * active_before
        ):
            raise ReplaceRefused(
                f"this delivery would take {removed} of the list's {active_before} items off "
                f"({100 * removed / active_before:.1f}%, more than the "
                f"{100 * max_removed_share:g}% the policy allows); nothing was changed"
            )
        return self._finish_import(
            cur,
            list_id,
            batch_id,
            plan,
            source,
            actor,
            shadow,
            replace,
            collisions,
            removed=removed,
            not_found=not_found,
            hashes_added=hashes_added,
            replaced=replaced,
            first_entry=first_entry,
        )

    def _finish_import(
        self,
        cur: Cursor,
        list_id: int,
        batch_id: int,
        plan: _Plan,
        source: str,
        actor: str,
        shadow: bool,
        replace: bool,
        collisions: int,
        *,
        removed: int,
        not_found: int,
        hashes_added: int,
        replaced: int,
        first_entry: int | None,
    ) -> ImportOutcome:
        # Only the batch's own entries are read: they have the highest ids (a scan of the
        # whole table would cost every import as much as the list's size). A first delivery
        # added every staged row, so its few staging rows say the same.
        categories = sorted(
            int(r[0])
            for r in self._q(
                cur,
                "SELECT DISTINCT category_id FROM staging"
                if first_entry is None
                else "SELECT DISTINCT category_id FROM entries WHERE id >= ? AND batch_id = ?",
                () if first_entry is None else (first_entry, batch_id),
            ).fetchall()
        )
        self._finish_batch(
            cur,
            batch_id,
            plan.added,
            plan.unchanged,
            categories,
            changed=plan.changed,
            removed=removed,
        )
        shown = plan.recategorised[:RECATEGORISED_SHOWN]
        names = self._names(cur, "categories", [x for r in shown for x in (r.before, r.after)])
        self._audit(
            cur,
            actor,
            "list.import",
            self._names(cur, "lists", [list_id])[list_id],
            {
                "list_id": list_id,
                "batch": batch_id,
                "source": source,
                "shadow": shadow,
                "replace": replace,
                "added": plan.added,
                "changed": plan.changed,
                "unchanged": plan.unchanged,
                "removed": removed,
                "skipped": plan.skipped,
                "known_good_collisions": collisions,
                "recategorised": [
                    {
                        "item": r.item_id,
                        "ref": r.ref,
                        "before": {"category": names.get(r.before), "value": r.before_value},
                        "after": {
                            "category": None if r.after is None else names.get(r.after),
                            "value": r.after_value,
                        },
                    }
                    for r in shown
                ],
            },
        )
        return ImportOutcome(
            batch_id,
            plan.added,
            plan.unchanged,
            removed,
            collisions,
            changed=plan.changed,
            skipped=plan.skipped,
            not_found=not_found,
            hashes_added=hashes_added,
            replaced=replaced,
            recategorised=tuple(plan.recategorised[:RECATEGORISED_SHOWN]),
            category_ids=tuple(categories),
        )

    def _first_delivery(
        self, cur: Cursor, list_id: int, batch_id: int, plan: _Plan, *, presorted: bool
    ) -> int | None:
        """A list's first delivery, with nothing to resolve: every record a new item, straight
        from the staging table (no temporary tables), which keeps large first imports as fast
        as bare hashes were. None (and nothing done) when the general path is needed: the
        list has items, the file deletes or does not import something, or it repeats a hash
        or a supplier id. Returns the hashes added."""
        if self._has_items(cur, list_id):
            return None
        if self._q(cur, "SELECT 1 FROM staging WHERE category_id < 0 LIMIT 1").fetchone():
            return None
        total = int(self._q(cur, "SELECT COALESCE(SUM(n), 0) FROM staging").fetchone()[0])
        # Input in digest order makes the digest index inserts sequential; for a plain list
        # the item ids follow the same order, so the item index fills at its end too. Staged
        # in that order already (`presort`), the database need not sort at all.
        numbered_here = (
            not presorted
            and not self._q(
                cur, "SELECT 1 FROM staging WHERE bare = 0 OR value IS NOT NULL LIMIT 1"
            ).fetchone()
        )
        base = self._next_item_id(cur)
        self._q(cur, "SAVEPOINT first_delivery")
        try:
            item = "? + ROW_NUMBER() OVER (ORDER BY d) - 1" if numbered_here else "? + r"
            # No ON CONFLICT: a hash the file repeats is a unique violation, which takes the
            # general path below; PostgreSQL's speculative inserts took 40% of this statement.
            self._q(
                cur,
                "INSERT INTO entries (list_id, digest, category_id, batch_id, item_id) "
                f"SELECT ?, d, c, ?, {item} FROM ({self._expanded()}) s "
                f"{'' if presorted else 'ORDER BY d'}",
                (list_id, batch_id, base),
            )
            if max(cur.rowcount, 0) != total:
                raise _Repeated
            self._sized(cur, list_id, total)
            if numbered_here or presorted:
                # Bare hashes only: every item is its one entry, numbered from base in order;
                # it gets a row only when something changes the list's items (schema 10).
                if total:
                    self._q(
                        cur,
                        "INSERT INTO item_runs (list_id, first_item, last_item, batch_id) "
                        "VALUES (?, ?, ?, ?)",
                        (list_id, base, base + total - 1, batch_id),
                    )
                plan.added = total
            else:
                self._q(
                    cur,
                    "INSERT INTO items (id, list_id, ref, category_id, value, state, "
                    "merged_into, first_batch, last_batch) "
                    "SELECT ? + r, ?, ref, c, v, 'active', NULL, ?, ? FROM "
                    f"({self._expanded()}) s WHERE b = 1 OR k = 0 "
                    f"{'' if presorted else 'ORDER BY r'}",
                    (base, list_id, batch_id, batch_id),
                )
                plan.added = max(cur.rowcount, 0)
        except Exception as exc:
            if not isinstance(exc, _Repeated) and not self._is_unique_violation(exc):
                raise
            self._q(cur, "ROLLBACK TO SAVEPOINT first_delivery")
            self._q(cur, "RELEASE SAVEPOINT first_delivery")
            return None
        self._q(cur, "RELEASE SAVEPOINT first_delivery")
        return total

    def _materialise(self, cur: Cursor) -> None:
        # Declared types, not CREATE TABLE AS: SQLite uses an index only for a comparison
        # whose affinity matches the column's, and an expression column has none.
        self._q(
            cur,
            f"CREATE TEMP TABLE imp_x (d {self.BLOB} NOT NULL, r BIGINT NOT NULL, "
            "c BIGINT NOT NULL, ref TEXT, v TEXT, b INTEGER NOT NULL)",
        )
        self._q(
            cur,
            f"INSERT INTO imp_x (d, r, c, ref, v, b) SELECT d, r, c, ref, v, b "
            f"FROM ({self._expanded()}) s",
        )
        self._q(cur, "CREATE INDEX imp_x_d ON imp_x (d)")
        self._q(cur, "CREATE INDEX imp_x_r ON imp_x (r)")
        self._analyze(cur, "imp_x")
        self._q(
            cur,
            "CREATE TEMP TABLE imp_r (r BIGINT PRIMARY KEY, c BIGINT NOT NULL, ref TEXT, v TEXT, "
            "n INTEGER NOT NULL)",
        )
        self._q(
            cur,
            "INSERT INTO imp_r (r, c, ref, v, n) SELECT rec, category_id, ref, value, n "
            "FROM staging WHERE bare = 0",
        )
        self._q(
            cur,
            "INSERT INTO imp_r (r, c, ref, v, n) SELECT r, c, NULL, NULL, 1 FROM imp_x WHERE b = 1",
        )
        self._q(cur, "CREATE INDEX imp_r_ref ON imp_r (ref)")
        self._analyze(cur, "imp_r")

    def _dedupe(self, cur: Cursor, plan: _Plan) -> None:
        """One record per supplier id and one owner per hash: the first in the file wins;
        records delivered and deleted by the same file are not imported."""
        self._q(cur, f"CREATE TEMP TABLE imp_del (d {self.BLOB}, ref TEXT)")
        self._q(
            cur, "INSERT INTO imp_del (d, ref) SELECT d, NULL FROM imp_x WHERE c = ?", (REMOVE,)
        )
        self._q(
            cur,
            "INSERT INTO imp_del (d, ref) SELECT NULL, ref FROM imp_r WHERE c = ? AND ref IS NOT NULL",
            (REMOVE,),
        )
        self._q(cur, "CREATE INDEX imp_del_d ON imp_del (d)")
        self._q(cur, "CREATE INDEX imp_del_ref ON imp_del (ref)")
        self._analyze(cur, "imp_del")
        cancelled = (
            "SELECT q.r FROM imp_r q WHERE q.c <> ? AND (EXISTS (SELECT 1 FROM imp_del k "
            "WHERE k.ref = q.ref) OR EXISTS (SELECT 1 FROM imp_x x JOIN imp_del k ON k.d = x.d "
            "WHERE x.r = q.r))"
        )
        self._q(cur, "CREATE TEMP TABLE imp_gone (r BIGINT PRIMARY KEY)")
        self._q(cur, f"INSERT INTO imp_gone (r) {cancelled}", (REMOVE,))
        self._q(
            cur, "DELETE FROM imp_x WHERE EXISTS (SELECT 1 FROM imp_gone g WHERE g.r = imp_x.r)"
        )
        self._q(
            cur, "DELETE FROM imp_r WHERE EXISTS (SELECT 1 FROM imp_gone g WHERE g.r = imp_r.r)"
        )
        plan.skip(DELETED_HERE, max(cur.rowcount, 0))
        first_of_ref = "SELECT MIN(f.r) FROM imp_r f WHERE f.ref = imp_r.ref AND f.c <> ?"
        self._q(
            cur,
            "UPDATE imp_x SET r = (SELECT MIN(f.r) FROM imp_r f WHERE f.ref = imp_x.ref "
            "AND f.c <> ?) WHERE ref IS NOT NULL AND c <> ?",
            (REMOVE, REMOVE),
        )
        self._q(
            cur,
            f"DELETE FROM imp_r WHERE ref IS NOT NULL AND c <> ? AND r > ({first_of_ref})",
            (REMOVE, REMOVE),
        )
        plan.skip(REPEATED, max(cur.rowcount, 0))
        self._q(
            cur,
            "DELETE FROM imp_x WHERE c <> ? AND EXISTS (SELECT 1 FROM imp_x y "
            "WHERE y.d = imp_x.d AND y.c <> ? AND y.r < imp_x.r)",
            (REMOVE, REMOVE),
        )
        self._q(
            cur,
            "DELETE FROM imp_r WHERE c <> ? AND n > 0 AND NOT EXISTS "
            "(SELECT 1 FROM imp_x x WHERE x.r = imp_r.r)",
            (REMOVE,),
        )
        plan.skip(REPEATED, max(cur.rowcount, 0))

    def _resolve_deletions(self, cur: Cursor, list_id: int, plan: _Plan) -> int:
        """Items the file's deletion records name (by id, or holding a hash) are doomed;
        returns how many deletion records named nothing on the list."""
        by_digest = (
            "SELECT x.r AS r, e.item_id AS item FROM imp_x x JOIN entries e "
            f"ON e.list_id = ? AND e.digest = x.d WHERE x.c = {REMOVE}"
        )
        by_ref = (
            "SELECT q.r AS r, i.id AS item FROM imp_r q JOIN items i ON i.list_id = ? "
            f"AND i.ref = q.ref WHERE q.c = {REMOVE} AND i.state = 'active'"
        )
        rows = self._q(
            cur, f"SELECT r, item FROM ({by_digest} UNION {by_ref}) AS k", (list_id, list_id)
        ).fetchall()
        plan.doomed.update(int(r[1]) for r in rows)
        found = len({int(r[0]) for r in rows})
        total = int(self._q(cur, "SELECT COUNT(*) FROM imp_r WHERE c = ?", (REMOVE,)).fetchone()[0])
        return total - found

    def _resolve(self, cur: Cursor, list_id: int) -> None:
        """imp_t (r, item, found): the known items each record names, by supplier id or by
        hash, and how many of the record's hashes are that item's entries."""
        self._q(
            cur,
            "CREATE TEMP TABLE imp_t (r BIGINT NOT NULL, item BIGINT NOT NULL, "
            "found BIGINT NOT NULL)",
        )
        self._q(
            cur,
            "INSERT INTO imp_t (r, item, found) SELECT r, item, SUM(n) FROM ("
            "SELECT x.r AS r, e.item_id AS item, 1 AS n FROM imp_x x JOIN entries e "
            f"ON e.list_id = ? AND e.digest = x.d WHERE x.c <> {REMOVE} "
            "UNION ALL SELECT q.r AS r, i.id AS item, 0 AS n FROM imp_r q JOIN items i "
            f"ON i.list_id = ? AND i.ref = q.ref WHERE q.c <> {REMOVE} AND i.state <> 'merged'"
            ") AS k GROUP BY r, item",
            (list_id, list_id),
        )
        self._q(cur, "CREATE INDEX imp_t_r ON imp_t (r)")
        self._analyze(cur, "imp_t")

    def _plain_unchanged(self, cur: Cursor, batch_id: int) -> int:
        """Records that name exactly one active item, with the same category and value,
        every hash already its own: the bulk of a re-delivery, done set-wise.

        A record naming one item only has all its hashes that are on the list under that item
        (imp_t holds every item any of them is under), so "every hash its own" is "as many
        found as the record has": counts, not a lookup of each hash again."""
        self._q(cur, "CREATE TEMP TABLE imp_same (r BIGINT PRIMARY KEY, item BIGINT NOT NULL)")
        self._q(
            cur,
            "INSERT INTO imp_same (r, item) SELECT o.r, o.item FROM "
            "(SELECT r, MIN(item) AS item, SUM(found) AS found FROM imp_t GROUP BY r "
            "HAVING COUNT(*) = 1) o "
            "JOIN imp_r q ON q.r = o.r JOIN items i ON i.id = o.item "
            "LEFT JOIN (SELECT r, COUNT(*) AS n FROM imp_x GROUP BY r) h ON h.r = o.r "
            f"WHERE i.state = 'active' AND q.c = i.category_id AND {self._same('q.v', 'i.value')} "
            "AND (q.ref IS NULL OR q.ref = i.ref) AND o.found = COALESCE(h.n, 0)",
        )
        same = max(cur.rowcount, 0)
        self._q(cur, "CREATE INDEX imp_same_item ON imp_same (item)")
        self._analyze(cur, "imp_same")
        self._q(
            cur,
            "UPDATE items SET last_batch = ? "
            "WHERE EXISTS (SELECT 1 FROM imp_same s WHERE s.item = items.id)",
            (batch_id,),
        )
        return same

    def _decide(self, cur: Cursor, list_id: int, plan: _Plan) -> None:
        """Decide, record by record, what the records that change something do."""
        records = self._q(
            cur,
            "SELECT q.r, q.c, q.ref, q.v FROM imp_r q WHERE q.c <> ? AND EXISTS "
            "(SELECT 1 FROM imp_t t WHERE t.r = q.r) AND NOT EXISTS "
            "(SELECT 1 FROM imp_same s WHERE s.r = q.r) ORDER BY q.r",
            (REMOVE,),
        ).fetchall()
        if not records:
            return
        candidates: dict[int, list[_Candidate]] = {}
        for row in self._q(
            cur,
            "SELECT t.r, i.id, i.ref, i.state, i.category_id, i.value FROM imp_t t "
            "JOIN items i ON i.id = t.item WHERE NOT EXISTS "
            "(SELECT 1 FROM imp_same s WHERE s.r = t.r) "
            "ORDER BY t.r, i.id",
        ).fetchall():
            candidates.setdefault(int(row[0]), []).append(
                _Candidate(int(row[1]), row[2], row[3], int(row[4]), row[5])
            )
        new_digests: dict[int, list[bytes]] = {}
        for row in self._q(
            cur,
            "SELECT x.r, x.d FROM imp_x x WHERE x.c <> ? AND EXISTS "
            "(SELECT 1 FROM imp_t t WHERE t.r = x.r) AND NOT EXISTS "
            "(SELECT 1 FROM imp_same s WHERE s.r = x.r) AND NOT EXISTS (SELECT 1 FROM entries e "
            "WHERE e.list_id = ? AND e.digest = x.d) ORDER BY x.r",
            (REMOVE, list_id),
        ).fetchall():
            new_digests.setdefault(int(row[0]), []).append(bytes(row[1]))
        # Items already decided (unchanged, or doomed by a deletion) take no second record.
        claimed_ids = {int(r[0]) for r in self._q(cur, "SELECT item FROM imp_same").fetchall()}
        claimed_ids |= plan.doomed
        for number, category, ref, value in records:
            _decide_record(
                plan,
                int(number),
                int(category),
                ref,
                value,
                candidates.get(int(number), []),
                new_digests.get(int(number), []),
                claimed_ids,
            )

    def _apply_plan(self, cur: Cursor, list_id: int, batch_id: int, plan: _Plan) -> int:
        """Carry out the decisions; returns the items taken off the list."""
        self._fill(cur, "imp_doomed", plan.doomed)
        removed = self._remove_items(cur, "imp_doomed", batch_id, reason="removed")
        if plan.rewrite:
            self._rewrite_items(
                cur, [(item, target, c) for item, (target, c) in plan.rewrite.items()], batch_id
            )
        if plan.updates:
            cur.executemany(
                self._sql(
                    "UPDATE items SET category_id = ?, value = ?, ref = COALESCE(ref, ?), "
                    "state = ?, last_batch = ? WHERE id = ?"
                ),
                [
                    (c, value, ref, state, batch_id, item)
                    for item, (c, value, ref, state) in sorted(plan.updates.items())
                ],
            )
        for merged, into in plan.merges:
            self._merge_governance(cur, merged, into, batch_id)
        self._history(cur, [(r[0], batch_id, *r[2:]) for r in plan.history])
        return removed

    def _merge_governance(self, cur: Cursor, merged: int, into: int, batch_id: int) -> None:
        """An item whose hashes now belong to another: its match records and open hold go
        with them, so the prevalence alarm and a hold keep covering the same hashes."""
        self._q(
            cur,
            "UPDATE items SET state = 'merged', merged_into = ?, last_batch = ? WHERE id = ?",
            (into, batch_id, merged),
        )
        self._q(
            cur,
            "INSERT INTO sightings (entry_id, client_id, day, last_seen, answered, first_seen) "
            "SELECT ?, client_id, day, last_seen, answered, first_seen FROM sightings "
            "WHERE entry_id = ? ON CONFLICT (entry_id, client_id, day) DO UPDATE SET "
            "last_seen = CASE WHEN excluded.last_seen > sightings.last_seen "
            "THEN excluded.last_seen ELSE sightings.last_seen END, "
            "first_seen = CASE WHEN excluded.first_seen < sightings.first_seen "
            "THEN excluded.first_seen ELSE sightings.first_seen END, "
            "answered = CASE WHEN excluded.answered = 1 THEN 1 ELSE sightings.answered END",
            (into, merged),
        )
        self._q(
            cur,
            "INSERT INTO hit_months (month, client_id, item_id, first_seen, last_seen) "
            "SELECT month, client_id, ?, first_seen, last_seen FROM hit_months "
            "WHERE item_id = ? ON CONFLICT (month, client_id, item_id) DO UPDATE SET "
            "first_seen = CASE WHEN excluded.first_seen < hit_months.first_seen "
            "THEN excluded.first_seen ELSE hit_months.first_seen END, "
            "last_seen = CASE WHEN excluded.last_seen > hit_months.last_seen "
            "THEN excluded.last_seen ELSE hit_months.last_seen END",
            (into, merged),
        )
        self._q(
            cur,
            "INSERT INTO holds (entry_id, list_id, reason, state, created_at, clients) "
            "SELECT ?, list_id, reason, state, created_at, clients FROM holds "
            "WHERE entry_id = ? AND state = 'open' ON CONFLICT (entry_id) DO NOTHING",
            (into, merged),
        )

    def _insert_new(self, cur: Cursor, list_id: int, batch_id: int, plan: _Plan) -> tuple[int, int]:
        """New items, set-wise: records that name no known item (and those `_decide` made
        new). Returns (items, hashes) added."""
        self._q(cur, "CREATE TEMP TABLE imp_force_new (r BIGINT PRIMARY KEY)")
        if plan.force_new:
            cur.executemany(
                self._sql("INSERT INTO imp_force_new (r) VALUES (?)"),
                [(r,) for r in sorted(plan.force_new)],
            )
        base = self._next_item_id(cur)
        self._q(cur, "CREATE TEMP TABLE imp_new (r BIGINT PRIMARY KEY, item BIGINT NOT NULL)")
        self._q(
            cur,
            "INSERT INTO imp_new (r, item) SELECT r, ? + ROW_NUMBER() OVER (ORDER BY r) - 1 "
            "FROM imp_r q WHERE q.c >= 0 AND (NOT EXISTS (SELECT 1 FROM imp_t t WHERE t.r = q.r) "
            "OR EXISTS (SELECT 1 FROM imp_force_new f WHERE f.r = q.r)) ORDER BY r",
            (base,),
        )
        added = max(cur.rowcount, 0)
        self._q(
            cur,
            "INSERT INTO items (id, list_id, ref, category_id, value, state, merged_into, "
            "first_batch, last_batch) SELECT n.item, ?, q.ref, q.c, q.v, "
            "'active', NULL, ?, ? FROM imp_new n JOIN imp_r q ON q.r = n.r ORDER BY n.item",
            (list_id, batch_id, batch_id),
        )
        self._q(
            cur,
            "INSERT INTO entries (list_id, digest, category_id, batch_id, item_id) "
            "SELECT ?, x.d, x.c, ?, n.item FROM imp_x x JOIN imp_new n ON n.r = x.r WHERE 1 = 1 "
            # Sorted input makes the digest index inserts sequential.
            "ORDER BY x.d ON CONFLICT (list_id, digest) DO NOTHING",
            (list_id, batch_id),
        )
        hashes = max(cur.rowcount, 0)
        self._sized(cur, list_id, hashes)
        # An item's first delivery is its `first_batch`; the history keeps later changes.
        self._q(
            cur,
            "SELECT q.v, COUNT(*) FROM imp_r q WHERE q.c = ? AND NOT EXISTS "
            "(SELECT 1 FROM imp_t t WHERE t.r = q.r) GROUP BY q.v ORDER BY q.v",
            (NOT_IMPORTED,),
        )
        for value, count in cur.fetchall():
            plan.skip(f"not imported (supplier value {value})", int(count))
        return added, hashes

    def _insert_adds(self, cur: Cursor, list_id: int, batch_id: int, plan: _Plan) -> int:
        """New hashes of known items; they take the item's (new) category."""
        if not plan.adds:
            return 0
        self._q(
            cur,
            f"CREATE TEMP TABLE imp_add (d {self.BLOB} NOT NULL, item BIGINT NOT NULL, "
            "c BIGINT NOT NULL)",
        )
        cur.executemany(
            self._sql("INSERT INTO imp_add (d, item, c) VALUES (?, ?, ?)"), sorted(plan.adds)
        )
        self._q(
            cur,
            "INSERT INTO entries (list_id, digest, category_id, batch_id, item_id) "
            "SELECT ?, d, c, ?, item FROM imp_add WHERE 1 = 1 ORDER BY d "
            "ON CONFLICT (list_id, digest) DO NOTHING",
            (list_id, batch_id),
        )
        added = max(cur.rowcount, 0)
        self._sized(cur, list_id, added)
        return added

    def _seal(
        self, cur: Cursor, list_id: int, batch_id: int, sealed: Mapping[bytes, bytes]
    ) -> None:
        """The sealed perceptual hashes of the entries this import added."""
        if not sealed:
            return
        cur.executemany(
            self._sql(
                "INSERT INTO pdq_sealed (entry_id, sealed) SELECT e.id, ? FROM entries e "
                "WHERE e.list_id = ? AND e.digest = ? AND e.batch_id = ? AND NOT EXISTS "
                "(SELECT 1 FROM pdq_sealed s WHERE s.entry_id = e.id)"
            ),
            [(value, list_id, digest, batch_id) for digest, value in sealed.items()],
        )

    def _replace(self, cur: Cursor, list_id: int, batch_id: int) -> int:
        """A complete delivery: the list's items it does not contain leave."""
        self._q(cur, "CREATE TEMP TABLE imp_seen (item BIGINT PRIMARY KEY)")
        self._q(
            cur,
            "INSERT INTO imp_seen (item) SELECT item FROM imp_t UNION SELECT item FROM imp_new",
        )
        self._analyze(cur, "imp_seen")
        self._q(cur, "DROP TABLE IF EXISTS imp_doomed")
        self._q(
            cur,
            "CREATE TEMP TABLE imp_doomed AS SELECT id AS item FROM items WHERE list_id = ? "
            "AND state = 'active' AND NOT EXISTS (SELECT 1 FROM imp_seen s WHERE s.item = items.id)",
            (list_id,),
        )
        return self._remove_items(cur, "imp_doomed", batch_id, reason="removed")


def _decide_record(
    plan: _Plan,
    number: int,
    category: int,
    ref: str | None,
    value: str | None,
    candidates: list[_Candidate],
    new_digests: list[bytes],
    claimed: set[int],
) -> None:
    free = [c for c in candidates if c.item_id not in claimed]
    target: _Candidate | None = None
    if ref is not None:
        target = next((c for c in free if c.ref == ref), None)
        if target is None:
            target = next((c for c in free if c.ref is None and c.state == "active"), None)
    else:
        target = next((c for c in free if c.state == "active"), None)
    if target is None:
        if any(c.item_id in claimed for c in candidates):
            plan.skip(REPEATED)
        elif category == NOT_IMPORTED:
            plan.skip(f"not imported (supplier value {value})")
        elif new_digests:
            plan.force_new.append(number)
        else:
            plan.skip(ON_OTHER_ITEM)
        return
    # Items without a supplier id that hold hashes of this record are this record's file.
    mergees = [c for c in free if c is not target and c.state == "active" and c.ref is None]
    for item in (target, *mergees):
        claimed.add(item.item_id)
    if category == NOT_IMPORTED:
        if target.state != "active":
            plan.skip(f"not imported (supplier value {value})")
            return
        plan.doomed.update(c.item_id for c in (target, *mergees))
        plan.changed += 1
        plan.recategorised.append(
            Recategorisation(
                target.item_id, ref or target.ref, target.category_id, None, target.value, value
            )
        )
        return
    revived = target.state != "active"
    recategorised = not revived and (target.category_id != category or target.value != value)
    if revived or recategorised or mergees:
        plan.rewrite[target.item_id] = (target.item_id, category)
        for merged in mergees:
            plan.rewrite[merged.item_id] = (target.item_id, category)
            plan.merges.append((merged.item_id, target.item_id))
            plan.history.append(
                (merged.item_id, 0, "merged", merged.category_id, category, merged.value, value)
            )
    plan.updates[target.item_id] = (category, value, ref, "active")
    plan.adds.extend((digest, target.item_id, category) for digest in new_digests)
    if revived:
        plan.added += 1
        plan.history.append((target.item_id, 0, "restored", None, category, None, value))
    elif recategorised:
        plan.changed += 1
        plan.history.append(
            (target.item_id, 0, "recategorised", target.category_id, category, target.value, value)
        )
        plan.recategorised.append(
            Recategorisation(
                target.item_id, ref or target.ref, target.category_id, category, target.value, value
            )
        )
    else:
        plan.unchanged += 1
