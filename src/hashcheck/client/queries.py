"""What a client asks about one file: an exact hash, a PDQ hash (with its quality), or a video
as its vPDQ frames — validated before anything is sent. No I/O here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

HEX_LENGTHS = {"md5": 32, "sha1": 40, "sha256": 64, "pdq": 64}
EXACT = ("md5", "sha1", "sha256")
PERCEPTUAL = ("pdq", "vpdq")
ALGORITHMS = (*HEX_LENGTHS, "vpdq")
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class Query:
    """One thing to check. ``hash`` for every algorithm but vpdq; ``frames`` (ThreatExchange's
    ``hex,quality,timestamp`` strings) for vpdq; ``quality`` (0-100) for pdq, if known."""

    algorithm: str
    hash: str = ""
    quality: int | None = None
    frames: tuple[str, ...] = ()

    @property
    def weight(self) -> int:
        """What it costs against the service's batch limit: one, or a video's frames."""
        return len(self.frames) or 1

    @property
    def compact(self) -> bool:
        """Whether the compact request shape (hex lists per algorithm) can carry it."""
        return self.algorithm != "vpdq" and self.quality is None

    def body(self) -> dict[str, object]:
        """The item of the object request shape."""
        if self.algorithm == "vpdq":
            return {"algorithm": "vpdq", "frames": list(self.frames)}
        item: dict[str, object] = {"algorithm": self.algorithm, "hash": self.hash}
        if self.quality is not None:
            item["quality"] = self.quality
        return item


def normalise(items: Iterable[tuple[str, str] | Query]) -> list[Query]:
    """Queries from (algorithm, hex) pairs or `Query` values, in lower-case hex; ValueError
    for a malformed one (a caller's bug, raised before anything is sent)."""
    return [_checked(item if isinstance(item, Query) else Query(*item)) for item in items]


def _checked(query: Query) -> Query:
    name = query.algorithm.lower()
    if name not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {query.algorithm!r}; use {', '.join(ALGORITHMS)}")
    if name == "vpdq":
        if query.hash or query.quality is not None:
            raise ValueError("a vpdq query has frames, not a hash or a quality")
        if not query.frames:
            raise ValueError("a vpdq query needs at least one frame")
        return Query("vpdq", frames=tuple(_frame(f) for f in query.frames))
    if query.frames:
        raise ValueError(f"only vpdq queries have frames, not {name}")
    if query.quality is not None and (name != "pdq" or not 0 <= query.quality <= 100):
        raise ValueError("quality (0-100) belongs to pdq hashes only")
    text = query.hash.strip().lower()
    if len(text) != HEX_LENGTHS[name] or not _HEX.issuperset(text):
        raise ValueError(f"{name} hash must be {HEX_LENGTHS[name]} hex characters")
    return Query(name, text, query.quality)


def _frame(text: str) -> str:
    parts = text.strip().split(",")
    if len(parts) != 3 or len(parts[0]) != 64 or not _HEX.issuperset(parts[0].lower()):
        raise ValueError('a vpdq frame is "hex,quality,timestamp" with 64 hex characters')
    if not parts[1].strip().isdigit() or not 0 <= int(parts[1]) <= 100:
        raise ValueError("a vpdq frame's quality is 0-100")
    try:
        float(parts[2])
    except ValueError:
        raise ValueError("a vpdq frame's timestamp is a number of seconds") from None
    return f"{parts[0].lower()},{int(parts[1])},{parts[2].strip()}"
