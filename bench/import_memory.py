"""Benchmark (issue 14): a node's resident memory through imports and rollbacks under load.

A `hashcheck serve` process (one worker) on a 1M-entry deployment, six client threads sending
legacy checks and v2 batches of 10 for 20 s between steps. Resident memory (and its anonymous
part, from /proc/<pid>/smaps_rollup) is read after two warm-up rounds (the reference, same
run), then after each of ``--rounds`` imports of 10,000 new hashes through the CLI and their
rollbacks. The soak (`bench.soak`) saw one step of ~16 MiB at its first import that never
went away; this shows whether an import leaves memory behind, in a few minutes.

    .venv/bin/python -m bench.import_memory [--entries N] [--rounds N] [--load-seconds S]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench.auth_flood import basic
from bench.common import (
    CLIENT_ID,
    CLIENT_SECRET,
    deploy,
    hashcheck_process,
    random_md5s,
    write_result,
)
from bench.soak import cli

LOAD_SECONDS = 20.0
THREADS = 6


def memory(pid: int) -> dict[str, float]:
    """Resident and anonymous MiB of process ``pid``."""
    found: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, figure = line.split(":")[0], line.split()[1]
        if name in ("Rss", "Anonymous"):
            found[name.lower()] = round(int(figure) / 1024, 1)
    return found


def load(base: str, hexes: list[str], seconds: float) -> int:
    """Checks from ``THREADS`` threads for ``seconds``; how many were answered."""
    stop = time.monotonic() + seconds
    answered = [0] * THREADS

    def run(number: int) -> None:
        headers = {"Authorization": basic(CLIENT_ID, CLIENT_SECRET)}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            k = number
            while time.monotonic() < stop:
                client.post("/v1/check/md5", data={"hash": hexes[k % len(hexes)]})
                if k % 10 == 0:
                    start = k % (len(hexes) - 10)
                    client.post("/v2/check", json={"md5": hexes[start : start + 10]})
                k += 1
                answered[number] += 1

    threads = [threading.Thread(target=run, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(answered)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--load-seconds", type=float, default=LOAD_SECONDS, help="per step")
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as folder:
        deployment = deploy(Path(folder) / "deployment", args.entries)
        hexes = [raw.hex() for raw in deployment.listed[:2000]]
        hexes += [raw.hex() for raw in random_md5s(2000, seed=5)]
        new_list = Path(folder) / "new.txt"
        new_list.write_text("".join(raw.hex() + "\n" for raw in random_md5s(10_000, seed=2026)))
        with hashcheck_process(deployment) as (base, server):

            def step(name: str) -> None:
                checks = load(base, hexes, args.load_seconds)
                row = {"after": name, "checks": checks, **memory(server.pid)}
                rows.append(row)
                print(json.dumps(row), flush=True)

            step("warm-up 1")
            step("warm-up 2")
            for number in range(1, args.rounds + 1):
                imported = cli(
                    deployment, "import", "bench", str(new_list), "--category", "baseline", "--json"
                )
                report = json.loads(imported)
                step(f"import {number}")
                cli(deployment, "batches", "rollback", str(report["batch_id"]))
                step(f"rollback {number}")
    reference, last = rows[1], rows[-1]
    result = {
        "entries": args.entries,
        "rounds": args.rounds,
        "load_seconds_per_step": args.load_seconds,
        "rss_reference_mib": reference["rss"],
        "rss_last_mib": last["rss"],
        "rss_most_mib": max(r["rss"] for r in rows),
        "ratio_last_to_reference": round(last["rss"] / reference["rss"], 3),
        "rows": rows,
    }
    print(
        f"resident memory after warm-up {reference['rss']} MiB, after {args.rounds} imports and "
        f"rollbacks {last['rss']} MiB (ratio {result['ratio_last_to_reference']}, most "
        f"{result['rss_most_mib']} MiB)"
    )
    write_result("import_memory", result)


if __name__ == "__main__":
    main()
