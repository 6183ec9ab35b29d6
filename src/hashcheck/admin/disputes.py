"""Disputes and holds as the operator handles them: read, comment, decide, release.

A dispute is a client saying a match was wrong; upholding it retracts the entry for everyone
(see `Store.resolve_dispute`). A hold is the prevalence alarm saying an entry matches for
suspiciously many clients; releasing it makes the entry answer normally again.
"""

from __future__ import annotations

from typing import Any

from hashcheck.admin.errors import AdminError
from hashcheck.admin.operators import Actor, Role
from hashcheck.store.interface import Store
from hashcheck.store.records import DisputeRecord, HoldRecord

DISPUTE_STATES = ("open", "upheld", "rejected")
HOLD_STATES = ("open", "released")
MAX_TEXT = 2000


def _text(text: str, what: str) -> str:
    text = text.strip()
    if not text:
        raise AdminError(f"{what} must not be empty")
    if len(text) > MAX_TEXT:
        raise AdminError(f"{what} is longer than {MAX_TEXT} characters")
    return text


def listing(store: Store, *, state: str | None, actor: Actor) -> list[DisputeRecord]:
    actor.require(Role.VIEWER, "reading disputes")
    if state is not None and state not in DISPUTE_STATES:
        raise AdminError(f"dispute state must be one of {', '.join(DISPUTE_STATES)}")
    return store.disputes(state=state)


def comment(store: Store, dispute_id: int, text: str, *, actor: Actor) -> DisputeRecord:
    actor.require(Role.OPERATOR, "commenting on a dispute")
    return store.comment_dispute(dispute_id, _text(text, "a comment"), actor=actor.name)


def resolve(
    store: Store, dispute_id: int, *, upheld: bool, comment_text: str, actor: Actor
) -> DisputeRecord:
    actor.require(Role.OPERATOR, "deciding a dispute")
    return store.resolve_dispute(
        dispute_id,
        upheld=upheld,
        comment=_text(comment_text, "the decision's reason"),
        actor=actor.name,
    )


def holds(store: Store, *, state: str | None, actor: Actor) -> list[HoldRecord]:
    actor.require(Role.VIEWER, "reading holds")
    if state is not None and state not in HOLD_STATES:
        raise AdminError(f"hold state must be one of {', '.join(HOLD_STATES)}")
    return store.holds(state)


def release(store: Store, entry_id: int, *, actor: Actor) -> None:
    actor.require(Role.OPERATOR, "releasing a hold")
    store.release_hold(entry_id, actor=actor.name)


def hold_dict(record: HoldRecord, list_names: dict[int, str]) -> dict[str, Any]:
    """A hold as every face shows it: on an item (the store's field keeps its older name,
    entry_id), naming its list."""
    return {
        "item": record.entry_id,
        "list": list_names.get(record.list_id, str(record.list_id)),
        "list_id": record.list_id,
        "state": record.state,
        "clients": record.clients,
        "since": record.created_at,
        "decided_by": record.decided_by,
        "reason": record.reason,
    }


def dispute_dict(record: DisputeRecord, list_names: dict[int, str]) -> dict[str, Any]:
    return {
        "dispute": record.dispute_id,
        "client": record.client_id,
        "item": record.entry_id,
        "list": list_names.get(record.list_id, str(record.list_id)),
        "list_id": record.list_id,
        "reason": record.reason,
        "state": record.state,
        "opened_at": record.opened_at,
        "decided_by": record.decided_by,
        "decided_at": record.decided_at,
        "notes": [{"at": n.at, "actor": n.actor, "text": n.text} for n in record.notes],
    }
