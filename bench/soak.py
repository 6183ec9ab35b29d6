"""Soak (issue 14): half the measured capacity for 30 minutes, legacy and v2 checks mixed,
with an import and its rollback on the way.

A `hashcheck serve` process (1 worker) on a deployment of 1M entries. First its capacity,
unpaced, in the same run (wrk, legacy MD5 checks, 10 s); then, minute by minute, two paced
wrk processes side by side: legacy checks at 9/10 and v2 batches of 10 exact hashes at 1/10
of half that rate. At a third of the way an import of 10,000 new hashes runs through the CLI,
at two thirds its batch is rolled back. Each minute records errors (non-2xx answers and socket
errors: none may be), both p99s, and the server's resident memory. Targets: 0 errors,
resident memory at the end within 5% of the first minute's, every minute's p99 within 2x of
the first minute's. Loopback only; it stops by itself. Writes bench/results/soak.json.

    .venv/bin/python -m bench.soak [--minutes 30] [--entries N] [--minute-seconds S]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import (
    BenchDeployment,
    WrkResult,
    children,
    deploy,
    hashcheck_process,
    legacy_bodies,
    random_md5s,
    run_wrk,
    write_result,
)

CONNECTIONS = 16  # of the unpaced capacity run
LEGACY_SHARE = 0.9  # of the requests; the rest are v2 batches of 10 exact hashes


def resident_mib(pid: int) -> float:
    """Resident memory of the serve process and its workers, MiB."""
    total = 0
    for each in [pid, *children(pid)]:
        try:
            status = Path(f"/proc/{each}/status").read_text()
        except FileNotFoundError:
            continue
        line = next(x for x in status.splitlines() if x.startswith("VmRSS:"))
        total += int(line.split()[1])
    return total / 1024


def v2_bodies(deployment: BenchDeployment) -> list[str]:
    listed = [raw.hex() for raw in deployment.listed[:500]]
    unlisted = [raw.hex() for raw in random_md5s(500, seed=77)]
    mixed = [h for pair in zip(listed, unlisted, strict=True) for h in pair]
    return [json.dumps({"md5": mixed[i : i + 10]}) for i in range(0, len(mixed) - 10, 10)]


def cli(deployment: BenchDeployment, *args: str) -> str:
    executable = str(Path(sys.executable).with_name("hashcheck"))
    return subprocess.run(
        [executable, *args],
        env={**os.environ, **deployment.env(), "HASHCHECK_ACTOR": "bench"},
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout


@dataclass(frozen=True)
class Pacing:
    connections: int
    pause_ms: int  # wrk takes whole milliseconds: a fraction would be cut off


# Whole-millisecond pauses long enough that the answer's own time is a small part of a cycle;
# the rate is then set by the number of connections.
PAUSE_MS = {"legacy": 5, "v2": 20}


def minute(
    base: str,
    legacy: list[str],
    v2: list[str],
    pacing: dict[str, Pacing],
    scratch: Path,
    seconds: int = 60,
) -> tuple[WrkResult, WrkResult]:
    """Both paced streams side by side for ``seconds``."""
    results: dict[str, WrkResult] = {}
    streams = {
        "legacy": (base + "/v1/check/md5", legacy, "application/x-www-form-urlencoded"),
        "v2": (base + "/v2/check", v2, "application/json"),
    }

    def run(name: str) -> None:
        url, bodies, kind = streams[name]
        folder = scratch / name
        folder.mkdir(exist_ok=True)
        results[name] = run_wrk(
            url,
            bodies,
            seconds=seconds,
            connections=pacing[name].connections,
            delay_ms=pacing[name].pause_ms,
            content_type=kind,
            scratch=folder,
        )

    threads = [threading.Thread(target=run, args=(name,)) for name in streams]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results["legacy"], results["v2"]


def calibrated(
    base: str, legacy: list[str], v2: list[str], rate: float, scratch: Path, seconds: int = 10
) -> dict[str, Pacing]:
    """Connections that give each stream its share of ``rate``: each connection sends one
    request per pause plus answer, the answer's time measured (three rounds of ``seconds``)."""
    wanted = {"legacy": rate * LEGACY_SHARE, "v2": rate * (1 - LEGACY_SHARE)}
    pacing = {
        name: Pacing(max(1, round(want * PAUSE_MS[name] / 1000)), PAUSE_MS[name])
        for name, want in wanted.items()
    }
    for _ in range(3):
        got = dict(
            zip(("legacy", "v2"), minute(base, legacy, v2, pacing, scratch, seconds), strict=True)
        )
        for name, want in wanted.items():
            cycle_ms = pacing[name].connections / got[name].requests_per_second * 1000.0
            pacing[name] = Pacing(max(1, round(want * cycle_ms / 1000)), PAUSE_MS[name])
    return pacing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=int, default=30)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument(
        "--minute-seconds", type=int, default=60, help="how long a 'minute' lasts (a quick run)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        deployment = deploy(scratch / "deployment", args.entries)
        legacy, v2 = legacy_bodies(deployment), v2_bodies(deployment)
        new_list = scratch / "new.txt"
        new_list.write_text("".join(raw.hex() + "\n" for raw in random_md5s(10_000, seed=2026)))
        with hashcheck_process(deployment) as (base, server):
            server_pid = server.pid
            # The capacity and the calibration take 10 s each, less in a quick run.
            measure = min(10, args.minute_seconds)
            capacity = run_wrk(
                base + "/v1/check/md5",
                legacy,
                seconds=measure,
                connections=CONNECTIONS,
                scratch=scratch,
            ).requests_per_second
            rate = capacity / 2
            pacing = calibrated(base, legacy, v2, rate, scratch, measure)
            print(
                f"capacity {capacity:,.0f} checks/s; soaking at {rate:,.0f} requests/s ({pacing})",
                flush=True,
            )
            rows: list[dict[str, Any]] = []
            batch = ""
            for number in range(1, args.minutes + 1):
                event = ""
                if number == args.minutes // 3 + 1:
                    report = json.loads(
                        cli(
                            deployment,
                            "import",
                            "bench",
                            str(new_list),
                            "--category",
                            "baseline",
                            "--json",
                        )
                    )
                    batch = str(report["batch_id"])
                    event = f"import of 10,000 (batch {batch})"
                elif number == 2 * args.minutes // 3 + 1 and batch:
                    cli(deployment, "batches", "rollback", batch)
                    event = f"rollback of batch {batch}"
                started = time.monotonic()
                legacy_result, v2_result = minute(
                    base, legacy, v2, pacing, scratch, args.minute_seconds
                )
                row = {
                    "minute": number,
                    "event": event,
                    "legacy_rps": round(legacy_result.requests_per_second, 1),
                    "legacy_p99_ms": legacy_result.p99_ms,
                    "v2_rps": round(v2_result.requests_per_second, 1),
                    "v2_p99_ms": v2_result.p99_ms,
                    "errors": legacy_result.errors + v2_result.errors,
                    "rss_mib": round(resident_mib(server_pid), 1),
                    "seconds": round(time.monotonic() - started, 1),
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
    first, last = rows[0], rows[-1]
    worst = max(rows, key=lambda r: r["legacy_p99_ms"])
    drift = last["rss_mib"] / first["rss_mib"] - 1
    result = {
        "minutes": args.minutes,
        "entries": args.entries,
        "capacity_checks_per_second": round(capacity, 1),
        "soak_rate_per_second": round(rate, 1),
        "pacing": {name: p.__dict__ for name, p in pacing.items()},
        "achieved_share_of_capacity": round(
            statistics.median(r["legacy_rps"] + r["v2_rps"] for r in rows) / capacity, 3
        ),
        "errors": sum(r["errors"] for r in rows),
        "rss_first_mib": first["rss_mib"],
        "rss_last_mib": last["rss_mib"],
        "rss_drift": round(drift, 4),
        "legacy_p99_first_ms": first["legacy_p99_ms"],
        "legacy_p99_worst_ms": worst["legacy_p99_ms"],
        "legacy_p99_worst_ratio": round(worst["legacy_p99_ms"] / first["legacy_p99_ms"], 2),
        "v2_p99_worst_ratio": round(max(r["v2_p99_ms"] for r in rows) / first["v2_p99_ms"], 2),
        "targets": {"errors": 0, "rss_drift_below": 0.05, "p99_ratio_at_most": 2.0},
        "rows": rows,
    }
    print(
        f"load {result['achieved_share_of_capacity']:.0%} of capacity; "
        f"errors {result['errors']}; resident memory {first['rss_mib']} -> {last['rss_mib']} MiB "
        f"({drift:+.1%}); legacy p99 first {first['legacy_p99_ms']} ms, worst "
        f"{worst['legacy_p99_ms']} ms (x{result['legacy_p99_worst_ratio']}, minute "
        f"{worst['minute']}); v2 p99 worst x{result['v2_p99_worst_ratio']}"
    )
    write_result("soak", result)


if __name__ == "__main__":
    main()
