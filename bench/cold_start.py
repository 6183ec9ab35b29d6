"""Benchmark (issue 17, item 2): a node's cold start without index files, on SQLite and on
PostgreSQL, in one run.

For each store: a deployment of N entries (default 10M) delivered through the store's own
import (`import_entries`, random keyed digests, a plain list: each hash an item), then
`hashcheck serve --workers 1` started with an empty index folder — a new node, or one that
lost its disk — timed from process start until its worker is ready (it has read every entry
from the store in bulk, built the index and written the files); then once more with the
files in place (a restart). The reference, in the same run on the same store: the generic
row-by-row read every backend had before the bulk reads (one Python tuple per row through
the driver), timed over the first `--reference-rows` entries and given per entry.
Writes bench/results/cold_start.json.

    .venv/bin/python -m bench.cold_start [--entries 10000000] [--stores sqlite postgres]
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import BenchDeployment, postgres_server, write_result
from bench.node_memory import start
from hashcheck.admin.setup import initialise
from hashcheck.store.open import open_store
from hashcheck.store.sql import SqlStore

STEP = 1_000_000


@contextlib.contextmanager
def store_url(kind: str, folder: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'hashcheck.db'}"
        return
    with postgres_server(folder / "pg") as server:
        yield str(server.get_uri())


def build(url: str, folder: Path, entries: int) -> float:
    """A deployment of ``entries`` random digests on one list; the seconds it took."""
    store = open_store(url)
    started = time.monotonic()
    try:
        initialise(store, folder / "list.key")
        hash_list = store.add_list("bench", "benchmark", "", actor="bench")
        baseline = next(c.category_id for c in store.categories() if c.name == "baseline")
        rng = np.random.default_rng(entries)
        store.import_entries(
            hash_list.list_id,
            (
                (baseline, rng.bytes(16 * min(STEP, entries - done)))
                for done in range(0, entries, STEP)
            ),
            source="bench",
            actor="bench",
        )
    finally:
        store.close()
    return time.monotonic() - started


def row_by_row(url: str, rows: int) -> float:
    """Seconds per entry of the generic reader (a tuple per row), over the first ``rows``."""
    store = open_store(url)
    try:
        assert isinstance(store, SqlStore)
        with store._tx(write=False) as cur:
            top = cur.execute(
                store._sql("SELECT max(id) FROM (SELECT id FROM entries ORDER BY id LIMIT ?) t"),
                (rows,),
            ).fetchone()[0]
            started = time.monotonic()
            cur.execute(
                store._sql(
                    "SELECT id, digest, list_id, category_id, batch_id, item_id FROM entries "
                    "WHERE id <= ? ORDER BY id"
                ),
                (top,),
            )
            count = 0
            while batch := cur.fetchmany(10_000):
                count += len(batch)
            return (time.monotonic() - started) / count
    finally:
        store.close()


def measure(kind: str, entries: int, reference_rows: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="hashcheck-bench-cold-") as name:
        folder = Path(name)
        with store_url(kind, folder) as url:
            built = build(url, folder, entries)
            env = BenchDeployment(folder, url, folder / "list.key", []).env()
            shutil.rmtree(folder / "index", ignore_errors=True)
            first = start(env, 1)
            restart = start(env, 1)
            per_entry = row_by_row(url, min(reference_rows, entries))
    reference = per_entry * entries
    return {
        "entries": entries,
        "build_seconds": round(built, 1),
        "cold_start_without_files_seconds": first["cold_start_seconds"],
        "restart_with_files_seconds": restart["cold_start_seconds"],
        "row_by_row_read_seconds": round(reference, 1),
        "row_by_row_rows_timed": min(reference_rows, entries),
        "ratio_to_row_by_row_read": round(first["cold_start_seconds"] / reference, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=10_000_000)
    parser.add_argument("--stores", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument("--reference-rows", type=int, default=2_000_000)
    args = parser.parse_args()
    results: dict[str, Any] = {"stores": {}}
    for kind in args.stores:
        row = measure(kind, args.entries, args.reference_rows)
        results["stores"][kind] = row
        print(
            f"{kind}: {args.entries:,} entries (built in {row['build_seconds']} s): ready "
            f"without index files in {row['cold_start_without_files_seconds']} s, with them "
            f"{row['restart_with_files_seconds']} s | reading row by row would take "
            f"{row['row_by_row_read_seconds']} s (ratio {row['ratio_to_row_by_row_read']})",
            flush=True,
        )
    results["targets"] = {"cold_start_without_files_seconds_at_100m": 60}
    write_result(f"cold_start_{args.entries // 1_000_000}m", results)


if __name__ == "__main__":
    main()
