"""Governance in SQL: match records and the prevalence alarm, holds, disputes, the retraction
feed, proposals (two-person rule), operator accounts and the stored policy.

Every change is audited with its actor; nothing here stores a submitted hash. Since schema 7
the `entry_id` columns of sightings, holds, retractions and disputes name items: governance
acts on every hash of a file at once.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import time
from collections.abc import Iterable
from typing import Any

from hashcheck.catalog.model import Grant
from hashcheck.catalog.policy import Policy
from hashcheck.store.errors import AlreadyExists, Conflict, Gone, NotFound
from hashcheck.store.records import (
    DisputeNote,
    DisputeRecord,
    HoldRecord,
    OperatorRecord,
    ProposalRecord,
    RetractionRecord,
    ShadowRow,
    Sighting,
)
from hashcheck.store.schema import DISPUTED_LIST, KNOWN_GOOD
from hashcheck.store.sqlbase import IN_CHUNK, Cursor, now_iso
from hashcheck.store.sqlentries import EntryQueries

SYSTEM_PREVALENCE = "system:prevalence"
# Why a client's match was retracted, by the kind of batch that tombstoned the entry.
_REASON_OF_KIND = {"removal": "removed", "import": "removed", "rollback": "rolled-back"}


@functools.cache
def month_of(day: int) -> int:
    """The first day (days since 1970) of the month ``day`` is in."""
    date = dt.date(1970, 1, 1) + dt.timedelta(days=day)
    return (date.replace(day=1) - dt.date(1970, 1, 1)).days


class GovernanceQueries(EntryQueries):
    # -- policy --------------------------------------------------------------------------
    def policies(self) -> dict[str, str]:
        with self._tx(write=False) as cur:
            return self._policies(cur)

    def _policies(self, cur: Cursor) -> dict[str, str]:
        rows = self._q(
            cur, "SELECT key, value FROM meta WHERE key LIKE ?", ("policy.%",)
        ).fetchall()
        return {str(k)[len("policy.") :]: str(v) for k, v in rows}

    def set_policy(self, name: str, value: str, *, actor: str) -> bool:
        with self._tx(write=True) as cur:
            return self._apply_policy(cur, name, value, actor)

    def _apply_policy(self, cur: Cursor, name: str, value: str, actor: str) -> bool:
        stored = self._policies(cur)
        Policy.parse({**stored, name: value})  # refuses a value the nodes could not use
        before = stored.get(name)
        if before == value:
            return False
        self._q(
            cur,
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (f"policy.{name}", value),
        )
        self._audit(cur, actor, "policy.set", name, {"before": before, "after": value})
        return True

    # -- match records, shadow counts, the prevalence alarm ------------------------------
    def record_matches(
        self, sightings: Iterable[Sighting], shadow: Iterable[ShadowRow]
    ) -> list[HoldRecord]:
        """Keep who matched which entry (and shadow would-be matches); place holds the
        prevalence alarm calls for. Returns the holds placed now."""
        seen = list(sightings)
        shadow_rows = [(r.client_id, r.batch_id, r.day, r.matched) for r in shadow]
        if not seen and not shadow_rows:
            return []
        with self._lock, self._begin(write=True) as cur:
            if shadow_rows:
                cur.executemany(
                    self._sql(
                        "INSERT INTO shadow_stats (client_id, batch_id, day, matched) "
                        "VALUES (?, ?, ?, ?) ON CONFLICT (client_id, batch_id, day) DO UPDATE "
                        "SET matched = shadow_stats.matched + excluded.matched"
                    ),
                    shadow_rows,
                )
            if not seen:
                return []
            cur.executemany(
                self._sql(
                    "INSERT INTO sightings (entry_id, client_id, day, last_seen, answered, "
                    "first_seen) VALUES (?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (entry_id, client_id, day) DO UPDATE SET "
                    "last_seen = CASE WHEN excluded.last_seen > sightings.last_seen "
                    "THEN excluded.last_seen ELSE sightings.last_seen END, "
                    "first_seen = CASE WHEN excluded.first_seen < sightings.first_seen "
                    "THEN excluded.first_seen ELSE sightings.first_seen END, "
                    "answered = CASE WHEN excluded.answered = 1 THEN 1 "
                    "ELSE sightings.answered END"
                ),
                [
                    (
                        s.entry_id,
                        s.client_id,
                        s.day,
                        s.last_seen,
                        int(s.answered),
                        s.first_seen or s.last_seen,
                    )
                    for s in seen
                ],
            )
            answered = [s for s in seen if s.answered]
            if answered:
                cur.executemany(
                    self._sql(
                        "INSERT INTO hit_months (month, client_id, item_id, first_seen, "
                        "last_seen) VALUES (?, ?, ?, ?, ?) "
                        "ON CONFLICT (month, client_id, item_id) DO UPDATE SET "
                        "first_seen = CASE WHEN excluded.first_seen < hit_months.first_seen "
                        "THEN excluded.first_seen ELSE hit_months.first_seen END, "
                        "last_seen = CASE WHEN excluded.last_seen > hit_months.last_seen "
                        "THEN excluded.last_seen ELSE hit_months.last_seen END"
                    ),
                    [
                        (
                            month_of(s.day),
                            s.client_id,
                            s.entry_id,
                            s.first_seen or s.last_seen,
                            s.last_seen,
                        )
                        for s in answered
                    ],
                )
            policy = Policy.parse(self._policies(cur))
            self._late_retractions(cur, answered)
            self._after_matches(cur, seen, policy)
            self._forget_old(cur, policy.retention_days)
            placed = self._prevalence(cur, sorted({s.entry_id for s in seen}), policy)
            if placed:
                self._bump_version(cur)
        return placed

    def _after_matches(self, cur: Cursor, seen: list[Sighting], policy: Policy) -> None:
        """What a subclass does with new match records, in their transaction."""

    def _existing(self, cur: Cursor, entry_ids: list[int]) -> set[int]:
        """Which of the items ``entry_ids`` are on a list now, or live on in the item they
        were merged into (a few queries, not one per id).

        Reads the two kinds of item apart rather than through `all_items`: SQLite does not
        carry an ``IN`` list into the view's run branch and would read every entry of a list
        for each chunk (45 s a flush at 10M items)."""
        found: set[int] = set()
        for start in range(0, len(entry_ids), IN_CHUNK):
            chunk = entry_ids[start : start + IN_CHUNK]
            marks = ", ".join("?" for _ in chunk)
            found.update(
                int(row[0])
                for row in self._q(
                    cur,
                    f"SELECT id FROM items WHERE id IN ({marks}) "
                    "AND state IN ('active', 'merged') "
                    f"UNION SELECT e.item_id FROM entries e WHERE e.item_id IN ({marks}) "
                    "AND EXISTS (SELECT 1 FROM item_runs r WHERE r.list_id = e.list_id "
                    "AND e.item_id BETWEEN r.first_item AND r.last_item)",
                    [*chunk, *chunk],
                ).fetchall()
            )
        return found

    def _late_retractions(self, cur: Cursor, answered: list[Sighting]) -> None:
        """A match answered just before its entry was removed reaches the store after the
        removal: its retraction is written now."""
        if not answered:
            return
        present = self._existing(cur, sorted({s.entry_id for s in answered}))
        for sighting in answered:
            if sighting.entry_id in present:
                continue
            row = self._q(
                cur,
                "SELECT i.list_id, b.kind, b.source FROM all_items i "
                "JOIN batches b ON b.id = i.last_batch WHERE i.id = ?",
                (sighting.entry_id,),
            ).fetchone()
            if row is None:
                continue
            reason = (
                "dispute-upheld"
                if row[1] == "retraction"
                else _REASON_OF_KIND.get(row[1], "removed")
            )
            self._q(
                cur,
                "INSERT INTO retractions (client_id, entry_id, day, list_id, reason, at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (client_id, entry_id, day) DO NOTHING",
                (sighting.client_id, sighting.entry_id, sighting.day, row[0], reason, now_iso()),
            )

    def _forget_old(self, cur: Cursor, retention_days: int) -> None:
        cutoff_day = int(time.time() // 86400) - retention_days
        self._q(cur, "DELETE FROM sightings WHERE day < ?", (cutoff_day,))
        self._q(cur, "DELETE FROM hit_months WHERE month < ?", (month_of(cutoff_day),))
        self._q(cur, "DELETE FROM retractions WHERE day < ?", (cutoff_day,))

    def _prevalence(self, cur: Cursor, entry_ids: list[int], policy: Policy) -> list[HoldRecord]:
        since = int(time.time()) - policy.prevalence_hours * 3600
        placed: list[HoldRecord] = []
        prevalent: list[tuple[int, int]] = []
        for start in range(0, len(entry_ids), IN_CHUNK):
            chunk = entry_ids[start : start + IN_CHUNK]
            marks = ", ".join("?" for _ in chunk)
            prevalent.extend(
                (int(row[0]), int(row[1]))
                for row in self._q(
                    cur,
                    "SELECT entry_id, COUNT(DISTINCT client_id) FROM sightings "
                    f"WHERE entry_id IN ({marks}) AND last_seen >= ? GROUP BY entry_id "
                    "HAVING COUNT(DISTINCT client_id) > ?",
                    [*chunk, since, policy.prevalence_clients],
                ).fetchall()
            )
        for entry_id, clients in prevalent:
            if self._q(cur, "SELECT 1 FROM holds WHERE entry_id = ?", (entry_id,)).fetchone():
                continue  # on hold already, or released by an operator: not again
            entry = self._q(
                cur,
                "SELECT list_id FROM all_items WHERE id = ? AND state = 'active'",
                (entry_id,),
            ).fetchone()
            if entry is None:
                continue
            reason = (
                f"matched for {clients} clients within {policy.prevalence_hours} h "
                f"(alarm above {policy.prevalence_clients})"
            )
            stamp = now_iso()
            self._q(
                cur,
                "INSERT INTO holds (entry_id, list_id, reason, state, created_at, clients) "
                "VALUES (?, ?, ?, 'open', ?, ?)",
                (entry_id, int(entry[0]), reason, stamp, clients),
            )
            self._audit(
                cur,
                SYSTEM_PREVALENCE,
                "hold.add",
                str(entry_id),
                {
                    "before": None,
                    "after": {"state": "open", "reason": reason},
                    "item": entry_id,
                    "list": self._names(cur, "lists", [int(entry[0])]).get(int(entry[0])),
                },
            )
            placed.append(HoldRecord(entry_id, int(entry[0]), reason, "open", stamp, None, clients))
        return placed

    def shadow_stats(self, batch_id: int | None = None) -> list[ShadowRow]:
        where, params = ("WHERE batch_id = ? ", [batch_id]) if batch_id is not None else ("", [])
        with self._tx(write=False) as cur:
            rows = self._q(
                cur,
                "SELECT client_id, batch_id, day, matched FROM shadow_stats "
                f"{where}ORDER BY batch_id, day, client_id",
                params,
            ).fetchall()
        return [ShadowRow(r[0], int(r[1]), r[2], int(r[3])) for r in rows]

    # -- holds ---------------------------------------------------------------------------
    def holds(self, state: str | None = None, entry_id: int | None = None) -> list[HoldRecord]:
        clauses, params = [], []
        for column, value in (("state", state), ("entry_id", entry_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
        with self._tx(write=False) as cur:
            rows = self._q(
                cur,
                "SELECT entry_id, list_id, reason, state, created_at, decided_by, clients "
                f"FROM holds {where}ORDER BY created_at DESC, entry_id",
                params,
            ).fetchall()
        return [HoldRecord(int(r[0]), int(r[1]), r[2], r[3], r[4], r[5], int(r[6])) for r in rows]

    def waiting(self) -> dict[str, int]:
        with self._tx(write=False) as cur:
            return {
                name: int(
                    self._q(cur, f"SELECT COUNT(*) FROM {name} WHERE state = 'open'").fetchone()[0]
                )
                for name in ("proposals", "holds", "disputes")
            }

    def release_hold(self, entry_id: int, *, actor: str) -> None:
        with self._tx(write=True) as cur:
            row = self._q(cur, "SELECT state FROM holds WHERE entry_id = ?", (entry_id,)).fetchone()
            if row is None:
                raise NotFound(f"entry {entry_id} is not on hold")
            if row[0] != "open":
                raise Conflict(f"the hold on entry {entry_id} is {row[0]} already")
            self._q(
                cur,
                "UPDATE holds SET state = 'released', decided_by = ?, decided_at = ? "
                "WHERE entry_id = ?",
                (actor, now_iso(), entry_id),
            )
            self._audit(
                cur,
                actor,
                "hold.release",
                str(entry_id),
                {"before": {"state": "open"}, "after": {"state": "released"}},
            )

    # -- disputes and the retraction feed ------------------------------------------------
    def open_dispute(self, client_id: str, entry_id: int, day: int, reason: str) -> DisputeRecord:
        with self._tx(write=True) as cur:
            entry_id = self._current_item(cur, entry_id)
            entry = self._q(
                cur, "SELECT list_id, state FROM all_items WHERE id = ?", (entry_id,)
            ).fetchone()
            if entry is None:
                raise NotFound("no such match")
            if entry[1] != "active":
                raise Gone("this match was retracted already; see /v2/retractions")
            existing = self._q(
                cur,
                "SELECT id FROM disputes WHERE client_id = ? AND entry_id = ? AND state = 'open'",
                (client_id, entry_id),
            ).fetchone()
            if existing is not None:
                return self._dispute(cur, int(existing[0]))
            self._q(
                cur,
                "INSERT INTO disputes (client_id, entry_id, list_id, day, reason, state, "
                "opened_at) VALUES (?, ?, ?, ?, ?, 'open', ?)",
                (client_id, entry_id, int(entry[0]), day, reason, now_iso()),
            )
            dispute_id = int(self._q(cur, "SELECT MAX(id) FROM disputes").fetchone()[0])
            self._audit(
                cur,
                f"client:{client_id}",
                "dispute.open",
                str(dispute_id),
                {
                    "before": None,
                    "after": {
                        "state": "open",
                        "item": entry_id,
                        "list": self._names(cur, "lists", [int(entry[0])]).get(int(entry[0])),
                        "list_id": int(entry[0]),
                    },
                    "reason": reason,
                },
            )
            return self._dispute(cur, dispute_id)

    def dispute(self, dispute_id: int) -> DisputeRecord:
        with self._tx(write=False) as cur:
            return self._dispute(cur, dispute_id)

    def _dispute(self, cur: Cursor, dispute_id: int) -> DisputeRecord:
        row = self._q(cur, f"{_DISPUTE_COLUMNS} WHERE id = ?", (dispute_id,)).fetchone()
        if row is None:
            raise NotFound(f"no dispute {dispute_id}")
        notes = tuple(
            DisputeNote(r[0], r[1], r[2])
            for r in self._q(
                cur,
                "SELECT at, actor, text FROM dispute_notes WHERE dispute_id = ? ORDER BY id",
                (dispute_id,),
            ).fetchall()
        )
        return _dispute_record(row, notes)

    def disputes(
        self,
        *,
        state: str | None = None,
        client_id: str | None = None,
        entry_id: int | None = None,
        limit: int = 1000,
    ) -> list[DisputeRecord]:
        clauses: list[str] = []
        params: list[object] = []
        for column, value in (("state", state), ("client_id", client_id), ("entry_id", entry_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
        with self._tx(write=False) as cur:
            ids = [
                int(r[0])
                for r in self._q(
                    cur,
                    f"SELECT id FROM disputes {where}ORDER BY id DESC LIMIT ?",
                    [*params, limit],
                ).fetchall()
            ]
            return [self._dispute(cur, dispute_id) for dispute_id in ids]

    def comment_dispute(self, dispute_id: int, text: str, *, actor: str) -> DisputeRecord:
        with self._tx(write=True) as cur:
            self._dispute(cur, dispute_id)
            self._note(cur, dispute_id, text, actor)
            self._audit(
                cur, actor, "dispute.comment", str(dispute_id), {"before": None, "after": text}
            )
            return self._dispute(cur, dispute_id)

    def _note(self, cur: Cursor, dispute_id: int, text: str, actor: str) -> None:
        self._q(
            cur,
            "INSERT INTO dispute_notes (dispute_id, at, actor, text) VALUES (?, ?, ?, ?)",
            (dispute_id, now_iso(), actor, text),
        )

    def resolve_dispute(
        self, dispute_id: int, *, upheld: bool, comment: str, actor: str
    ) -> DisputeRecord:
        """Decide an open dispute. Upheld: the entry leaves its list (tombstone, retraction
        feed) and its digest goes onto the known-good list of disputed hashes, so that no
        re-import or other list can make it match again."""
        with self._lock, self._tx(write=True) as cur:
            dispute = self._dispute(cur, dispute_id)
            if dispute.state != "open":
                raise Conflict(f"dispute {dispute_id} is {dispute.state} already")
            state = "upheld" if upheld else "rejected"
            retracted = self._retract_item(cur, dispute, actor) if upheld else 0
            self._q(
                cur,
                "UPDATE disputes SET state = ?, decided_by = ?, decided_at = ? WHERE id = ?",
                (state, actor, now_iso(), dispute_id),
            )
            if comment:
                self._note(cur, dispute_id, comment, actor)
            self._audit(
                cur,
                actor,
                f"dispute.{'uphold' if upheld else 'reject'}",
                str(dispute_id),
                {
                    "before": {"state": "open"},
                    "after": {"state": state},
                    "item": dispute.entry_id,
                    "list": self._names(cur, "lists", [dispute.list_id]).get(dispute.list_id),
                    "retracted": retracted,
                    "comment": comment,
                },
            )
            return self._dispute(cur, dispute_id)

    def _current_item(self, cur: Cursor, item_id: int) -> int:
        """The item that holds a merged item's hashes now (the item itself otherwise; an
        item without a row, `item_runs`, is never merged)."""
        for _ in range(64):  # merges chain rarely; a bound keeps a bad row from looping
            row = self._q(
                cur, "SELECT state, merged_into FROM items WHERE id = ?", (item_id,)
            ).fetchone()
            if row is None or row[0] != "merged" or row[1] is None:
                return item_id
            item_id = int(row[1])
        return item_id

    def _retract_item(self, cur: Cursor, dispute: DisputeRecord, actor: str) -> int:
        """The disputed item leaves its list with every hash, and all of them go onto the
        known-good list of disputed hashes. Returns the entries retracted."""
        item_id = self._current_item(cur, dispute.entry_id)
        row = self._q(
            cur, "SELECT list_id, state FROM all_items WHERE id = ?", (item_id,)
        ).fetchone()
        if row is None or row[1] != "active":
            return 0  # removed meanwhile; its retraction went out then
        list_id = int(row[0])
        digests = [
            bytes(r[0])
            for r in self._q(
                cur, "SELECT digest FROM entries WHERE item_id = ? ORDER BY id", (item_id,)
            ).fetchall()
        ]
        batch_id = self._new_batch(
            cur, list_id, "retraction", f"dispute {dispute.dispute_id}", actor
        )
        self._fill(cur, "imp_doomed", [item_id])
        self._remove_items(cur, "imp_doomed", batch_id, reason="dispute-upheld")
        self._q(cur, "DROP TABLE imp_doomed")
        self._finish_batch(cur, batch_id, 1, 0, removed=1)
        good_list = self._disputed_list(cur)
        good_category = int(
            self._q(cur, "SELECT id FROM categories WHERE name = ?", (KNOWN_GOOD,)).fetchone()[0]
        )
        good_batch = self._new_batch(
            cur, good_list, "import", f"dispute {dispute.dispute_id}", "system:disputes"
        )
        good_item = self._next_item_id(cur)
        self._q(
            cur,
            "INSERT INTO items (id, list_id, ref, category_id, value, state, merged_into, "
            "first_batch, last_batch) VALUES (?, ?, ?, ?, NULL, 'active', NULL, ?, ?)",
            (
                good_item,
                good_list,
                f"dispute {dispute.dispute_id}",
                good_category,
                good_batch,
                good_batch,
            ),
        )
        added = 0
        for digest in digests:  # an item's few hashes; one by one for an exact row count
            self._q(
                cur,
                "INSERT INTO entries (list_id, digest, category_id, batch_id, item_id) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (list_id, digest) DO NOTHING",
                (good_list, digest, good_category, good_batch, good_item),
            )
            added += max(cur.rowcount, 0)
        self._sized(cur, good_list, added)
        self._finish_batch(cur, good_batch, 1, 0, [good_category])
        return len(digests)

    def _disputed_list(self, cur: Cursor) -> int:
        row = self._q(cur, "SELECT id FROM lists WHERE name = ?", (DISPUTED_LIST,)).fetchone()
        if row is not None:
            return int(row[0])
        self._q(
            cur,
            "INSERT INTO lists (name, supplier, description, created_at, known_good) "
            "VALUES (?, 'hashcheck', ?, ?, 1)",
            (
                DISPUTED_LIST,
                "Hashes retracted after an upheld dispute: they never match",
                now_iso(),
            ),
        )
        self._audit(
            cur,
            "system:disputes",
            "list.add",
            DISPUTED_LIST,
            {"before": None, "after": {"supplier": "hashcheck", "known_good": True}},
        )
        return int(
            self._q(cur, "SELECT id FROM lists WHERE name = ?", (DISPUTED_LIST,)).fetchone()[0]
        )

    def retractions(self, client_id: str, since: int, limit: int = 1000) -> list[RetractionRecord]:
        with self._tx(write=False) as cur:
            rows = self._q(
                cur,
                "SELECT seq, client_id, entry_id, day, list_id, reason, at FROM retractions "
                "WHERE client_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                (client_id, since, limit),
            ).fetchall()
        return [
            RetractionRecord(int(r[0]), r[1], int(r[2]), int(r[3]), int(r[4]), r[5], r[6])
            for r in rows
        ]

    # -- proposals: the two-person rule --------------------------------------------------
    def propose(
        self, action: str, subject: str, detail: dict[str, Any], *, actor: str
    ) -> ProposalRecord:
        if action not in _APPLY:
            raise ValueError(f"unknown proposal action {action!r}")
        with self._tx(write=True) as cur:
            self._q(
                cur,
                "INSERT INTO proposals (action, subject, detail, state, proposed_by, proposed_at) "
                "VALUES (?, ?, ?, 'open', ?, ?)",
                (action, subject, json.dumps(detail, sort_keys=True), actor, now_iso()),
            )
            proposal_id = int(self._q(cur, "SELECT MAX(id) FROM proposals").fetchone()[0])
            self._audit(
                cur,
                actor,
                "proposal.add",
                str(proposal_id),
                {"before": None, "after": {"state": "open", "action": action, **detail}},
            )
            return self._proposal(cur, proposal_id)

    def proposals(self, state: str | None = None, limit: int = 1000) -> list[ProposalRecord]:
        where, params = ("WHERE state = ? ", [state]) if state else ("", [])
        with self._tx(write=False) as cur:
            rows = self._q(
                cur, f"{_PROPOSAL_COLUMNS} {where}ORDER BY id DESC LIMIT ?", [*params, limit]
            ).fetchall()
        return [_proposal_record(r) for r in rows]

    def _proposal(self, cur: Cursor, proposal_id: int) -> ProposalRecord:
        row = self._q(cur, f"{_PROPOSAL_COLUMNS} WHERE id = ?", (proposal_id,)).fetchone()
        if row is None:
            raise NotFound(f"no proposal {proposal_id}")
        return _proposal_record(row)

    def decide_proposal(self, proposal_id: int, *, approve: bool, actor: str) -> ProposalRecord:
        """Approve (and carry out, in the same transaction) or reject an open proposal.
        Nobody approves their own proposal."""
        with self._lock, self._tx(write=True) as cur:
            proposal = self._proposal(cur, proposal_id)
            if proposal.state != "open":
                raise Conflict(f"proposal {proposal_id} is {proposal.state} already")
            if approve:
                self._refuse_related_approver(cur, proposal, actor)
            if approve:
                _APPLY[proposal.action](self, cur, proposal, actor)
            state = "approved" if approve else "rejected"
            self._q(
                cur,
                "UPDATE proposals SET state = ?, decided_by = ?, decided_at = ? WHERE id = ?",
                (state, actor, now_iso(), proposal_id),
            )
            self._audit(
                cur,
                actor,
                f"proposal.{'approve' if approve else 'reject'}",
                str(proposal_id),
                {"before": {"state": "open"}, "after": {"state": state}, "action": proposal.action},
            )
            return self._proposal(cur, proposal_id)

    def _refuse_related_approver(self, cur: Cursor, proposal: ProposalRecord, actor: str) -> None:
        """The second person must be a second person: not the proposer, not an account the
        proposer created or that created the proposer (its creator was shown its secret), and
        for an account's own proposal (enabling it, raising its role) not that account or its
        creator."""
        if proposal.proposed_by == actor:
            raise Conflict(f"{actor} proposed this change; another operator must approve it")
        creators = dict(self._q(cur, "SELECT name, created_by FROM operators").fetchall())
        if creators.get(proposal.proposed_by) == actor:
            raise Conflict(
                f"{actor} created {proposal.proposed_by}'s account, so cannot be the second "
                "person for its proposals; another operator must approve it"
            )
        if creators.get(actor) == proposal.proposed_by:
            raise Conflict(
                f"{proposal.proposed_by} created {actor}'s account, so {actor} cannot be the "
                "second person for its proposals; another operator must approve it"
            )
        if proposal.action.startswith("operator.") and actor in (
            proposal.subject,
            creators.get(proposal.subject),
        ):
            raise Conflict(
                f"{actor} is {proposal.subject} or created that account; another operator must "
                "approve a change to it"
            )

    def _apply_grant(self, cur: Cursor, proposal: ProposalRecord, actor: str) -> None:
        detail = proposal.detail
        grant = Grant(_optional_int(detail["list"]), _optional_int(detail["category"]))
        self._add_grant(cur, proposal.subject, grant, actor, proposal=proposal.proposal_id)

    # -- operator accounts ---------------------------------------------------------------
    def add_operator(
        self,
        name: str,
        role: str,
        secret_hash: str,
        *,
        actor: str,
        enabled: bool = True,
        created_by: str | None = None,
    ) -> None:
        try:
            with self._tx(write=True) as cur:
                self._q(
                    cur,
                    "INSERT INTO operators (name, role, enabled, secret_hash, created_at, "
                    "created_by) VALUES (?, ?, ?, ?, ?, ?)",
                    (name, role, int(enabled), secret_hash, now_iso(), created_by),
                )
                self._audit(
                    cur,
                    actor,
                    "operator.add",
                    name,
                    {"after": {"role": role, "enabled": enabled}, "created_by": created_by},
                )
        except Exception as exc:
            if self._is_unique_violation(exc):
                raise AlreadyExists(f"operator {name!r} exists already") from None
            raise

    def operators(self) -> list[OperatorRecord]:
        with self._tx(write=False) as cur:
            rows = self._q(
                cur,
                "SELECT name, role, enabled, secret_hash, created_by FROM operators ORDER BY name",
            ).fetchall()
        return [OperatorRecord(r[0], r[1], bool(r[2]), r[3], r[4]) for r in rows]

    def update_operator(
        self,
        name: str,
        *,
        actor: str,
        enabled: bool | None = None,
        secret_hash: str | None = None,
        role: str | None = None,
    ) -> None:
        with self._tx(write=True) as cur:
            self._update_operator(
                cur, name, actor=actor, enabled=enabled, secret_hash=secret_hash, role=role
            )

    def _apply_operator(self, cur: Cursor, proposal: ProposalRecord, actor: str) -> None:
        if proposal.action == "operator.enable":
            self._update_operator(cur, proposal.subject, actor=actor, enabled=True)
        else:
            role = str(proposal.detail["role"])
            self._update_operator(cur, proposal.subject, actor=actor, role=role)

    def _update_operator(
        self,
        cur: Cursor,
        name: str,
        *,
        actor: str,
        enabled: bool | None = None,
        secret_hash: str | None = None,
        role: str | None = None,
    ) -> None:
        row = self._q(cur, "SELECT role, enabled FROM operators WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise NotFound(f"no operator {name!r}")
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        for column, value, old in (
            ("enabled", enabled, bool(row[1])),
            ("role", role, row[0]),
            ("secret_hash", secret_hash, None),
        ):
            if value is None:
                continue
            stored = int(value) if isinstance(value, bool) else value
            self._q(cur, f"UPDATE operators SET {column} = ? WHERE name = ?", (stored, name))
            if column != "secret_hash":
                before[column], after[column] = old, value
        action = "operator.rotate" if secret_hash is not None else "operator.update"
        self._audit(cur, actor, action, name, {"before": before, "after": after})


def _apply_category(store: GovernanceQueries, cur: Cursor, p: ProposalRecord, actor: str) -> None:
    store._apply_enabled(cur, "categories", "category", int(p.subject), True, actor)


def _apply_list(store: GovernanceQueries, cur: Cursor, p: ProposalRecord, actor: str) -> None:
    store._apply_enabled(cur, "lists", "list", int(p.subject), True, actor)


def _apply_threshold(store: GovernanceQueries, cur: Cursor, p: ProposalRecord, actor: str) -> None:
    value = int(str(p.detail["value"]))
    row = store._q(cur, "SELECT name, pdq_threshold FROM lists WHERE id = ?", (int(p.subject),))
    found = row.fetchone()
    if found is None:
        raise NotFound(f"no list with id {p.subject}")
    store._q(cur, "UPDATE lists SET pdq_threshold = ? WHERE id = ?", (value, int(p.subject)))
    store._audit(
        cur, actor, "list.pdq-threshold", found[0], {"before": int(found[1]), "after": value}
    )


def _apply_promote(store: GovernanceQueries, cur: Cursor, p: ProposalRecord, actor: str) -> None:
    store._apply_promote(cur, int(p.subject), actor)


def _apply_policy(store: GovernanceQueries, cur: Cursor, p: ProposalRecord, actor: str) -> None:
    store._apply_policy(cur, p.subject, str(p.detail["value"]), actor)


def _apply_grant(store: GovernanceQueries, cur: Cursor, p: ProposalRecord, actor: str) -> None:
    store._apply_grant(cur, p, actor)


def _apply_operator(store: GovernanceQueries, cur: Cursor, p: ProposalRecord, actor: str) -> None:
    store._apply_operator(cur, p, actor)


_APPLY = {
    "operator.enable": _apply_operator,
    "operator.role": _apply_operator,
    "category.enable": _apply_category,
    "list.enable": _apply_list,
    "list.pdq-threshold": _apply_threshold,
    "batch.promote": _apply_promote,
    "policy.set": _apply_policy,
    "grant.add": _apply_grant,
}

_DISPUTE_COLUMNS = (
    "SELECT id, client_id, entry_id, list_id, day, reason, state, opened_at, decided_by, "
    "decided_at FROM disputes"
)
_PROPOSAL_COLUMNS = (
    "SELECT id, action, subject, detail, state, proposed_by, proposed_at, decided_by, "
    "decided_at FROM proposals"
)


def _optional_int(value: object) -> int | None:
    return None if value is None else int(str(value))


def _dispute_record(row: Any, notes: tuple[DisputeNote, ...]) -> DisputeRecord:
    return DisputeRecord(
        int(row[0]),
        row[1],
        int(row[2]),
        int(row[3]),
        int(row[4]),
        row[5],
        row[6],
        row[7],
        row[8],
        row[9],
        notes,
    )


def _proposal_record(row: Any) -> ProposalRecord:
    return ProposalRecord(
        int(row[0]), row[1], row[2], json.loads(row[3]), row[4], row[5], row[6], row[7], row[8]
    )
