"""What a check answers, typed: match, no match, or indeterminate — never a bare boolean."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Outcome(enum.Enum):
    MATCH = "match"
    NO_MATCH = "no_match"
    INDETERMINATE = "indeterminate"  # the service could not say: treat the file as unchecked


@dataclass(frozen=True)
class Match:
    list: str
    category: str
    severity: str
    action: str  # remove | review
    kind: str  # exact | pdq
    match_id: str
    distance: int | None = None  # pdq only
    hold: str | None = None  # why the operator's alarm holds the entry (action is review)


@dataclass(frozen=True)
class Result:
    algorithm: str
    hash: str
    outcome: Outcome
    matches: tuple[Match, ...] = ()
    reason: str | None = None  # why the outcome is indeterminate (or a quality flag)

    @property
    def matched(self) -> bool:
        return self.outcome is Outcome.MATCH

    @property
    def clean(self) -> bool:
        """True only for a real "no match" answer; False for matches and for errors."""
        return self.outcome is Outcome.NO_MATCH


def indeterminate(items: list[tuple[str, str]], reason: str) -> list[Result]:
    return [Result(a, h, Outcome.INDETERMINATE, reason=reason) for a, h in items]
