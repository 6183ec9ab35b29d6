"""What a client's grants can match now: the one answer behind the warnings of
`clients add|list|grant|revoke|enable`, `lists|categories disable` and their admin API routes.

A client that can match nothing is not an error, but it looks exactly like a clean client:
every check it sends answers `false`. So every face that shows or changes grants says so.
The rule is the catalog's own (`Catalog.build`: a list it checks is enabled, not known-good,
and granted in at least one enabled category), so the warning cannot drift from what the
lookup path answers. Reads the store; changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hashcheck.catalog.model import Catalog
from hashcheck.store.interface import Store

NO_GRANTS = (
    "no grants: every check it sends answers false until it is granted a list and category "
    "(`hashcheck clients grant`)"
)
NOTHING_REACHED = (
    "its grants reach no enabled list and category (disabled, known-good, or no such list "
    "yet): every check it sends answers false"
)


@dataclass(frozen=True)
class Reach:
    client_id: str
    enabled: bool
    grants: int
    lists: tuple[str, ...]  # the lists its checks are answered from now, by name

    @property
    def can_match(self) -> bool:
        return bool(self.lists)

    @property
    def warning(self) -> str | None:
        if self.can_match:
            return None
        return NO_GRANTS if self.grants == 0 else NOTHING_REACHED

    def as_dict(self) -> dict[str, Any]:
        return {
            "can_match": self.can_match,
            "checks_lists": list(self.lists),
            "warning": self.warning,
        }


def reach(store: Store) -> dict[str, Reach]:
    """Every client's reach, by client id, from one read of the catalog."""
    lists = store.lists()
    names = {item.list_id: item.name for item in lists}
    # Slots do not matter here: which lists a client checks depends on grants, lists and
    # categories only, and an empty list still answers once entries are imported into it.
    catalog = Catalog.build(lists, store.categories(), store.clients(), (), 0)
    return {
        client_id: Reach(
            client_id,
            view.client.enabled,
            len(view.client.grants),
            tuple(names[list_id] for list_id in view.list_ids),
        )
        for client_id, view in catalog.views.items()
    }


def of_client(store: Store, client_id: str) -> Reach | None:
    """One client's reach; None for an id that names no client (a grant proposed for one)."""
    return reach(store).get(client_id)


def stranded(store: Store) -> list[str]:
    """Enabled clients that can match nothing: the ones now answered `false` for everything."""
    return sorted(r.client_id for r in reach(store).values() if r.enabled and not r.can_match)
