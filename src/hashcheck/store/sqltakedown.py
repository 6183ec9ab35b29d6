"""Takedown timing in the store: what clients say they did about their matches (actions),
kept once per match and action, and read against the match records (sightings).

An action names a match by its item and day, never by a submitted hash. Holds no HTTP and no
match-id decoding (the caller has the item and day from a genuine match id).
"""

from __future__ import annotations

import time
from typing import Any

from hashcheck.catalog.policy import Policy
from hashcheck.store.errors import Gone, Invalid, NotFound
from hashcheck.store.records import ActionRecord, NewAction
from hashcheck.store.sqlbase import Cursor
from hashcheck.store.sqlgovernance import GovernanceQueries

_ACTION_COLUMNS = (
    "a.id, a.client_id, a.item_id, a.day, a.action, a.reason, a.acted_at, a.recorded_at, "
    "(SELECT s.first_seen FROM sightings s WHERE s.entry_id = a.item_id "
    "AND s.client_id = a.client_id AND s.day = a.day), a.notice_id"
)


class TakedownQueries(GovernanceQueries):
    def record_action(self, new: NewAction) -> tuple[ActionRecord, bool]:
        """Keep ``new`` unless the same action on the same match is kept already; (the
        action kept, whether it is new). Raises NotFound for a match the client never had,
        Gone for one past the match records' retention, Invalid for a time before it."""
        with self._lock, self._begin(write=True) as cur:
            item_id = self._current_item(cur, new.item_id)
            if not self._q(cur, "SELECT 1 FROM all_items WHERE id = ?", (item_id,)).fetchone():
                raise NotFound("no such match")
            day = new.day if new.day is not None else self._latest_day(cur, new, item_id)
            retention = Policy.parse(self._policies(cur)).retention_days
            if day < int(time.time() // 86400) - retention:
                raise Gone(
                    f"this match is older than the {retention} days its record is kept; "
                    "its action can no longer be recorded"
                )
            existing = self._action_of(cur, new.client_id, item_id, day, new.action)
            if existing is not None:
                return existing, False  # the first record stands, whatever time this one says
            first = self._q(
                cur,
                "SELECT first_seen FROM sightings WHERE entry_id = ? AND client_id = ? AND day = ?",
                (item_id, new.client_id, day),
            ).fetchone()
            # Until the node's record of the match arrives (it flushes every few seconds),
            # the match id's day is what is known of when the match was.
            matched_at = int(first[0]) if first is not None else day * 86400
            if new.acted_at < matched_at:
                raise Invalid("the action's time is before the match")
            self._q(
                cur,
                "INSERT INTO actions (client_id, item_id, day, action, reason, acted_at, "
                "recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (client_id, item_id, day, action) DO NOTHING",
                (
                    new.client_id,
                    item_id,
                    day,
                    new.action,
                    new.reason,
                    new.acted_at,
                    int(time.time()),
                ),
            )
            kept = self._action_of(cur, new.client_id, item_id, day, new.action)
            assert kept is not None
            return kept, True

    def actions(
        self, client_id: str | None = None, *, since: int = 0, limit: int = 1000
    ) -> list[ActionRecord]:
        """Actions recorded at or after ``since`` (Unix time), oldest first."""
        where = "a.recorded_at >= ?"
        params: list[Any] = [since]
        if client_id is not None:
            where += " AND a.client_id = ?"
            params.append(client_id)
        with self._tx(write=False) as cur:
            rows = self._q(
                cur,
                f"SELECT {_ACTION_COLUMNS} FROM actions a WHERE {where} ORDER BY a.id LIMIT ?",
                [*params, limit],
            ).fetchall()
        return [_action(row) for row in rows]

    def _latest_day(self, cur: Cursor, new: NewAction, item_id: int) -> int:
        row = self._q(
            cur,
            "SELECT MAX(day) FROM sightings WHERE entry_id = ? AND client_id = ?",
            (item_id, new.client_id),
        ).fetchone()
        if row is None or row[0] is None:
            raise NotFound("this client has no recorded match of that item")
        return int(row[0])

    def _action_of(
        self, cur: Cursor, client_id: str, item_id: int, day: int, action: str
    ) -> ActionRecord | None:
        row = self._q(
            cur,
            f"SELECT {_ACTION_COLUMNS} FROM actions a WHERE a.client_id = ? AND a.item_id = ? "
            "AND a.day = ? AND a.action = ?",
            (client_id, item_id, day, action),
        ).fetchone()
        return None if row is None else _action(row)


def _action(row: Any) -> ActionRecord:
    return ActionRecord(
        int(row[0]),
        str(row[1]),
        int(row[2]),
        int(row[3]),
        str(row[4]),
        str(row[5]),
        int(row[6]),
        int(row[7]),
        None if row[8] is None else int(row[8]),
        None if row[9] is None else int(row[9]),
    )
