"""The Store contract, run against SQLite and PostgreSQL alike."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest

from hashcheck.catalog.model import Grant, Severity
from hashcheck.store.errors import AlreadyExists, Conflict, NotFound
from hashcheck.store.interface import Store
from hashcheck.store.records import StatRow
from hashcheck.store.schema import MIGRATIONS, STANDARD_CATEGORIES


def digests(n: int) -> list[bytes]:
    return [os.urandom(16) for _ in range(n)]


def category_id(store: Store, name: str) -> int:
    return next(c.category_id for c in store.categories() if c.name == name)


def test_fresh_database_has_standard_categories(store: Store) -> None:
    names = [c.name for c in store.categories()]
    assert tuple(names) == STANDARD_CATEGORIES
    severities = {c.name: c.severity for c in store.categories()}
    assert severities["baseline"] is Severity.SEVERE
    assert severities["other"] is Severity.INFORMATIONAL


def test_migrate_is_idempotent(store: Store) -> None:
    assert store.migrate() == len(MIGRATIONS)
    assert store.schema_version() == len(MIGRATIONS)


def test_lists_and_duplicates(store: Store) -> None:
    created = store.add_list("police", "National police", "TBKK export", actor="op")
    assert [item.name for item in store.lists()] == ["police"]
    assert created.supplier == "National police"
    with pytest.raises(AlreadyExists):
        store.add_list("police", "x", "", actor="op")


def test_clients_grants_and_secret(store: Store) -> None:
    baseline = category_id(store, "baseline")
    client = store.add_client("acme", "Acme hosting", "hash1", [Grant(None, baseline)], actor="op")
    assert client.enabled and client.grants == (Grant(None, baseline),)
    with pytest.raises(AlreadyExists):
        store.add_client("acme", "again", "h", [], actor="op")
    hash_list = store.add_list("l", "s", "", actor="op")
    assert store.add_grant("acme", Grant(hash_list.list_id, None), actor="op")
    assert not store.add_grant("acme", Grant(hash_list.list_id, None), actor="op")
    assert store.remove_grant("acme", Grant(None, baseline), actor="op")
    assert not store.remove_grant("acme", Grant(None, baseline), actor="op")
    store.set_client_enabled("acme", False, actor="op")
    store.set_client_secret("acme", "hash2", actor="op")
    (acme,) = store.clients()
    assert not acme.enabled and acme.secret_hash == "hash2"
    assert acme.grants == (Grant(hash_list.list_id, None),)
    with pytest.raises(NotFound):
        store.set_client_enabled("nobody", True, actor="op")
    assert (acme.requests_per_second, acme.work_per_second) == (None, None)
    assert store.set_client_budgets("acme", 0, 2**40, actor="op")
    assert not store.set_client_budgets("acme", 0, 2**40, actor="op")  # so already
    (acme,) = store.clients()
    assert (acme.requests_per_second, acme.work_per_second) == (0, 2**40)
    with pytest.raises(NotFound):
        store.set_client_budgets("nobody", 1, 1, actor="op")
    actions = [record.action for record in store.audit_log()]
    assert "client.disable" in actions and "grant.remove" in actions
    assert actions.count("client.budgets") == 1


def test_import_is_atomic_idempotent_and_fed(store: Store) -> None:
    hash_list = store.add_list("l", "s", "", actor="op")
    baseline = category_id(store, "baseline")
    first = digests(1000)
    start = store.changes_since(0, 0)
    assert len(start.added) == 0
    outcome = store.import_entries(
        hash_list.list_id,
        [(baseline, b"".join(first[:500])), (baseline, b"".join(first[500:]))],
        source="file.txt",
        actor="op",
    )
    assert (outcome.added, outcome.unchanged) == (1000, 0)
    again = store.import_entries(
        hash_list.list_id, [(baseline, b"".join(first))], source="file.txt", actor="op"
    )
    assert (again.added, again.unchanged) == (0, 1000)
    assert store.entry_count(hash_list.list_id) == 1000

    changes = store.changes_since(0, 0)
    assert len(changes.added) == 1000
    assert {changes.added.digests[i * 16 : (i + 1) * 16] for i in range(1000)} == set(first)
    assert changes.catalog.version > start.catalog.version

    def failing() -> Iterator[tuple[int, bytes]]:
        yield baseline, b"".join(digests(10))
        raise RuntimeError("supplier file broke mid-way")

    with pytest.raises(RuntimeError):
        store.import_entries(hash_list.list_id, failing(), source="bad", actor="op")
    assert store.entry_count() == 1000
    assert len(store.changes_since(changes.entries_cursor, 0).added) == 0


def test_removal_leaves_tombstones(store: Store) -> None:
    hash_list = store.add_list("l", "s", "", actor="op")
    baseline = category_id(store, "baseline")
    values = digests(20)
    store.import_entries(hash_list.list_id, [(baseline, b"".join(values))], source="f", actor="op")
    before = store.changes_since(0, 0)
    outcome = store.remove_entries(
        hash_list.list_id, [b"".join(values[:5] + digests(2))], source="r", actor="op"
    )
    assert (outcome.removed, outcome.not_found) == (5, 2)
    after = store.changes_since(before.entries_cursor, before.tombstones_cursor)
    assert len(after.removed_ids) == 5
    assert len(after.added) == 0
    assert store.entry_count() == 15
    # A reader that never saw the removed entries is not told about them.
    fresh = store.changes_since(0, 0)
    assert len(fresh.added) == 15 and fresh.removed_ids == []


def test_import_into_missing_list(store: Store) -> None:
    with pytest.raises(NotFound):
        store.import_entries(999, [(1, os.urandom(16))], source="f", actor="op")


def test_stats_add_up(store: Store) -> None:
    store.add_stats([StatRow("a", 1, "2026-11-01", 10, 1), StatRow("a", 2, "2026-11-01", 10, 0)])
    store.add_stats([StatRow("a", 1, "2026-11-01", 5, 2), StatRow("b", 1, "2026-11-02", 1, 1)])
    rows = store.read_stats(client_id="a", list_id=1)
    assert rows == [StatRow("a", 1, "2026-11-01", 15, 3)]
    assert [r.client_id for r in store.read_stats(since="2026-11-02")] == ["b"]


def test_meta_roundtrip(store: Store) -> None:
    assert store.get_meta("key_id") is None
    store.set_meta("key_id", "k-1")
    store.set_meta("key_id", "k-2")
    assert store.get_meta("key_id") == "k-2"


def test_reimport_after_removal_is_fed_as_new(store: Store) -> None:
    hash_list = store.add_list("l", "s", "", actor="op")
    baseline = category_id(store, "baseline")
    value = digests(1)
    store.import_entries(hash_list.list_id, [(baseline, value[0])], source="f", actor="op")
    seen = store.changes_since(0, 0)
    store.remove_entries(hash_list.list_id, value, source="r", actor="op")
    store.import_entries(hash_list.list_id, [(baseline, value[0])], source="f", actor="op")
    later = store.changes_since(seen.entries_cursor, seen.tombstones_cursor)
    # The new entry gets a new id: ids are never reused, or a follower would miss it.
    assert len(later.added) == 1
    assert int(later.added.entry_ids[0]) > seen.entries_cursor
    assert len(later.removed_ids) == 1


def test_import_mixes_categories_and_counts_repeats(store: Store) -> None:
    hash_list = store.add_list("l", "s", "", actor="op")
    baseline, other = category_id(store, "baseline"), category_id(store, "other")
    values = digests(200)
    outcome = store.import_entries(
        hash_list.list_id,
        [(baseline, b"".join(values[:150])), (other, b"".join(values[100:])), (other, b"\x00" * 0)],
        source="f",
        actor="op",
    )
    # A hash delivered twice in one file is one item; the first record wins.
    assert (outcome.added, outcome.unchanged) == (200, 0)
    assert outcome.skipped == {"repeated in the file": 50}
    changes = store.changes_since(0, 0)
    categories = dict(
        zip(
            (changes.added.digests[i * 16 : (i + 1) * 16] for i in range(200)),
            changes.added.category_ids.tolist(),
            strict=True,
        )
    )
    assert {categories[v] for v in values[:150]} == {baseline}
    assert {categories[v] for v in values[150:]} == {other}


def test_misaligned_digests_are_refused(store: Store) -> None:
    hash_list = store.add_list("l", "s", "", actor="op")
    with pytest.raises(ValueError, match="multiple of 16"):
        store.import_entries(hash_list.list_id, [(1, b"x" * 17)], source="f", actor="op")
    assert store.entry_count() == 0


def test_a_newer_schema_is_refused(store_url: str) -> None:
    from hashcheck.store.errors import SchemaTooNew
    from hashcheck.store.open import open_store
    from hashcheck.store.sql import SqlStore

    opened = open_store(store_url)
    opened.migrate()
    assert isinstance(opened, SqlStore)
    with opened._tx(write=True) as cur:  # what a future hashcheck's migration would leave
        cur.execute("UPDATE schema_version SET version = 999")
    with pytest.raises(SchemaTooNew, match="upgrade hashcheck"):
        opened.migrate()
    opened.close()


def test_import_applies_deletion_records_in_the_same_batch(store: Store) -> None:
    from hashcheck.store.interface import REMOVE

    hash_list = store.add_list("l", "s", "", actor="op")
    baseline = category_id(store, "baseline")
    old = digests(5)
    store.import_entries(hash_list.list_id, [(baseline, b"".join(old))], source="f", actor="op")
    seen = store.changes_since(0, 0)
    new = digests(3)
    outcome = store.import_entries(
        hash_list.list_id,
        # Two old entries retracted, one new digest both delivered and retracted.
        [(baseline, b"".join(new)), (REMOVE, old[0] + old[1] + new[2])],
        source="update",
        actor="op",
    )
    assert (outcome.added, outcome.removed) == (2, 2)
    assert store.entry_count() == 5
    later = store.changes_since(seen.entries_cursor, seen.tombstones_cursor)
    assert len(later.added) == 2 and len(later.removed_ids) == 2
    added = {later.added.digests[i * 16 : (i + 1) * 16] for i in range(2)}
    assert added == {new[0], new[1]}


def test_audit_log_filters(store: Store) -> None:
    store.add_list("l", "s", "", actor="alice")
    store.add_client("acme", "Acme", "h", [], actor="bob")
    store.set_client_enabled("acme", False, actor="alice")
    assert [r.action for r in store.audit_log(actor="alice")] == ["client.disable", "list.add"]
    assert [r.action for r in store.audit_log(action="client")] == ["client.disable", "client.add"]
    assert [r.action for r in store.audit_log(action="client.add")] == ["client.add"]
    assert [r.action for r in store.audit_log(action="cli")] == []  # a prefix is a whole word
    assert store.audit_log(since="2999-01-01") == []
    assert len(store.audit_log(1)) == 1


def test_category_maps(store: Store) -> None:
    baseline, other = category_id(store, "baseline"), category_id(store, "other")
    assert store.category_map("NCMEC") == {}
    assert store.set_category_mapping("NCMEC", "ncmec:A1", baseline, actor="op")
    assert not store.set_category_mapping("NCMEC", "ncmec:A1", baseline, actor="op")
    assert store.set_category_mapping("NCMEC", "ncmec:A1", other, actor="op")
    assert store.category_map("NCMEC") == {"ncmec:A1": other}
    assert store.category_map("Interpol") == {}
    assert store.set_category_mapping("NCMEC", "ncmec:A1", None, actor="op")
    assert not store.set_category_mapping("NCMEC", "ncmec:A1", None, actor="op")
    with pytest.raises(NotFound):
        store.set_category_mapping("NCMEC", "x", 999, actor="op")
    details = [record.detail for record in store.audit_log(action="supplier")]
    assert len(details) == 3


def test_rollback_of_an_import_batch(store: Store) -> None:
    hash_list = store.add_list("l", "s", "", actor="op")
    baseline = category_id(store, "baseline")
    first, second = digests(4), digests(3)
    one = store.import_entries(
        hash_list.list_id, [(baseline, b"".join(first))], source="a", actor="op"
    )
    two = store.import_entries(
        hash_list.list_id, [(baseline, b"".join(second + first[:1]))], source="b", actor="op"
    )
    seen = store.changes_since(0, 0)
    outcome = store.rollback_batch(two.batch_id, actor="op")
    # Only what batch two added goes; first[0] was already there, added by batch one.
    assert outcome.removed == 3
    assert store.entry_count() == 4
    later = store.changes_since(seen.entries_cursor, seen.tombstones_cursor)
    assert len(later.removed_ids) == 3
    listed = {b.batch_id: b for b in store.batches()}
    assert listed[one.batch_id].live == 4 and listed[two.batch_id].live == 0
    assert listed[outcome.batch_id].kind == "rollback"
    assert listed[two.batch_id].state == "rolled-back"
    with pytest.raises(Conflict):
        store.rollback_batch(outcome.batch_id, actor="op")
    with pytest.raises(NotFound):
        store.rollback_batch(9999, actor="op")
    (rollback,) = store.audit_log(action="batch")
    assert rollback.action == "batch.rollback"
    assert json.loads(rollback.detail)["list"] == "l"  # named, not numbered


def test_node_status_is_one_row_per_process_replaced_and_bumps_no_version(store: Store) -> None:
    from hashcheck.store.records import NodeStatus

    version = store.version()
    first = NodeStatus(
        "host-a:1", "2026-12-03T08:00:00+00:00", "2026-12-03T08:00:05+00:00", False, -1, 0, None
    )
    store.report_node(first)
    later = NodeStatus(
        "host-a:1",
        first.started_at,
        "2026-12-03T08:00:35+00:00",
        True,
        7,
        120,
        "2026-12-03T08:00:35+00:00",
    )
    store.report_node(later)
    other = NodeStatus(
        "host-b:9",
        first.started_at,
        "2026-12-03T08:00:20+00:00",
        True,
        7,
        120,
        "2026-12-03T08:00:20+00:00",
    )
    store.report_node(other)
    assert store.nodes() == [later, other]  # the newest report first
    assert store.version() == version  # nodes follow nothing a report changes
