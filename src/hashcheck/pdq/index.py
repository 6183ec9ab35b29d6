"""Exact search for PDQ hashes within a Hamming distance: every stored hash within the
threshold is found, none beyond (recall 1.0 by construction, not by tuning).

Multi-index hashing: the 256 bits are cut into 16 chunks of 16 bits. Two hashes at distance
at most 31 differ in at most one bit in at least one chunk (16 chunks × 2 bits > 31), so the
candidates are the entries whose chunk equals, in some chunk, the query's chunk or one of its
16 one-bit neighbours: 16 × 17 bucket reads instead of a scan, then an exact distance check
of the candidates. Per chunk the entries are kept grouped by chunk value (CSR: 65,537 offsets
and one int32 position per entry). Thresholds above 31 fall back to a full scan.

Pure numpy, no I/O; immutable once built (rebuilt or extended off the request path).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

CHUNKS = 16
MAX_INDEXED_THRESHOLD = 2 * CHUNKS - 1  # 31: what the pigeonhole argument covers
_VALUES = 1 << 16
_NEIGHBOURS = np.array([0, *(1 << b for b in range(16))], dtype=np.uint16)

U64 = npt.NDArray[np.uint64]


def words(packed: bytes) -> U64:
    """Packed 32-byte hashes as an (N, 4) array of big-endian-ordered uint64 words."""
    return np.frombuffer(packed, dtype=">u8").reshape(-1, 4).astype(np.uint64)


@dataclass(frozen=True)
class Near:
    """A stored hash within the threshold: its position in the index and the distance."""

    position: int
    distance: int


class PdqIndex:
    def __init__(self, hashes: U64) -> None:
        """``hashes``: (N, 4) uint64 words, as `words` makes them."""
        if hashes.ndim != 2 or hashes.shape[1] != 4:
            raise ValueError("expected an (N, 4) array of uint64 words")
        self._hashes = np.ascontiguousarray(hashes, dtype=np.uint64)
        chunks = self._hashes.view(np.uint16).reshape(len(hashes), CHUNKS)
        self._offsets: list[npt.NDArray[np.int64]] = []
        self._members: list[npt.NDArray[np.int32]] = []
        for chunk in range(CHUNKS):
            column = chunks[:, chunk]
            order = np.argsort(column, kind="stable").astype(np.int32)
            counts = np.bincount(column, minlength=_VALUES)
            offsets = np.zeros(_VALUES + 1, dtype=np.int64)
            np.cumsum(counts, out=offsets[1:])
            self._offsets.append(offsets)
            self._members.append(order)

    @classmethod
    def from_packed(cls, packed: bytes) -> PdqIndex:
        return cls(words(packed))

    def __len__(self) -> int:
        return len(self._hashes)

    @property
    def nbytes(self) -> int:
        return int(
            self._hashes.nbytes
            + sum(o.nbytes for o in self._offsets)
            + sum(m.nbytes for m in self._members)
        )

    def search(self, query: bytes, threshold: int) -> list[Near]:
        """Every stored hash within ``threshold`` of ``query`` (32 bytes), nearest first."""
        target = words(query)[0]
        if threshold > MAX_INDEXED_THRESHOLD:
            candidates = np.arange(len(self._hashes), dtype=np.int64)
        else:
            candidates = self._candidates(target)
        if len(candidates) == 0:
            return []
        distances = np.bitwise_count(self._hashes[candidates] ^ target).sum(axis=1)
        keep = distances <= threshold
        found = candidates[keep]
        near = distances[keep]
        order = np.lexsort((found, near))
        return [Near(int(found[i]), int(near[i])) for i in order]

    def search_many(self, queries: bytes, threshold: int) -> list[list[Near]]:
        """`search` for several packed queries."""
        return [self.search(queries[i : i + 32], threshold) for i in range(0, len(queries), 32)]

    def _candidates(self, target: U64) -> npt.NDArray[np.int64]:
        # The query's chunk c, as the same uint16 view the index was built from.
        query_chunks = target.reshape(1, 4).view(np.uint16).reshape(CHUNKS)
        pieces = []
        for chunk in range(CHUNKS):
            values = (_NEIGHBOURS ^ query_chunks[chunk]).astype(np.int64)
            offsets = self._offsets[chunk]
            starts, ends = offsets[values], offsets[values + 1]
            members = self._members[chunk]
            for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
                if end > start:
                    pieces.append(members[start:end])
        if not pieces:
            return np.empty(0, dtype=np.int64)
        return np.unique(np.concatenate(pieces)).astype(np.int64)


def brute_force(hashes: U64, query: bytes, threshold: int) -> list[Near]:
    """The reference answer: a full scan (for tests and benchmarks)."""
    distances = np.bitwise_count(hashes ^ words(query)[0]).sum(axis=1)
    found = np.flatnonzero(distances <= threshold)
    order = np.lexsort((found, distances[found]))
    return [Near(int(found[i]), int(distances[found][i])) for i in order]
