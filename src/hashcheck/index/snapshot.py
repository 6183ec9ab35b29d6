"""One immutable snapshot of everything a lookup needs, and the answers it gives.

Pure: no I/O. A snapshot is replaced, never changed; readers keep the one they started with.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from hashcheck.catalog.model import Action, Catalog, ClientView
from hashcheck.index.exact import ExactIndex, Hit
from hashcheck.index.perceptual import PdqEntries


@dataclass(frozen=True)
class Match:
    """One list item (a file's hashes) that a submitted hash matched, as a client may see it."""

    item_id: int
    list_id: int
    list_name: str
    category: str
    severity: str
    action: Action
    hold: str | None = None  # why the entry is on hold; its action is then always review


@dataclass(frozen=True)
class Snapshot:
    exact: ExactIndex
    catalog: Catalog
    entries_cursor: int
    tombstones_cursor: int
    pdq: PdqEntries = field(default_factory=PdqEntries.empty)
    built_at: float = field(default_factory=time.time)

    @property
    def version(self) -> int:
        return self.catalog.version

    def _known_good(self, hits: tuple[Hit, ...]) -> bool:
        known_good = self.catalog.known_good_slots
        return bool(known_good) and any(slot in known_good for _, slot in hits)

    def visible(self, view: ClientView, hits: tuple[Hit, ...]) -> list[Match]:
        """The hits ``view``'s client is granted, as matches; none if the digest is known-good."""
        if self._known_good(hits):
            return []
        allowed = view.slots
        catalog = self.catalog
        slots = catalog.slots
        holds = catalog.holds
        matches = []
        for item_id, slot_index in hits:
            if slot_index not in allowed:
                continue
            slot = slots[slot_index]
            category = catalog.categories[slot.category_id]
            hold = holds.get(item_id) if holds else None
            matches.append(
                Match(
                    item_id=item_id,
                    list_id=slot.list_id,
                    list_name=catalog.lists[slot.list_id].name,
                    category=category.name,
                    severity=category.severity.value,
                    action=Action.REVIEW if hold else category.exact_action,
                    hold=hold,
                )
            )
        return matches

    def shadowed(self, view: ClientView, hits: tuple[Hit, ...]) -> list[tuple[int, int]]:
        """(item id, batch id) of the hits the client would see if their shadow batches were
        promoted: counted, never answered."""
        if not view.shadow_slots or self._known_good(hits):
            return []
        slots = self.catalog.slots
        return [
            (item_id, slots[slot].batch_id) for item_id, slot in hits if slot in view.shadow_slots
        ]

    def legacy(
        self, view: ClientView, hits: tuple[Hit, ...]
    ) -> tuple[bool, dict[int, int] | None, list[int]]:
        """The legacy answer for these hits, the lists it matched (for statistics) and the
        items the client matched. Entries on hold answer as the policy says. Builds no
        `Match` objects: this runs for every listed hash a scanner sends."""
        if self._known_good(hits):
            return False, None, []
        allowed = view.slots
        entries = [entry for entry, slot in hits if slot in allowed]
        if not entries:
            return False, None, []
        catalog = self.catalog
        holds = catalog.holds
        answer = (
            catalog.policy.hold_legacy_answer
            if holds and all(entry in holds for entry in entries)
            else True
        )
        if not answer:
            return False, None, entries
        slots = catalog.slots
        return True, {slots[slot].list_id: 1 for _, slot in hits if slot in allowed}, entries
