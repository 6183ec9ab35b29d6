"""Exact search for PDQ hashes within a Hamming distance: every stored hash within the
threshold is found, none beyond (recall 1.0 by construction, not by tuning).

Multi-index hashing over 16 chunks of 16 bits, taken as 8 pairs of adjacent chunks. Two
hashes at distance d differ in at most ⌊d/8⌋ bits in some pair (8 pairs share the d bits),
and within that pair one chunk differs in at most ⌊⌊d/8⌋/2⌋ bits. So at threshold 31 the
candidates are the entries that, in some chunk, differ from the query in at most 1 bit (17
values a chunk, 272 buckets a query) *and* whose other chunk of the pair brings the pair's
difference to at most 3. Per chunk the index keeps the entries grouped by the chunk's value
(a bucket per value, found by one lookup), each with its position (3 bytes up to 16.7M
hashes) and the value of its pair's other chunk beside it: the pair test reads those 2 bytes
in bucket order, not the stored hash, so only a fraction of a percent of a random bucket's
entries cost a look at the hash itself (one cache miss), and the exact distance check
decides. Entries near the query pass both tests in several chunks; they are counted once.

Thresholds up to `MAX_INDEXED_THRESHOLD` are probed (up to 3 bits a chunk); above it, and in
an index of at most `SCAN_UP_TO` hashes, the search is a full scan (about 20 ns a hash; below
that size scanning is as fast as probing, and the tables are not built at all).

Pure numpy, no I/O; immutable once built (rebuilt or extended off the request path).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

CHUNKS = 16
CHUNK_VALUES = 1 << 16
PAIRS = CHUNKS // 2
MAX_CHUNK_RADIUS = 3
# The largest threshold whose pair radius halves to at most MAX_CHUNK_RADIUS bits a chunk.
MAX_INDEXED_THRESHOLD = PAIRS * (2 * MAX_CHUNK_RADIUS + 2) - 1  # 63
SCAN_UP_TO = 2_048  # measured: scan 70 µs, probes 85 µs at 2,000; 116 against 85 at 4,000
# The named arrays an index consists of (`arrays`); a change of layout changes LAYOUT, so
# that a state written by another version is never read as this one.
ARRAY_NAMES = ("hashes", "positions", "companions", "starts")
LAYOUT = "pdq-index-2: 16x16-bit chunks, pair companions"
THREE_BYTE_POSITIONS_UP_TO = 1 << 24
# Buckets' entries examined at once by a batch: temporary arrays of a few MB, which stay in
# cache (4M at once was slower per query than single searches).
_SLOTS_AT_ONCE = 500_000

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]


def _flips(radius: int) -> npt.NDArray[np.uint16]:
    """Every 16-bit mask of at most ``radius`` bits, the empty one first."""
    masks = [0]
    for count in range(1, radius + 1):
        for bits in itertools.combinations(range(16), count):
            masks.append(sum(1 << b for b in bits))
    return np.array(masks, dtype=np.uint16)


_FLIPS = [_flips(radius) for radius in range(MAX_CHUNK_RADIUS + 1)]
# Each chunk's partner in its pair: adjacent 16-bit chunks of one 32-bit word.
_PARTNER = np.arange(CHUNKS) ^ 1


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
        if len(hashes) >= 1 << 32:
            raise ValueError("at most 2**32 - 1 hashes in one index")
        self._hashes = np.ascontiguousarray(hashes, dtype=np.uint64)
        count = len(self._hashes)
        self._positions, self._companions, self._starts = _NO_TABLES
        if count <= SCAN_UP_TO:
            return  # scanned: no tables
        chunks = self._hashes.view(np.uint16).reshape(count, CHUNKS)
        width = _position_bytes(count)
        self._positions = np.empty((CHUNKS, count, width), dtype=np.uint8)
        self._companions = np.empty((CHUNKS, count), dtype=np.uint16)
        self._starts = np.empty((CHUNKS, CHUNK_VALUES + 1), dtype=np.int64)
        for pair in range(PAIRS):
            # Two columns at a time, not all 16: a 100M build stays within its tables' size.
            columns = {c: np.ascontiguousarray(chunks[:, c]) for c in (2 * pair, 2 * pair + 1)}
            for chunk, column in columns.items():
                order = np.argsort(column, kind="stable")  # a radix sort for 16-bit keys
                self._positions[chunk] = (
                    order.astype("<u4").view(np.uint8).reshape(-1, 4)[:, :width]
                )
                self._companions[chunk] = columns[int(_PARTNER[chunk])][order]
                del order
                self._starts[chunk, 0] = chunk * count  # into the flattened tables
                counts = np.bincount(column, minlength=CHUNK_VALUES)
                np.cumsum(counts, out=self._starts[chunk, 1:])
                self._starts[chunk, 1:] += chunk * count

    @classmethod
    def from_packed(cls, packed: bytes) -> PdqIndex:
        return cls(words(packed))

    def arrays(self) -> dict[str, npt.NDArray[Any]]:
        """Every array the index consists of, by name (to place them in shared memory)."""
        named: dict[str, npt.NDArray[Any]] = {"hashes": self._hashes}
        if self._starts.size:
            named.update(
                positions=self._positions, companions=self._companions, starts=self._starts
            )
        return named

    @classmethod
    def from_arrays(cls, named: dict[str, npt.NDArray[Any]]) -> PdqIndex:
        """The index over arrays `arrays` gave (e.g. mapped from shared memory), unchanged."""
        index = cls.__new__(cls)
        index._hashes = named["hashes"]
        count = len(index._hashes)
        if count > SCAN_UP_TO:
            index._positions = named["positions"]
            index._companions = named["companions"]
            index._starts = named["starts"]
            if (
                index._positions.shape != (CHUNKS, count, _position_bytes(count))
                or index._positions.dtype != np.uint8
                or index._companions.shape != (CHUNKS, count)
                or index._starts.shape != (CHUNKS, CHUNK_VALUES + 1)
            ):
                raise ValueError("the index's tables do not fit its hashes")
        else:
            index._positions, index._companions, index._starts = _NO_TABLES
        return index

    def __len__(self) -> int:
        return len(self._hashes)

    @property
    def hashes(self) -> U64:
        """The stored hashes as (N, 4) words (`words` form), by position."""
        return self._hashes

    @property
    def nbytes(self) -> int:
        return int(sum(array.nbytes for array in self.arrays().values()))

    def search(self, query: bytes, threshold: int) -> list[Near]:
        """Every stored hash within ``threshold`` of ``query`` (32 bytes), nearest first."""
        return self.search_many(query, threshold)[0]

    def search_many(self, queries: bytes, threshold: int) -> list[list[Near]]:
        """`search` for each of several packed queries."""
        counts, positions, distances = self.search_arrays(queries, threshold)
        found = [Near(p, d) for p, d in zip(positions.tolist(), distances.tolist(), strict=True)]
        ends = np.cumsum(counts).tolist()
        return [found[end - count : end] for end, count in zip(ends, counts.tolist(), strict=True)]

    def search_arrays(self, queries: bytes, threshold: int) -> tuple[I64, I64, I64]:
        """`search_many` as arrays: per query how many it found, then all their positions and
        distances, query by query, each query's nearest first (ties by position)."""
        if len(queries) % 32:
            raise ValueError("queries must be whole 32-byte hashes")
        targets = words(queries)
        if threshold < 0 or not len(self._hashes):
            return np.zeros(len(targets), dtype=np.int64), _NONE, _NONE
        if threshold > MAX_INDEXED_THRESHOLD or not self._starts.size:
            query_of, positions, distances = self._scan(targets, threshold)
        else:
            query_of, positions, distances = self._probe(targets, threshold)
        order = np.lexsort((positions, distances, query_of))
        counts = np.bincount(query_of, minlength=len(targets)).astype(np.int64)
        return counts, positions[order], distances[order]

    def _scan(self, targets: U64, threshold: int) -> tuple[I64, I64, I64]:
        pieces: list[tuple[I64, I64, I64]] = []
        for number, target in enumerate(targets):
            distances = np.bitwise_count(self._hashes ^ target).sum(axis=1, dtype=np.int64)
            found = np.flatnonzero(distances <= threshold)
            pieces.append((np.full(len(found), number, dtype=np.int64), found, distances[found]))
        return _joined(pieces)

    def _probe(self, targets: U64, threshold: int) -> tuple[I64, I64, I64]:
        pair_radius = threshold // PAIRS
        flips = _FLIPS[pair_radius // 2]
        chunks = targets.view(np.uint16).reshape(len(targets), CHUNKS)
        # Per query, chunk and flip: the bucket probed, the partner chunk's value expected
        # and how far the partner may be from it (what the flip leaves of the pair radius).
        buckets = (chunks[:, :, None] ^ flips).astype(np.int64)
        buckets += (np.arange(CHUNKS, dtype=np.int64) * (CHUNK_VALUES + 1))[:, None]
        buckets = buckets.reshape(-1)
        partners = np.repeat(chunks[:, _PARTNER].reshape(-1), len(flips))
        allowed = np.tile(pair_radius - np.bitwise_count(flips), len(targets) * CHUNKS)
        per_query = len(flips) * CHUNKS
        starts = self._starts.reshape(-1)
        lows = starts[buckets]
        lengths = starts[buckets + 1] - lows
        slots_per_query = lengths.reshape(len(targets), per_query).sum(axis=1)
        pieces: list[tuple[I64, I64, I64]] = []
        first = 0
        while first < len(targets):
            # As many queries as fit in _SLOTS_AT_ONCE bucket entries (at least one).
            total = np.cumsum(slots_per_query[first:])
            last = first + max(1, int(np.searchsorted(total, _SLOTS_AT_ONCE, side="right")))
            span = slice(first * per_query, last * per_query)
            pieces.append(
                self._probe_buckets(
                    targets,
                    threshold,
                    first,
                    lows[span],
                    lengths[span],
                    partners[span],
                    allowed[span],
                    per_query,
                )
            )
            first = last
        return _joined(pieces)

    def _probe_buckets(
        self,
        targets: U64,
        threshold: int,
        first: int,
        lows: I64,
        lengths: I64,
        partners: npt.NDArray[np.uint16],
        allowed: npt.NDArray[Any],
        per_query: int,
    ) -> tuple[I64, I64, I64]:
        ends = np.cumsum(lengths)
        total = int(ends[-1]) if len(ends) else 0
        if total == 0:
            return _NONE, _NONE, _NONE
        slots = np.arange(total, dtype=np.int64)
        slots += np.repeat(lows - ends + lengths, lengths)
        companions = self._companions.reshape(-1).take(slots)
        passing = np.bitwise_count(companions ^ np.repeat(partners, lengths)) <= np.repeat(
            allowed, lengths
        )
        passed = np.flatnonzero(passing)  # few: cheaper found than spread
        probe_of = np.searchsorted(ends, passed, side="right")
        candidates = self._positions_at(slots[passed])
        query_of = probe_of // per_query + first
        stored = _rows(self._hashes).take(candidates).view(np.uint64).reshape(-1, 4)
        bits = np.bitwise_count(stored ^ targets[query_of])
        distances = bits[:, 0].astype(np.int64)
        distances += bits[:, 1]
        distances += bits[:, 2]
        distances += bits[:, 3]
        keep = distances <= threshold
        query_of, candidates, distances = query_of[keep], candidates[keep], distances[keep]
        # An entry near the query passes in several chunks: once each.
        _, once = np.unique(query_of * len(self._hashes) + candidates, return_index=True)
        return query_of[once], candidates[once], distances[once]

    def _positions_at(self, slots: I64) -> I64:
        width = self._positions.shape[2]
        taken = self._positions.reshape(-1).view(np.dtype((np.void, width))).take(slots)
        if width == 4:
            return taken.view("<u4").astype(np.int64)
        widened = np.zeros((len(slots), 4), dtype=np.uint8)
        widened[:, :width] = taken.view(np.uint8).reshape(-1, width)
        return widened.view("<u4").reshape(-1).astype(np.int64)


_NONE: I64 = np.empty(0, dtype=np.int64)
# A scanned index's tables (positions, companions, bucket starts): none.
_NO_TABLES = (
    np.empty((0, 0, 0), dtype=np.uint8),
    np.empty((0, 0), dtype=np.uint16),
    np.empty((0, 0), dtype=np.int64),
)


def _position_bytes(count: int) -> int:
    """Bytes a position takes in the tables: 3 up to 2**24 hashes (a quarter less memory
    at 10M; only the few entries that pass the pair test are widened), else 4."""
    return 3 if count <= THREE_BYTE_POSITIONS_UP_TO else 4


def _rows(hashes: U64) -> npt.NDArray[np.void]:
    """The hashes as one 32-byte item each: a gather of whole rows at once."""
    return hashes.view(np.dtype((np.void, 32))).reshape(-1)


def _joined(pieces: list[tuple[I64, I64, I64]]) -> tuple[I64, I64, I64]:
    if not pieces:
        return _NONE, _NONE, _NONE
    if len(pieces) == 1:
        return pieces[0]
    return (
        np.concatenate([piece[0] for piece in pieces]),
        np.concatenate([piece[1] for piece in pieces]),
        np.concatenate([piece[2] for piece in pieces]),
    )


def brute_force(hashes: U64, query: bytes, threshold: int) -> list[Near]:
    """The reference answer: a full scan (for tests and benchmarks)."""
    distances = np.bitwise_count(hashes ^ words(query)[0]).sum(axis=1)
    found = np.flatnonzero(distances <= threshold)
    order = np.lexsort((found, distances[found]))
    return [Near(int(found[i]), int(distances[found][i])) for i in order]
