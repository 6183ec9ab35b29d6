"""One immutable snapshot of everything a lookup needs, and the answers it gives.

Pure: no I/O. A snapshot is replaced, never changed; readers keep the one they started with.
"""

from __future__ import annotations

import time
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
        """The hits ``view``'s client is granted, as matches; none if the digest is known-good."""
        known_good = self.catalog.known_good_slots
        if known_good and any(slot in known_good for _, slot in hits):
            return []
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

    def matched_lists(self, view: ClientView, hits: tuple[Hit, ...]) -> dict[int, int] | None:
        """List id -> 1 for the granted hits (the legacy answer and its statistics); None if
        nothing the client checks matched, or the digest is known-good."""
        known_good = self.catalog.known_good_slots
        if known_good and any(slot in known_good for _, slot in hits):
            return None
        allowed = view.slots
        slots = self.catalog.slots
        return {slots[slot].list_id: 1 for _, slot in hits if slot in allowed} or None
