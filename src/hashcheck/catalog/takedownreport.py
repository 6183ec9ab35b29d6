"""The takedown report's figures: for one month, per client and overall, how fast hits were
acted on, which were overdue, which came back, and what became of notices.

Pure: computed from per-hit rows the store reads (one client and item each, never a hash) and
the deadlines that applied. A hit is a client's first match of an item answered `remove` in
the month; its clock runs from the notice when the operator issued one about it, else from the
match. Acted on: any action the client reported. A re-appearance: the item matched again for
the client after it reported it removed or quarantined, or still matched after the deadline
without having been taken down.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

WITHIN_HOURS = (1, 12, 24)
# The counts the store computes in the database, in its columns' order (`from_counts`).
COUNTS = (
    "hits",
    "acted",
    "within_1h",
    "within_12h",
    "within_24h",
    "within_deadline",
    "overdue",
    "unanswered",
    "reappeared",
    "notices_issued",
    "notices_removed_in_time",
    "notices_removed_late",
    "notices_withdrawn",
    "notices_open",
    "notices_overdue",
)


@dataclass(frozen=True)
class HitRow:
    """One client's hit on one item in the month."""

    client_id: str
    item_id: int
    matched_at: int  # the month's first match (Unix time)
    last_matched_at: int  # the latest match
    acted_at: int | None  # the client's first action, of any kind
    taken_down_at: int | None  # its first removed, blocked_at_upload or quarantined
    removed_at: int | None  # its first removed or quarantined (the file was there)
    notice_at: int | None  # the operator's notice about it, if any
    notice_deadline: int | None
    notice_state: str | None  # open | acknowledged | removed | withdrawn


@dataclass
class Figures:
    """What the report says of one client, or of all."""

    hits: int = 0
    acted: int = 0
    within: dict[str, int] = field(default_factory=lambda: {f"{h}h": 0 for h in WITHIN_HOURS})
    within_deadline: int = 0
    overdue: int = 0  # not acted on within the deadline (late, or not yet)
    unanswered: int = 0  # no action at all
    reappeared: int = 0
    clock_notice: int = 0  # hits timed from a notice
    notices: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("issued", "removed_in_time", "removed_late", "withdrawn", "open", "overdue"), 0
        )
    )
    _seconds: list[int] = field(default_factory=list, repr=False)

    @classmethod
    def from_counts(cls, counts: Mapping[str, int], seconds: Iterable[int]) -> Figures:
        """The figures of counts the database made (`COUNTS`) and the seconds to action."""
        figures = cls(
            hits=counts["hits"],
            acted=counts["acted"],
            within={f"{h}h": counts[f"within_{h}h"] for h in WITHIN_HOURS},
            within_deadline=counts["within_deadline"],
            overdue=counts["overdue"],
            unanswered=counts["unanswered"],
            reappeared=counts["reappeared"],
            clock_notice=counts["notices_issued"],
        )
        for key in figures.notices:
            figures.notices[key] = counts[f"notices_{key}"]
        figures._seconds.extend(seconds)
        return figures

    def merged(self, other: Figures) -> None:
        """Add ``other``'s hits to these (the overall figures are the clients' together)."""
        self.hits += other.hits
        self.acted += other.acted
        for key in self.within:
            self.within[key] += other.within[key]
        self.within_deadline += other.within_deadline
        self.overdue += other.overdue
        self.unanswered += other.unanswered
        self.reappeared += other.reappeared
        self.clock_notice += other.clock_notice
        for key in self.notices:
            self.notices[key] += other.notices[key]
        self._seconds.extend(other._seconds)

    def as_dict(self) -> dict[str, Any]:
        seconds = np.asarray(self._seconds, dtype=np.int64)
        median = p90 = None
        if len(seconds):
            median = float(np.median(seconds)) / 3600
            p90 = float(np.percentile(seconds, 90)) / 3600
        share = (lambda n: round(n / self.hits, 4)) if self.hits else (lambda n: None)
        return {
            "hits": self.hits,
            "acted_on": self.acted,
            "acted_within": {
                **{k: share(v) for k, v in self.within.items()},
                "deadline": share(self.within_deadline),
            },
            "median_hours_to_action": None if median is None else round(median, 2),
            "p90_hours_to_action": None if p90 is None else round(p90, 2),
            "overdue": self.overdue,
            "unanswered": self.unanswered,
            "reappeared": self.reappeared,
            "timed_from_notice": self.clock_notice,
            "notices": dict(self.notices),
        }


def compute(
    rows: Iterable[HitRow], deadlines: Mapping[str, int], default_hours: int, now: int
) -> tuple[Figures, dict[str, Figures]]:
    """(all clients, per client) from the month's hit rows; ``deadlines``: a client's own
    hours where its agreement sets them."""
    overall = Figures()
    clients: dict[str, Figures] = {}
    for row in rows:
        mine = clients.setdefault(row.client_id, Figures())
        hours = deadlines.get(row.client_id, default_hours)
        for figures in (overall, mine):
            _add(figures, row, hours, now)
    return overall, clients


def _add(figures: Figures, row: HitRow, hours: int, now: int) -> None:
    figures.hits += 1
    if row.notice_at is not None:
        start = row.notice_at
        deadline = row.notice_deadline if row.notice_deadline is not None else start + hours * 3600
        figures.clock_notice += 1
    else:
        start = row.matched_at
        deadline = start + hours * 3600
    if row.acted_at is not None:
        figures.acted += 1
        taken = max(0, row.acted_at - start)  # acted before the notice: at once
        figures._seconds.append(taken)
        for within in WITHIN_HOURS:
            if taken <= within * 3600:
                figures.within[f"{within}h"] += 1
        if start + taken <= deadline:
            figures.within_deadline += 1
        else:
            figures.overdue += 1
    else:
        figures.unanswered += 1
        if now > deadline:
            figures.overdue += 1
    if (row.removed_at is not None and row.last_matched_at > row.removed_at) or (
        row.taken_down_at is None and row.last_matched_at > deadline
    ):
        figures.reappeared += 1
    if row.notice_at is not None:
        _notice(figures.notices, row, deadline, now)


def _notice(notices: dict[str, int], row: HitRow, deadline: int, now: int) -> None:
    notices["issued"] += 1
    state = row.notice_state
    if state == "withdrawn":
        notices["withdrawn"] += 1
    elif state == "removed":
        done = row.taken_down_at
        notices["removed_in_time" if done is not None and done <= deadline else "removed_late"] += 1
    else:
        notices["open"] += 1
        if now > deadline:
            notices["overdue"] += 1
