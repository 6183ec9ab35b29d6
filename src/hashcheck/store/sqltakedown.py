"""Takedown timing in the store: what clients say they did about their matches (actions),
kept once per match and action, and read against the match records (sightings); and the
operator's notices to clients, each with its deadline.

An action names a match by its item and day, never by a submitted hash. Holds no HTTP and no
match-id decoding (the caller has the item and day from a genuine match id).
"""

from __future__ import annotations

import time
from typing import Any

from hashcheck.catalog.policy import Policy
from hashcheck.catalog.takedown import TAKEN_DOWN
from hashcheck.catalog.takedownreport import COUNTS, HitRow
from hashcheck.store.errors import Conflict, Gone, Invalid, NotFound
from hashcheck.store.records import ActionRecord, NewAction, NoticeRecord, Sighting
from hashcheck.store.sqlbase import IN_CHUNK, Cursor
from hashcheck.store.sqlgovernance import GovernanceQueries

# A notice's states: open (issued), acknowledged (the client read it), removed (the client
# reported the item taken down), withdrawn (by the operator).
LIVE_NOTICE = ("open", "acknowledged")
_TAKEN_DOWN = frozenset(a.value for a in TAKEN_DOWN)
_NOTICE_COLUMNS = (
    "id, client_id, item_id, url, issued_at, deadline_at, issued_by, state, acknowledged_at, "
    "closed_at"
)
_ACTION_COLUMNS = (
    "a.id, a.client_id, a.item_id, a.day, a.action, a.reason, a.acted_at, a.recorded_at, "
    "(SELECT s.first_seen FROM sightings s WHERE s.entry_id = a.item_id "
    "AND s.client_id = a.client_id AND s.day = a.day), a.notice_id"
)


AUTOMATIC = "rule:remove-matches"
# The report's counts per client, over the month's hits (see `catalog.takedownreport`).
_FIGURES = (
    "SELECT client_id, COUNT(*), COUNT(any_at), "
    "SUM(CASE WHEN any_at <= start + 3600 THEN 1 ELSE 0 END), "
    "SUM(CASE WHEN any_at <= start + 43200 THEN 1 ELSE 0 END), "
    "SUM(CASE WHEN any_at <= start + 86400 THEN 1 ELSE 0 END), "
    "SUM(CASE WHEN any_at IS NOT NULL AND "
    "(CASE WHEN any_at > start THEN any_at ELSE start END) <= deadline THEN 1 ELSE 0 END), "
    "SUM(CASE WHEN (any_at IS NOT NULL AND (CASE WHEN any_at > start THEN any_at ELSE start END) "
    "> deadline) OR (any_at IS NULL AND ? > deadline) THEN 1 ELSE 0 END), "
    "SUM(CASE WHEN any_at IS NULL THEN 1 ELSE 0 END), "
    "SUM(CASE WHEN (removed_at IS NOT NULL AND last > removed_at) "
    "OR (down_at IS NULL AND last > deadline) THEN 1 ELSE 0 END), "
    "COUNT(noticed), "
    "SUM(CASE WHEN nstate = 'removed' AND down_at IS NOT NULL AND down_at <= deadline "
    "THEN 1 ELSE 0 END), "
    "SUM(CASE WHEN nstate = 'removed' AND NOT (down_at IS NOT NULL AND down_at <= deadline) "
    "THEN 1 ELSE 0 END), "
    "SUM(CASE WHEN nstate = 'withdrawn' THEN 1 ELSE 0 END), "
    "SUM(CASE WHEN nstate IN ('open', 'acknowledged') THEN 1 ELSE 0 END), "
    "SUM(CASE WHEN nstate IN ('open', 'acknowledged') AND ? > deadline THEN 1 ELSE 0 END) "
    "FROM report_hits GROUP BY client_id"
)  # who issued a notice the automatic rule issued


class TakedownQueries(GovernanceQueries):
    def _after_matches(self, cur: Cursor, seen: list[Sighting], policy: Policy) -> None:
        """With `takedown-notices remove-matches`: a notice for each client answered a
        `remove` match that has no live notice about the item, and has not closed one since
        this match (a match from before the client's removal is no new hit)."""
        if not policy.automatic_notices:
            return
        pairs = sorted({(s.entry_id, s.client_id) for s in seen if s.answered})
        now = int(time.time())
        issued = 0
        for start in range(0, len(pairs), IN_CHUNK // 2):
            chunk = pairs[start : start + IN_CHUNK // 2]
            wanted = " OR ".join("(s.entry_id = ? AND s.client_id = ?)" for _ in chunk)
            self._q(
                cur,
                "INSERT INTO notices (client_id, item_id, url, issued_at, deadline_at, "
                "issued_by, state) "
                "SELECT s.client_id, s.entry_id, NULL, ?, "
                "? + COALESCE(c.takedown_deadline_hours, ?) * 3600, ?, 'open' "
                "FROM (SELECT entry_id, client_id, MAX(last_seen) AS last_seen "
                f"FROM sightings s WHERE s.answered = 1 AND ({wanted}) "
                "GROUP BY entry_id, client_id) s "
                "JOIN clients c ON c.id = s.client_id "
                "JOIN all_items i ON i.id = s.entry_id AND i.state = 'active' "
                "JOIN categories k ON k.id = i.category_id AND k.severity = 'severe' "
                "WHERE NOT EXISTS (SELECT 1 FROM holds h WHERE h.entry_id = s.entry_id "
                "AND h.state = 'open') "
                "AND NOT EXISTS (SELECT 1 FROM notices n WHERE n.client_id = s.client_id "
                "AND n.item_id = s.entry_id AND (n.state IN ('open', 'acknowledged') "
                "OR COALESCE(n.closed_at, 0) >= s.last_seen))",
                [
                    now,
                    now,
                    policy.takedown_deadline_hours,
                    AUTOMATIC,
                    *[value for pair in chunk for value in pair],
                ],
            )
            issued += max(cur.rowcount, 0)
        if issued:
            self._audit(cur, AUTOMATIC, "notice.issue", "*", {"issued": issued})

    def record_action(self, new: NewAction) -> tuple[ActionRecord, bool]:
        """Keep ``new`` unless the same action on the same match is kept already; (the
        action kept, whether it is new). Raises NotFound for a match (or notice) the client
        never had, Gone for one past the match records' retention or a withdrawn notice,
        Invalid for a time before the match. An action that takes the item down closes the
        client's live notice about it."""
        with self._lock, self._begin(write=True) as cur:
            notice = (
                None
                if new.notice_id is None
                else self._own_notice(cur, new.client_id, new.notice_id)
            )
            item_id = self._current_item(cur, new.item_id if notice is None else notice.item_id)
            if not self._q(cur, "SELECT 1 FROM all_items WHERE id = ?", (item_id,)).fetchone():
                raise NotFound("no such match")
            day = new.day
            if day is None:
                day = self._latest_day(cur, new.client_id, item_id)
            if day is None:
                if notice is None:
                    raise NotFound("this client has no recorded match of that item")
                day = notice.issued_at // 86400  # a notice without a match: its own day
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
            if notice is None:
                notice = self._live_notice(cur, new.client_id, item_id)
            takes_down = new.action in _TAKEN_DOWN
            self._q(
                cur,
                "INSERT INTO actions (client_id, item_id, day, action, reason, acted_at, "
                "recorded_at, notice_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (client_id, item_id, day, action) DO NOTHING",
                (
                    new.client_id,
                    item_id,
                    day,
                    new.action,
                    new.reason,
                    new.acted_at,
                    int(time.time()),
                    None if notice is None else notice.notice_id,
                ),
            )
            if notice is not None and takes_down and notice.state in LIVE_NOTICE:
                self._q(
                    cur,
                    "UPDATE notices SET state = 'removed', closed_at = ? WHERE id = ?",
                    (new.acted_at, notice.notice_id),
                )
            kept = self._action_of(cur, new.client_id, item_id, day, new.action)
            assert kept is not None
            return kept, True

    # -- notices ---------------------------------------------------------------------------
    def issue_notice(
        self, client_id: str, item_id: int, url: str | None, deadline_hours: int, *, actor: str
    ) -> tuple[NoticeRecord, bool]:
        """A notice to ``client_id`` about the item, due ``deadline_hours`` from now; the
        live one it has already, if any: (the notice, whether it is new). Gone for an item
        no longer on its list (retracted), NotFound for an unknown client or item."""
        with self._lock, self._begin(write=True) as cur:
            self._require_client(cur, client_id)
            item_id = self._current_item(cur, item_id)
            row = self._q(cur, "SELECT state FROM all_items WHERE id = ?", (item_id,)).fetchone()
            if row is None:
                raise NotFound(f"no item {item_id}")
            if row[0] != "active":
                raise Gone(
                    f"item {item_id} is no longer on its list: there is nothing to take down"
                )
            live = self._live_notice(cur, client_id, item_id)
            if live is not None:
                return live, False
            now = int(time.time())
            self._q(
                cur,
                "INSERT INTO notices (client_id, item_id, url, issued_at, deadline_at, "
                "issued_by, state) VALUES (?, ?, ?, ?, ?, ?, 'open')",
                (client_id, item_id, url, now, now + deadline_hours * 3600, actor),
            )
            made = self._live_notice(cur, client_id, item_id)
            assert made is not None
            self._audit(
                cur,
                actor,
                "notice.issue",
                str(made.notice_id),
                {
                    "before": None,
                    "after": {"client": client_id, "item": item_id, "url": url},
                    "deadline_hours": deadline_hours,
                },
            )
            return made, True

    def notice(self, notice_id: int) -> NoticeRecord:
        with self._tx(write=False) as cur:
            found = self._notice(cur, notice_id)
        if found is None:
            raise NotFound(f"no notice {notice_id}")
        return found

    def notices(
        self,
        client_id: str | None = None,
        *,
        states: tuple[str, ...] = LIVE_NOTICE,
        since: int = 0,
        limit: int = 1000,
    ) -> list[NoticeRecord]:
        """Notices of ``states`` issued at or after ``since``, oldest first."""
        clauses = [f"state IN ({', '.join('?' for _ in states)})", "issued_at >= ?"]
        params: list[Any] = [*states, since]
        if client_id is not None:
            clauses.append("client_id = ?")
            params.append(client_id)
        with self._tx(write=False) as cur:
            rows = self._q(
                cur,
                f"SELECT {_NOTICE_COLUMNS} FROM notices WHERE {' AND '.join(clauses)} "
                "ORDER BY id LIMIT ?",
                [*params, limit],
            ).fetchall()
        return [_notice(row) for row in rows]

    def acknowledge_notice(self, client_id: str, notice_id: int) -> NoticeRecord:
        """The client read the notice (once; later calls change nothing). NotFound for
        another client's notice, Gone for one the operator withdrew."""
        with self._lock, self._begin(write=True) as cur:
            found = self._own_notice(cur, client_id, notice_id)
            if found.state == "open":
                self._q(
                    cur,
                    "UPDATE notices SET state = 'acknowledged', acknowledged_at = ? WHERE id = ?",
                    (int(time.time()), notice_id),
                )
            refreshed = self._notice(cur, notice_id)
        assert refreshed is not None
        return refreshed

    def withdraw_notice(self, notice_id: int, *, actor: str) -> NoticeRecord:
        with self._lock, self._begin(write=True) as cur:
            found = self._notice(cur, notice_id)
            if found is None:
                raise NotFound(f"no notice {notice_id}")
            if found.state not in LIVE_NOTICE:
                raise Conflict(f"notice {notice_id} is {found.state} already")
            self._q(
                cur,
                "UPDATE notices SET state = 'withdrawn', closed_at = ? WHERE id = ?",
                (int(time.time()), notice_id),
            )
            self._audit(
                cur,
                actor,
                "notice.withdraw",
                str(notice_id),
                {"before": found.state, "after": "withdrawn"},
            )
            refreshed = self._notice(cur, notice_id)
        assert refreshed is not None
        return refreshed

    def _own_notice(self, cur: Cursor, client_id: str, notice_id: int) -> NoticeRecord:
        found = self._notice(cur, notice_id)
        if found is None or found.client_id != client_id:
            raise NotFound("no such notice for this client")  # another's does not exist for you
        if found.state == "withdrawn":
            raise Gone("the operator withdrew this notice")
        return found

    def _live_notice(self, cur: Cursor, client_id: str, item_id: int) -> NoticeRecord | None:
        row = self._q(
            cur,
            f"SELECT {_NOTICE_COLUMNS} FROM notices WHERE client_id = ? AND item_id = ? "
            "AND state IN ('open', 'acknowledged') ORDER BY id DESC",
            (client_id, item_id),
        ).fetchone()
        return None if row is None else _notice(row)

    def _notice(self, cur: Cursor, notice_id: int) -> NoticeRecord | None:
        row = self._q(
            cur, f"SELECT {_NOTICE_COLUMNS} FROM notices WHERE id = ?", (notice_id,)
        ).fetchone()
        return None if row is None else _notice(row)

    # -- the report ------------------------------------------------------------------------
    @staticmethod
    def _hits_sql(
        first_day: int, last_day: int, client_id: str | None, default_hours: int
    ) -> tuple[str, list[Any]]:
        """A SELECT of the month's hits and its parameters: per hit its client, latest
        match, first action (any; taking down; removing), the latest notice's state and
        time, and its clock's start and deadline."""
        down = ", ".join(f"'{a}'" for a in sorted(_TAKEN_DOWN))
        only = "AND m.client_id = ? " if client_id is not None else ""
        sql = (
            "WITH h AS (SELECT m.client_id, m.item_id, m.first_seen AS matched, "
            "m.last_seen AS last FROM hit_months m WHERE m.month = ? "
            f"{only}AND EXISTS (SELECT 1 FROM entries e WHERE e.item_id = m.item_id "
            "AND e.category_id IN (SELECT id FROM categories WHERE severity = 'severe'))), "
            "a AS (SELECT client_id, item_id, MIN(acted_at) AS any_at, "
            f"MIN(CASE WHEN action IN ({down}) THEN acted_at END) AS down_at, "
            "MIN(CASE WHEN action IN ('removed', 'quarantined') THEN acted_at END) AS removed_at "
            "FROM actions WHERE day >= ? GROUP BY client_id, item_id), "
            "n AS (SELECT client_id, item_id, MAX(id) AS id FROM notices "
            "WHERE issued_at >= ? AND issued_at < ? GROUP BY client_id, item_id) "
            "SELECT h.client_id, h.item_id, h.matched, h.last, a.any_at, a.down_at, "
            "a.removed_at, x.issued_at AS noticed, x.deadline_at AS notice_deadline, "
            "x.state AS nstate, COALESCE(x.issued_at, h.matched) AS start, "
            "COALESCE(x.deadline_at, COALESCE(x.issued_at, h.matched) "
            "+ COALESCE(c.takedown_deadline_hours, ?) * 3600) AS deadline "
            "FROM h JOIN clients c ON c.id = h.client_id "
            "LEFT JOIN a ON a.client_id = h.client_id AND a.item_id = h.item_id "
            "LEFT JOIN n ON n.client_id = h.client_id AND n.item_id = h.item_id "
            "LEFT JOIN notices x ON x.id = n.id"
        )
        client = [] if client_id is None else [client_id]
        month = [first_day * 86400, (last_day + 1) * 86400]
        return sql, [first_day, *client, first_day, *month, default_hours]

    def takedown_hits(
        self, first_day: int, last_day: int, client_id: str | None = None
    ) -> list[HitRow]:
        """Each client's hits of the month from ``first_day`` to ``last_day``, one row each
        (the report's figures are `takedown_figures`; this is their reference)."""
        sql, params = self._hits_sql(first_day, last_day, client_id, 24)
        with self._tx(write=False) as cur:
            rows = self._q(cur, sql, params).fetchall()
        return [
            HitRow(
                str(r[0]),
                int(r[1]),
                int(r[2]),
                int(r[3]),
                _maybe(r[4]),
                _maybe(r[5]),
                _maybe(r[6]),
                _maybe(r[7]),
                _maybe(r[8]),
                None if r[9] is None else str(r[9]),
            )
            for r in rows
        ]

    def takedown_figures(
        self,
        first_day: int,
        last_day: int,
        client_id: str | None,
        default_hours: int,
        now: int,
    ) -> dict[str, tuple[dict[str, int], list[int]]]:
        """Per client: the month's counts (`catalog.takedownreport.COUNTS`) and the seconds
        to action of each hit acted on, computed in the database."""
        sql, params = self._hits_sql(first_day, last_day, client_id, default_hours)
        counted: dict[str, tuple[dict[str, int], list[int]]] = {}
        with self._lock, self._begin(write=True) as cur:
            self._q(cur, "DROP TABLE IF EXISTS report_hits")
            self._q(cur, f"CREATE TEMP TABLE report_hits AS {sql}", params)
            try:
                for row in self._q(cur, _FIGURES, [now, now]).fetchall():
                    counted[str(row[0])] = (dict(zip(COUNTS, map(int, row[1:]), strict=True)), [])
                for client, seconds in self._q(
                    cur,
                    "SELECT client_id, CASE WHEN any_at > start THEN any_at - start ELSE 0 END "
                    "FROM report_hits WHERE any_at IS NOT NULL",
                ).fetchall():
                    counted[str(client)][1].append(int(seconds))
            finally:
                self._q(cur, "DROP TABLE report_hits")
        return counted

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

    def _latest_day(self, cur: Cursor, client_id: str, item_id: int) -> int | None:
        row = self._q(
            cur,
            "SELECT MAX(day) FROM sightings WHERE entry_id = ? AND client_id = ?",
            (item_id, client_id),
        ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

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


def _notice(row: Any) -> NoticeRecord:
    return NoticeRecord(
        int(row[0]),
        str(row[1]),
        int(row[2]),
        row[3],
        int(row[4]),
        int(row[5]),
        str(row[6]),
        str(row[7]),
        None if row[8] is None else int(row[8]),
        None if row[9] is None else int(row[9]),
    )


def _maybe(value: Any) -> int | None:
    return None if value is None else int(value)
