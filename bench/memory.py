"""Benchmark (c): bytes of memory per stored exact hash, at 1M and 10M entries.

Builds the exact index the way a node does (keyed digests, entry ids and slots into sorted
columns) and measures the growth of the process's resident memory, after the inputs are
freed. The reference, in the same run: a plain Python dict from 16-byte digest to entry id
at 1M entries. Writes bench/results/memory.json.

    .venv/bin/python -m bench.memory [--sizes 1000000 10000000]
"""

from __future__ import annotations

import argparse
import ctypes
import gc
from pathlib import Path

import numpy as np

from bench.common import write_result
from hashcheck.index.exact import EntryBlock, ExactIndex


def resident_bytes() -> int:
    fields = Path("/proc/self/statm").read_text().split()
    return int(fields[1]) * 4096


def release_free_memory() -> None:
    """Hand freed heap memory back to the OS, so that resident size shows what is live."""
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)


def index_bytes_per_entry(count: int) -> dict[str, float]:
    rng = np.random.default_rng(count)
    release_free_memory()
    before = resident_bytes()
    block = EntryBlock(
        rng.bytes(16 * count),
        np.arange(1, count + 1, dtype=np.int64),
        rng.integers(0, 4, size=count, dtype=np.uint16),
        np.arange(1, count + 1, dtype=np.int64),
    )
    index = ExactIndex.build(block)
    del block
    release_free_memory()
    after = resident_bytes()
    assert len(index) == count
    return {
        "entries": count,
        "rss_growth_bytes_per_entry": round((after - before) / count, 2),
        "array_bytes_per_entry": round(index.nbytes / count, 2),
    }


def dict_bytes_per_entry(count: int) -> float:
    rng = np.random.default_rng(1)
    data = rng.bytes(16 * count)
    gc.collect()
    before = resident_bytes()
    table = {data[i : i + 16]: i for i in range(0, len(data), 16)}
    after = resident_bytes()
    assert len(table) == count
    return round((after - before) / count, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    args = parser.parse_args()
    measured = [index_bytes_per_entry(size) for size in args.sizes]
    reference = dict_bytes_per_entry(1_000_000)
    for row in measured:
        print(
            f"{row['entries']:>11,} entries: {row['rss_growth_bytes_per_entry']:.1f} bytes/entry "
            f"resident ({row['array_bytes_per_entry']:.0f} in the arrays)"
        )
    print(f"reference, Python dict of 16-byte digests at 1M: {reference:.1f} bytes/entry")
    write_result(
        "memory",
        {
            "index": measured,
            "reference_python_dict_bytes_per_entry_at_1M": reference,
            "ratio_to_dict": round(measured[0]["rss_growth_bytes_per_entry"] / reference, 3),
            "target_bytes_per_entry": 40,
        },
    )


if __name__ == "__main__":
    main()
