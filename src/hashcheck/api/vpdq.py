"""Videos on POST /v2/check: `{"algorithm": "vpdq", "frames": ["hex,quality,timestamp", ...]}`.

Owns reading a video item (ThreatExchange's compact frame strings, as `hashcheck hash --video`
prints them) and how a video's result and match shares read. Answering it the vPDQ way (the
stored videos with a frame near one of the query's compared whole; one matches when at least
80% of its frames have a frame of the query within the list's PDQ threshold) is
`api.perceptual`'s.
"""

from __future__ import annotations

from dataclasses import dataclass

from hashcheck.pdq.video import BadFeature, Comparison, parse_feature, usable_frames

VPDQ = "vpdq"
# Frames are what a video costs to check: they count against the batch limit.
MAX_FRAMES_PER_VIDEO = 10_000


@dataclass(frozen=True)
class VideoQuery:
    frames: bytes  # prepared: usable, distinct, sorted (`pdq.video.usable_frames`)
    given: int  # frames in the request


def parse_video(frames: list[str]) -> VideoQuery:
    """The video of one request item's frames (their count checked by the model); ValueError
    with the reason otherwise."""
    try:
        features = [parse_feature(frame) for frame in frames]
    except BadFeature as exc:
        raise ValueError(str(exc)) from None
    return VideoQuery(usable_frames(features), len(features))


def shares(comparison: Comparison) -> dict[str, float]:
    return {
        "target_percent": round(comparison.target_percent, 1),
        "query_percent": round(comparison.query_percent, 1),
    }
