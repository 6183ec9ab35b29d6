"""Benchmark (issue 4): several nodes on one PostgreSQL behind nginx.

Starts a PostgreSQL server (pgserver), a deployment of N entries (default 1M), three
`hashcheck serve` nodes (one worker each) and nginx with the shipped configuration, all on
loopback. Then:

- throughput of legacy single checks and of v2 batches (10,000 MD5s, compact shape with
  `only_matches`) through nginx with 1, 2 and 3 nodes behind it, each against the same
  requests sent to one node directly (the reference in the same run); and the CPU the nodes
  and nginx used, so that requests/s per core used can be reported (this machine has 2
  cores: three nodes, nginx and wrk share them);
- p99 latency of legacy checks through nginx at half the maximum rate;
- propagation: 100 changes (an import of one new hash each), the time from commit until
  every node answers it, median and maximum.

Writes bench/results/cluster.json.

    .venv/bin/python -m bench.cluster [--entries N] [--seconds S]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import (
    ROOT,
    BenchDeployment,
    authorization,
    children,
    deploy,
    free_port,
    postgres_server,
    random_md5s,
    run_wrk,
    wait_http,
    write_result,
)
from bench.legacy_http import half_rate
from bench.nginx import running_nginx
from hashcheck.admin.setup import open_key
from hashcheck.hashes.algorithms import Algorithm
from hashcheck.hashes.keyed import Digester
from hashcheck.store.open import open_store

BATCH = 10_000


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def start_node(deployment: BenchDeployment, folder: Path) -> tuple[int, subprocess.Popen[bytes]]:
    port = free_port()
    env = {**deployment.env(), "HASHCHECK_INDEX_DIR": str(folder), "HASHCHECK_ADMIN_API": "false"}
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("hashcheck")), "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_http(f"http://127.0.0.1:{port}/readyz", timeout=600)
    return port, process


def measured(
    url: str,
    bodies: list[str],
    pids: list[int],
    args: argparse.Namespace,
    scratch: Path,
    content_type: str,
) -> dict[str, Any]:
    run_wrk(url, bodies, seconds=2, connections=32, scratch=scratch, content_type=content_type)
    before, started = cpu_seconds(pids), time.monotonic()
    result = run_wrk(
        url,
        bodies,
        seconds=args.seconds,
        connections=32,
        scratch=scratch,
        content_type=content_type,
    ).as_dict()
    cores = (cpu_seconds(pids) - before) / (time.monotonic() - started)
    result["cores_used_by_nodes_and_nginx"] = round(cores, 2)
    result["requests_per_second_per_core"] = round(result["requests_per_second"] / cores, 1)
    return result


def propagation(deployment: BenchDeployment, ports: list[int], changes: int) -> dict[str, Any]:
    """Seconds from an import's commit until every node answers the new hash."""
    import http.client

    store = open_store(deployment.url)
    digest = Digester(open_key(store, deployment.key_file)).for_algorithm(Algorithm.MD5)
    baseline = next(c.category_id for c in store.categories() if c.name == "baseline")
    connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for port in ports]
    headers = {"Authorization": authorization(), "Content-Type": "text/plain"}
    delays = []
    for raw in random_md5s(changes, seed=4242):
        store.import_entries(1, [(baseline, digest(raw))], source="bench", actor="bench")
        committed = time.monotonic()
        waiting = set(range(len(ports)))
        while waiting:
            for number in list(waiting):
                connections[number].request(
                    "POST", "/v1/check/md5", body=raw.hex(), headers=headers
                )
                if connections[number].getresponse().read() == b"true":
                    waiting.discard(number)
            if time.monotonic() - committed > 30:
                raise RuntimeError("a change did not reach every node within 30 s")
        delays.append(time.monotonic() - committed)
    store.close()
    return {
        "changes": changes,
        "median_seconds": round(statistics.median(delays), 4),
        "max_seconds": round(max(delays), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--changes", type=int, default=100)
    args = parser.parse_args()
    results: dict[str, Any] = {"entries": args.entries, "seconds": args.seconds}
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        with postgres_server(scratch / "pg") as server:
            deployment = deploy(scratch / "deployment", args.entries, url=server.get_uri())
            nodes = [start_node(deployment, scratch / f"index-{n}") for n in range(3)]
            try:
                legacy_bodies = [raw.hex() for raw in deployment.listed[:500]] + [
                    raw.hex() for raw in random_md5s(500, seed=99)
                ]
                batch = [raw.hex() for raw in random_md5s(BATCH, seed=7)]
                batch[::100] = [raw.hex() for raw in deployment.listed[: BATCH // 100]]
                v2_bodies = [json.dumps({"md5": batch, "only_matches": True})]
                direct = f"http://127.0.0.1:{nodes[0][0]}"
                node_pids = [process.pid for _, process in nodes]
                results["direct_one_node"] = {
                    "legacy": measured(
                        direct + "/v1/check/md5",
                        legacy_bodies,
                        node_pids[:1],
                        args,
                        scratch,
                        "application/x-www-form-urlencoded",
                    ),
                    "v2": measured(
                        direct + "/v2/check",
                        v2_bodies,
                        node_pids[:1],
                        args,
                        scratch,
                        "application/json",
                    ),
                }
                for count in (1, 2, 3):
                    listen = free_port()
                    with running_nginx(
                        [port for port, _ in nodes[:count]], listen, scratch / f"nginx-{count}"
                    ) as nginx:
                        base = f"http://127.0.0.1:{listen}"
                        wait_http(base + "/readyz")
                        pids = [*node_pids[:count], nginx.pid, *children(nginx.pid)]
                        legacy = measured(
                            base + "/v1/check/md5",
                            legacy_bodies,
                            pids,
                            args,
                            scratch,
                            "application/x-www-form-urlencoded",
                        )
                        legacy["half_rate"] = half_rate(
                            base + "/v1/check/md5",
                            legacy_bodies,
                            legacy["requests_per_second"] / 2,
                            args.seconds,
                            scratch,
                        )
                        v2 = measured(
                            base + "/v2/check", v2_bodies, pids, args, scratch, "application/json"
                        )
                        v2["hashes_per_second"] = round(v2["requests_per_second"] * BATCH)
                        results[f"balanced_{count}_nodes"] = {"legacy": legacy, "v2": v2}
                results["propagation"] = propagation(
                    deployment, [port for port, _ in nodes], args.changes
                )
            finally:
                for _, process in nodes:
                    process.terminate()
                    process.wait(timeout=60)
    report(results)
    write_result("cluster", results)


def report(results: dict[str, Any]) -> None:
    direct = results["direct_one_node"]
    print(
        f"one node directly: legacy {direct['legacy']['requests_per_second']:,.0f} req/s, "
        f"v2 {direct['v2']['requests_per_second'] * BATCH:,.0f} hashes/s"
    )
    for count in (1, 2, 3):
        row = results[f"balanced_{count}_nodes"]
        legacy, v2 = row["legacy"], row["v2"]
        print(
            f"{count} node(s) behind nginx: legacy {legacy['requests_per_second']:,.0f} req/s "
            f"({legacy['requests_per_second_per_core']:,.0f} per core used, "
            f"{legacy['cores_used_by_nodes_and_nginx']} cores), p99 at half rate "
            f"{legacy['half_rate']['p99_ms']} ms; v2 {v2['hashes_per_second']:,} hashes/s "
            f"({v2['requests_per_second_per_core'] * BATCH:,.0f} per core used)"
        )
    spread = results["propagation"]
    print(
        f"propagation over {spread['changes']} changes: median {spread['median_seconds']} s, "
        f"max {spread['max_seconds']} s"
    )


if __name__ == "__main__":
    main()
