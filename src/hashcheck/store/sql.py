"""The complete SQL store both backends build on: catalog, entries, usage statistics, audit.

The parts live in `sqlbase` (transactions, schema, meta), `sqlcatalog`, `sqlentries` and
`sqlgovernance`, `sqlsubmissions`; this module adds statistics and the audit log and names the whole.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hashcheck.store.records import AuditRecord, NodeStatus, StatRow
from hashcheck.store.sqlbase import STAGE_ROW, Cursor
from hashcheck.store.sqlsubmissions import SubmissionQueries

__all__ = ["STAGE_ROW", "Cursor", "SqlStore"]


class SqlStore(SubmissionQueries):
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
        self,
        *,
        client_id: str | None = None,
        list_id: int | None = None,
        since: str | None = None,
        newest: int | None = None,
    ) -> list[StatRow]:
        where, params = self._stat_filter(client_id, list_id, since)
        order = "day, client_id, list_id"
        if newest is not None:
            order = "day DESC, client_id DESC, list_id DESC LIMIT ?"
            params.append(newest)
        with self._tx(write=False) as cur:
            rows = self._q(
                cur,
                f"SELECT client_id, list_id, day, checked, matched FROM stats {where} "
                f"ORDER BY {order}",
                params,
            ).fetchall()
        found = [StatRow(r[0], int(r[1]), r[2], int(r[3]), int(r[4])) for r in rows]
        return found[::-1] if newest is not None else found

    def stat_days(
        self, *, client_id: str | None = None, list_id: int | None = None, since: str | None = None
    ) -> list[tuple[str, int, int]]:
        where, params = self._stat_filter(client_id, list_id, since)
        with self._tx(write=False) as cur:
            rows = self._q(
                cur,
                f"SELECT day, SUM(checked), SUM(matched) FROM stats {where} "
                "GROUP BY day ORDER BY day",
                params,
            ).fetchall()
        return [(str(r[0]), int(r[1]), int(r[2])) for r in rows]

    @staticmethod
    def _stat_filter(
        client_id: str | None, list_id: int | None, since: str | None
    ) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (("client_id", client_id), ("list_id", list_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if since is not None:
            clauses.append("day >= ?")
            params.append(since)
        return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), params

    def report_node(self, status: NodeStatus) -> None:
        # Not through `_tx`: a report changes nothing the nodes follow.
        with self._lock, self._begin(write=True) as cur:
            self._q(
                cur,
                "INSERT INTO node_status (node, started_at, seen_at, ready, version, entries, "
                "current_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (node) DO UPDATE SET "
                "started_at = excluded.started_at, seen_at = excluded.seen_at, "
                "ready = excluded.ready, version = excluded.version, entries = excluded.entries, "
                "current_at = excluded.current_at",
                (
                    status.node,
                    status.started_at,
                    status.seen_at,
                    int(status.ready),
                    status.version,
                    status.entries,
                    status.current_at,
                ),
            )

    def nodes(self) -> list[NodeStatus]:
        with self._tx(write=False) as cur:
            rows = self._q(
                cur,
                "SELECT node, started_at, seen_at, ready, version, entries, current_at "
                "FROM node_status ORDER BY seen_at DESC",
            ).fetchall()
        return [NodeStatus(r[0], r[1], r[2], bool(r[3]), int(r[4]), int(r[5]), r[6]) for r in rows]

    def audit_event(self, actor: str, action: str, subject: str, detail: Any) -> None:
        # Not through `_tx`: nothing the nodes follow changed, so no new catalog version.
        with self._lock, self._begin(write=True) as cur:
            self._audit(cur, actor, action, subject, detail)

    def audit_log(
        self,
        limit: int = 100,
        *,
        actor: str | None = None,
        action: str | None = None,
        since: str | None = None,
    ) -> list[AuditRecord]:
        clauses: list[str] = []
        params: list[Any] = []
        if actor is not None:
            clauses.append("actor = ?")
            params.append(actor)
        if action is not None:
            clauses.append("(action = ? OR action LIKE ?)")
            params.extend([action, action.replace("%", "").replace("_", "") + ".%"])
        if since is not None:
            clauses.append("at >= ?")
            params.append(since)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._tx(write=False) as cur:
            rows = self._q(
                cur,
                "SELECT id, at, actor, action, subject, detail FROM audit "
                f"{where} ORDER BY id DESC LIMIT ?",
                [*params, limit],
            ).fetchall()
        return [AuditRecord(int(r[0]), r[1], r[2], r[3], r[4], r[5]) for r in rows]
