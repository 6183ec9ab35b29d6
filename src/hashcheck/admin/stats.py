"""Reading usage statistics with names instead of ids, for tables, JSON and CSV."""

from __future__ import annotations

from dataclasses import dataclass

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
) -> list[StatLine]:
    list_id = None if list_name is None else find_list(store, list_name).list_id
    names = {item.list_id: item.name for item in store.lists()}
    return [
        StatLine(r.day, r.client_id, names.get(r.list_id, str(r.list_id)), r.checked, r.matched)
        for r in store.read_stats(client_id=client, list_id=list_id, since=since)
    ]
