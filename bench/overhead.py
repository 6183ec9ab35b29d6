"""What switching one setting on costs the check endpoints, measured as the console and
metrics benchmarks do: two `hashcheck serve` processes on one deployment (1 worker each),
one with the setting and one without, driven by wrk (native) with legacy MD5 checks in
alternating rounds, since this VM's speed drifts from one minute to the next; each round's
ratio is on over off measured right after each other, and the figure is the median round's.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from bench.common import deploy, hashcheck_server, legacy_bodies, run_wrk, write_result


def arguments(description: str | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=5, help="per measurement")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    return parser.parse_args()


def compare(
    args: argparse.Namespace,
    setting: dict[str, str],
    *,
    beside: Callable[[str], AbstractContextManager[Any]] = lambda _: nullcontext(),
) -> tuple[list[dict[str, float]], float]:
    """The rounds (off, on, ratio) and the median ratio; ``beside(base URL of the node with
    the setting)`` runs alongside the measurements (a scraper, say)."""
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        deployment = deploy(scratch / "deployment", args.entries)
        bodies = legacy_bodies(deployment)
        with (
            hashcheck_server(deployment) as off_base,
            hashcheck_server(deployment, settings=setting) as on_base,
            beside(on_base),
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
    return rounds, statistics.median(r["ratio"] for r in rounds)


def report(
    name: str,
    what: str,
    args: argparse.Namespace,
    rounds: list[dict[str, float]],
    ratio: float,
    target: float,
    **extra: Any,
) -> None:
    """Print the rounds and write bench/results/<name>.json."""
    for number, r in enumerate(rounds, 1):
        print(
            f"round {number}: {what} off {r['off']:>9,.0f} checks/s, on {r['on']:>9,.0f} "
            f"checks/s, ratio {r['ratio']:.3f}"
        )
    print(f"median ratio {what} on / off: {ratio:.3f} (target >= {target})")
    write_result(
        name,
        {
            "entries": args.entries,
            "seconds": args.seconds,
            "rounds": [{k: round(v, 3) for k, v in r.items()} for r in rounds],
            "median_ratio_on_to_off": round(ratio, 3),
            "target_ratio_at_least": target,
            **extra,
        },
    )
