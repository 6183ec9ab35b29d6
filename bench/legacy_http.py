"""Benchmark (a): legacy single checks over HTTP against the server stack's own ceiling.

Runs, in one go on loopback: hashcheck (1 worker, 1M entries) and a minimal app on the same
uvicorn/httptools/uvloop stack that answers a fixed `false`; wrk (native, one thread) drives
each to its maximum, then at half of that rate for latency. Prints the figures and writes
bench/results/legacy_http.json.

    .venv/bin/python -m bench.legacy_http [--entries N] [--seconds S]
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
    random_md5s,
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


def measure(
    url: str, bodies: list[str], args: argparse.Namespace, scratch: Path
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Warm up, then the maximum rate, then latency at half of it."""
    run_wrk(url, bodies, seconds=2, connections=args.connections, scratch=scratch)
    maximum = run_wrk(
        url, bodies, seconds=args.seconds, connections=args.connections, scratch=scratch
    )
    half = half_rate(url, bodies, maximum.requests_per_second / 2, args.seconds, scratch)
    return maximum.as_dict(), half


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        deployment = deploy(scratch / "deployment", args.entries)
        # Half listed, half not, as in a scan that finds something now and then.
        listed = [raw.hex() for raw in deployment.listed[:500]]
        unlisted = [raw.hex() for raw in random_md5s(500, seed=99)]
        bodies = [h for pair in zip(listed, unlisted, strict=True) for h in pair]
        results: dict[str, Any] = {"entries": args.entries, "seconds": args.seconds}
        with ceiling_server() as base:
            ceiling = measure(base + "/v1/check/md5", bodies, args, scratch)
            results["ceiling_max"], results["ceiling_half_rate"] = ceiling
        with hashcheck_server(deployment) as base:
            results["hashcheck_max"], results["hashcheck_half_rate"] = measure(
                base + "/v1/check/md5", bodies, args, scratch
            )
        results["ratio_to_ceiling"] = round(
            results["hashcheck_max"]["requests_per_second"]
            / results["ceiling_max"]["requests_per_second"],
            3,
        )
        results["targets"] = {"ratio_to_ceiling": 0.75, "p99_ms_at_half_rate": 10.0}
    print(
        f"ceiling:   {results['ceiling_max']['requests_per_second']:>9.0f} req/s  p99 {results['ceiling_max']['p99_ms']:.2f} ms"
    )
    print(
        f"hashcheck: {results['hashcheck_max']['requests_per_second']:>9.0f} req/s  p99 {results['hashcheck_max']['p99_ms']:.2f} ms"
    )
    print(f"ratio to ceiling: {results['ratio_to_ceiling']} (target >= 0.75)")
    half = results["hashcheck_half_rate"]
    print(
        f"at half rate ({half['requests_per_second']:.0f} req/s): p50 {half['p50_ms']:.2f} ms, p99 {half['p99_ms']:.2f} ms (target <= 10 ms)"
    )
    write_result("legacy_http", results)


if __name__ == "__main__":
    main()
