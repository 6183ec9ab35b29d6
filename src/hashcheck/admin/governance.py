"""Changes that can cause false positives, under the two-person rule; and the quick undo.

Switching something *on* (a category, a list, a grant of a category, a shadow batch, a looser
rule) is carried out at once only when the policy does not cover it; otherwise it becomes a
proposal that another operator approves. Switching something *off* (disable, revoke,
rollback) is always immediate: containment must never wait for a second person.
"""

from __future__ import annotations

from typing import Any

from hashcheck.admin.change import Change, propose
from hashcheck.admin.clients import describe_grant
from hashcheck.admin.errors import AdminError
from hashcheck.admin.names import find_category, find_list
from hashcheck.admin.operators import Actor, Role
from hashcheck.catalog.model import Grant
from hashcheck.catalog.policy import Policy, validate
from hashcheck.store.interface import Store
from hashcheck.store.records import BatchRecord, ProposalRecord, RemovalOutcome

MAX_PDQ_THRESHOLD = 31  # the reference's confident-match distance
PROPOSAL_STATES = ("open", "approved", "rejected")


def policy(store: Store) -> Policy:
    return Policy.parse(store.policies())


def _propose(
    store: Store, action: str, subject: str, detail: dict[str, Any], what: str, actor: Actor
) -> Change:
    return propose(store, action, subject, detail, what, actor.name)


def enable_category(store: Store, name: str, *, actor: Actor) -> Change:
    actor.require(Role.OPERATOR, "enabling a category")
    category = find_category(store, name)
    if category.enabled:
        return Change(True, f"category {name} is enabled already")
    what = f"enabling category {name} ({category.severity.value})"
    if policy(store).needs_two(category.severity):
        return _propose(
            store, "category.enable", str(category.category_id), {"name": name}, what, actor
        )
    store.set_category_enabled(category.category_id, True, actor=actor.name)
    return Change(True, f"category {name} enabled")


def disable_category(store: Store, name: str, *, actor: Actor) -> bool:
    actor.require(Role.OPERATOR, "disabling a category")
    return store.set_category_enabled(
        find_category(store, name).category_id, False, actor=actor.name
    )


def enable_list(store: Store, name: str, *, actor: Actor) -> Change:
    actor.require(Role.OPERATOR, "enabling a list")
    hash_list = find_list(store, name)
    if hash_list.enabled:
        return Change(True, f"list {name} is enabled already")
    # A list holds entries of any category: re-enabling it is covered whenever the rule is.
    if policy(store).two_person:
        return _propose(
            store,
            "list.enable",
            str(hash_list.list_id),
            {"name": name},
            f"enabling list {name}",
            actor,
        )
    store.set_list_enabled(hash_list.list_id, True, actor=actor.name)
    return Change(True, f"list {name} enabled")


def set_pdq_threshold(store: Store, name: str, threshold: int, *, actor: Actor) -> Change:
    """A list's PDQ threshold, 0-31 (the reference's; beyond it unrelated images match). A
    wider threshold can only cause false positives: it is under the two-person rule when any
    severity is; narrowing it is immediate."""
    actor.require(Role.OPERATOR, "setting a PDQ threshold")
    if not 0 <= threshold <= MAX_PDQ_THRESHOLD:
        raise AdminError(f"a PDQ threshold is 0 to {MAX_PDQ_THRESHOLD}, got {threshold}")
    hash_list = find_list(store, name)
    if threshold > hash_list.pdq_threshold and policy(store).two_person:
        return _propose(
            store,
            "list.pdq-threshold",
            str(hash_list.list_id),
            {"name": name, "value": threshold},
            f"widening the PDQ threshold of {name} to {threshold}",
            actor,
        )
    changed = store.set_pdq_threshold(hash_list.list_id, threshold, actor=actor.name)
    return Change(
        True, f"{name}: PDQ threshold {'set to' if changed else 'is already'} {threshold}"
    )


def disable_list(store: Store, name: str, *, actor: Actor) -> bool:
    actor.require(Role.OPERATOR, "disabling a list")
    hash_list = find_list(store, name)
    if hash_list.known_good:
        raise AdminError(
            f"{name} is a known-good list: disabling it would let its hashes match again; "
            "remove entries instead"
        )
    return store.set_list_enabled(hash_list.list_id, False, actor=actor.name)


def grant(store: Store, client_id: str, given: Grant, *, actor: Actor) -> Change:
    actor.require(Role.OPERATOR, "granting")
    rules = policy(store)
    covered = [
        c
        for c in store.categories()
        if (given.category_id is None or c.category_id == given.category_id)
        and rules.needs_two(c.severity)
    ]
    text = describe_grant(store, given)
    if covered:
        names = ", ".join(c.name for c in covered)
        return _propose(
            store,
            "grant.add",
            client_id,
            {
                "list": given.list_id,
                "category": given.category_id,
                "covers": names,
                "grant": text,
            },
            f"letting {client_id} check {text} (covers {names})",
            actor,
        )
    new = store.add_grant(client_id, given, actor=actor.name)
    return Change(True, f"{client_id} {'now checks' if new else 'already checks'} {text}")


def revoke(store: Store, client_id: str, given: Grant, *, actor: Actor) -> bool:
    actor.require(Role.OPERATOR, "revoking a grant")
    return store.remove_grant(client_id, given, actor=actor.name)


def promote(store: Store, batch_id: int, *, actor: Actor) -> Change:
    actor.require(Role.OPERATOR, "promoting a shadow batch")
    batch = store.batch(batch_id)
    if batch.state != "shadow":
        raise AdminError(f"batch {batch_id} is {batch.state}, not in shadow mode")
    rules = policy(store)
    categories = {c.category_id: c for c in store.categories()}
    covered = sorted(
        categories[c].name
        for c in batch.category_ids
        if c in categories and rules.needs_two(categories[c].severity)
    )
    if covered:
        list_name = next((h.name for h in store.lists() if h.list_id == batch.list_id), "?")
        return _propose(
            store,
            "batch.promote",
            str(batch_id),
            {"covers": ", ".join(covered), "live": batch.live, "list": list_name},
            f"promoting batch {batch_id} of list {list_name} "
            f"(it holds {', '.join(covered)} entries)",
            actor,
        )
    store.promote_batch(batch_id, actor=actor.name)
    return Change(True, f"batch {batch_id} promoted: its {batch.live} entries now answer")


def rollback(store: Store, batch_id: int, *, actor: Actor) -> RemovalOutcome:
    actor.require(Role.OPERATOR, "rolling back a batch")
    return store.rollback_batch(batch_id, actor=actor.name)


def set_policy(store: Store, name: str, value: str, *, actor: Actor) -> Change:
    actor.require(Role.OPERATOR, "changing the policy")
    normalised = validate(name, value)
    if name == "two-person-severities":
        current = policy(store).two_person
        loosened = current - Policy.parse({name: normalised}).two_person
        if loosened:
            return _propose(
                store,
                "policy.set",
                name,
                {"value": normalised},
                f"taking {', '.join(sorted(s.value for s in loosened))} out of the two-person rule",
                actor,
            )
    changed = store.set_policy(name, normalised, actor=actor.name)
    return Change(True, f"{name} {'set to' if changed else 'is already'} {normalised}")


def proposals(store: Store, *, state: str | None, actor: Actor) -> list[ProposalRecord]:
    actor.require(Role.VIEWER, "reading proposals")
    if state is not None and state not in PROPOSAL_STATES:
        raise AdminError(f"proposal state must be one of {', '.join(PROPOSAL_STATES)}")
    return store.proposals(state)


def decide(store: Store, proposal_id: int, *, approve: bool, actor: Actor) -> ProposalRecord:
    if approve:
        actor.require(Role.APPROVER, "approving a proposal")
    else:
        actor.require(Role.OPERATOR, "rejecting a proposal")
    return store.decide_proposal(proposal_id, approve=approve, actor=actor.name)


def batch_summary(store: Store, batch: BatchRecord) -> dict[str, Any]:
    """A batch with its shadow would-be matches: per client and in total."""
    rows = store.shadow_stats(batch.batch_id)
    per_client: dict[str, int] = {}
    for row in rows:
        per_client[row.client_id] = per_client.get(row.client_id, 0) + row.matched
    return {
        "batch": batch.batch_id,
        "state": batch.state,
        "live": batch.live,
        "would_be_matches": sum(per_client.values()),
        "clients": len(per_client),
        "per_client": dict(sorted(per_client.items())),
    }
