"""Benchmark (issue 14): cheap checks while the most expensive allowed batches run.

A `hashcheck serve` process on loopback with 10,000 MD5s and 100,000 PDQ hashes. A client
sends legacy checks one after another on one connection: first alone (the reference, same
run), then while 4 other clients each post v2 batches of 10,000 PDQ hashes (the largest
batch allowed) one after another. Prints and writes the legacy check's median and p99 in both
phases and how long the PDQ batches took. The four senders are processes of their own: as
threads of the checker's process their JSON work shared its interpreter, and once batches
took 0.8 s instead of 19 s that alone put milliseconds on the checks' tail. Perceptual batches are answered off the event loop,
one per client at a time (`api.app`), their searches in processes at nice +10
(`node.searchers`); `--perceptual-processes 0` measures the same with the searches on the
worker's threads instead (what the service did before).

    .venv/bin/python -m bench.pdq_load [--checks N] [--batch N] [--pdq N]
        [--perceptual-processes N]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.auth_flood import basic, checks, p99
from bench.common import deploy, hashcheck_server, write_result
from hashcheck.admin import clients, importing
from hashcheck.hashes.keyed import Digester
from hashcheck.hashes.keyfile import read_key_file
from hashcheck.hashes.sealing import Sealer
from hashcheck.store.open import open_store


def list_pdq(deployment_url: str, key_file: Path, count: int, folder: Path) -> None:
    key = read_key_file(key_file)
    source = folder / "pdq.txt"
    source.write_text("".join(os.urandom(32).hex() + "\n" for _ in range(count)))
    store = open_store(deployment_url)
    try:
        importing.import_pdq_file(
            store, Digester(key), Sealer(key), "bench", source, actor="bench", category="baseline"
        )
    finally:
        store.close()


HEAVY = [(f"heavy-{n}", f"heavy-secret-{n}") for n in range(1, 5)]  # loopback only


def heavy_clients(deployment_url: str) -> None:
    """Four more clients: each sends PDQ batches of its own (a client's batches are answered
    one at a time, so four clients are four batches at once)."""
    store = open_store(deployment_url)
    try:
        for client_id, secret in HEAVY:
            clients.add_client(store, client_id, actor="bench", client_id=client_id, secret=secret)
    finally:
        store.close()


SENDING_S = 900  # a sender stops by itself after this, whatever became of the benchmark


def pdq_batches(
    base: str, size: int, stop: Any, took: Any, who: tuple[str, str], deadline: float
) -> None:
    """In a process of its own (its JSON work must not share the checker's interpreter):
    batches one after another until ``stop`` is set or ``deadline`` (monotonic) passes; each
    one's seconds go to ``took``."""
    body = {"hashes": [{"algorithm": "pdq", "hash": os.urandom(32).hex()} for _ in range(size)]}
    headers = {"Authorization": basic(*who)}
    with httpx.Client(base_url=base, headers=headers, timeout=300) as client:
        while not stop.is_set() and time.monotonic() < deadline:
            started = time.perf_counter()
            answer = client.post("/v2/check", json=body)
            if answer.status_code != 200:
                raise RuntimeError(f"a PDQ batch was answered {answer.status_code}")
            took.put(time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checks", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--pdq", type=int, default=100_000)
    parser.add_argument("--perceptual-processes", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        deployment = deploy(Path(folder) / "deployment", 10_000)
        list_pdq(deployment.url, deployment.key_file, args.pdq, Path(folder))
        heavy_clients(deployment.url)
        # Each client's work budget (HASHCHECK_CLIENT_WORK_PER_SECOND) would let one full PDQ
        # batch through every 10 s; lifted here to keep all four batches going.
        settings = {
            "HASHCHECK_CLIENT_WORK_PER_SECOND": "0",
            "HASHCHECK_PERCEPTUAL_PROCESSES": str(args.perceptual_processes),
        }
        with hashcheck_server(deployment, settings=settings) as base:
            checks(base, 200)  # signed in and warm
            quiet = checks(base, args.checks)
            context = multiprocessing.get_context("spawn")
            stop = context.Event()
            done = context.Queue()
            heavy = [
                # Daemons: they go when this process ends, and stop by themselves at a deadline.
                context.Process(
                    target=pdq_batches,
                    args=(base, args.batch, stop, done, who, time.monotonic() + SENDING_S),
                    daemon=True,
                )
                for who in HEAVY
            ]
            for process in heavy:
                process.start()
            took = [done.get(timeout=600)]  # a first batch is in: all four are under way
            during = checks(base, args.checks)
            stop.set()
            for process in heavy:
                process.join(timeout=600)
            while not done.empty():
                took.append(done.get())
    result = {
        "pdq_entries": args.pdq,
        "pdq_batch": args.batch,
        "concurrent_pdq_clients": 4,
        "perceptual_processes": args.perceptual_processes,
        "pdq_batches_done": len(took),
        "pdq_batch_median_s": round(statistics.median(took), 2),
        "legacy_quiet_median_ms": round(statistics.median(quiet), 2),
        "legacy_quiet_p99_ms": round(p99(quiet), 2),
        "legacy_during_median_ms": round(statistics.median(during), 2),
        "legacy_during_p99_ms": round(p99(during), 2),
        "ratio_p99_during_to_quiet": round(p99(during) / p99(quiet), 2),
    }
    print(
        f"legacy check alone: median {result['legacy_quiet_median_ms']} ms, p99 "
        f"{result['legacy_quiet_p99_ms']} ms; during 4 concurrent {args.batch}-hash PDQ batches "
        f"({len(took)} done, median {result['pdq_batch_median_s']} s each): median "
        f"{result['legacy_during_median_ms']} ms, p99 {result['legacy_during_p99_ms']} ms "
        f"(ratio {result['ratio_p99_during_to_quiet']})"
    )
    write_result("pdq_load" if args.perceptual_processes else "pdq_load_threads", result)


if __name__ == "__main__":
    main()
