"""Benchmark (issue 17, item 1): hashcheck's PDQ index against the index Meta's
Hasher-Matcher-Actioner builds, side by side in one run on the same stored hashes and queries.

The references, both from `threatexchange` over faiss (limited to one thread):
- **PDQIndex**, HMA's default: `PDQMultiHashIndex`, a faiss `IndexBinaryMultiHash(256, 16,
  16)` in an `IndexBinaryIDMap2`, asked one hash at a time through `PDQIndex.query` as HMA's
  matcher does, and in batches through its hash index's `search_with_distance_in_result`;
- **PDQFlatHashIndex**, the binary brute force: the physical reference for a full scan.

Two kinds of stored hashes per size: **random** 256-bit hashes, and **clustered** ones,
families of near-duplicates (a base hash and copies of it with up to 20 bits changed; family
sizes heavy-tailed, most 1–3, a few up to 1,000), as real lists of re-encoded copies are.
Queries: 500 near a stored hash (distances spread over 0–31) and 500 random. Measured: build
time, resident memory growth per hash (ours with its own copy of the hashes, as the node's; theirs from hex strings that existed before, which it keeps and are not counted),
single queries per second, a batch of 1,000 queries, and recall at threshold 31 against a
full scan over a sample of the queries (no result beyond the threshold either). Sizes in
`--alone-sizes` (default 100M) are run for hashcheck only, recall against a full-scan sample.
Writes bench/results/pdq_index.json.

Needs the `bench` dependency group: `.tools/bin/uv sync --all-extras --group bench`.

    .venv/bin/python -m bench.pdq_index [--sizes 1000000 10000000] [--alone-sizes 100000000]
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.common import write_result
from hashcheck.pdq.index import PdqIndex

THRESHOLD = 31
NEAR = 500
RANDOM = 500
FAMILY_LARGEST = 1000
FAMILY_CHANGED_BITS = 20

U64 = npt.NDArray[np.uint64]


def resident() -> int:
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096


def flip(value: bytes, bits: list[int]) -> bytes:
    number = int.from_bytes(value, "big")
    for bit in bits:
        number ^= 1 << bit
    return number.to_bytes(32, "big")


def packed_rows(stored: U64) -> bytes:
    """Hashes in `pdq.index.words` form back to packed 32-byte hashes."""
    return stored.astype(">u8").tobytes()


def random_hashes(size: int, rng: np.random.Generator) -> U64:
    return rng.bit_generator.random_raw(size * 4).reshape(size, 4)


def changed(rows: int, most: int, rng: np.random.Generator) -> U64:
    """Per row a mask of up to ``most`` random bits (drawn with repeats, so sometimes fewer)."""
    masks = np.zeros((rows, 4), dtype=np.uint64)
    counts = rng.integers(0, most + 1, rows)
    row = np.arange(rows)
    for draw in range(most):
        active = counts > draw
        bits = rng.integers(0, 256, rows)
        # Each row at most once per draw, so the fancy-indexed xor sees no repeats.
        masks[row[active], bits[active] // 64] ^= np.uint64(1) << (bits[active] % 64).astype(
            np.uint64
        )
    return masks


def clustered_hashes(size: int, rng: np.random.Generator) -> U64:
    """Families of near-duplicates: base hashes, each copied with up to 20 bits changed."""
    sizes = np.minimum(rng.zipf(2.0, size), FAMILY_LARGEST)
    sizes = sizes[: int(np.searchsorted(np.cumsum(sizes), size)) + 1]
    sizes[-1] -= int(sizes.sum()) - size
    bases = random_hashes(len(sizes), rng)
    stored = np.repeat(bases, sizes, axis=0)
    copies = np.ones(size, dtype=bool)
    copies[np.cumsum(sizes) - sizes] = False  # each family's first row is its base
    for start in range(0, size, 1 << 22):  # in slices: the masks' draws are large
        part = slice(start, min(size, start + (1 << 22)))
        masks = changed(part.stop - part.start, FAMILY_CHANGED_BITS, rng)
        stored[part] ^= np.where(copies[part, None], masks, np.uint64(0))
    return stored[rng.permutation(size)]


def queries_for(stored: U64, rng: np.random.Generator) -> list[bytes]:
    near = rng.choice(len(stored), size=NEAR, replace=False)
    asked = []
    for number, position in enumerate(near.tolist()):
        bits = rng.choice(256, size=number % (THRESHOLD + 1), replace=False).tolist()
        asked.append(flip(packed_rows(stored[position : position + 1]), bits))
    return asked + [rng.bytes(32) for _ in range(RANDOM)]


def expected(stored: U64, queries: list[bytes]) -> dict[int, set[int]]:
    """Per query number, the positions a full scan finds within the threshold."""
    found: dict[int, set[int]] = {}
    for number, query in enumerate(queries):
        target = np.frombuffer(query, dtype=">u8").astype(np.uint64)
        distances = np.zeros(len(stored), dtype=np.uint16)
        for word in range(4):
            distances += np.bitwise_count(stored[:, word] ^ target[word])
        found[number] = set(np.flatnonzero(distances <= THRESHOLD).tolist())
    return found


def sample_of(queries: list[bytes], each: int) -> list[int]:
    """The query numbers recall is checked on: the first ``each`` near and random ones."""
    return [*range(min(each, NEAR)), *range(NEAR, NEAR + min(each, RANDOM))]


def recall(truth: dict[int, set[int]], answers: dict[int, set[int]]) -> dict[str, Any]:
    wanted = sum(len(truth[n]) for n in answers)
    got = sum(len(truth[n] & answers[n]) for n in answers)
    extra = sum(len(answers[n] - truth[n]) for n in answers)
    return {
        "recall": round(got / wanted, 6) if wanted else 1.0,
        "pairs_expected": wanted,
        "beyond_threshold": extra,
    }


def ours(stored: U64, queries: list[bytes], truth: dict[int, set[int]]) -> dict[str, Any]:
    before = resident()
    started = time.perf_counter()
    index = PdqIndex(stored.copy())  # its own copy of the hashes, as from_packed makes
    build = time.perf_counter() - started
    memory = resident() - before
    for query in queries[:20]:  # first searches pay one-time set-up
        index.search(query, THRESHOLD)
    started = time.perf_counter()
    found = [index.search(query, THRESHOLD) for query in queries]
    single = len(queries) / (time.perf_counter() - started)
    started = time.perf_counter()
    batch = index.search_many(b"".join(queries), THRESHOLD)
    batched = len(queries) / (time.perf_counter() - started)
    if batch != found:
        raise AssertionError("the batch answered differently from single searches")
    answers = {n: {near.position for near in found[n]} for n in truth}
    del index, batch
    return {
        "build_seconds": round(build, 2),
        "memory_bytes": memory,
        "bytes_per_hash": round(memory / len(stored), 1),
        "single_queries_per_second": round(single, 1),
        "batch_of_1000_queries_per_second": round(batched, 1),
        "queries_timed": len(queries),
        **recall(truth, answers),
    }


def theirs(
    kind: str,
    stored: U64,
    queries: list[bytes],
    truth: dict[int, set[int]],
    timed: int,
) -> dict[str, Any]:
    import faiss
    from threatexchange.signal_type.pdq.pdq_faiss_matcher import PDQFlatHashIndex
    from threatexchange.signal_type.pdq.pdq_index import PDQIndex

    faiss.omp_set_num_threads(1)
    packed = packed_rows(stored)
    hexes = [packed[i : i + 32].hex() for i in range(0, len(packed), 32)]
    del packed
    before = resident()
    started = time.perf_counter()
    if kind == "pdqindex":
        index = PDQIndex(entries=zip(hexes, range(len(hexes)), strict=True))
        hash_index = index.index
    else:
        flat: Any = PDQFlatHashIndex  # untyped where threatexchange is installed
        hash_index = flat()
        hash_index.add(hexes, range(len(hexes)))
    build = time.perf_counter() - started
    memory = resident() - before
    # The same share of near and random queries as ours, fewer where each is slow.
    numbers = [*range(timed // 2), *range(NEAR, NEAR + timed - timed // 2)]
    asked = [queries[n].hex() for n in numbers]
    for text in asked[:5]:
        hash_index.search_with_distance_in_result([text], THRESHOLD)
    started = time.perf_counter()
    if kind == "pdqindex":
        single_found = [{match.metadata for match in index.query(text)} for text in asked]
    else:
        single_found = [
            {int(i) for i, _, _ in hash_index.search_with_distance_in_result([t], THRESHOLD)[t]}
            for t in asked
        ]
    single = len(asked) / (time.perf_counter() - started)
    started = time.perf_counter()
    hash_index.search_with_distance_in_result(asked, THRESHOLD)
    batched = len(asked) / (time.perf_counter() - started)
    answers = {n: found for n, found in zip(numbers, single_found, strict=True) if n in truth}
    del hash_index, hexes
    if kind == "pdqindex":
        del index
    return {
        "build_seconds": round(build, 2),
        "memory_bytes": memory,
        "bytes_per_hash": round(memory / len(stored), 1),
        "single_queries_per_second": round(single, 2),
        "batch_queries_per_second": round(batched, 2),
        "queries_timed": len(asked),
        **recall(truth, answers),
    }


def measure(
    size: int, data: str, *, references: bool, flat_queries: int, sample: int
) -> dict[str, Any]:
    rng = np.random.default_rng(size + (1 if data == "clustered" else 0))
    started = time.perf_counter()
    stored = clustered_hashes(size, rng) if data == "clustered" else random_hashes(size, rng)
    queries = queries_for(stored, rng)
    checked = sample_of(queries, sample)
    truth = expected(stored, [queries[n] for n in checked])
    truth = {checked[k]: found for k, found in truth.items()}
    made = time.perf_counter() - started
    row: dict[str, Any] = {
        "data_seconds": round(made, 1),
        "hashcheck": ours(stored, queries, truth),
    }
    if references:
        row["pdqindex"] = theirs("pdqindex", stored, queries, truth, len(queries))
        row["flat"] = theirs("flat", stored, queries, truth, flat_queries)
        mine, hma = row["hashcheck"], row["pdqindex"]
        row["single_query_ratio_to_pdqindex"] = round(
            mine["single_queries_per_second"] / hma["single_queries_per_second"], 2
        )
        row["batch_ratio_to_pdqindex"] = round(
            mine["batch_of_1000_queries_per_second"] / hma["batch_queries_per_second"], 2
        )
        row["memory_ratio_to_pdqindex"] = round(mine["bytes_per_hash"] / hma["bytes_per_hash"], 3)
        row["single_query_ratio_to_flat"] = round(
            mine["single_queries_per_second"] / row["flat"]["single_queries_per_second"], 1
        )
    return row


def report(size: int, data: str, row: dict[str, Any]) -> None:
    mine = row["hashcheck"]
    line = (
        f"{size:,} {data}: hashcheck {mine['single_queries_per_second']:,.0f} queries/s "
        f"(batch {mine['batch_of_1000_queries_per_second']:,.0f}), recall {mine['recall']} "
        f"of {mine['pairs_expected']}, build {mine['build_seconds']} s, "
        f"{mine['bytes_per_hash']:.0f} B/hash"
    )
    for name in ("pdqindex", "flat"):
        if name in row:
            them = row[name]
            line += (
                f" | {name} {them['single_queries_per_second']:,.1f} queries/s (batch "
                f"{them['batch_queries_per_second']:,.1f}), recall {them['recall']}, build "
                f"{them['build_seconds']} s, {them['bytes_per_hash']:.0f} B/hash"
            )
    if "pdqindex" in row:
        line += (
            f" | ratio to PDQIndex: single {row['single_query_ratio_to_pdqindex']}x, batch "
            f"{row['batch_ratio_to_pdqindex']}x, memory {row['memory_ratio_to_pdqindex']}"
        )
    print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="*", default=[1_000_000, 10_000_000])
    parser.add_argument("--alone-sizes", type=int, nargs="*", default=[100_000_000])
    parser.add_argument("--data", nargs="+", default=["random", "clustered"])
    parser.add_argument(
        "--flat-queries", type=int, default=20, help="queries timed on the brute force (slow)"
    )
    parser.add_argument("--sample", type=int, default=50, help="near and random queries each")
    parser.add_argument("--alone-sample", type=int, default=10)
    args = parser.parse_args()
    results: dict[str, Any] = {
        "threshold": THRESHOLD,
        "queries": {"near": NEAR, "random": RANDOM},
        "faiss_threads": 1,
        "sizes": {},
        "alone": {},
    }
    for size in args.sizes:
        for data in args.data:
            row = measure(
                size, data, references=True, flat_queries=args.flat_queries, sample=args.sample
            )
            results["sizes"].setdefault(str(size), {})[data] = row
            report(size, data, row)
    for size in args.alone_sizes:
        for data in args.data:
            row = measure(size, data, references=False, flat_queries=0, sample=args.alone_sample)
            results["alone"].setdefault(str(size), {})[data] = row
            report(size, data, row)
    results["targets"] = {
        "recall": 1.0,
        "single_query_ratio_to_pdqindex": {"1000000": 3, "10000000": 10},
        "memory_ratio_to_pdqindex_at_10000000": 0.25,
    }
    write_result("pdq_index", results)


if __name__ == "__main__":
    main()
