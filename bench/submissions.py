"""Benchmark (issue 15): self-submissions a node takes per second on one worker, and what
they do to the checks beside them.

A `hashcheck serve` process (1 worker, SQLite, self-submission on, flood limits off) on
loopback with 10,000 listed MD5s. Submissions are of 10 hashes each (three files' MD5, SHA-1
and SHA-256, and one PDQ hash), each a new case with its own slow PIN hash, posted over 8
connections: first as fast as they are answered (the capacity), then paced at ``--rate``.

The checks beside them (the target's figure) are legacy checks at a steady ``--check-rate``
on one connection, sent on schedule whatever the answers do, each timed from when it was due
(a late answer delays the next send, and that wait counts: no coordinated omission): alone
(the reference, same run), then during the paced submissions. The same is then measured with
checks sent back to back, which take whatever CPU the machine has left: on two cores the
checking client and the worker's checks take one, and the submissions need more than the
other (their figure is reported, not the target's).

Prints and writes the submissions per second and the checks' median and p99 in each phase.
Loopback only; it stops by itself.

    .venv/bin/python -m bench.submissions [--submissions N] [--rate R] [--check-rate R]
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

from bench.auth_flood import TEST_MD5, basic, checks, p99
from bench.common import (
    CLIENT_ID,
    CLIENT_SECRET,
    deploy,
    exchange,
    hashcheck_server,
    post_request,
    write_result,
)

CONNECTIONS = 8
SENDER_NICENESS = 5
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
    base: str,
    count: int,
    done: list[tuple[float, float]],
    lock: threading.Lock,
    every: float = 0.0,
    start: float | None = None,
) -> None:
    """Post ``count`` submissions on one connection, one each ``every`` seconds (0: as fast
    as they are answered); when each was due and answered goes to ``done``. The requests are made
    beforehand and sent over a plain socket (`bench.common.exchange`)."""
    host, port = base.removeprefix("http://").split(":")
    requests = [
        post_request(f"{host}:{port}", "/v2/submissions", json.dumps(a_submission()).encode())
        for _ in range(count)
    ]
    with socket.create_connection((host, int(port)), timeout=60) as connection:
        reader = connection.makefile("rb")
        start = time.perf_counter() if start is None else start
        for number, request in enumerate(requests):
            # Pacing the load itself (an open-loop sender), not waiting for the server.
            due = start + number * every if every else max(start, time.perf_counter())
            ahead = due - time.perf_counter()
            if ahead > 0:
                time.sleep(ahead)
            status, _ = exchange(connection, reader, request)
            if status != 201:
                raise RuntimeError(f"a submission was answered {status}")
            with lock:
                done.append((due, time.perf_counter()))


def paced_checks(base: str, rate: float, count: int, stop: Any = None) -> list[float]:
    """Milliseconds per legacy check, each timed from when it was due: ``count`` of them at
    ``rate`` a second on one connection (or until ``stop`` is set)."""
    host, port = base.removeprefix("http://").split(":")
    request = post_request(
        f"{host}:{port}",
        "/v1/test/check/md5",
        TEST_MD5.encode(),
        {"Authorization": basic(CLIENT_ID, CLIENT_SECRET)},
    )
    taken: list[float] = []
    timely()
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        reader = connection.makefile("rb")
        start = time.perf_counter()
        for number in range(count):
            if stop is not None and stop.is_set():
                break
            due = start + number / rate
            ahead = due - time.perf_counter()
            if ahead > 0:
                time.sleep(ahead)
            status, body = exchange(connection, reader, request)
            taken.append((time.perf_counter() - due) * 1000)
            if status != 200 or body != b"true":
                raise RuntimeError(f"a check was answered {status} {body!r}")
    return taken


def timely() -> bool:
    """This process (the paced checker: the measuring instrument) woken on time: real-time
    priority where it may have it. On two cores shared with the senders, its own wake-ups
    otherwise came up to 12 ms late, which its figures counted as the node's."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
    except (OSError, AttributeError):
        return False
    return True


def checking(base: str, rate: float) -> tuple[Any, Any, Any, Any]:
    """Checks at ``rate`` (0: back to back) in a process of their own until `stopped`: their
    threads would otherwise share an interpreter with the submissions' senders."""
    context = multiprocessing.get_context("spawn")
    manager = context.Manager()
    stop = manager.Event()
    pool = context.Pool(1)
    return stop, pool, manager, pool.apply_async(_checking, (base, rate, stop))


def _checking(base: str, rate: float, stop: Any) -> list[float]:
    if rate:
        return paced_checks(base, rate, 10**9, stop)
    return checks(base, 10**9, stop)


def stopped(running: tuple[Any, Any, Any, Any]) -> list[float]:
    """The milliseconds of each check made since `checking` started them."""
    stop, pool, manager, result = running
    stop.set()
    try:
        taken: list[float] = result.get(timeout=60)
    finally:
        pool.close()
        pool.join()
        manager.shutdown()
    return taken


def run(base: str, count: int, rate: float) -> tuple[int, float, list[float]]:
    """``count`` submissions over `CONNECTIONS` connections at ``rate`` a second in all (0:
    unpaced), from a process of their own: their threads would otherwise share the
    interpreter with the checks being timed, and the checks would time the client's wait for
    it. (answered, seconds)."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(_run, (base, count, rate))


def _run(base: str, count: int, rate: float) -> tuple[int, float, list[float]]:
    # The senders stand for people's browsers, which are not on the node's cores: below the
    # worker, above its writer (nice +10), so that what they cost the node is its own work.
    os.nice(SENDER_NICENESS)
    done: list[tuple[float, float]] = []
    lock = threading.Lock()
    every = CONNECTIONS / rate if rate else 0.0
    # The connections take turns (one submission every 5 ms at 200/s), as people arriving
    # one after another would; all starting together, they came as bursts of 8 every 40 ms.
    started = time.perf_counter() + 1.0  # when every connection is open
    senders = [
        threading.Thread(
            target=submit,
            args=(base, count // CONNECTIONS, done, lock, every, started + k * every / CONNECTIONS),
        )
        for k in range(CONNECTIONS)
    ]
    for thread in senders:
        thread.start()
    for thread in senders:
        thread.join(timeout=900)
    waits = [(answered - due) * 1000 for due, answered in done]
    return len(done), max(answered for _, answered in done) - started, waits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--submissions", type=int, default=4000)
    parser.add_argument("--rate", type=float, default=200.0, help="of the paced phase")
    parser.add_argument("--check-rate", type=float, default=1000.0, help="checks a second")
    parser.add_argument("--checks", type=int, default=5000, help="of each quiet phase")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        deployment = deploy(Path(folder) / "deployment", 10_000)
        other = deploy(Path(folder) / "elsewhere", 10_000, seed=2)
        with (
            hashcheck_server(deployment, settings=SETTINGS) as base,
            hashcheck_server(other, settings=SETTINGS) as elsewhere,
        ):
            checks(base, 300)  # signed in and warm
            for node in (base, elsewhere):
                submit(node, 20, [], threading.Lock())  # the list and its categories exist
            answered, seconds, _ = run(base, args.submissions, 0.0)
            phases = {}
            # The last phase is the machine's share: the same submissions into a node of
            # its own (own store, own files) on the same cores, the checked node idle.
            for name, rate, target in (
                ("steady", args.check_rate, base),
                ("back_to_back", 0.0, base),
                ("steady_submissions_elsewhere", args.check_rate, elsewhere),
            ):
                quiet = stopped_after(base, rate, args.checks)
                running = checking(base, rate)
                paced, paced_seconds, waits = run(target, args.submissions, args.rate)
                phases[name] = figures(rate, quiet, stopped(running), paced / paced_seconds, waits)
    capacity = answered / seconds
    # What the node itself adds to the checks' tail, over what the same load costs them on
    # this machine when another node takes it.
    own_share = (
        phases["steady"]["during_p99_ms"] / phases["steady_submissions_elsewhere"]["during_p99_ms"]
    )
    result = {
        "hashes_per_submission": 10,
        "connections": CONNECTIONS,
        "unpaced_submissions": answered,
        "capacity_submissions_per_second": round(capacity, 1),
        "paced_rate_asked": args.rate,
        "paced_submissions": args.submissions,
        **phases,
        "ratio_p99_steady_to_submissions_elsewhere": round(own_share, 2),
        "targets": {
            "submissions_per_second_at_least": 200,
            "p99_ratio_at_most": 2.0,
            "measured_by": "steady",
        },
    }
    print(
        f"capacity: {capacity:.0f} submissions of 10 hashes/s on one worker (unpaced, "
        f"{answered}); submissions paced at {args.rate:g}/s:"
    )
    for name, figure in phases.items():
        print(
            f"  checks {name.replace('_', ' ')} ({figure['check_rate']}): "
            f"{figure['sustained_submissions_per_second']:.0f} submissions/s sustained "
            f"(answered in {figure['submission_answer_median_ms']} ms, p99 "
            f"{figure['submission_answer_p99_ms']} ms); "
            f"checks alone: median {figure['quiet_median_ms']} ms, p99 "
            f"{figure['quiet_p99_ms']} ms; during: median {figure['during_median_ms']} ms, "
            f"p99 {figure['during_p99_ms']} ms (ratio {figure['ratio_p99_during_to_quiet']}), "
            f"slowest {figure['during_max_ms']} ms"
        )
    print(
        f"the node's own share: steady checks' p99 beside its submissions over beside another "
        f"node's: {own_share:.2f}"
    )
    write_result("submissions", result)


def stopped_after(base: str, rate: float, count: int) -> list[float]:
    """The quiet phase's checks: ``count`` of them at ``rate`` (0: back to back), from a
    process of their own as in the phase beside the submissions."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        if rate:
            taken: list[float] = pool.apply(paced_checks, (base, rate, count))
        else:
            taken = pool.apply(checks, (base, count))
    return taken


def figures(
    rate: float, quiet: list[float], during: list[float], sustained: float, waits: list[float]
) -> dict[str, Any]:
    return {
        "check_rate": f"{rate:g}/s" if rate else "back to back",
        "sustained_submissions_per_second": round(sustained, 1),
        # From when each was due: a rate the node keeps up with keeps these bounded.
        "submission_answer_median_ms": round(statistics.median(waits), 1),
        "submission_answer_p99_ms": round(p99(waits), 1),
        "quiet_checks": len(quiet),
        "quiet_median_ms": round(statistics.median(quiet), 3),
        "quiet_p99_ms": round(p99(quiet), 3),
        "during_checks": len(during),
        "during_median_ms": round(statistics.median(during), 3),
        "during_p99_ms": round(p99(during), 3),
        "during_max_ms": round(max(during), 1),
        "ratio_p99_during_to_quiet": round(p99(during) / p99(quiet), 2),
    }


if __name__ == "__main__":
    main()
