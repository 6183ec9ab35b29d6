"""Benchmark (issue 12): what switching the console on costs the check endpoints.

Two `hashcheck serve` processes on one deployment (1M entries, 1 worker each), one with
`HASHCHECK_CONSOLE=true` and one without, driven by wrk (native) with legacy MD5 checks in
alternating rounds, since this VM's speed drifts from one minute to the next; each round's
ratio is console-on over console-off measured right after each other, and the figure is the
median round's. The target: within 5%. Writes bench/results/console_overhead.json.

    .venv/bin/python -m bench.console_overhead [--entries N] [--seconds S] [--rounds R]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path
from typing import Any

from bench.common import deploy, hashcheck_server, legacy_bodies, run_wrk, write_result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=5, help="per measurement")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        deployment = deploy(scratch / "deployment", args.entries)
        bodies = legacy_bodies(deployment)
        with (
            hashcheck_server(deployment) as off_base,
            hashcheck_server(deployment, settings={"HASHCHECK_CONSOLE": "true"}) as on_base,
        ):
            urls = {"off": off_base + "/v1/check/md5", "on": on_base + "/v1/check/md5"}
            for url in urls.values():
                run_wrk(url, bodies, seconds=2, connections=args.connections, scratch=scratch)
            rounds: list[dict[str, float]] = []
            for _ in range(args.rounds):
                measured = {
                    name: run_wrk(
                        url,
                        bodies,
                        seconds=args.seconds,
                        connections=args.connections,
                        scratch=scratch,
                    ).requests_per_second
                    for name, url in urls.items()
                }
                rounds.append({**measured, "ratio": measured["on"] / measured["off"]})
    ratio = statistics.median(r["ratio"] for r in rounds)
    result: dict[str, Any] = {
        "entries": args.entries,
        "seconds": args.seconds,
        "rounds": [{k: round(v, 3) for k, v in r.items()} for r in rounds],
        "median_ratio_on_to_off": round(ratio, 3),
        "target_ratio_at_least": 0.95,
    }
    for number, r in enumerate(rounds, 1):
        print(
            f"round {number}: console off {r['off']:>9,.0f} checks/s, on {r['on']:>9,.0f} "
            f"checks/s, ratio {r['ratio']:.3f}"
        )
    print(f"median ratio console on / off: {ratio:.3f} (target >= 0.95)")
    write_result("console_overhead", result)


if __name__ == "__main__":
    main()
