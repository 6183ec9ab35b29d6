"""Benchmark (issue 5): hashcheck's PDQ index against the one Meta's Hasher-Matcher-Actioner
uses (`threatexchange`'s PDQIndex2 over faiss, faiss limited to one thread), side by side in
one run on the same stored hashes and queries.

For each size (default 1M and 10M stored hashes): random 256-bit hashes, of which 1,000 are
planted near-duplicates of 1,000 query hashes at distances spread over 0..31. Measured: build
time, resident memory growth, single-query rate, batched rate, and recall at threshold 31
(the share of planted near-duplicates found). Random hashes are not real PDQ hashes: real ones
cluster (similar images, similar hashes), so an index that prunes by exact chunk matches sees
more candidates per query on real data than here; the full-scan reference does not care.
Writes bench/results/pdq_index.json.

Needs the `bench` dependency group: `.tools/bin/uv sync --all-extras --group bench`.

    .venv/bin/python -m bench.pdq_index [--sizes 1000000 10000000] [--their-queries N]
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import write_result
from hashcheck.pdq.index import PdqIndex, words

PLANTED = 1000
THRESHOLD = 31


def resident() -> int:
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096


def flip(value: bytes, bits: list[int]) -> bytes:
    number = int.from_bytes(value, "big")
    for bit in bits:
        number ^= 1 << bit
    return number.to_bytes(32, "big")


def data(size: int, seed: int) -> tuple[bytes, list[bytes], list[int]]:
    """Packed stored hashes, the queries, and where each query's planted near-duplicate is."""
    rng = np.random.default_rng(seed)
    stored = bytearray(rng.bytes(32 * size))
    queries = [rng.bytes(32) for _ in range(PLANTED)]
    positions = rng.choice(size, size=PLANTED, replace=False)
    for number, (query, position) in enumerate(zip(queries, positions.tolist(), strict=True)):
        bits = rng.choice(256, size=number % (THRESHOLD + 1), replace=False).tolist()
        stored[32 * position : 32 * position + 32] = flip(query, bits)
    return bytes(stored), queries, positions.tolist()


def ours(packed: bytes, queries: list[bytes], planted: list[int]) -> dict[str, Any]:
    before = resident()
    started = time.perf_counter()
    index = PdqIndex(words(packed))
    build = time.perf_counter() - started
    memory = resident() - before
    started = time.perf_counter()
    found = [index.search(query, THRESHOLD) for query in queries]
    single = len(queries) / (time.perf_counter() - started)
    started = time.perf_counter()
    index.search_many(b"".join(queries), THRESHOLD)
    batched = len(queries) / (time.perf_counter() - started)
    hits = {near.position for result in found for near in result}
    del index
    return {
        "build_seconds": round(build, 2),
        "memory_bytes": memory,
        "single_queries_per_second": round(single, 1),
        "batched_queries_per_second": round(batched, 1),
        "recall": len(hits & set(planted)) / len(planted),
    }


def theirs(
    packed: bytes, queries: list[bytes], planted: list[int], query_limit: int
) -> dict[str, Any]:
    import faiss
    from threatexchange.signal_type.pdq.pdq_index2 import PDQIndex2

    faiss.omp_set_num_threads(1)
    count = len(packed) // 32
    hexes = (packed[i : i + 32].hex() for i in range(0, len(packed), 32))
    before = resident()
    started = time.perf_counter()
    index = PDQIndex2(entries=zip(hexes, range(count), strict=False), threshold=THRESHOLD)
    build = time.perf_counter() - started
    memory = resident() - before
    asked = [q.hex() for q in queries[:query_limit]]
    started = time.perf_counter()
    results = [index.query(text) for text in asked]
    single = len(asked) / (time.perf_counter() - started)
    started = time.perf_counter()
    index._index.search(queries=asked, threshold=THRESHOLD)
    batched = len(asked) / (time.perf_counter() - started)
    hits = {match.metadata for result in results for match in result}
    expected = set(planted[: len(asked)])
    del index
    return {
        "build_seconds": round(build, 2),
        "memory_bytes": memory,
        "single_queries_per_second": round(single, 3),
        "batched_queries_per_second": round(batched, 3),
        "queries_measured": len(asked),
        # Of the planted duplicates of the queries it was asked (the first query_limit).
        "recall_of_asked": len(hits & expected) / max(1, len(expected)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument(
        "--their-queries", type=int, default=20, help="queries timed on the reference (slow)"
    )
    args = parser.parse_args()
    results: dict[str, Any] = {"threshold": THRESHOLD, "planted": PLANTED, "sizes": {}}
    for size in args.sizes:
        packed, queries, planted = data(size, seed=size)
        mine = ours(packed, queries, planted)
        reference = theirs(packed, queries, planted, args.their_queries)
        row = {
            "hashcheck": mine,
            "threatexchange_pdqindex2_faiss": reference,
            "single_query_speedup": round(
                mine["single_queries_per_second"] / reference["single_queries_per_second"], 1
            ),
            "memory_ratio": round(mine["memory_bytes"] / reference["memory_bytes"], 3),
        }
        results["sizes"][str(size)] = row
        print(
            f"{size:,} hashes: hashcheck {mine['single_queries_per_second']:,.0f} queries/s "
            f"(batched {mine['batched_queries_per_second']:,.0f}), recall {mine['recall']}, "
            f"build {mine['build_seconds']} s, {mine['memory_bytes'] / size:.0f} B/hash | "
            f"threatexchange {reference['single_queries_per_second']:,.2f} queries/s (batched "
            f"{reference['batched_queries_per_second']:,.2f}), build "
            f"{reference['build_seconds']} s, {reference['memory_bytes'] / size:.0f} B/hash | "
            f"speed-up {row['single_query_speedup']}x, memory ratio {row['memory_ratio']}"
        )
    results["targets"] = {"recall": 1.0, "single_query_speedup": 10, "memory_ratio": 0.25}
    write_result("pdq_index", results)


if __name__ == "__main__":
    main()
