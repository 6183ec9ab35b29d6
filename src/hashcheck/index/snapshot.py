"""One immutable snapshot of everything a lookup needs, and the answers it gives.

Pure: no I/O. A snapshot is replaced, never changed; readers keep the one they started with.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from hashcheck.catalog.model import Action, Catalog, ClientView
from hashcheck.index.exact import ExactIndex, Hit


@dataclass(frozen=True)
class Match:
    """One list entry that a submitted hash matched, as a client may see it."""

    entry_id: int
    list_id: int
    list_name: str
    category: str
    severity: str
    action: Action


@dataclass(frozen=True)
class Snapshot:
    exact: ExactIndex
    catalog: Catalog
    entries_cursor: int
    tombstones_cursor: int
    built_at: float = field(default_factory=time.time)

    @property
    def version(self) -> int:
        return self.catalog.version

    def visible(self, view: ClientView, hits: tuple[Hit, ...]) -> list[Match]:
        """The hits ``view``'s client is granted, as matches."""
        allowed = view.slots
        slots = self.catalog.slots
        matches = []
        for entry_id, slot_index in hits:
            if slot_index not in allowed:
                continue
            slot = slots[slot_index]
            category = self.catalog.categories[slot.category_id]
            matches.append(
                Match(
                    entry_id=entry_id,
                    list_id=slot.list_id,
                    list_name=self.catalog.lists[slot.list_id].name,
                    category=category.name,
                    severity=category.severity.value,
                    action=category.exact_action,
                )
            )
        return matches

    def is_listed(self, view: ClientView, digest: bytes) -> bool:
        """The legacy one-bit answer: is ``digest`` on a list and category the client checks."""
        allowed = view.slots
        return any(slot in allowed for _, slot in self.exact.lookup(digest))

    def matched_lists(self, view: ClientView, digest: bytes) -> set[int]:
        """List ids of the granted hits of ``digest`` (for statistics)."""
        slots = self.catalog.slots
        allowed = view.slots
        return {slots[s].list_id for _, s in self.exact.lookup(digest) if s in allowed}

    def match_many(self, view: ClientView, digests: Sequence[bytes]) -> list[list[Match]]:
        return [
            self.visible(view, hits) if hits else [] for hits in self.exact.lookup_many(digests)
        ]
