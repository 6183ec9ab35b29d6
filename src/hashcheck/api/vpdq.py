"""Videos on POST /v2/check: `{"algorithm": "vpdq", "frames": ["hex,quality,timestamp", ...]}`.

Owns reading a video item (ThreatExchange's compact frame strings, as `hashcheck hash --video`
prints them) and answering it the vPDQ way: the stored videos with a frame near one of the
query's are compared whole, and one matches when at least 80% of its frames have a frame of the
query within the list's PDQ threshold. A video match always asks for review.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from hashcheck.catalog.model import Action, ClientView
from hashcheck.index.snapshot import Match, Snapshot
from hashcheck.pdq.index import words
from hashcheck.pdq.video import BadFeature, Comparison, parse_feature, usable_frames

VPDQ = "vpdq"
# Frames are what a video costs to check: they count against the batch limit.
MAX_FRAMES_PER_VIDEO = 10_000


@dataclass(frozen=True)
class VideoQuery:
    frames: bytes  # prepared: usable, distinct, sorted (`pdq.video.usable_frames`)
    given: int  # frames in the request


def parse_video(item: dict[str, Any]) -> VideoQuery:
    """The video of one request item; ValueError with the reason otherwise."""
    if "hash" in item:
        raise ValueError('a vpdq item gives "frames", not "hash"')
    frames = item.get("frames")
    if not isinstance(frames, list) or not frames:
        raise ValueError('"frames" must be a non-empty list of "hex,quality,timestamp" strings')
    if len(frames) > MAX_FRAMES_PER_VIDEO:
        raise ValueError(f"more than {MAX_FRAMES_PER_VIDEO} frames in one video")
    try:
        features = [parse_feature(frame) for frame in frames]
    except BadFeature as exc:
        raise ValueError(str(exc)) from None
    return VideoQuery(usable_frames(features), len(features))


def video_matches(
    snapshot: Snapshot, view: ClientView, query: VideoQuery
) -> tuple[list[tuple[Match, Comparison]], list[tuple[int, int]]]:
    """Granted stored videos that match, best first; and the (entry id, batch id) of shadow
    would-be matches."""
    lists = snapshot.catalog.lists
    widest = max((item.pdq_threshold for item in lists.values()), default=0)
    slots = snapshot.catalog.slots
    query_words = words(query.frames)
    found: list[tuple[Match, Comparison]] = []
    would: list[tuple[int, int]] = []
    for candidate in snapshot.pdq.video_candidates(query.frames, widest):
        granted = candidate.slot in view.slots
        if not granted and candidate.slot not in view.shadow_slots:
            continue
        threshold = lists[slots[candidate.slot].list_id].pdq_threshold
        comparison = candidate.compare(query_words, threshold)
        if not comparison.matches():
            continue
        if granted:
            (match,) = snapshot.visible(view, ((candidate.entry_id, candidate.slot),))
            found.append((replace(match, action=Action.REVIEW), comparison))
        else:
            would.append((candidate.entry_id, slots[candidate.slot].batch_id))
    found.sort(key=lambda pair: (-pair[1].target_percent, -pair[1].query_percent))
    return found, would


def shares(comparison: Comparison) -> dict[str, float]:
    return {
        "target_percent": round(comparison.target_percent, 1),
        "query_percent": round(comparison.query_percent, 1),
    }
