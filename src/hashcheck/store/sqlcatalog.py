"""Lists, categories, clients and grants in SQL, each change with its audit row."""

from __future__ import annotations

from collections.abc import Iterable

from hashcheck.catalog.model import Category, Client, Grant, HashList, Severity
from hashcheck.catalog.names import name_problem
from hashcheck.store.errors import AlreadyExists, Invalid, NotFound
from hashcheck.store.interface import NOT_IMPORTED
from hashcheck.store.sqlbase import Cursor, SqlBase, now_iso


class CatalogQueries(SqlBase):
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
                self._audit(
                    cur,
                    actor,
                    "category.add",
                    name,
                    {"before": None, "after": {"severity": severity.value}},
                )
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
            cur, "SELECT id, name, severity, description, enabled FROM categories ORDER BY id"
        ).fetchall()
        return [Category(int(r[0]), r[1], Severity(r[2]), r[3], bool(r[4])) for r in rows]

    def add_list(
        self, name: str, supplier: str, description: str, *, actor: str, known_good: bool = False
    ) -> HashList:
        _refuse(name_problem(name, "a list name"))
        try:
            with self._tx(write=True) as cur:
                self._q(
                    cur,
                    "INSERT INTO lists (name, supplier, description, created_at, known_good) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (name, supplier, description, now_iso(), int(known_good)),
                )
                self._audit(
                    cur,
                    actor,
                    "list.add",
                    name,
                    {"before": None, "after": {"supplier": supplier, "known_good": known_good}},
                )
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
            cur,
            "SELECT id, name, supplier, description, known_good, enabled, pdq_threshold, "
            "explicit_grant FROM lists ORDER BY id",
        ).fetchall()
        return [
            HashList(int(r[0]), r[1], r[2], r[3], bool(r[4]), bool(r[5]), int(r[6]), bool(r[7]))
            for r in rows
        ]

    def set_pdq_threshold(self, list_id: int, threshold: int, *, actor: str) -> bool:
        with self._tx(write=True) as cur:
            row = self._q(
                cur, "SELECT name, pdq_threshold FROM lists WHERE id = ?", (list_id,)
            ).fetchone()
            if row is None:
                raise NotFound(f"no list with id {list_id}")
            if int(row[1]) == threshold:
                return False
            self._q(cur, "UPDATE lists SET pdq_threshold = ? WHERE id = ?", (threshold, list_id))
            self._audit(
                cur,
                actor,
                "list.pdq-threshold",
                row[0],
                {"before": int(row[1]), "after": threshold},
            )
            return True

    def set_list_enabled(self, list_id: int, enabled: bool, *, actor: str) -> bool:
        return self._set_enabled("lists", "list", list_id, enabled, actor)

    def set_category_enabled(self, category_id: int, enabled: bool, *, actor: str) -> bool:
        return self._set_enabled("categories", "category", category_id, enabled, actor)

    def _set_enabled(self, table: str, noun: str, row_id: int, enabled: bool, actor: str) -> bool:
        with self._tx(write=True) as cur:
            return self._apply_enabled(cur, table, noun, row_id, enabled, actor)

    def _apply_enabled(
        self, cur: Cursor, table: str, noun: str, row_id: int, enabled: bool, actor: str
    ) -> bool:
        row = self._q(cur, f"SELECT name, enabled FROM {table} WHERE id = ?", (row_id,)).fetchone()
        if row is None:
            raise NotFound(f"no {noun} with id {row_id}")
        if bool(row[1]) == enabled:
            return False
        self._q(cur, f"UPDATE {table} SET enabled = ? WHERE id = ?", (int(enabled), row_id))
        self._audit(
            cur,
            actor,
            f"{noun}.{'enable' if enabled else 'disable'}",
            row[0],
            {"before": {"enabled": not enabled}, "after": {"enabled": enabled}},
        )
        return True

    def add_client(
        self, client_id: str, name: str, secret_hash: str, grants: Iterable[Grant], *, actor: str
    ) -> Client:
        _refuse(name_problem(client_id, "a client id", credential=True))
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
                    {"before": None, "after": {"name": name, "grants": _grants(grant_list)}},
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
            cur,
            "SELECT id, name, enabled, secret_hash, requests_per_second, work_per_second, "
            "public_name, takedown_deadline_hours FROM clients ORDER BY id",
        ).fetchall()
        return [
            Client(
                r[0],
                r[1],
                bool(r[2]),
                r[3],
                tuple(grants.get(r[0], ())),
                None if r[4] is None else int(r[4]),
                None if r[5] is None else int(r[5]),
                r[6],
                None if r[7] is None else int(r[7]),
            )
            for r in rows
        ]

    def _require_client(self, cur: Cursor, client_id: str) -> None:
        if self._q(cur, "SELECT 1 FROM clients WHERE id = ?", (client_id,)).fetchone() is None:
            raise NotFound(f"no client {client_id!r}")

    def set_client_enabled(self, client_id: str, enabled: bool, *, actor: str) -> None:
        with self._tx(write=True) as cur:
            self._require_client(cur, client_id)
            before = bool(
                self._q(cur, "SELECT enabled FROM clients WHERE id = ?", (client_id,)).fetchone()[0]
            )
            self._q(
                cur,
                "UPDATE clients SET enabled = ?, updated_at = ? WHERE id = ?",
                (int(enabled), now_iso(), client_id),
            )
            self._audit(
                cur,
                actor,
                "client.enable" if enabled else "client.disable",
                client_id,
                {"before": {"enabled": before}, "after": {"enabled": enabled}},
            )

    def set_client_secret(self, client_id: str, secret_hash: str, *, actor: str) -> None:
        with self._tx(write=True) as cur:
            self._require_client(cur, client_id)
            self._q(
                cur,
                "UPDATE clients SET secret_hash = ?, updated_at = ? WHERE id = ?",
                (secret_hash, now_iso(), client_id),
            )
            # The secret hashes themselves stay out of the trail.
            self._audit(
                cur, actor, "client.rotate", client_id, {"before": "secret", "after": "new secret"}
            )

    def set_client_budgets(
        self,
        client_id: str,
        requests_per_second: int | None,
        work_per_second: int | None,
        *,
        actor: str,
    ) -> bool:
        with self._tx(write=True) as cur:
            row = self._q(
                cur,
                "SELECT requests_per_second, work_per_second FROM clients WHERE id = ?",
                (client_id,),
            ).fetchone()
            if row is None:
                raise NotFound(f"no client {client_id!r}")
            before = {"requests_per_second": row[0], "work_per_second": row[1]}
            after = {"requests_per_second": requests_per_second, "work_per_second": work_per_second}
            if before == after:
                return False
            self._q(
                cur,
                "UPDATE clients SET requests_per_second = ?, work_per_second = ?, updated_at = ? "
                "WHERE id = ?",
                (requests_per_second, work_per_second, now_iso(), client_id),
            )
            self._audit(cur, actor, "client.budgets", client_id, {"before": before, "after": after})
            return True

    def set_client_public_name(self, client_id: str, name: str | None, *, actor: str) -> bool:
        with self._tx(write=True) as cur:
            row = self._q(
                cur, "SELECT public_name FROM clients WHERE id = ?", (client_id,)
            ).fetchone()
            if row is None:
                raise NotFound(f"no client {client_id!r}")
            if row[0] == name:
                return False
            self._q(
                cur,
                "UPDATE clients SET public_name = ?, updated_at = ? WHERE id = ?",
                (name, now_iso(), client_id),
            )
            self._audit(cur, actor, "client.listed", client_id, {"before": row[0], "after": name})
            return True

    def set_client_deadline(self, client_id: str, hours: int | None, *, actor: str) -> bool:
        with self._tx(write=True) as cur:
            row = self._q(
                cur, "SELECT takedown_deadline_hours FROM clients WHERE id = ?", (client_id,)
            ).fetchone()
            if row is None:
                raise NotFound(f"no client {client_id!r}")
            before = None if row[0] is None else int(row[0])
            if before == hours:
                return False
            self._q(
                cur,
                "UPDATE clients SET takedown_deadline_hours = ?, updated_at = ? WHERE id = ?",
                (hours, now_iso(), client_id),
            )
            self._audit(
                cur, actor, "client.deadline", client_id, {"before": before, "after": hours}
            )
            return True

    def add_grant(self, client_id: str, grant: Grant, *, actor: str) -> bool:
        with self._tx(write=True) as cur:
            return self._add_grant(cur, client_id, grant, actor)

    def _add_grant(
        self, cur: Cursor, client_id: str, grant: Grant, actor: str, **context: object
    ) -> bool:
        self._require_client(cur, client_id)
        if self._grant_exists(cur, client_id, grant):
            return False
        self._insert_grant(cur, client_id, grant)
        self._audit(
            cur,
            actor,
            "grant.add",
            client_id,
            {"before": None, "after": _grants([grant])[0], **context},
        )
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
            self._audit(
                cur,
                actor,
                "grant.remove",
                client_id,
                {"before": _grants([grant])[0], "after": None},
            )
            return True

    def category_map(self, supplier: str) -> dict[str, int]:
        with self._tx(write=False) as cur:
            rows = self._q(
                cur,
                "SELECT value, category_id FROM category_maps WHERE supplier = ? UNION ALL "
                "SELECT value, ? FROM category_not_imported WHERE supplier = ? ORDER BY 1",
                (supplier, NOT_IMPORTED, supplier),
            ).fetchall()
        return {str(value): int(category_id) for value, category_id in rows}

    def _mapping(self, cur: Cursor, supplier: str, value: str) -> int | None:
        row = self._q(
            cur,
            "SELECT category_id FROM category_maps WHERE supplier = ? AND value = ?",
            (supplier, value),
        ).fetchone()
        if row is not None:
            return int(row[0])
        skipped = self._q(
            cur,
            "SELECT 1 FROM category_not_imported WHERE supplier = ? AND value = ?",
            (supplier, value),
        ).fetchone()
        return NOT_IMPORTED if skipped else None

    def set_category_mapping(
        self, supplier: str, value: str, category_id: int | None, *, actor: str
    ) -> bool:
        with self._tx(write=True) as cur:
            before = self._mapping(cur, supplier, value)
            if before == category_id:
                return False
            if (
                category_id is not None
                and category_id != NOT_IMPORTED
                and self._q(cur, "SELECT 1 FROM categories WHERE id = ?", (category_id,)).fetchone()
                is None
            ):
                raise NotFound(f"no category with id {category_id}")
            for table in ("category_maps", "category_not_imported"):
                self._q(
                    cur, f"DELETE FROM {table} WHERE supplier = ? AND value = ?", (supplier, value)
                )
            if category_id == NOT_IMPORTED:
                self._q(
                    cur,
                    "INSERT INTO category_not_imported (supplier, value) VALUES (?, ?)",
                    (supplier, value),
                )
            elif category_id is not None:
                self._q(
                    cur,
                    "INSERT INTO category_maps (supplier, value, category_id) VALUES (?, ?, ?)",
                    (supplier, value, category_id),
                )
            self._audit(
                cur,
                actor,
                "supplier.map" if category_id is not None else "supplier.unmap",
                supplier,
                {"value": value, "before": before, "after": category_id},
            )
            return True

    def _grant_exists(self, cur: Cursor, client_id: str, grant: Grant) -> bool:
        row = self._q(
            cur,
            "SELECT 1 FROM grants WHERE client_id = ? "
            "AND COALESCE(list_id, 0) = ? AND COALESCE(category_id, 0) = ?",
            (client_id, grant.list_id or 0, grant.category_id or 0),
        ).fetchone()
        return row is not None


def _grants(grants: Iterable[Grant]) -> list[dict[str, int | None]]:
    return [{"list": g.list_id, "category": g.category_id} for g in grants]


def _refuse(problem: str | None) -> None:
    if problem is not None:
        raise Invalid(problem)
