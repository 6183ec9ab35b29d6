"""Lists, categories, clients and grants: what the index needs to know besides digests.

Pure data, built from store records; no I/O. Turns grants into the set of slots
(list × category pairs) each client may see.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

from hashcheck.catalog.policy import Policy
from hashcheck.catalog.severity import Severity

__all__ = ["Action", "Catalog", "Category", "Client", "ClientView", "Grant", "HashList", "Severity"]


class Action(enum.Enum):
    REMOVE = "remove"
    REVIEW = "review"


@dataclass(frozen=True)
class Category:
    category_id: int
    name: str
    severity: Severity
    description: str = ""
    enabled: bool = True  # a disabled category matches for nobody, whatever the grants

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
    enabled: bool = True  # a disabled list matches for nobody (known-good lists always apply)
    pdq_threshold: int = 31  # PDQ matches up to this Hamming distance
    # Granted only by name: a grant of every list (list None) does not cover it (the
    # self-submitted list, which no client checks unless the operator says so).
    explicit_grant: bool = False


@dataclass(frozen=True)
class Grant:
    """A client may see entries of ``list_id`` (None: every list) in ``category_id`` (None: all)."""

    list_id: int | None
    category_id: int | None

    def covers(self, list_id: int, category_id: int, *, explicit: bool = False) -> bool:
        """``explicit``: the list is granted by name only (`HashList.explicit_grant`)."""
        named = self.list_id == list_id if explicit else self.list_id in (None, list_id)
        return named and (self.category_id is None or self.category_id == category_id)


@dataclass(frozen=True)
class Client:
    client_id: str
    name: str
    enabled: bool
    secret_hash: str = field(repr=False)
    grants: tuple[Grant, ...] = ()
    # The operator's budgets for this client on each node (None: the node's settings).
    requests_per_second: int | None = None
    work_per_second: int | None = None
    # The name under which the client agreed to be listed as a participating platform on the
    # public self-submission pages (None: not listed).
    public_name: str | None = None
    # The hours its agreement gives it to act on a hit or notice (None: the policy's).
    takedown_deadline_hours: int | None = None


@dataclass(frozen=True)
class Slot:
    """Where entries sit: a list × category pair, and for entries imported in shadow mode the
    batch (0 otherwise), so that a whole batch can be answered or not by one catalog flag."""

    list_id: int
    category_id: int
    batch_id: int = 0


@dataclass(frozen=True)
class ClientView:
    """A client as the hot path sees it: precomputed slots and lists it checks."""

    client: Client
    slots: frozenset[int]
    list_ids: tuple[int, ...]
    # Slots of batches still in shadow mode that the client would see once promoted.
    shadow_slots: frozenset[int] = frozenset()


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
    # Entries on hold (prevalence alarm) and why; answered `review`, see Policy.
    holds: Mapping[int, str] = field(default_factory=dict)
    policy: Policy = field(default_factory=lambda: Policy.parse({}))

    @cached_property
    def widest_pdq_threshold(self) -> int:
        """The largest PDQ threshold of any list: what the perceptual index is searched with
        (asked once per query of a batch, so worked out once per catalog)."""
        return max((item.pdq_threshold for item in self.lists.values()), default=0)

    @classmethod
    def build(
        cls,
        lists: Iterable[HashList],
        categories: Iterable[Category],
        clients: Iterable[Client],
        slots: Iterable[Slot],
        version: int,
        *,
        shadow_batches: frozenset[int] = frozenset(),
        holds: Mapping[int, str] | None = None,
        policy: Policy | None = None,
    ) -> Catalog:
        """``shadow_batches``: batches imported in shadow mode and not yet promoted."""
        list_map = {item.list_id: item for item in lists}
        category_map = {item.category_id: item for item in categories}
        client_map = {item.client_id: item for item in clients}
        slot_tuple = tuple(slots)
        known_good = frozenset(
            index
            for index, slot in enumerate(slot_tuple)
            if slot.list_id in list_map
            and list_map[slot.list_id].known_good
            and slot.batch_id not in shadow_batches
        )
        # Slots that answer for a client granted them: enabled list and category, not a
        # known-good list. Shadow slots are those of them still waiting for promotion.
        live: list[int] = []
        shadow: list[int] = []
        for index, slot in enumerate(slot_tuple):
            hash_list = list_map.get(slot.list_id)
            category = category_map.get(slot.category_id)
            if hash_list is None or category is None or hash_list.known_good:
                continue
            if not (hash_list.enabled and category.enabled):
                continue
            (shadow if slot.batch_id in shadow_batches else live).append(index)
        views = {
            cid: _view(c, slot_tuple, list_map, category_map, live, shadow)
            for cid, c in client_map.items()
        }
        return cls(
            list_map,
            category_map,
            client_map,
            slot_tuple,
            views,
            version,
            known_good,
            dict(holds or {}),
            policy or Policy.parse({}),
        )


def _view(
    client: Client,
    slots: tuple[Slot, ...],
    lists: Mapping[int, HashList],
    categories: Mapping[int, Category],
    live: list[int],
    shadow: list[int],
) -> ClientView:
    def covers(grant: Grant, list_id: int, category_id: int) -> bool:
        return grant.covers(list_id, category_id, explicit=lists[list_id].explicit_grant)

    def granted(indexes: list[int]) -> frozenset[int]:
        return frozenset(
            index
            for index in indexes
            if any(covers(g, slots[index].list_id, slots[index].category_id) for g in client.grants)
        )

    checked_lists = sorted(
        list_id
        for list_id, hash_list in lists.items()
        if not hash_list.known_good
        and hash_list.enabled
        and any(
            covers(g, list_id, cat.category_id)
            for g in client.grants
            for cat in categories.values()
            if cat.enabled
        )
    )
    return ClientView(client, granted(live), tuple(checked_lists), granted(shadow))
