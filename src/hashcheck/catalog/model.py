"""Lists, categories, clients and grants: what the index needs to know besides digests.

Pure data, built from store records; no I/O. Turns grants into the set of slots
(list × category pairs) each client may see.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


class Severity(enum.Enum):
    """How bad a match on a category is; decides the action hint on exact matches."""

    SEVERE = "severe"
    SENSITIVE = "sensitive"
    INFORMATIONAL = "informational"


class Action(enum.Enum):
    REMOVE = "remove"
    REVIEW = "review"


@dataclass(frozen=True)
class Category:
    category_id: int
    name: str
    severity: Severity
    description: str = ""

    @property
    def exact_action(self) -> Action:
        return Action.REMOVE if self.severity is Severity.SEVERE else Action.REVIEW


@dataclass(frozen=True)
class HashList:
    list_id: int
    name: str
    supplier: str
    description: str = ""
    known_good: bool = False  # an allowlist: its hashes never match, on any list


@dataclass(frozen=True)
class Grant:
    """A client may see entries of ``list_id`` (None: every list) in ``category_id`` (None: all)."""

    list_id: int | None
    category_id: int | None

    def covers(self, list_id: int, category_id: int) -> bool:
        return (self.list_id is None or self.list_id == list_id) and (
            self.category_id is None or self.category_id == category_id
        )


@dataclass(frozen=True)
class Client:
    client_id: str
    name: str
    enabled: bool
    secret_hash: str = field(repr=False)
    grants: tuple[Grant, ...] = ()


@dataclass(frozen=True)
class Slot:
    list_id: int
    category_id: int


@dataclass(frozen=True)
class ClientView:
    """A client as the hot path sees it: precomputed slots and lists it checks."""

    client: Client
    slots: frozenset[int]
    list_ids: tuple[int, ...]


@dataclass(frozen=True)
class Catalog:
    lists: Mapping[int, HashList]
    categories: Mapping[int, Category]
    clients: Mapping[str, Client]
    slots: tuple[Slot, ...]
    views: Mapping[str, ClientView]
    version: int
    # Slots of known-good lists: a digest stored under one of them never matches.
    known_good_slots: frozenset[int] = frozenset()

    @classmethod
    def build(
        cls,
        lists: Iterable[HashList],
        categories: Iterable[Category],
        clients: Iterable[Client],
        slots: Iterable[Slot],
        version: int,
    ) -> Catalog:
        list_map = {item.list_id: item for item in lists}
        category_map = {item.category_id: item for item in categories}
        client_map = {item.client_id: item for item in clients}
        slot_tuple = tuple(slots)
        known_good = frozenset(
            index
            for index, slot in enumerate(slot_tuple)
            if slot.list_id in list_map and list_map[slot.list_id].known_good
        )
        views = {
            cid: _view(c, slot_tuple, list_map, category_map, known_good)
            for cid, c in client_map.items()
        }
        return cls(list_map, category_map, client_map, slot_tuple, views, version, known_good)


def _view(
    client: Client,
    slots: tuple[Slot, ...],
    lists: Mapping[int, HashList],
    categories: Mapping[int, Category],
    known_good: frozenset[int],
) -> ClientView:
    allowed = frozenset(
        index
        for index, slot in enumerate(slots)
        if index not in known_good
        and any(g.covers(slot.list_id, slot.category_id) for g in client.grants)
    )
    checked_lists = sorted(
        list_id
        for list_id, hash_list in lists.items()
        if not hash_list.known_good
        and any(g.covers(list_id, cat) for g in client.grants for cat in categories)
    )
    return ClientView(client, allowed, tuple(checked_lists))
