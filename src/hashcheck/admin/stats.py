"""Reading usage statistics with names instead of ids, for tables, JSON and CSV.

The one reader both the CLI and the admin API use: a filter that names no client or list, or
a `since` that is not a date, is refused here rather than answered with an empty table that
looks like "nothing was checked".
"""

from __future__ import annotations

from dataclasses import dataclass

from hashcheck.admin import dates
from hashcheck.admin.errors import UnknownName
from hashcheck.admin.names import find_list
from hashcheck.store.interface import Store


@dataclass(frozen=True)
class StatLine:
    day: str
    client: str
    list: str
    checked: int
    matched: int


def read(
    store: Store,
    *,
    client: str | None = None,
    list_name: str | None = None,
    since: str | None = None,
    newest: int | None = None,
) -> list[StatLine]:
    """Rows per day, client and list, oldest first (with ``newest``: only the last so many)."""
    client_id, list_id, first_day = _filter(store, client, list_name, since)
    names = {item.list_id: item.name for item in store.lists()}
    rows = store.read_stats(client_id=client_id, list_id=list_id, since=first_day, newest=newest)
    return [
        StatLine(r.day, r.client_id, names.get(r.list_id, str(r.list_id)), r.checked, r.matched)
        for r in rows
    ]


@dataclass(frozen=True)
class DayTotal:
    day: str
    checked: int
    matched: int


def days(
    store: Store,
    *,
    client: str | None = None,
    list_name: str | None = None,
    since: str | None = None,
) -> list[DayTotal]:
    """Checked and matched per day, summed over the clients and lists the filter keeps (in
    the database: a chart of 90 days reads 90 rows, not every client's)."""
    client_id, list_id, first_day = _filter(store, client, list_name, since)
    found = store.stat_days(client_id=client_id, list_id=list_id, since=first_day)
    return [DayTotal(day, checked, matched) for day, checked, matched in found]


def _filter(
    store: Store, client: str | None, list_name: str | None, since: str | None
) -> tuple[str | None, int | None, str | None]:
    first_day = None if since is None else dates.day(since)
    list_id = None if list_name is None else find_list(store, list_name).list_id
    if client is not None and all(c.client_id != client for c in store.clients()):
        raise UnknownName(f"unknown client {client!r}; `hashcheck clients list` shows them")
    return client, list_id, first_day
