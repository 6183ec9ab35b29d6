"""Batches (imports, removals, rollbacks) as every face lists and shows them: names for the
numbers, and a shadow batch's would-be matches. Reads only; promoting and rolling back are
`admin.governance`'s."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from hashcheck.admin import governance
from hashcheck.admin.names import find_list
from hashcheck.admin.operators import Actor, Role
from hashcheck.store.interface import Store
from hashcheck.store.records import BatchRecord


@dataclass(frozen=True)
class BatchLine:
    record: BatchRecord
    list_name: str
    categories: tuple[str, ...]
    shadow: dict[str, Any] | None = None  # would-be matches (`governance.batch_summary`)

    def as_dict(self) -> dict[str, Any]:
        """The record with its names; the shadow summary's fields beside them when read."""
        found = {
            **asdict(self.record),
            "list": self.list_name,
            "categories": list(self.categories),
        }
        return found if self.shadow is None else {**found, **self.shadow}


def listing(
    store: Store,
    *,
    actor: Actor,
    list_name: str | None = None,
    limit: int = 100,
    shadows: bool = False,
) -> list[BatchLine]:
    """The newest batches first (of one list if named); with ``shadows`` a shadow batch
    carries its would-be matches."""
    actor.require(Role.VIEWER, "reading batches")
    list_id = None if list_name is None else find_list(store, list_name).list_id
    records = store.batches(list_id, max(limit, 1))
    return _lines(store, records, shadows=shadows)


def show(store: Store, batch_id: int, *, actor: Actor) -> BatchLine:
    """One batch with its would-be matches (zero unless it was a shadow import)."""
    actor.require(Role.VIEWER, "reading batches")
    (line,) = _lines(store, [store.batch(batch_id)], shadows=True, every=True)
    return line


def _lines(
    store: Store, records: list[BatchRecord], *, shadows: bool, every: bool = False
) -> list[BatchLine]:
    names = {item.list_id: item.name for item in store.lists()}
    categories = {c.category_id: c.name for c in store.categories()}
    return [
        BatchLine(
            record,
            names.get(record.list_id, str(record.list_id)),
            tuple(categories.get(c, str(c)) for c in record.category_ids),
            governance.batch_summary(store, record)
            if shadows and (every or record.state == "shadow")
            else None,
        )
        for record in records
    ]
