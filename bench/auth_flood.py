"""Benchmark (issue 14): a good client's checks during a burst of wrong secrets.

A `hashcheck serve` process on loopback (10,000 entries). A client that signed in before
sends legacy checks one after another on one connection: first alone (the reference, same
run), then while 2,000 sign-in attempts with wrong secrets, each a different one (so none is
answered from the cache), arrive over 32 concurrent connections. Prints and writes the good
client's median and p99 in both phases, and what the wrong attempts were answered (401 while
each was hashed, 429 once the address backs off). Target: p99 under 10 ms during the burst.
All on loopback, so the burst and the good client share one source address.

    .venv/bin/python -m bench.auth_flood [--attempts N] [--checks N]
"""

from __future__ import annotations

import argparse
import base64
import statistics
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from bench.common import CLIENT_ID, CLIENT_SECRET, deploy, hashcheck_server, write_result

TEST_MD5 = "258228aed7b04862fb4f41da4cde67e5"


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def checks(base: str, count: int, stop: threading.Event | None = None) -> list[float]:
    """Milliseconds per legacy check, ``count`` of them (or until ``stop``), one connection."""
    taken: list[float] = []
    headers = {"Authorization": basic(CLIENT_ID, CLIENT_SECRET)}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        while len(taken) < count and not (stop is not None and stop.is_set()):
            started = time.perf_counter()
            answer = client.post("/v1/test/check/md5", content=TEST_MD5)
            taken.append((time.perf_counter() - started) * 1000)
            if answer.text != "true":
                raise RuntimeError(f"the good client was answered {answer.status_code}")
    return taken


def flood(base: str, attempts: int) -> tuple[Counter[int], float]:
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    with httpx.Client(base_url=base, timeout=60, limits=limits) as client:

        def attempt(number: int) -> int:
            wrong = {"Authorization": basic(CLIENT_ID, f"wrong-{number}")}
            return client.post("/v1/check/md5", content=TEST_MD5, headers=wrong).status_code

        started = time.perf_counter()
        with ThreadPoolExecutor(32) as pool:
            answered = Counter(pool.map(attempt, range(attempts)))
        return answered, time.perf_counter() - started


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--attempts", type=int, default=2000)
    parser.add_argument("--checks", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        deployment = deploy(Path(folder) / "deployment", 10_000)
        with hashcheck_server(deployment) as base:
            checks(base, 200)  # signed in: the good client is in the cache from here on
            quiet = checks(base, args.checks)
            stop = threading.Event()
            during: list[float] = []
            good = threading.Thread(
                target=lambda: during.extend(checks(base, 10**9, stop)), daemon=True
            )
            good.start()
            answered, seconds = flood(base, args.attempts)
            stop.set()
            good.join(timeout=60)
    result = {
        "attempts": args.attempts,
        "flood_seconds": round(seconds, 2),
        "flood_answers": {str(k): v for k, v in sorted(answered.items())},
        "quiet_checks": len(quiet),
        "quiet_median_ms": round(statistics.median(quiet), 2),
        "quiet_p99_ms": round(p99(quiet), 2),
        "during_checks": len(during),
        "during_median_ms": round(statistics.median(during), 2),
        "during_p99_ms": round(p99(during), 2),
        "ratio_p99_during_to_quiet": round(p99(during) / p99(quiet), 2),
        "target_p99_ms": 10,
    }
    print(
        f"{args.attempts} wrong secrets in {seconds:.2f} s, answered {dict(answered)}; "
        f"the good client: quiet median {result['quiet_median_ms']} ms, p99 "
        f"{result['quiet_p99_ms']} ms; during the burst median {result['during_median_ms']} "
        f"ms, p99 {result['during_p99_ms']} ms ({len(during)} checks; ratio "
        f"{result['ratio_p99_during_to_quiet']}; target p99 < 10 ms)"
    )
    write_result("auth_flood", result)


if __name__ == "__main__":
    main()
