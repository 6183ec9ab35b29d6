"""The perceptual side of a snapshot: PDQ hashes of image entries and the frame hashes of
video (vPDQ) entries, searchable by distance in one index.

Every stored hash is a row of one `PdqIndex`; an image entry owns one row, a video entry the
rows of its frames (contiguous). Image queries see image rows only; a video query collects
the videos owning a near frame and compares each whole, the vPDQ way.

A state can carry two layers over it, so that a change is published without rebuilding (and
re-sharing) the whole index: the entries added since it was built (`recent`, small, private
to the worker, scanned) and the positions of its entries removed since (`removed`, never
answered). The follower folds them into a new state now and then.

Pure: built from opened hashes (the follower opens the sealed values), never changed after.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from hashcheck.pdq.algorithm import HASH_BYTES
from hashcheck.pdq.index import Near, PdqIndex
from hashcheck.pdq.video import Comparison, compare

# (item id, slot, distance)
PdqHit = tuple[int, int, int]


class Perceptual(NamedTuple):
    """An entry's opened hashes: one PDQ hash, or a video's frame hashes (packed), and the
    item it belongs to (-1: the entry's own id)."""

    hashes: bytes
    slot: int
    video: bool = False
    item: int = -1


@dataclass(frozen=True)
class VideoCandidate:
    """A stored video with at least one frame near the query's."""

    item_id: int
    slot: int
    frames: npt.NDArray[np.uint64]  # (N, 4) words, `pdq.index.words` form

    def compare(self, query: npt.NDArray[np.uint64], threshold: int) -> Comparison:
        return compare(query, self.frames, threshold)


@dataclass(frozen=True)
class Found:
    """What `PdqIndex.search` answered, elsewhere (another process), for packed ``queries``
    at ``threshold``: per query ``counts[k]`` hits, their positions and distances in order."""

    threshold: int
    queries: bytes
    counts: npt.NDArray[np.int64]
    positions: npt.NDArray[np.int64]
    distances: npt.NDArray[np.int64]

    @cached_property
    def _spans(self) -> dict[bytes, tuple[int, int]]:
        ends = np.cumsum(self.counts).tolist()
        starts = [0, *ends[:-1]]
        queries = self.queries
        return {
            queries[k * HASH_BYTES : (k + 1) * HASH_BYTES]: (starts[k], ends[k])
            for k in range(len(ends))
        }

    def near(self, query: bytes, threshold: int) -> list[Near] | None:
        """The search's answer for ``query``, or None if it was not among those searched."""
        if threshold != self.threshold:
            return None
        span = self._spans.get(query)
        if span is None:
            return None
        if span[0] == span[1]:
            return []  # most queries of a batch: nothing near
        positions = self.positions[span[0] : span[1]].tolist()
        distances = self.distances[span[0] : span[1]].tolist()
        return [Near(p, d) for p, d in zip(positions, distances, strict=True)]


@dataclass(frozen=True)
class PdqEntries:
    index: PdqIndex
    item_ids: npt.NDArray[np.int64]  # per entry: the item it answers for
    slots: npt.NDArray[np.uint16]  # per entry
    offsets: npt.NDArray[np.int64]  # entry k owns rows offsets[k]:offsets[k + 1]
    videos: npt.NDArray[np.bool_]  # per entry
    owners: npt.NDArray[np.int32]  # per row: the entry it belongs to
    # The shared-memory folder these arrays are mapped from; "" for a private copy.
    origin: str = ""
    found: Found | None = field(default=None, compare=False)
    recent: PdqEntries | None = None  # entries added since this state was built
    removed: frozenset[int] = frozenset()  # entries (positions) of this state removed since

    @classmethod
    def build(cls, items: Mapping[int, Perceptual]) -> PdqEntries:
        """From entry id -> its opened hashes (entry ids order the rows)."""
        ids = sorted(items)
        chosen = [items[i] for i in ids]
        for item in chosen:
            if not item.hashes or len(item.hashes) % HASH_BYTES:
                raise ValueError("perceptual hashes must be whole 32-byte hashes")
            if not item.video and len(item.hashes) != HASH_BYTES:
                raise ValueError("an image entry has exactly one PDQ hash")
        rows = np.array([len(item.hashes) // HASH_BYTES for item in chosen], dtype=np.int64)
        offsets = np.zeros(len(ids) + 1, dtype=np.int64)
        np.cumsum(rows, out=offsets[1:])
        packed = b"".join(item.hashes for item in chosen)
        return cls(
            PdqIndex.from_packed(packed),
            np.array(
                [i if item.item < 0 else item.item for i, item in zip(ids, chosen, strict=True)],
                dtype=np.int64,
            ),
            np.array([item.slot for item in chosen], dtype=np.uint16),
            offsets,
            np.array([item.video for item in chosen], dtype=np.bool_),
            np.repeat(np.arange(len(ids), dtype=np.int32), rows),
        )

    @classmethod
    def empty(cls) -> PdqEntries:
        return cls.build({})

    def __len__(self) -> int:
        """Entries answered: this state's, less those removed, and the recent ones."""
        recent = 0 if self.recent is None else len(self.recent)
        return len(self.item_ids) - len(self.removed) + recent

    @property
    def video_count(self) -> int:
        videos = int(self.videos.sum()) - sum(1 for k in self.removed if self.videos[k])
        return videos + (0 if self.recent is None else self.recent.video_count)

    def with_layers(self, recent: PdqEntries | None, removed: frozenset[int]) -> PdqEntries:
        """This state, with ``recent`` added to it and the entries at ``removed`` gone."""
        if recent is not None and (recent.recent is not None or recent.removed):
            raise ValueError("the recent entries are one plain state")
        return replace(
            self,
            recent=recent if recent is not None and len(recent) else None,
            removed=removed,
            found=None,
        )

    def arrays(self) -> dict[str, npt.NDArray[Any]]:
        return {
            **self.index.arrays(),
            "item_ids": self.item_ids,
            "slots": self.slots,
            "offsets": self.offsets,
            "videos": self.videos,
            "owners": self.owners,
        }

    @classmethod
    def from_arrays(cls, named: dict[str, npt.NDArray[Any]], origin: str = "") -> PdqEntries:
        return cls(
            PdqIndex.from_arrays(named),
            named["item_ids"],
            named["slots"],
            named["offsets"],
            named["videos"],
            named["owners"],
            origin,
        )

    def with_found(self, found: Found) -> PdqEntries:
        """The same entries, answering the queries ``found`` holds from this state (the
        recent entries are searched here)."""
        return replace(self, found=found)

    def _near(self, bits: bytes, threshold: int) -> list[Near]:
        known = None if self.found is None else self.found.near(bits, threshold)
        return self.index.search(bits, threshold) if known is None else known

    def search(self, bits: bytes, threshold: int) -> list[PdqHit]:
        """Image entries within ``threshold`` of ``bits``, nearest first."""
        found: list[PdqHit] = []
        removed = self.removed
        for near in self._near(bits, threshold):
            owner = int(self.owners[near.position])
            if not self.videos[owner] and owner not in removed:
                found.append((int(self.item_ids[owner]), int(self.slots[owner]), near.distance))
        if self.recent is not None:
            added = self.recent.search(bits, threshold)
            if added:
                found = sorted(found + added, key=lambda hit: hit[2])  # stable: nearest first
        return found

    def video_candidates(self, frames: bytes, threshold: int) -> list[VideoCandidate]:
        """Video entries with a frame within ``threshold`` of any of ``frames`` (packed)."""
        owners: set[int] = set()
        for start in range(0, len(frames), HASH_BYTES):
            for near in self._near(frames[start : start + HASH_BYTES], threshold):
                owner = int(self.owners[near.position])
                if self.videos[owner]:
                    owners.add(owner)
        recent = [] if self.recent is None else self.recent.video_candidates(frames, threshold)
        return [
            VideoCandidate(
                int(self.item_ids[owner]),
                int(self.slots[owner]),
                self.index.hashes[self.offsets[owner] : self.offsets[owner + 1]],
            )
            for owner in sorted(owners - self.removed)
        ] + recent
