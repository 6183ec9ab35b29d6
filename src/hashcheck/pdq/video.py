"""vPDQ: PDQ hashes of a video's frames, and the vPDQ comparison of two videos.

Owns the frame features (hash, quality, timestamp) in ThreatExchange's compact text form
(`hex,quality,timestamp`), the vPDQ preparation (frames below quality 50 dropped, identical
hashes kept once, order ignored) and the comparison: the share of one video's frames that have
a frame of the other within the distance, both ways. Pure: reading video files is
`pdq.videofiles`'s job.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hashcheck.pdq.algorithm import HASH_BYTES, MIN_QUALITY

U64 = npt.NDArray[np.uint64]

# vPDQ's reference default: a stored video matches when at least this share of its frames
# has a near frame in the query (the query may hold more: an upload with the material inside).
TARGET_MATCH_PERCENT = 80.0
QUERY_MATCH_PERCENT = 0.0
# Pairs compared per numpy step: bounds the temporary arrays to a few tens of MB.
_PAIRS_PER_STEP = 1 << 20


@dataclass(frozen=True, slots=True)
class Feature:
    """One hashed frame: the PDQ hash, its quality (0-100) and its time in seconds."""

    bits: bytes
    quality: int
    timestamp: float

    def __str__(self) -> str:
        return f"{self.bits.hex()},{self.quality},{self.timestamp:.3f}"


class BadFeature(ValueError):
    """A frame feature that is not `hex,quality,timestamp`."""


def parse_feature(text: object) -> Feature:
    """A feature from ThreatExchange's compact form `hex,quality,timestamp`."""
    if not isinstance(text, str):
        raise BadFeature('a frame is a string "hex,quality,timestamp"')
    parts = text.strip().split(",")
    if len(parts) != 3:
        raise BadFeature('a frame is "hex,quality,timestamp"')
    hexed, quality_text, time_text = (part.strip() for part in parts)
    if len(hexed) != 2 * HASH_BYTES:
        raise BadFeature(f"a frame's PDQ hash is {2 * HASH_BYTES} hex characters")
    try:
        bits = bytes.fromhex(hexed)
    except ValueError:
        raise BadFeature("a frame's PDQ hash is hex") from None
    if len(bits) != HASH_BYTES:
        raise BadFeature("a frame's PDQ hash is hex")
    if not quality_text.isdigit() or int(quality_text) > 100:
        raise BadFeature("a frame's quality is a whole number from 0 to 100")
    try:
        timestamp = float(time_text)
    except ValueError:
        raise BadFeature("a frame's timestamp is a number of seconds") from None
    if not math.isfinite(timestamp) or timestamp < 0:
        raise BadFeature("a frame's timestamp is a number of seconds from 0")
    return Feature(bits, int(quality_text), timestamp)


def usable_frames(features: Iterable[Feature]) -> bytes:
    """The hashes vPDQ compares, packed: quality at least 50, each distinct hash once, sorted
    (order carries no meaning in vPDQ, so a video's frame set has one form)."""
    return b"".join(sorted({f.bits for f in features if f.quality >= MIN_QUALITY}))


@dataclass(frozen=True, slots=True)
class Comparison:
    """How much of each video has a near frame in the other, in percent."""

    query_percent: float
    target_percent: float

    def matches(
        self,
        target_minimum: float = TARGET_MATCH_PERCENT,
        query_minimum: float = QUERY_MATCH_PERCENT,
    ) -> bool:
        return self.target_percent >= target_minimum and self.query_percent >= query_minimum


def compare(query: U64, target: U64, threshold: int) -> Comparison:
    """vPDQ's comparison of two prepared frame sets (see `usable_frames`), each as (N, 4)
    words (`pdq.index.words`): a frame counts as matched when some frame of the other set is
    within ``threshold`` bits."""
    if len(query) == 0 or len(target) == 0:
        return Comparison(0.0, 0.0)
    query_hit = np.zeros(len(query), dtype=bool)
    target_hit = np.zeros(len(target), dtype=bool)
    rows = max(1, _PAIRS_PER_STEP // len(target))
    for start in range(0, len(query), rows):
        block = query[start : start + rows]
        distances = np.bitwise_count(block[:, None, :] ^ target[None, :, :]).sum(axis=2)
        near = distances <= threshold
        query_hit[start : start + rows] = near.any(axis=1)
        target_hit |= near.any(axis=0)
    return Comparison(
        100.0 * int(query_hit.sum()) / len(query),
        100.0 * int(target_hit.sum()) / len(target),
    )
