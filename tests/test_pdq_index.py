"""The PDQ index finds every stored hash within the threshold and none beyond: planted
near-duplicates at every distance from 0 to 31 (and just past it), against a full scan."""

from __future__ import annotations

import numpy as np
import pytest

from hashcheck.pdq.index import MAX_INDEXED_THRESHOLD, SCAN_UP_TO, PdqIndex, brute_force, words


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


@pytest.mark.parametrize("background", [1000, SCAN_UP_TO + 1000], ids=["scanned", "probed"])
def test_worst_case_spread_of_differences(background: int) -> None:
    """31 differing bits spread so that 15 chunks differ in 2 bits and one in 1: only that
    one chunk leads to the entry, and it must."""
    query = bytes(range(32))
    bits = []
    for chunk in range(16):
        base = chunk * 16
        bits += [base, base + 1] if chunk != 7 else [base]
    assert len(bits) == 31
    planted = flip(query, bits)
    index = PdqIndex.from_packed(np.random.default_rng(9).bytes(32 * background) + planted)
    (near,) = [n for n in index.search(query, 31) if n.position == background]
    assert near.distance == 31


@pytest.mark.parametrize("size", [SCAN_UP_TO, SCAN_UP_TO + 1])
def test_small_indexes_are_scanned_large_ones_probed_with_the_same_answers(size: int) -> None:
    """Up to SCAN_UP_TO hashes no chunk tables are built (a scan is faster); the arrays an
    index is shared as, read back, answer as the index itself did."""
    rng = np.random.default_rng(size)
    packed = rng.bytes(32 * size)
    index = PdqIndex.from_packed(packed)
    named = index.arrays()
    assert ("values0" in named) == (size > SCAN_UP_TO)
    again = PdqIndex.from_arrays(named)
    stored = words(packed)
    for position in rng.choice(size, size=20, replace=False).tolist():
        query = flip(packed[32 * position : 32 * position + 32], [5, 90, 140, 201])
        expected = brute_force(stored, query, 31)
        assert position in {n.position for n in expected}
        assert index.search(query, 31) == expected == again.search(query, 31)


def test_thresholds_above_31_scan_everything() -> None:
    rng = np.random.default_rng(4)
    packed = rng.bytes(32 * 500)
    index = PdqIndex.from_packed(packed)
    query = rng.bytes(32)
    assert index.search(query, 100) == brute_force(words(packed), query, 100)
    assert MAX_INDEXED_THRESHOLD == 31
    assert index.search_many(query * 2, 10) == [index.search(query, 10)] * 2
    with pytest.raises(ValueError, match="uint64"):
        PdqIndex(np.zeros((3, 2), dtype=np.uint64))


def test_empty_and_single_entry_indexes() -> None:
    empty = PdqIndex(np.empty((0, 4), dtype=np.uint64))
    assert len(empty) == 0 and empty.search(bytes(32), 31) == []
    one = PdqIndex.from_packed(bytes(32))
    assert [n.distance for n in one.search(flip(bytes(32), [3, 77, 200]), 31)] == [3]
    assert one.search(flip(bytes(32), list(range(32))), 31) == []
