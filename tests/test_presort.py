"""A list's first plain delivery is put in digest order before staging (`store.presort`):
whatever it holds, the list must end up as the general import path leaves it."""

from __future__ import annotations

import hashlib
import time

import numpy as np
import pytest

from hashcheck.store import presort
from hashcheck.store.interface import StageRow, Store
from hashcheck.store.records import ImportOutcome, Sighting

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


@pytest.mark.parametrize("categories", [[4], [4, 2, 7]])
def test_digests_that_share_their_first_eight_bytes_are_ordered_by_the_rest(
    categories: list[int],
) -> None:
    # Digests whose heads tie (the sort keys on the first eight bytes) must still come out
    # in full byte order, in one category or several.
    rng = np.random.default_rng(7)
    heads = rng.bytes(8 * 50)
    chosen = [heads[8 * (i % 50) : 8 * (i % 50) + 8] + rng.bytes(8) for i in range(400)]
    plain = presort.PlainDelivery()
    assert plain.take([bare(i, categories[i % len(categories)], [d]) for i, d in enumerate(chosen)])
    rows = [row for chunk in plain.sorted_rows(per_row=64) for row in chunk]
    assert plain.in_order
    got = [(row[1], row[3][k * DIGEST : (k + 1) * DIGEST]) for row in rows for k in range(row[2])]
    expected = sorted((categories[i % len(categories)], d) for i, d in enumerate(chosen))
    assert got == expected


def test_digests_with_distinct_heads_are_ordered_without_the_full_sort() -> None:
    chosen = [digest(str(i)) for i in range(1000)]
    plain = presort.PlainDelivery()
    assert plain.take([bare(i, 3, [d]) for i, d in enumerate(chosen)])
    rows = [row for chunk in plain.sorted_rows(per_row=64) for row in chunk]
    assert b"".join(row[3] for row in rows) == b"".join(sorted(chosen))
    assert [row[0] for row in rows] == list(range(0, 1000, 64))


def item_rows(store: Store) -> int:
    """Rows in the items table: a plain first delivery writes none (schema 10)."""
    with store._tx(write=False) as cur:  # type: ignore[attr-defined]
        return int(cur.execute("SELECT COUNT(*) FROM items").fetchone()[0])


def test_items_of_a_plain_first_delivery_are_items_before_they_have_rows(store: Store) -> None:
    illegal, baseline = category_id(store, "illegal"), category_id(store, "baseline")
    store.add_list("plain", "Plain", "", actor="t")
    store.add_list("other", "Other", "", actor="t")
    ids = {h.name: h.list_id for h in store.lists()}
    hashes = [digest(f"h{i}") for i in range(6)]
    first = store.import_records(ids["plain"], [[bare(0, illegal, hashes)]], source="s1", actor="t")
    assert counts(first)[:2] == (6, 6) and item_rows(store) == 0
    items = {d: store.find_items(digests=[d])[0] for d in hashes}
    assert {i.state for i in items.values()} == {"active"}
    assert {i.first_batch for i in items.values()} == {first.batch_id}
    # A new item elsewhere never takes the id of one that has no row.
    supplied: StageRow = (0, illegal, 1, digest("s"), "id-1", None, 0)
    store.import_records(ids["other"], [[supplied]], source="s2", actor="t")
    (other,) = store.find_items(ref="id-1")
    assert other.item_id not in {i.item_id for i in items.values()}
    # A client's match and dispute of an item without a row.
    day = int(time.time() // 86400)
    h0 = items[hashes[0]]
    store.record_matches([Sighting(h0.item_id, "acme", day, int(time.time()), True)], [])
    dispute = store.open_dispute("acme", h0.item_id, day, "our own photo")
    assert dispute.entry_id == h0.item_id
    assert item_rows(store) == 1  # only the other list's item has one
    # The upheld dispute takes the item off and tells the client.
    store.resolve_dispute(dispute.dispute_id, upheld=True, comment="ok", actor="op")
    assert store.item(h0.item_id).state == "removed"
    assert [r.entry_id for r in store.retractions("acme", 0)] == [h0.item_id]
    # A re-delivery in another category changes just that item; the rest keep theirs.
    later = store.import_records(
        ids["plain"], [[bare(0, baseline, [hashes[1]])]], source="s3", actor="t"
    )
    assert later.changed == 1
    assert store.item(items[hashes[1]].item_id).category_id == baseline
    assert store.item(items[hashes[2]].item_id).category_id == illegal
    # Rolling the first delivery back takes the rest of its items off.
    rolled = store.rollback_batch(first.batch_id, actor="op")
    assert rolled.removed == 5
    assert not [d for d, _ in listed(store, ids["plain"])]


def test_removing_one_hash_of_a_plain_first_delivery(store: Store) -> None:
    illegal = category_id(store, "illegal")
    store.add_list("plain", "Plain", "", actor="t")
    (plain,) = [h.list_id for h in store.lists() if h.name == "plain"]
    hashes = [digest(f"r{i}") for i in range(4)]
    store.import_records(plain, [[bare(0, illegal, hashes)]], source="s1", actor="t")
    outcome = store.remove_entries(plain, [hashes[2]], source="rm", actor="t")
    assert (outcome.removed, outcome.not_found) == (1, 0)
    assert {next(iter(d)) for d, _ in listed(store, plain)} == set(hashes) - {hashes[2]}
    assert store.find_items(digests=[hashes[2]]) == []
    assert store.entry_count(plain) == 3


def test_rolling_back_a_plain_first_delivery(store: Store) -> None:
    illegal = category_id(store, "illegal")
    store.add_list("plain", "Plain", "", actor="t")
    (plain,) = [h.list_id for h in store.lists() if h.name == "plain"]
    hashes = [digest(f"b{i}") for i in range(3)]
    first = store.import_records(plain, [[bare(0, illegal, hashes)]], source="s1", actor="t")
    assert store.rollback_batch(first.batch_id, actor="op").removed == 3
    assert store.entry_count(plain) == 0
    assert {i.state for d in hashes for i in store.find_items(digests=[d])} == set()
    # The list is no longer empty of items (they are rolled back), so a new delivery of the
    # same hashes brings them back as the items they were.
    again = store.import_records(plain, [[bare(0, illegal, hashes)]], source="s2", actor="t")
    assert again.added + again.changed == 3 and store.entry_count(plain) == 3
