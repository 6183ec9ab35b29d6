"""The operator's review of self-submitted cases, for every face: the queue, one case with
what the screen found, activation (optionally leaving files out), rejection; and listing a
client as a participating platform under a public name.

Never shows a hash: a case's files are named by number, the items they became and their
state. Flags are computed here from the store's counts and the policy.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hashcheck.admin import governance
from hashcheck.admin.errors import AdminError
from hashcheck.admin.operators import Actor, Role
from hashcheck.store.interface import Store
from hashcheck.store.records import SubmissionRecord

STATES = ("received", "active", "rejected", "withdrawn")
MAX_REASON = 2000
MAX_PUBLIC_NAME = 100


def queue(
    store: Store, *, state: str | None = "received", limit: int = 100, actor: Actor
) -> list[SubmissionRecord]:
    """Cases oldest first (received ones: the review queue)."""
    actor.require(Role.VIEWER, "reading self-submitted cases")
    if state is not None and state not in STATES:
        raise AdminError(f"case state must be one of {', '.join(STATES)}")
    return store.submissions(state, limit)


def show(store: Store, case_number: str, *, actor: Actor) -> SubmissionRecord:
    actor.require(Role.VIEWER, "reading a self-submitted case")
    return store.submission(case_number.strip().upper())


def activate(
    store: Store,
    case_number: str,
    *,
    reason: str,
    leave_out: Iterable[int] = (),
    actor: Actor,
) -> SubmissionRecord:
    """The case's items answer `remove` to clients granted the list (but the files' items
    ``leave_out`` names, which the case lets go)."""
    actor.require(Role.OPERATOR, "activating a self-submitted case")
    return store.decide_submission(
        case_number.strip().upper(),
        activate=True,
        reason=_reason(reason),
        actor=actor.name,
        leave_out=leave_out,
    )


def reject(store: Store, case_number: str, *, reason: str, actor: Actor) -> SubmissionRecord:
    actor.require(Role.OPERATOR, "rejecting a self-submitted case")
    return store.decide_submission(
        case_number.strip().upper(), activate=False, reason=_reason(reason), actor=actor.name
    )


def list_publicly(store: Store, client_id: str, name: str | None, *, actor: Actor) -> bool:
    """Record that the client agreed to be listed as a participating platform under ``name``
    (None: it is no longer listed). True if that changed anything."""
    actor.require(Role.OPERATOR, "listing a participating platform")
    if name is not None:
        name = " ".join(name.split())
        if not name or len(name) > MAX_PUBLIC_NAME or not name.isprintable():
            raise AdminError(f"a public name is 1 to {MAX_PUBLIC_NAME} printable characters")
    return store.set_client_public_name(client_id, name, actor=actor.name)


def _reason(text: str) -> str:
    text = text.strip()
    if len(text) > MAX_REASON:
        raise AdminError(f"a reason is at most {MAX_REASON} characters")
    return text


def case_dict(store: Store, record: SubmissionRecord) -> dict[str, Any]:
    """A case as every face shows it, with the screen's findings and the review flags."""
    policy = governance.policy(store)
    files = []
    for line in record.files:
        flags = []
        if line.finding:
            flags.append(line.finding)
        if line.other_cases > policy.submission_duplicate_cases:
            flags.append(f"held by {line.other_cases} other cases")
        if line.matched_clients > policy.prevalence_clients:
            flags.append(f"matched for {line.matched_clients} clients")
        files.append(
            {
                "file": line.file_no,
                "item": line.item_id,
                "hashes": line.algorithms.split(","),
                "item_state": line.item_state,
                "left_out": line.left_out,
                "other_cases": line.other_cases,
                "matched_clients": line.matched_clients,
                "flags": flags,
            }
        )
    return {
        "case": record.case_number,
        "state": record.state,
        "received": record.received_at,
        "decided_by": record.decided_by,
        "decided_at": record.decided_at,
        "reason": record.reason,
        "flagged": any(f["flags"] for f in files),
        "files": files,
    }
