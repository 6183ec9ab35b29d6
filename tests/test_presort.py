"""A list's first plain delivery is put in digest order before staging (`store.presort`):
whatever it holds, the list must end up as the general import path leaves it."""

from __future__ import annotations

import hashlib

import pytest

from hashcheck.store import presort
from hashcheck.store.interface import StageRow, Store
from hashcheck.store.records import ImportOutcome

DIGEST = 16


def digest(seed: str) -> bytes:
    return hashlib.sha256(seed.encode()).digest()[:DIGEST]


def bare(number: int, category: int, digests: list[bytes]) -> StageRow:
    return (number, category, len(digests), b"".join(digests), None, None, 1)


def listed(store: Store, list_id: int) -> set[tuple[frozenset[bytes], int]]:
    """Each item of the list as (its digests, its category)."""
    added = store.changes_since(0, 0).added
    items: dict[int, set[bytes]] = {}
    categories: dict[int, int] = {}
    for i in range(len(added)):
        if int(added.list_ids[i]) != list_id:
            continue
        item = int(added.item_ids[i])
        items.setdefault(item, set()).add(added.digests[i * DIGEST : (i + 1) * DIGEST])
        categories[item] = int(added.category_ids[i])
    return {(frozenset(d), categories[item]) for item, d in items.items()}


def first_and_general(
    store: Store, rows: list[list[StageRow]]
) -> tuple[ImportOutcome, ImportOutcome]:
    """The same delivery as a list's first (presorted when plain) and as a later one into a
    list that already holds an unrelated hash (always the general path)."""
    store.add_list("first", "First", "", actor="t")
    store.add_list("later", "Later", "", actor="t")
    ids = {h.name: h.list_id for h in store.lists()}
    illegal = category_id(store, "illegal")
    store.import_records(
        ids["later"], [[bare(0, illegal, [digest("elsewhere")])]], source="s0", actor="t"
    )
    first = store.import_records(ids["first"], rows, source="s1", actor="t")
    later = store.import_records(ids["later"], rows, source="s1", actor="t")
    other = (frozenset({digest("elsewhere")}), illegal)
    assert listed(store, ids["first"]) == listed(store, ids["later"]) - {other}
    return first, later


def category_id(store: Store, name: str) -> int:
    return next(c.category_id for c in store.categories() if c.name == name)


def counts(report: ImportOutcome) -> tuple[int, ...]:
    names = ("added", "hashes_added", "unchanged", "changed", "removed", "not_found")
    return tuple(int(getattr(report, name)) for name in names)


def test_plain_first_delivery_in_several_categories(store: Store) -> None:
    illegal, baseline = category_id(store, "illegal"), category_id(store, "baseline")
    rows = [
        [bare(0, illegal, [digest(f"a{i}") for i in range(50)])],
        [bare(50, baseline, [digest(f"b{i}") for i in range(30)])],
        [bare(80, illegal, [digest(f"c{i}") for i in range(20)])],
    ]
    first, later = first_and_general(store, rows)
    assert counts(first)[:2] == counts(later)[:2] == (100, 100)
    ids = {h.name: h.list_id for h in store.lists()}
    by_digest = {next(iter(d)): c for d, c in listed(store, ids["first"])}
    assert by_digest[digest("b7")] == baseline and by_digest[digest("c7")] == illegal
    # Every hash is an item of its own, found by that hash.
    (found,) = store.find_items(digests=[digest("a3")], list_id=ids["first"])
    assert found.category_id == illegal and len(found.hashes) == 1


def test_a_repeated_hash_takes_the_general_path(store: Store) -> None:
    illegal, baseline = category_id(store, "illegal"), category_id(store, "baseline")
    rows = [
        [bare(0, illegal, [digest("x"), digest("y")])],
        [bare(2, baseline, [digest("y"), digest("z")])],
        [bare(4, illegal, [digest("x")])],
    ]
    first, later = first_and_general(store, rows)
    assert counts(first) == counts(later)


def test_a_delivery_that_is_not_all_plain(store: Store) -> None:
    illegal = category_id(store, "illegal")
    supplied: StageRow = (10, illegal, 2, digest("q1") + digest("q2"), "id-1", "vics:1", 0)
    rows = [
        [bare(0, illegal, [digest(f"p{i}") for i in range(10)])],
        [supplied],
        [bare(11, illegal, [digest("r")])],
    ]
    first, later = first_and_general(store, rows)
    assert counts(first) == counts(later)
    ids = {h.name: h.list_id for h in store.lists()}
    assert (frozenset({digest("q1"), digest("q2")}), illegal) in listed(store, ids["first"])


def test_a_delivery_over_the_bound(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(presort, "MAX_DIGESTS", 5)
    illegal = category_id(store, "illegal")
    rows = [[bare(i * 3, illegal, [digest(f"{i}.{j}") for j in range(3)])] for i in range(4)]
    first, later = first_and_general(store, rows)
    assert counts(first) == counts(later)
    assert counts(first)[:2] == (12, 12)


def test_sorted_rows_are_in_order_and_numbered_by_position() -> None:
    plain = presort.PlainDelivery()
    assert plain.take([bare(0, 2, [digest("m"), digest("n")]), bare(2, 1, [digest("o")])])
    assert not plain.take([(3, 1, 1, digest("p"), "ref", None, 0)])
    rows = [row for chunk in plain.sorted_rows(per_row=1) for row in chunk]
    assert plain.in_order
    assert [row[1] for row in rows] == [1, 2, 2]
    assert [row[0] for row in rows] == [0, 1, 2]
    assert rows[1][3] < rows[2][3]
