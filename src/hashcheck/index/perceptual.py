"""The perceptual side of a snapshot: PDQ hashes of list entries, searchable by distance.

Pure: built from opened hashes (the follower opens the sealed values), never changed after.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from hashcheck.pdq.index import PdqIndex

# (entry id, slot, distance)
PdqHit = tuple[int, int, int]


@dataclass(frozen=True)
class PdqEntries:
    index: PdqIndex
    entry_ids: npt.NDArray[np.int64]
    slots: npt.NDArray[np.uint16]

    @classmethod
    def build(cls, items: Mapping[int, tuple[bytes, int]]) -> PdqEntries:
        """From entry id -> (32-byte hash, slot)."""
        ids = sorted(items)
        packed = b"".join(items[i][0] for i in ids)
        return cls(
            PdqIndex.from_packed(packed),
            np.array(ids, dtype=np.int64),
            np.array([items[i][1] for i in ids], dtype=np.uint16),
        )

    @classmethod
    def empty(cls) -> PdqEntries:
        return cls.build({})

    def __len__(self) -> int:
        return len(self.entry_ids)

    def arrays(self) -> dict[str, npt.NDArray[Any]]:
        return {**self.index.arrays(), "entry_ids": self.entry_ids, "slots": self.slots}

    @classmethod
    def from_arrays(cls, named: dict[str, npt.NDArray[Any]]) -> PdqEntries:
        return cls(PdqIndex.from_arrays(named), named["entry_ids"], named["slots"])

    def search(self, bits: bytes, threshold: int) -> list[PdqHit]:
        """Entries within ``threshold`` of ``bits``, nearest first."""
        return [
            (int(self.entry_ids[near.position]), int(self.slots[near.position]), near.distance)
            for near in self.index.search(bits, threshold)
        ]
