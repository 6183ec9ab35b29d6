"""Perceptual answers on POST /v2/check: PDQ images and vPDQ videos against the snapshot.

Owns which perceptual entries a client is answered: within the entry's list's PDQ threshold,
granted to the client (then always a `review` match) or in one of its shadow batches (then a
would-be match, counted, never answered). Parsing request items is `api.v2`'s and
`api.vpdq`'s job.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TypeVar

from hashcheck.catalog.model import Action, ClientView
from hashcheck.index.snapshot import Match, Snapshot
from hashcheck.pdq.index import words
from hashcheck.pdq.video import Comparison

_Measure = TypeVar("_Measure")
# (entry id, batch id) of a shadow would-be match
WouldBe = tuple[int, int]


def widest(snapshot: Snapshot) -> int:
    """The largest threshold of any list: what the index is searched with."""
    return snapshot.catalog.widest_pdq_threshold


def _threshold(snapshot: Snapshot, slot: int) -> int:
    return snapshot.catalog.lists[snapshot.catalog.slots[slot].list_id].pdq_threshold


def _answer(
    snapshot: Snapshot,
    view: ClientView,
    entry_id: int,
    slot: int,
    measure: _Measure,
    found: list[tuple[Match, _Measure]],
    would: list[WouldBe],
) -> None:
    """File a near entry as the client's match (review) or as a shadow would-be match."""
    if slot in view.slots:
        (match,) = snapshot.visible(view, ((entry_id, slot),))
        found.append((replace(match, action=Action.REVIEW), measure))
    elif slot in view.shadow_slots:
        would.append((entry_id, snapshot.catalog.slots[slot].batch_id))


def pdq_matches(
    snapshot: Snapshot, view: ClientView, bits: bytes
) -> tuple[list[tuple[Match, int]], list[WouldBe]]:
    """Granted PDQ image entries within their list's threshold with their distance, nearest
    first; and the shadow would-be matches."""
    found: list[tuple[Match, int]] = []
    would: list[WouldBe] = []
    for entry_id, slot, distance in snapshot.pdq.search(bits, widest(snapshot)):
        if distance <= _threshold(snapshot, slot):
            _answer(snapshot, view, entry_id, slot, distance, found, would)
    return found, would


def video_matches(
    snapshot: Snapshot, view: ClientView, frames: bytes
) -> tuple[list[tuple[Match, Comparison]], list[WouldBe]]:
    """Granted stored videos that match the query's prepared frames (`pdq.video.usable_frames`)
    by vPDQ's rule at their list's threshold, best first; and the shadow would-be matches."""
    query = words(frames)
    found: list[tuple[Match, Comparison]] = []
    would: list[WouldBe] = []
    for candidate in snapshot.pdq.video_candidates(frames, widest(snapshot)):
        slot = candidate.slot
        if slot not in view.slots and slot not in view.shadow_slots:
            continue  # not compared: the comparison is the costly part
        comparison = candidate.compare(query, _threshold(snapshot, slot))
        if comparison.matches():
            _answer(snapshot, view, candidate.item_id, slot, comparison, found, would)
    found.sort(key=lambda pair: (-pair[1].target_percent, -pair[1].query_percent))
    return found, would
