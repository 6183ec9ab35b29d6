"""The governance part of the Store contract, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import os
import time

import pytest

from hashcheck.catalog.model import Grant
from hashcheck.store.errors import AlreadyExists, Conflict, Gone, NotFound
from hashcheck.store.interface import Store
from hashcheck.store.records import ShadowRow, Sighting
from hashcheck.store.schema import DISPUTED_LIST


def category_id(store: Store, name: str) -> int:
    return next(c.category_id for c in store.categories() if c.name == name)


def today() -> int:
    return int(time.time() // 86400)


def seen(entry_id: int, client: str, *, answered: bool = True, day: int | None = None) -> Sighting:
    return Sighting(entry_id, client, today() if day is None else day, int(time.time()), answered)


def item_ids(store: Store) -> list[int]:
    """The items on the lists: governance (matches, holds, disputes) acts on items."""
    return sorted(set(store.changes_since(0, 0).added.item_ids.tolist()))


@pytest.fixture
def filled(store: Store) -> Store:
    hash_list = store.add_list("police", "s", "", actor="op")
    for name in ("a", "b", "c", "d"):
        store.add_client(name, name, "h", [Grant(None, None)], actor="op")
    store.import_entries(
        hash_list.list_id,
        [(category_id(store, "baseline"), os.urandom(16 * 3))],
        source="f",
        actor="op",
    )
    return store


def test_related_and_other_start_disabled_and_toggle_with_audit(store: Store) -> None:
    enabled = {c.name: c.enabled for c in store.categories()}
    assert enabled == {
        "baseline": True,
        "illegal": True,
        "related": False,
        "other": False,
        "known-good": True,
    }
    other = category_id(store, "other")
    version = store.version()
    assert store.set_category_enabled(other, True, actor="op")
    assert not store.set_category_enabled(other, True, actor="op")
    assert store.version() > version
    hash_list = store.add_list("l", "s", "", actor="op")
    assert store.set_list_enabled(hash_list.list_id, False, actor="op")
    assert store.changes_since(0, 0).catalog.lists[0].enabled is False
    (record,) = store.audit_log(action="list.disable")
    assert '"before": {"enabled": true}' in record.detail
    with pytest.raises(NotFound):
        store.set_list_enabled(999, True, actor="op")


def test_shadow_batch_promotion_and_feed(store: Store) -> None:
    hash_list = store.add_list("l", "s", "", actor="op")
    outcome = store.import_entries(
        hash_list.list_id,
        [(category_id(store, "other"), os.urandom(32))],
        source="f",
        actor="op",
        shadow=True,
    )
    batch = store.batch(outcome.batch_id)
    assert batch.state == "shadow" and batch.shadow and batch.live == 2
    assert batch.category_ids == (category_id(store, "other"),)
    changes = store.changes_since(0, 0)
    assert changes.catalog.shadow_batches == frozenset({outcome.batch_id})
    assert set(changes.added.batch_ids.tolist()) == {outcome.batch_id}
    promoted = store.promote_batch(outcome.batch_id, actor="op")
    assert promoted.state == "active" and not promoted.shadow
    assert store.changes_since(0, 0).catalog.shadow_batches == frozenset()
    with pytest.raises(Conflict):
        store.promote_batch(outcome.batch_id, actor="op")


def test_prevalence_alarm_places_one_hold(filled: Store) -> None:
    filled.set_policy("prevalence-clients", "2", actor="op")
    first = item_ids(filled)[0]
    assert filled.record_matches([seen(first, "a"), seen(first, "b")], []) == []
    version = filled.version()
    # A shadow would-be match counts towards the alarm too.
    (hold,) = filled.record_matches([seen(first, "c", answered=False)], [])
    assert hold.entry_id == first and hold.clients == 3 and "3 clients" in hold.reason
    assert filled.version() > version  # nodes must learn of the hold
    assert filled.changes_since(0, 0).catalog.holds == {first: hold.reason}
    assert filled.record_matches([seen(first, "d")], []) == []  # held once
    filled.release_hold(first, actor="op")
    assert filled.changes_since(0, 0).catalog.holds == {}
    assert filled.record_matches([seen(first, "d")], []) == []  # released: not again
    with pytest.raises(Conflict):
        filled.release_hold(first, actor="op")
    with pytest.raises(NotFound):
        filled.release_hold(item_ids(filled)[1], actor="op")
    assert [h.state for h in filled.holds()] == ["released"]
    actions = [r.action for r in filled.audit_log(action="hold")]
    assert actions == ["hold.release", "hold.add"]


def test_old_sightings_do_not_count_and_are_forgotten(filled: Store) -> None:
    filled.set_policy("prevalence-clients", "1", actor="op")
    filled.set_policy("match-retention-days", "30", actor="op")
    first = item_ids(filled)[0]
    old = Sighting(first, "a", today() - 31, int(time.time()) - 31 * 86400, True)
    stale = Sighting(first, "b", today() - 2, int(time.time()) - 2 * 86400, True)
    assert filled.record_matches([old, stale, seen(first, "c")], []) == []
    # The 31-day-old match was forgotten: removing the entry retracts only the other two.
    filled.rollback_batch(1, actor="op")
    assert filled.retractions("a", 0) == []
    assert [r.entry_id for r in filled.retractions("b", 0)] == [first]


def test_shadow_counts_add_up(store: Store) -> None:
    rows = [ShadowRow("a", 7, "2026-11-22", 3), ShadowRow("b", 7, "2026-11-22", 1)]
    store.record_matches([], rows)
    store.record_matches([], rows[:1])
    assert store.shadow_stats(7) == [
        ShadowRow("a", 7, "2026-11-22", 6),
        ShadowRow("b", 7, "2026-11-22", 1),
    ]
    assert store.shadow_stats(8) == []


def test_removal_and_rollback_feed_retractions_once(filled: Store) -> None:
    first, second, third = item_ids(filled)
    filled.record_matches(
        [
            seen(first, "a"),
            seen(first, "a", day=today() - 1),
            seen(second, "b"),
            seen(third, "c", answered=False),
        ],
        [],
    )
    filled.rollback_batch(1, actor="op")
    feed = filled.retractions("a", 0)
    assert sorted(r.day for r in feed) == [today() - 1, today()]
    assert {r.reason for r in feed} == {"rolled-back"}
    assert [r.entry_id for r in filled.retractions("b", 0)] == [second]
    assert filled.retractions("c", 0) == []  # never told, nothing to retract
    assert filled.retractions("a", feed[-1].seq) == []
    # A match answered just before the removal but recorded after it is retracted too.
    filled.record_matches([seen(third, "d")], [])
    (late,) = filled.retractions("d", 0)
    assert late.entry_id == third and late.reason == "rolled-back"
    filled.record_matches([seen(third, "d")], [])
    assert len(filled.retractions("d", 0)) == 1


def test_dispute_upheld_retracts_and_allowlists(filled: Store) -> None:
    first, second, _ = item_ids(filled)
    filled.record_matches([seen(first, "a"), seen(first, "b")], [])
    dispute = filled.open_dispute("a", first, today(), "stock image")
    assert dispute.state == "open" and dispute.list_id == 1
    assert filled.open_dispute("a", first, today(), "again").dispute_id == dispute.dispute_id
    with pytest.raises(NotFound):
        filled.open_dispute("a", 999_999, today(), "x")
    filled.comment_dispute(dispute.dispute_id, "looking", actor="op")
    decided = filled.resolve_dispute(dispute.dispute_id, upheld=True, comment="yes", actor="op")
    assert decided.state == "upheld" and decided.decided_by == "op"
    assert [n.text for n in decided.notes] == ["looking", "yes"]
    with pytest.raises(Conflict):
        filled.resolve_dispute(dispute.dispute_id, upheld=False, comment="", actor="op")
    for client in ("a", "b"):
        (item,) = filled.retractions(client, 0)
        assert item.entry_id == first and item.reason == "dispute-upheld"
    assert first not in item_ids(filled)
    disputed = next(item for item in filled.lists() if item.name == DISPUTED_LIST)
    assert disputed.known_good and filled.entry_count(disputed.list_id) == 1
    with pytest.raises(Gone):
        filled.open_dispute("b", first, today(), "too late")
    rejected = filled.open_dispute("b", second, today(), "hm")
    filled.resolve_dispute(rejected.dispute_id, upheld=False, comment="it is abuse", actor="op")
    assert second in item_ids(filled)
    assert [d.state for d in filled.disputes()] == ["rejected", "upheld"]
    assert [d.dispute_id for d in filled.disputes(client_id="b")] == [rejected.dispute_id]


def test_proposals_carry_out_on_approval_only(filled: Store) -> None:
    related = category_id(filled, "related")
    proposal = filled.propose("grant.add", "a", {"list": 1, "category": related}, actor="alice")
    with pytest.raises(Conflict):
        filled.decide_proposal(proposal.proposal_id, approve=True, actor="alice")
    enable = filled.propose("category.enable", str(related), {}, actor="alice")
    filled.decide_proposal(enable.proposal_id, approve=True, actor="bob")
    assert next(c for c in filled.categories() if c.category_id == related).enabled
    done = filled.decide_proposal(proposal.proposal_id, approve=False, actor="bob")
    assert done.state == "rejected"
    (client_a,) = [c for c in filled.clients() if c.client_id == "a"]
    assert Grant(1, related) not in client_a.grants
    with pytest.raises(Conflict):
        filled.decide_proposal(proposal.proposal_id, approve=True, actor="carol")
    policy = filled.propose("policy.set", "prevalence-hours", {"value": "48"}, actor="alice")
    filled.decide_proposal(policy.proposal_id, approve=True, actor="bob")
    assert filled.policies() == {"prevalence-hours": "48"}
    assert [p.state for p in filled.proposals()] == ["approved", "approved", "rejected"]
    assert [p.proposal_id for p in filled.proposals("rejected")] == [proposal.proposal_id]


def test_operator_accounts(store: Store) -> None:
    store.add_operator("alice", "approver", "h1", actor="setup")
    with pytest.raises(AlreadyExists):
        store.add_operator("alice", "viewer", "h", actor="setup")
    store.update_operator("alice", enabled=False, role="operator", actor="setup")
    store.update_operator("alice", secret_hash="h2", actor="setup")
    (alice,) = store.operators()
    assert (alice.role, alice.enabled, alice.secret_hash) == ("operator", False, "h2")
    with pytest.raises(NotFound):
        store.update_operator("nobody", enabled=True, actor="setup")
    rotate = store.audit_log(action="operator.rotate")[0]
    assert "h2" not in rotate.detail


def test_policy_values_are_validated(store: Store) -> None:
    from hashcheck.catalog.policy import PolicyError

    with pytest.raises(PolicyError):
        store.set_policy("prevalence-clients", "zero", actor="op")
    assert store.set_policy("prevalence-clients", "4", actor="op")
    assert not store.set_policy("prevalence-clients", "4", actor="op")
    (record,) = store.audit_log(action="policy")
    assert '"after": "4"' in record.detail and '"before": null' in record.detail


def test_the_audit_trail_is_append_only(store: Store, store_url: str) -> None:
    store.add_list("l", "s", "", actor="op")
    if store_url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(store_url.removeprefix("sqlite:///"))
        errors: tuple[type[Exception], ...] = (sqlite3.DatabaseError,)
        run = conn.execute
    else:
        import psycopg

        conn = psycopg.connect(store_url, autocommit=True)  # type: ignore[assignment]
        errors = (psycopg.Error,)
        run = conn.execute
    try:
        for statement in ("UPDATE audit SET actor = 'nobody'", "DELETE FROM audit"):
            with pytest.raises(errors, match="append-only"):
                run(statement)
    finally:
        conn.close()
    assert [r.actor for r in store.audit_log()] == ["op"]
