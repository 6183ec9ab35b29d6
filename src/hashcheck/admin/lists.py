"""Lists as the operator sees them, in one shape for every face (CLI table, admin API, the
console): name, kind, supplier, whether it answers, its hashes and PDQ threshold. Reads only."""

from __future__ import annotations

from typing import Any

from hashcheck.store.interface import Store

COLUMNS = ("name", "kind", "supplier", "enabled", "entries", "pdq_threshold", "description")


def listing(store: Store) -> list[dict[str, Any]]:
    return [
        {
            "name": item.name,
            "kind": "known-good" if item.known_good else "hashes",
            "supplier": item.supplier,
            "enabled": item.enabled,
            "entries": store.entry_count(item.list_id),
            "pdq_threshold": item.pdq_threshold,
            "description": item.description,
            "known_good": item.known_good,
        }
        for item in store.lists()
    ]
