"""The PDQ index finds every stored hash within the threshold and none beyond: planted
near-duplicates at every distance from 0 to 31 (and just past it), the spreads of differences
that leave one way in, every threshold the probes cover, families of near-duplicates, and
batches, against a full scan."""

from __future__ import annotations

import numpy as np
import pytest

from hashcheck.pdq.index import (
    ARRAY_NAMES,
    MAX_INDEXED_THRESHOLD,
    SCAN_UP_TO,
    PdqIndex,
    brute_force,
    words,
)


def flip(query: bytes, bits: list[int]) -> bytes:
    value = int.from_bytes(query, "big")
    for bit in bits:
        value ^= 1 << bit
    return value.to_bytes(32, "big")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_planted_near_duplicate_is_found_and_none_beyond(seed: int) -> None:
    rng = np.random.default_rng(seed)
    background = rng.bytes(32 * 20_000)
    queries = [rng.bytes(32) for _ in range(5)]
    planted: dict[int, tuple[int, int]] = {}  # position -> (query number, distance)
    extra: list[bytes] = []
    for number, query in enumerate(queries):
        for distance in range(0, 40):
            # Bits chosen at random, so that the differences fall in any chunks.
            bits = rng.choice(256, size=distance, replace=False).tolist()
            planted[20_000 + len(extra)] = (number, distance)
            extra.append(flip(query, bits))
    packed = background + b"".join(extra)
    index = PdqIndex.from_packed(packed)
    assert len(index) == 20_000 + 5 * 40
    for number, query in enumerate(queries):
        found = index.search(query, 31)
        assert found == brute_force(words(packed), query, 31)
        expected = {p for p, (n, d) in planted.items() if n == number and d <= 31}
        got = {near.position for near in found}
        assert expected <= got  # recall 1.0
        assert all(planted.get(near.position, (number, 0))[1] <= 31 for near in found)
        assert [near.distance for near in found] == sorted(near.distance for near in found)
        assert all(near.distance <= 31 for near in found)


SPREADS = {
    # 31 bits: seven pairs of chunks differ in 2 + 2 bits, one in 2 + 1. Only the chunk with
    # 1 leads to the entry (its pair may differ in 3), and it must.
    "one chunk within a bit": [2, 2] * 7 + [2, 1],
    # The pair within 3 differs in one chunk only: the other, exact, chunk leads to it.
    "one pair, all in one chunk": [2, 2] * 7 + [3, 0],
    # 15 chunks differ in 2 bits, one in 1 (the earlier layout's worst case).
    "spread evenly": [2] * 7 + [1] + [2] * 8,
}


@pytest.mark.parametrize("spread", SPREADS.values(), ids=SPREADS.keys())
@pytest.mark.parametrize("background", [1000, SCAN_UP_TO + 1000], ids=["scanned", "probed"])
def test_worst_case_spreads_of_differences(spread: list[int], background: int) -> None:
    query = bytes(range(32))
    bits = [chunk * 16 + k for chunk, flipped in enumerate(spread) for k in range(flipped)]
    assert len(bits) == 31
    planted = flip(query, bits)
    beyond = flip(query, [*bits, 250 if 250 not in bits else 251])  # 32: not found
    index = PdqIndex.from_packed(np.random.default_rng(9).bytes(32 * background) + planted + beyond)
    found = {n.position: n.distance for n in index.search(query, 31)}
    assert found.get(background) == 31
    assert background + 1 not in found
    assert index.search(query, 32)[-1].distance == 32


def test_every_threshold_the_probes_cover_answers_as_a_scan() -> None:
    rng = np.random.default_rng(11)
    query = rng.bytes(32)
    extra = [
        flip(query, rng.choice(256, size=distance, replace=False).tolist())
        for distance in range(0, 80)
        for _ in range(3)
    ]
    packed = rng.bytes(32 * (SCAN_UP_TO + 5000)) + b"".join(extra)
    index = PdqIndex.from_packed(packed)
    stored = words(packed)
    for threshold in [*range(0, MAX_INDEXED_THRESHOLD + 2), 90, 255, 256, -1]:
        expected = brute_force(stored, query, threshold)
        assert index.search(query, threshold) == expected, threshold
    assert MAX_INDEXED_THRESHOLD == 63


def test_families_of_near_duplicates_and_batches_answer_as_a_scan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Real lists hold families (re-encoded copies): many entries share most chunks, so the
    buckets are uneven and a query near a family finds many. Batches, split into several
    rounds of probes, answer query by query as single searches do."""
    rng = np.random.default_rng(12)
    rows: list[bytes] = []
    bases = [rng.bytes(32) for _ in range(300)]
    for number, base in enumerate(bases):
        for _ in range(1 + (number % 7) * 10):
            rows.append(
                flip(base, rng.choice(256, size=int(rng.integers(0, 20)), replace=False).tolist())
            )
    rows += [rng.bytes(32) for _ in range(5000)]
    packed = b"".join(rows)
    index = PdqIndex.from_packed(packed)
    stored = words(packed)
    queries = [flip(base, rng.choice(256, size=8, replace=False).tolist()) for base in bases[:60]]
    queries += [rng.bytes(32) for _ in range(20)] + [queries[0]]  # and a repeated query
    expected = [brute_force(stored, query, 31) for query in queries]
    assert sum(len(found) for found in expected) > 1000  # families answer with many each
    assert [index.search(query, 31) for query in queries] == expected
    assert index.search_many(b"".join(queries), 31) == expected
    counts, positions, distances = index.search_arrays(b"".join(queries), 31)
    assert counts.tolist() == [len(found) for found in expected]
    assert positions.tolist() == [near.position for found in expected for near in found]
    assert distances.tolist() == [near.distance for found in expected for near in found]
    # A few queries a round, and a query alone over the bound.
    monkeypatch.setattr("hashcheck.pdq.index._SLOTS_AT_ONCE", 100)
    assert index.search_many(b"".join(queries), 31) == expected


@pytest.mark.parametrize("size", [SCAN_UP_TO, SCAN_UP_TO + 1])
def test_small_indexes_are_scanned_large_ones_probed_with_the_same_answers(size: int) -> None:
    """Up to SCAN_UP_TO hashes no chunk tables are built (a scan is faster); the arrays an
    index is shared as, read back, answer as the index itself did."""
    rng = np.random.default_rng(size)
    packed = rng.bytes(32 * size)
    index = PdqIndex.from_packed(packed)
    named = index.arrays()
    assert set(named) == (set(ARRAY_NAMES) if size > SCAN_UP_TO else {"hashes"})
    again = PdqIndex.from_arrays(named)
    stored = words(packed)
    for position in rng.choice(size, size=20, replace=False).tolist():
        query = flip(packed[32 * position : 32 * position + 32], [5, 90, 140, 201])
        expected = brute_force(stored, query, 31)
        assert position in {n.position for n in expected}
        assert index.search(query, 31) == expected == again.search(query, 31)


def test_bad_queries_and_arrays_are_refused() -> None:
    rng = np.random.default_rng(4)
    packed = rng.bytes(32 * (SCAN_UP_TO + 2))
    index = PdqIndex.from_packed(packed)
    query = rng.bytes(32)
    assert index.search_many(query * 2, 10) == [index.search(query, 10)] * 2
    assert index.search_many(b"", 31) == []
    with pytest.raises(ValueError, match="32-byte"):
        index.search_many(query + b"x", 31)
    with pytest.raises(ValueError, match="uint64"):
        PdqIndex(np.zeros((3, 2), dtype=np.uint64))
    named = index.arrays()
    with pytest.raises(ValueError, match="do not fit"):
        PdqIndex.from_arrays({**named, "hashes": named["hashes"][:-1]})
    with pytest.raises(KeyError):
        PdqIndex.from_arrays({"hashes": named["hashes"]})


def test_empty_and_single_entry_indexes() -> None:
    empty = PdqIndex(np.empty((0, 4), dtype=np.uint64))
    assert len(empty) == 0 and empty.search(bytes(32), 31) == []
    one = PdqIndex.from_packed(bytes(32))
    assert [n.distance for n in one.search(flip(bytes(32), [3, 77, 200]), 31)] == [3]
    assert one.search(flip(bytes(32), list(range(32))), 31) == []


def test_four_byte_positions_answer_as_three_byte_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    """Above 2**24 hashes positions take 4 bytes; the same answers either way."""
    rng = np.random.default_rng(13)
    packed = rng.bytes(32 * (SCAN_UP_TO + 3000))
    queries = [flip(packed[32 * p : 32 * p + 32], [1, 100, 200]) for p in range(0, 3000, 150)]
    narrow = PdqIndex.from_packed(packed)
    monkeypatch.setattr("hashcheck.pdq.index.THREE_BYTE_POSITIONS_UP_TO", 1000)
    wide = PdqIndex.from_packed(packed)
    assert narrow.arrays()["positions"].shape[2] == 3 and wide.arrays()["positions"].shape[2] == 4
    expected = [brute_force(words(packed), query, 31) for query in queries]
    assert narrow.search_many(b"".join(queries), 31) == expected
    assert wide.search_many(b"".join(queries), 31) == expected
    assert PdqIndex.from_arrays(wide.arrays()).search_many(b"".join(queries), 31) == expected
    with pytest.raises(ValueError, match="do not fit"):
        PdqIndex.from_arrays(narrow.arrays())  # 3-byte tables where 4 are due
