"""One file's verdict from the answers for its hashes: matched if any hash matched; clean only
if every hash was answered "no match" — a perceptual hash the service looked at and would not
match (too low a quality) is said, not counted as a failure; anything else unanswered makes
the file unchecked. No I/O here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hashcheck.client.files import FileHashes
from hashcheck.client.results import Match, Outcome, Result, items_of, match_ids_of


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    matches: tuple[Match, ...] = ()
    reason: str | None = None  # why the file is unchecked
    notes: tuple[str, ...] = ()  # what was not checked of a checked file, and why

    @property
    def match_ids(self) -> tuple[str, ...]:
        return match_ids_of(self.matches)

    @property
    def items(self) -> tuple[int, ...]:
        return items_of(self.matches)


def verdict(results: Sequence[Result], hashes: FileHashes | None = None) -> Verdict:
    """The verdict on one file whose hashes were answered ``results`` (``hashes``: what was
    made of the file, for the perceptual hashes it could not make)."""
    notes = list(hashes.skipped if hashes is not None else ())
    matches = tuple(m for r in results for m in r.matches)
    if any(r.outcome is Outcome.MATCH for r in results):
        return Verdict(Outcome.MATCH, matches, notes=tuple(notes))
    unanswered = [r for r in results if r.outcome is Outcome.INDETERMINATE and r.flag is None]
    notes += [f"{r.algorithm} not matched: {r.flag}" for r in results if r.flag is not None]
    exact = [r for r in results if r.flag is None]
    if not results or not exact:
        return Verdict(Outcome.INDETERMINATE, reason="no hash of the file was checked")
    if unanswered:
        return Verdict(Outcome.INDETERMINATE, reason=unanswered[0].reason, notes=tuple(notes))
    return Verdict(Outcome.NO_MATCH, notes=tuple(notes))
