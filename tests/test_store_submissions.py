"""Self-submitted cases in the store, on SQLite and PostgreSQL alike: held items, cases
sharing items, decisions and withdrawals acting on whole items, and nothing half-stored."""

from __future__ import annotations

import os
import time

import pytest

from hashcheck.catalog.model import Grant
from hashcheck.store.errors import AlreadyExists, Conflict, NotFound
from hashcheck.store.interface import Store
from hashcheck.store.records import NewSubmission, Sighting, SubmissionRecord, SubmittedFile
from hashcheck.store.schema import ACTIVE_CATEGORY, HELD_CATEGORY, SELF_SUBMITTED_LIST


def a_file(file_no: int, *digests: bytes, finding: str = "") -> SubmittedFile:
    names = ("md5", "sha1", "sha256", "pdq")
    return SubmittedFile(
        file_no,
        tuple(
            (names[i], d, b"sealed" + d if names[i] == "pdq" else None)
            for i, d in enumerate(digests)
        ),
        finding,
    )


def a_case(number: str, *files: SubmittedFile, nonce: str | None = None) -> NewSubmission:
    return NewSubmission(number, "pinhash-" + number, nonce or number, "2026-12-07T06:00Z", files)


def states(record: SubmissionRecord) -> dict[int | None, str]:
    return {f.item_id: f.item_state for f in record.files}


def entries_of(store: Store) -> dict[int, int]:
    """Entries of the self-submitted list: item -> category."""
    list_id = next(h.list_id for h in store.lists() if h.name == SELF_SUBMITTED_LIST)
    added = store.changes_since(0, 0).added
    return {
        int(item): int(category)
        for item, category, owner in zip(
            added.item_ids.tolist(),
            added.category_ids.tolist(),
            added.list_ids.tolist(),
            strict=True,
        )
        if owner == list_id
    }


def ids(item_id: int | None) -> int:
    assert item_id is not None
    return item_id


def category(store: Store, name: str) -> int:
    return next(c.category_id for c in store.categories() if c.name == name)


def test_a_case_lands_as_held_items_of_a_list_granted_by_name_only(store: Store) -> None:
    shared = os.urandom(16)
    record = store.add_submission(
        a_case("CASE-A", a_file(0, os.urandom(16), shared), a_file(1, os.urandom(16)))
    )
    assert record.state == "received" and record.pin_hash == "pinhash-CASE-A"
    assert len(record.files) == 2 and all(f.item_state == "held" for f in record.files)
    (listed,) = [h for h in store.lists() if h.name == SELF_SUBMITTED_LIST]
    assert listed.explicit_grant and not listed.known_good
    severities = {c.name: c.severity.value for c in store.categories()}
    assert severities[HELD_CATEGORY] == "sensitive" and severities[ACTIVE_CATEGORY] == "severe"
    held = category(store, HELD_CATEGORY)
    assert set(entries_of(store).values()) == {held} and len(entries_of(store)) == 2

    # The same hash from another case is the same item, and each case sees the duplicate.
    other = store.add_submission(a_case("CASE-B", a_file(0, shared, os.urandom(16))))
    shared_item = record.files[0].item_id
    assert shared_item in {f.item_id for f in other.files}
    again = store.submission("CASE-A")
    assert {f.item_id: f.other_cases for f in again.files}[shared_item] == 1
    # The new hash of B's file is an item of its own, not joined to A's.
    assert len({f.item_id for f in other.files}) == 2


def test_replays_and_reused_case_numbers_store_nothing(store: Store) -> None:
    store.add_submission(a_case("CASE-A", a_file(0, os.urandom(16)), nonce="n1"))
    before = len(store.changes_since(0, 0).added)
    with pytest.raises(Conflict):
        store.add_submission(a_case("CASE-B", a_file(0, os.urandom(16)), nonce="n1"))
    with pytest.raises(AlreadyExists):
        store.add_submission(a_case("CASE-A", a_file(0, os.urandom(16)), nonce="n2"))
    assert len(store.changes_since(0, 0).added) == before
    assert [s.case_number for s in store.submissions()] == ["CASE-A"]


def test_a_case_that_fails_halfway_leaves_nothing(store: Store) -> None:
    digest = os.urandom(16)
    # The same digest twice in one file: the second insert breaks the unique digest index.
    with pytest.raises(Exception):  # noqa: B017 - whatever the backend raises
        store.add_submission(a_case("CASE-X", a_file(0, os.urandom(16)), a_file(1, digest, digest)))
    with pytest.raises(NotFound):
        store.submission("CASE-X")
    assert store.submissions() == []
    assert all(h.name != SELF_SUBMITTED_LIST for h in store.lists()) or not entries_of(store)


def test_cases_stored_together_keep_or_refuse_each_case_whole(store: Store) -> None:
    """One transaction for several cases (the writer's group commit): a replay, a case
    number in use and a case that fails halfway are each rolled back alone, the cases
    around them kept with all their hashes, in one change."""
    store.add_submission(a_case("CASE-0", a_file(0, os.urandom(16)), nonce="seen"))
    version = store.version()
    broken = os.urandom(16)
    outcomes = store.add_submissions(
        [
            a_case("CASE-A", a_file(0, os.urandom(16), os.urandom(16))),
            a_case("CASE-B", a_file(0, os.urandom(16)), nonce="seen"),
            a_case("CASE-C", a_file(0, os.urandom(16)), a_file(1, broken, broken)),
            a_case("CASE-0", a_file(0, os.urandom(16))),
            a_case("CASE-D", a_file(0, os.urandom(16)), nonce="CASE-A"),
            a_case("CASE-E", a_file(0, os.urandom(16)), a_file(1, broken)),
        ]
    )
    assert [type(o).__name__ for o in outcomes] == [
        "NoneType",
        "Conflict",
        "Unavailable",
        "AlreadyExists",
        "Conflict",  # a replay of a case earlier in the same transaction
        "NoneType",
    ]
    assert store.version() == version + 1
    assert [s.case_number for s in store.submissions()] == ["CASE-0", "CASE-A", "CASE-E"]
    kept = {c: store.submission(c) for c in ("CASE-A", "CASE-E")}
    assert [f.algorithms for f in kept["CASE-A"].files] == ["md5,sha1"]
    # CASE-C was rolled back whole: the digest it had before it failed is CASE-E's own item.
    assert len(entries_of(store)) == 1 + 1 + 2
    list_id = next(h.list_id for h in store.lists() if h.name == SELF_SUBMITTED_LIST)
    assert store.entry_count(list_id) == 1 + 2 + 2
    assert kept["CASE-E"].files[1].item_state == "held"
    with pytest.raises(NotFound):
        store.submission("CASE-C")


def test_known_good_files_are_recorded_but_never_stored(store: Store) -> None:
    record = store.add_submission(
        a_case("CASE-K", a_file(0, os.urandom(16), finding="known-good: nsrl"))
    )
    (line,) = record.files
    assert line.item_id is None and line.item_state == "none" and line.finding.startswith("known")
    assert entries_of(store) == {}


def test_activation_withdrawal_and_rejection_act_on_whole_items(store: Store) -> None:
    shared, own_a, left, own_b = (os.urandom(16) for _ in range(4))
    a = store.add_submission(
        a_case("CASE-A", a_file(0, shared, os.urandom(16)), a_file(1, own_a), a_file(2, left))
    )
    b = store.add_submission(a_case("CASE-B", a_file(0, shared), a_file(1, own_b)))
    item = {d: ids(f.item_id) for f, d in zip(a.files, (shared, own_a, left), strict=True)}
    b_own = next(ids(f.item_id) for f in b.files if f.item_id != item[shared])
    held, active = category(store, HELD_CATEGORY), category(store, ACTIVE_CATEGORY)

    decided = store.decide_submission(
        "CASE-A", activate=True, reason="screened", actor="op", leave_out=[item[left]]
    )
    assert decided.state == "active" and decided.decided_by == "op"
    now = entries_of(store)
    assert now[item[shared]] == active and now[item[own_a]] == active
    assert item[left] not in now  # left out, and no other case holds it: off the list
    assert now[b_own] == held  # B is still waiting for review
    with pytest.raises(Conflict):
        store.decide_submission("CASE-A", activate=True, reason="", actor="op")
    with pytest.raises(NotFound):
        store.decide_submission("CASE-B", activate=True, reason="", actor="op", leave_out=[1 << 40])

    # A client was answered a match on A's own item; B withdraws: the shared item stays
    # (A holds it, active), B's own item leaves.
    store.add_client("acme", "Acme", "h", [Grant(None, None)], actor="op")
    store.record_matches(
        [Sighting(item[own_a], "acme", int(time.time() // 86400), int(time.time()), True)], []
    )
    withdrawn = store.withdraw_submission("CASE-B")
    assert withdrawn.state == "withdrawn"
    assert store.withdraw_submission("CASE-B").state == "withdrawn"  # idempotent
    now = entries_of(store)
    assert b_own not in now and now[item[shared]] == active

    # The operator rejects A after all: every item leaves, the client's match is retracted.
    assert store.submission("CASE-A").files[1].matched_clients == 1
    assert store.submission("CASE-A").matched_clients == 1
    rejected = store.decide_submission("CASE-A", activate=False, reason="not genuine", actor="op")
    assert rejected.state == "rejected" and set(states(rejected).values()) == {"removed"}
    assert entries_of(store) == {}
    (retraction,) = store.retractions("acme", 0)
    assert retraction.entry_id == item[own_a]
    with pytest.raises(Conflict):
        store.decide_submission("CASE-A", activate=False, reason="", actor="op")
    audit = [r.action for r in store.audit_log(action="submission")]
    assert audit[:4] == [
        "submission.reject",
        "submission.withdraw",
        "submission.activate",
        "submission.add",
    ]


def test_withdrawing_the_active_case_puts_a_shared_item_back_on_hold(store: Store) -> None:
    shared = os.urandom(16)
    a = store.add_submission(a_case("CASE-A", a_file(0, shared)))
    store.add_submission(a_case("CASE-B", a_file(0, shared)))
    store.decide_submission("CASE-A", activate=True, reason="", actor="op")
    (item,) = [f.item_id for f in a.files]
    assert item is not None
    assert entries_of(store)[item] == category(store, ACTIVE_CATEGORY)
    store.withdraw_submission("CASE-A")
    assert entries_of(store)[item] == category(store, HELD_CATEGORY)
    assert store.submission("CASE-B").files[0].item_state == "held"
    history = [c.change for c in store.item_history(item)]
    assert history.count("recategorised") == 2
