"""Benchmark (d): import rate from a plain list of 10M (and 1M) MD5 hashes into SQLite (and,
with ``--stores sqlite postgres``, into PostgreSQL in the same run: issue 17).

Each size runs in a fresh process: generate the file, import it into a fresh database with
the same function `hashcheck import` uses, and report hashes/s and peak resident memory.
The reference, in the same run: the keyed digest alone over the same number of hashes (the
part no importer can skip). Writes bench/results/import_rate.json.

    .venv/bin/python -m bench.import_rate [--sizes 1000000 10000000] [--stores sqlite postgres]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import postgres_server, write_result
from hashcheck.admin import importing
from hashcheck.admin.setup import initialise
from hashcheck.hashes.algorithms import Algorithm
from hashcheck.hashes.keyed import Digester
from hashcheck.store.open import open_store


def write_list(path: Path, count: int) -> None:
    rng = np.random.default_rng(count)
    with path.open("wb") as handle:
        for start in range(0, count, 1_000_000):
            hexed = rng.bytes(16 * min(1_000_000, count - start)).hex().encode()
            handle.write(b"\n".join(hexed[i : i + 32] for i in range(0, len(hexed), 32)) + b"\n")


def changed_list(source: Path, target: Path, changed: int) -> None:
    """``source`` with its first ``changed`` hashes replaced by new ones."""
    rng = np.random.default_rng(changed + 7)
    fresh = rng.bytes(16 * changed).hex()
    with source.open("rb") as read, target.open("wb") as write:
        for number, line in enumerate(read):
            if number < changed:
                write.write(fresh[32 * number : 32 * number + 32].encode() + b"\n")
            else:
                write.write(line)


def one_size(count: int, kind: str, replace: float = 0.0) -> dict[str, float | str]:
    """Runs in its own process; prints one JSON line."""
    with tempfile.TemporaryDirectory() as folder, contextlib.ExitStack() as stack:
        scratch = Path(folder)
        source = scratch / "list.txt"
        write_list(source, count)
        if kind == "postgres":
            url = stack.enter_context(postgres_server(scratch / "pg")).get_uri()
        else:
            url = f"sqlite:///{scratch / 'hashcheck.db'}"
        store = open_store(url)
        key, _ = initialise(store, scratch / "list.key")
        store.add_list("bench", "benchmark", "", actor="bench")
        digester = Digester(key)
        with source.open("rb") as handle:
            raws = [bytes.fromhex(handle.readline().decode()) for _ in range(min(count, 1_000_000))]
        started = time.perf_counter()
        digester.digest_many(Algorithm.MD5, raws)
        digest_rate = len(raws) / (time.perf_counter() - started)
        del raws
        started = time.perf_counter()
        report = importing.import_file(
            store, digester, "bench", source, actor="bench", category="baseline"
        )
        seconds = time.perf_counter() - started
        replaced: dict[str, float] = {}
        if replace:
            # The supplier's next complete delivery, a share of its items changed.
            changed = int(count * replace)
            changed_list(source, scratch / "changed.txt", changed)
            started = time.perf_counter()
            again = importing.import_file(
                store,
                digester,
                "bench",
                scratch / "changed.txt",
                actor="bench",
                category="baseline",
                replace=True,
                confirm_removals=True,
            )
            replaced = {
                "replace_changed_items": changed,
                "replace_seconds": round(time.perf_counter() - started, 2),
                "replace_added": again.added,
                "replace_removed": again.removed,
            }
            assert again.added == changed and again.removed == changed, again
        store.close()
    assert report.added == count, report
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "store": kind,
        "entries": count,
        "seconds": round(seconds, 2),
        "hashes_per_second": round(count / seconds),
        "keyed_digest_alone_hashes_per_second": round(digest_rate),
        "ratio_to_digest_alone": round(count / seconds / digest_rate, 3),
        "peak_rss_mb": round(peak / 2**20, 1),
        **replaced,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--stores", nargs="+", default=["sqlite"], choices=["sqlite", "postgres"])
    parser.add_argument(
        "--replace", type=float, default=0.0, help="then a --replace delivery, this share changed"
    )
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_size(args.one, args.stores[0], args.replace)))
        return
    rows = []
    for kind, size in itertools.product(args.stores, args.sizes):
        output = subprocess.run(
            [
                *(sys.executable, "-m", "bench.import_rate", "--one", str(size)),
                *("--stores", kind, "--replace", str(args.replace)),
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=1800,
        ).stdout
        row = json.loads(output.strip().splitlines()[-1])
        rows.append(row)
        print(
            f"{kind:>8}: {row['entries']:>11,} hashes in {row['seconds']:.1f}s: {row['hashes_per_second']:,} hashes/s "
            f"(keyed digest alone {row['keyed_digest_alone_hashes_per_second']:,}/s, "
            f"ratio {row['ratio_to_digest_alone']}), peak RSS {row['peak_rss_mb']} MB"
            + (f"; --replace: {row['replace_seconds']} s" if "replace_seconds" in row else "")
        )
    # SQLite alone is figure (d); with PostgreSQL beside it, issue 17's comparison.
    name = "import_rate" if args.stores == ["sqlite"] else "import_rate_stores"
    if args.replace:
        name = "import_replace"
    write_result(name, {"runs": rows, "target_hashes_per_second": 500_000})


if __name__ == "__main__":
    main()
