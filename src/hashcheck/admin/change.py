"""What a request to switch something on comes to: done at once, or a proposal that waits for a
second operator. Owns the wording of that answer; knows nothing of what is switched on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hashcheck.store.interface import Store
from hashcheck.store.records import ProposalRecord


@dataclass(frozen=True)
class Change:
    """The result of a request to switch something on: done now, or waiting for approval."""

    applied: bool
    message: str
    proposal: ProposalRecord | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "message": self.message,
            "proposal": None if self.proposal is None else self.proposal.proposal_id,
        }


def propose(
    store: Store, action: str, subject: str, detail: dict[str, Any], what: str, actor: str
) -> Change:
    # `what` names the lists, categories, clients and accounts involved in words, so every
    # face that shows a proposal (table, JSON, admin API, audit) says what it does without ids.
    proposal = store.propose(action, subject, {**detail, "what": what}, actor=actor)
    return Change(
        False,
        f"{what} needs a second operator: proposal {proposal.proposal_id} is waiting for "
        f"approval (`hashcheck proposals approve {proposal.proposal_id}` by someone else)",
        proposal,
    )
