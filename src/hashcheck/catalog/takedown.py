"""What clients do about their hits, and the clock they are measured by.

The vocabulary of a client's actions (`POST /v2/actions`), which of them take the material
down, and the deadline a hit or notice is held to: the policy's `takedown-deadline-hours`
unless the client's own agreement says otherwise. Pure: no I/O, no HTTP.
"""

from __future__ import annotations

from enum import StrEnum

from hashcheck.catalog.policy import MAX_DEADLINE_HOURS, Policy

# A client's clock a few minutes ahead of the service's is a clock, not a claim about the
# future: an action time up to this far ahead is taken as now.
CLOCK_SKEW_SECONDS = 300
MAX_REASON = 2000  # as a dispute's


class ClientAction(StrEnum):
    REMOVED = "removed"
    BLOCKED_AT_UPLOAD = "blocked_at_upload"
    QUARANTINED = "quarantined"
    KEPT_AFTER_REVIEW = "kept_after_review"
    REPORTED = "reported"


# The actions after which the file is no longer reachable through the client.
TAKEN_DOWN = frozenset(
    {ClientAction.REMOVED, ClientAction.BLOCKED_AT_UPLOAD, ClientAction.QUARANTINED}
)
# The actions a client must explain.
NEEDS_REASON = frozenset({ClientAction.KEPT_AFTER_REVIEW})


def deadline_hours(policy: Policy, agreed: int | None) -> int:
    """The hours a client has: its agreement's, else the policy's."""
    return policy.takedown_deadline_hours if agreed is None else agreed


def valid_deadline(hours: int) -> bool:
    return 1 <= hours <= MAX_DEADLINE_HOURS
