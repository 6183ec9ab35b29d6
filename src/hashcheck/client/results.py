"""What a check answers, typed: match, no match, or indeterminate — never a bare boolean."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from hashcheck.client.queries import Query


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
    kind: str  # exact | pdq | vpdq
    match_id: str
    item: int | None = None  # the list item (one file's hashes) matched: the same for each
    distance: int | None = None  # pdq only
    hold: str | None = None  # why the operator's alarm holds the entry (action is review)
    target_percent: float | None = None  # vpdq: share of the stored video's frames matched
    query_percent: float | None = None  # vpdq: share of the query's frames matched


@dataclass(frozen=True)
class Result:
    algorithm: str
    hash: str
    outcome: Outcome
    matches: tuple[Match, ...] = ()
    reason: str | None = None  # why the outcome is indeterminate
    # The service looked and would not match it (a PDQ hash or video of too low quality):
    # indeterminate for this hash, but no failure to reach the service.
    flag: str | None = None
    frames: int | None = None  # vpdq: the frames sent (hash is then empty)

    @property
    def matched(self) -> bool:
        return self.outcome is Outcome.MATCH

    @property
    def clean(self) -> bool:
        """True only for a real "no match" answer; False for matches and for errors."""
        return self.outcome is Outcome.NO_MATCH


def match_ids_of(matches: Iterable[Match]) -> tuple[str, ...]:
    """The match ids of ``matches``, each once, in order (one item's hashes share one)."""
    return tuple(dict.fromkeys(m.match_id for m in matches))


def items_of(matches: Iterable[Match]) -> tuple[int, ...]:
    """The items ``matches`` are of, each once, in order."""
    return tuple(dict.fromkeys(m.item for m in matches if m.item is not None))


def indeterminate(items: list[Query], reason: str) -> list[Result]:
    return [
        Result(q.algorithm, q.hash, Outcome.INDETERMINATE, reason=reason, frames=frames_of(q))
        for q in items
    ]


def frames_of(query: Query) -> int | None:
    """A video's number of frames; None for a hash."""
    return len(query.frames) if query.algorithm == "vpdq" else None
