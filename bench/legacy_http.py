"""Benchmark (a): legacy single checks over HTTP against the server stack's own ceiling.

Runs, in one go on loopback: hashcheck (1 worker, 1M entries) and a minimal app on the same
uvicorn/httptools/uvloop stack that answers a fixed `false`; wrk (native, one thread) drives
each to its maximum in alternating rounds (the ratio is the median round's), then both at half
of hashcheck's rate for latency. Prints the figures and writes bench/results/legacy_http.json.

    .venv/bin/python -m bench.legacy_http [--entries N] [--seconds S] [--rounds R]
"""

from __future__ import annotations

import argparse
import math
import tempfile
from pathlib import Path
from typing import Any

from bench.common import (
    ceiling_server,
    deploy,
    hashcheck_server,
    legacy_bodies,
    run_wrk,
    write_result,
)


def half_rate(
    url: str, bodies: list[str], rate: float, seconds: int, scratch: Path
) -> dict[str, Any]:
    # wrk paces each connection with a fixed pause; enough connections at 20 ms reach the rate.
    pause_ms = 20.0
    connections = max(1, math.ceil(rate * pause_ms / 1000))
    result = run_wrk(
        url, bodies, seconds=seconds, connections=connections, delay_ms=pause_ms, scratch=scratch
    )
    return {"target_rps": round(rate), "connections": connections, **result.as_dict()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=6, help="per measurement")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        deployment = deploy(scratch / "deployment", args.entries)
        bodies = legacy_bodies(deployment)
        results: dict[str, Any] = {
            "entries": args.entries,
            "seconds": args.seconds,
            "rounds": args.rounds,
        }
        with ceiling_server() as ceiling_base, hashcheck_server(deployment) as hashcheck_base:
            ceiling_url = ceiling_base + "/v1/check/md5"
            hashcheck_url = hashcheck_base + "/v1/check/md5"
            for url in (ceiling_url, hashcheck_url):
                run_wrk(url, bodies, seconds=2, connections=args.connections, scratch=scratch)
            # This VM's throughput drifts by a quarter from one minute to the next: the two
            # servers are measured in alternating rounds and the ratio is the median of the
            # rounds' ratios, each taken against the ceiling measured right before it.
            rounds: list[dict[str, Any]] = []
            for _ in range(args.rounds):
                ceiling = run_wrk(
                    ceiling_url,
                    bodies,
                    seconds=args.seconds,
                    connections=args.connections,
                    scratch=scratch,
                )
                ours = run_wrk(
                    hashcheck_url,
                    bodies,
                    seconds=args.seconds,
                    connections=args.connections,
                    scratch=scratch,
                )
                rounds.append(
                    {
                        "ceiling": ceiling.as_dict(),
                        "hashcheck": ours.as_dict(),
                        "ratio": round(ours.requests_per_second / ceiling.requests_per_second, 3),
                    }
                )
            middle = sorted(rounds, key=lambda r: r["ratio"])[len(rounds) // 2]
            results["rounds_measured"] = rounds
            results["ceiling_max"] = middle["ceiling"]
            results["hashcheck_max"] = middle["hashcheck"]
            results["ratio_to_ceiling"] = middle["ratio"]
            results["ratio_range"] = [
                min(r["ratio"] for r in rounds),
                max(r["ratio"] for r in rounds),
            ]
            rate = middle["hashcheck"]["requests_per_second"] / 2
            results["ceiling_half_rate"] = half_rate(
                ceiling_url, bodies, rate, args.seconds, scratch
            )
            results["hashcheck_half_rate"] = half_rate(
                hashcheck_url, bodies, rate, args.seconds, scratch
            )
        results["targets"] = {"ratio_to_ceiling": 0.75, "p99_ms_at_half_rate": 10.0}
    for number, measured in enumerate(results["rounds_measured"], start=1):
        print(
            f"round {number}: ceiling {measured['ceiling']['requests_per_second']:>7.0f} req/s, "
            f"hashcheck {measured['hashcheck']['requests_per_second']:>7.0f} req/s, "
            f"ratio {measured['ratio']}"
        )
    print(
        f"ceiling:   {results['ceiling_max']['requests_per_second']:>9.0f} req/s  p99 {results['ceiling_max']['p99_ms']:.2f} ms"
    )
    print(
        f"hashcheck: {results['hashcheck_max']['requests_per_second']:>9.0f} req/s  p99 {results['hashcheck_max']['p99_ms']:.2f} ms"
    )
    low, high = results["ratio_range"]
    print(
        f"ratio to ceiling: {results['ratio_to_ceiling']} (median of {args.rounds} rounds, "
        f"range {low}-{high}; target >= 0.75)"
    )
    half = results["hashcheck_half_rate"]
    print(
        f"at half rate ({half['requests_per_second']:.0f} req/s): p50 {half['p50_ms']:.2f} ms, p99 {half['p99_ms']:.2f} ms (target <= 10 ms)"
    )
    write_result("legacy_http", results)


if __name__ == "__main__":
    main()
