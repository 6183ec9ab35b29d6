"""The exact index against a plain dict, through builds, changes and compaction."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest

from hashcheck.index.exact import EntryBlock, ExactIndex, Hit, sorted_order


def block(entries: list[tuple[bytes, int, int]]) -> EntryBlock:
    return EntryBlock(
        b"".join(d for d, _, _ in entries),
        np.asarray([e for _, e, _ in entries], dtype=np.int64),
        np.asarray([s for _, _, s in entries], dtype=np.uint16),
        # Each entry its own item: a lookup answers the item id.
        np.asarray([e for _, e, _ in entries], dtype=np.int64),
    )


def expected(model: dict[int, tuple[bytes, int]], digest: bytes) -> set[Hit]:
    return {(entry_id, slot) for entry_id, (d, slot) in model.items() if d == digest}


@pytest.mark.parametrize("recent_rows", [ExactIndex.RECENT_ROWS, 5])
def test_random_changes_match_a_plain_model(
    recent_rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a small recent layer, changes fold it into the older one often, and removals
    meet entries in either layer."""
    monkeypatch.setattr(ExactIndex, "RECENT_ROWS", recent_rows)
    rng = random.Random(7)
    digests = [os.urandom(16) for _ in range(300)]
    # Digests that share their first 8 bytes exercise the scan past the first candidate.
    twin = digests[0][:8] + os.urandom(8)
    digests.append(twin)
    model: dict[int, tuple[bytes, int]] = {}
    next_id = 1
    initial = []
    for digest in [*digests[:150], digests[0], twin]:
        slot = rng.randrange(3)
        initial.append((digest, next_id, slot))
        model[next_id] = (digest, slot)
        next_id += 1
    index = ExactIndex.build(block(initial))
    for step in range(40):
        added = []
        for _ in range(rng.randrange(10)):
            digest = rng.choice(digests)
            slot = rng.randrange(3)
            added.append((digest, next_id, slot))
            model[next_id] = (digest, slot)
            next_id += 1
        removed = rng.sample(sorted(model), k=min(len(model), rng.randrange(6)))
        for entry_id in removed:
            del model[entry_id]
        before = index
        answered = {d: set(before.lookup(d)) for d in digests}
        index = index.with_changes(block(added), removed)
        # A snapshot is never changed by the next one: readers may still hold it.
        assert {d: set(before.lookup(d)) for d in digests} == answered
        if step % 10 == 9:
            index = index.compacted()
            assert index.delta_size == 0
        assert len(index) == len(model)
        probes = [*digests, os.urandom(16)]
        many = index.lookup_many(probes)
        # As v2 batches probe: full 32-byte HMACs, whose tail the index must ignore.
        packed = index.lookup_packed(b"".join(d + os.urandom(16) for d in probes), 32)
        for position, (digest, hits) in enumerate(zip(probes, many, strict=True)):
            assert set(index.lookup(digest)) == expected(model, digest)
            assert set(hits) == expected(model, digest)
            assert set(packed.get(position, ())) == expected(model, digest)
            assert position not in packed or packed[position]


def test_empty_index() -> None:
    index = ExactIndex.empty()
    assert len(index) == 0
    assert index.lookup(os.urandom(16)) == ()
    assert index.lookup_many([os.urandom(16)]) == [()]
    assert index.lookup_many([]) == []
    assert index.lookup_packed(b"") == {}


def test_packed_probes_must_fit_the_stride() -> None:
    index = ExactIndex.empty()
    with pytest.raises(ValueError, match="stride"):
        index.lookup_packed(bytes(40), 32)
    with pytest.raises(ValueError, match="stride"):
        index.lookup_packed(bytes(24), 12)


def test_base_memory_is_34_bytes_per_entry() -> None:
    count = 10_000
    entries = [(os.urandom(16), n, 0) for n in range(count)]
    assert ExactIndex.build(block(entries)).nbytes == 34 * count


def test_single_lookup_does_not_touch_the_whole_array() -> None:
    """A lookup is a binary search: its cost must not grow with the index (no array copy)."""
    import tracemalloc

    entries = [(os.urandom(16), n, 0) for n in range(200_000)]
    index = ExactIndex.build(block(entries))
    low_key = bytes(8) + os.urandom(8)  # first half small: the case numpy once promoted
    tracemalloc.start()
    try:
        index.lookup(low_key)
        index.lookup(entries[7][0])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100_000, peak  # a float64 copy of the column would be 1.6 MB


def test_the_sorted_order_is_lexsort_s_with_ties_on_either_half() -> None:
    """The index's sort (first half's high bits, then only the tied runs on all keys) orders
    exactly as sorting on both halves and the entry id: digests on several lists, halves that
    meet, halves alike but in their low bits."""
    rng = np.random.default_rng(7)
    for count, copies in ((1, 0), (2, 1), (1000, 300), (50_000, 5_000)):
        hi = rng.integers(0, 2**63, count, dtype=np.int64).astype(np.uint64)
        lo = rng.integers(0, 2**63, count, dtype=np.int64).astype(np.uint64)
        source, target = rng.integers(0, count, copies), rng.integers(0, count, copies)
        hi[target] = hi[source]  # the first half met
        lo[target[: copies // 2]] = lo[source[: copies // 2]]  # the whole digest, half of them
        ids = np.arange(count, dtype=np.int64)
        expected = np.lexsort((ids, lo, hi))
        assert np.array_equal(sorted_order(hi, lo, ids), expected), count
        # First halves alike in their high bits, apart only in the low bits that the sort's
        # keys give to the row's position; and ids not in row order.
        near = rng.integers(0, count, copies)
        hi[near] = hi[source] ^ rng.integers(1, 1 << 12, copies, dtype=np.int64).astype(np.uint64)
        ids = rng.permutation(count).astype(np.int64)
        expected = np.lexsort((ids, lo, hi))
        assert np.array_equal(sorted_order(hi, lo, ids), expected), count
