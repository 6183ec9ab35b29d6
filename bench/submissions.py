"""Benchmark (issue 15): self-submissions a node takes per second on one worker, and what
they do to the checks beside them.

A `hashcheck serve` process (1 worker, SQLite, self-submission on, flood limits off) on
loopback with 10,000 listed MD5s. A client sends legacy checks one after another on one
connection: first alone (the reference, same run), then while 8 connections post
submissions of 10 hashes each (three files' MD5, SHA-1 and SHA-256, and one PDQ hash) as
fast as they are answered, each a new case with its own slow PIN hash and its own store
transaction. Prints and writes the submissions per second and the legacy check's median and
p99 in both phases. Loopback only; it stops by itself.

    .venv/bin/python -m bench.submissions [--submissions N] [--checks N]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.auth_flood import checks, p99
from bench.common import deploy, exchange, hashcheck_server, post_request, write_result

CONNECTIONS = 8
SETTINGS = {
    "HASHCHECK_SUBMISSIONS": "true",
    "HASHCHECK_SUBMISSIONS_PER_SOURCE_PER_HOUR": "0",
    "HASHCHECK_SUBMISSIONS_PER_SECOND": "0",
}


def a_submission() -> dict[str, Any]:
    """Three files of exact hashes, the first also with a PDQ hash: 10 hashes."""
    files: list[dict[str, Any]] = []
    for _ in range(3):
        data = os.urandom(16)
        files.append(
            {
                "md5": hashlib.md5(data, usedforsecurity=False).hexdigest(),
                "sha1": hashlib.sha1(data, usedforsecurity=False).hexdigest(),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        )
    files[0].update(pdq=os.urandom(32).hex(), pdq_quality=90)
    return {"nonce": os.urandom(12).hex(), "files": files}


def submit(
    base: str, count: int, done: list[float], lock: threading.Lock, every: float = 0.0
) -> None:
    """Post ``count`` submissions on one connection, one each ``every`` seconds (0: as fast
    as they are answered); each answer's time goes to ``done``. The requests are made
    beforehand and sent over a plain socket (`bench.common.exchange`)."""
    host, port = base.removeprefix("http://").split(":")
    requests = [
        post_request(f"{host}:{port}", "/v2/submissions", json.dumps(a_submission()).encode())
        for _ in range(count)
    ]
    with socket.create_connection((host, int(port)), timeout=60) as connection:
        reader = connection.makefile("rb")
        start = time.perf_counter()
        for number, request in enumerate(requests):
            # Pacing the load itself (an open-loop sender), not waiting for the server.
            ahead = start + number * every - time.perf_counter()
            if ahead > 0:
                time.sleep(ahead)
            status, _ = exchange(connection, reader, request)
            if status != 201:
                raise RuntimeError(f"a submission was answered {status}")
            with lock:
                done.append(time.perf_counter())


def run(base: str, count: int, rate: float) -> tuple[int, float]:
    """``count`` submissions over `CONNECTIONS` connections at ``rate`` a second in all (0:
    unpaced), from a process of their own: their threads would otherwise share the
    interpreter with the checks being timed, and the checks would time the client's wait for
    it. (answered, seconds)."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(_run, (base, count, rate))


def _run(base: str, count: int, rate: float) -> tuple[int, float]:
    done: list[float] = []
    lock = threading.Lock()
    every = CONNECTIONS / rate if rate else 0.0
    senders = [
        threading.Thread(target=submit, args=(base, count // CONNECTIONS, done, lock, every))
        for _ in range(CONNECTIONS)
    ]
    started = time.perf_counter()
    for thread in senders:
        thread.start()
    for thread in senders:
        thread.join(timeout=900)
    return len(done), max(done) - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--submissions", type=int, default=4000)
    parser.add_argument("--rate", type=float, default=200.0, help="of the paced phase")
    parser.add_argument("--checks", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        deployment = deploy(Path(folder) / "deployment", 10_000)
        with hashcheck_server(deployment, settings=SETTINGS) as base:
            checks(base, 300)  # signed in and warm
            submit(base, 20, [], threading.Lock())  # the list and its categories exist
            answered, seconds = run(base, args.submissions, 0.0)
            quiet = checks(base, args.checks)
            stop = threading.Event()
            during: list[float] = []
            checker = threading.Thread(
                target=lambda: during.extend(checks(base, 10**9, stop)), daemon=True
            )
            checker.start()
            paced, paced_seconds = run(base, args.submissions, args.rate)
            stop.set()
            checker.join(timeout=60)
    capacity = answered / seconds
    sustained = paced / paced_seconds
    result = {
        "hashes_per_submission": 10,
        "connections": CONNECTIONS,
        "unpaced_submissions": answered,
        "capacity_submissions_per_second": round(capacity, 1),
        "paced_rate_asked": args.rate,
        "paced_submissions": paced,
        "sustained_submissions_per_second": round(sustained, 1),
        "legacy_quiet_median_ms": round(statistics.median(quiet), 3),
        "legacy_quiet_p99_ms": round(p99(quiet), 3),
        "legacy_during_checks": len(during),
        "legacy_during_median_ms": round(statistics.median(during), 3),
        "legacy_during_p99_ms": round(p99(during), 3),
        "ratio_p99_during_to_quiet": round(p99(during) / p99(quiet), 2),
        "targets": {"submissions_per_second_at_least": 200, "p99_ratio_at_most": 2.0},
    }
    print(
        f"capacity: {capacity:.0f} submissions of 10 hashes/s on one worker (unpaced, "
        f"{answered}); paced at {args.rate:g}/s: {sustained:.0f}/s sustained; legacy check "
        f"alone: median {result['legacy_quiet_median_ms']} ms, p99 "
        f"{result['legacy_quiet_p99_ms']} ms; during the paced submissions: median "
        f"{result['legacy_during_median_ms']} ms, p99 {result['legacy_during_p99_ms']} ms "
        f"(ratio {result['ratio_p99_during_to_quiet']})"
    )
    write_result("submissions", result)


if __name__ == "__main__":
    main()
