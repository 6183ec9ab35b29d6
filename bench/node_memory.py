"""Benchmark (issue 4, items 3 and 4): a node's memory with 1, 2 and 4 workers, and its cold
start, with the index in shared memory-mapped files against each worker's own copy.

Builds one SQLite deployment of N entries (default 10M), then starts `hashcheck serve
--workers W` for W in 1, 2, 4, twice each: with index files (`HASHCHECK_INDEX_DIR`, one copy
the workers share) and without (the reference: every worker holds its own index). Measures
the node's memory as the sum of proportional set sizes (PSS: a page shared by k processes
counts 1/k in each) over the server and its workers once every worker is ready, and the cold
start: from process start until every worker logged that it is ready, both for the first start
(which builds the files) and for a restart (which maps them). Writes
bench/results/node_memory.json.

    .venv/bin/python -m bench.node_memory [--entries N] [--workers 1 2 4]
"""

from __future__ import annotations

import argparse
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, children, deploy, free_port, write_result


def pss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0


def start(env: dict[str, str], workers: int, timeout: float = 1800) -> dict[str, Any]:
    """Start a node, wait until every worker is ready, measure, stop it."""
    port = free_port()
    executable = str(Path(sys.executable).with_name("hashcheck"))
    started = time.monotonic()
    proc = subprocess.Popen(
        [executable, "serve", "--port", str(port), "--workers", str(workers)],
        env={**env, "HASHCHECK_LOG_LEVEL": "info"},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    ready = 0
    buffered = b""
    try:
        while ready < workers:
            if time.monotonic() - started > timeout:
                raise RuntimeError("the node did not become ready in time")
            if proc.poll() is not None:
                raise RuntimeError("the node exited: " + buffered.decode(errors="replace"))
            readable, _, _ = select.select([proc.stderr], [], [], 5)
            if not readable:
                continue
            chunk = os.read(proc.stderr.fileno(), 65536)
            buffered += chunk
            ready = buffered.count(b"hashcheck.follower: ready:")
        cold_start = time.monotonic() - started
        pids = [proc.pid, *children(proc.pid)]
        pss = sum(pss_bytes(pid) for pid in pids)
        return {
            "workers": workers,
            "cold_start_seconds": round(cold_start, 2),
            "node_pss_bytes": pss,
            "processes": len(pids),
        }
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=10_000_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument(
        "--private",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also run the reference (a copy per worker); default: up to 20M entries",
    )
    args = parser.parse_args()
    if args.private is None:
        args.private = args.entries <= 20_000_000
    results: dict[str, Any] = {"entries": args.entries}
    with tempfile.TemporaryDirectory() as folder:
        began = time.monotonic()
        deployment = deploy(Path(folder) / "deployment", args.entries)
        results["import_seconds"] = round(time.monotonic() - began, 1)
        env = deployment.env()
        index_dir = Path(env["HASHCHECK_INDEX_DIR"])
        shutil.rmtree(index_dir, ignore_errors=True)
        first = start(env, 1)
        results["first_start_builds_files"] = first
        restart = start(env, 1)
        results["restart_maps_files"] = restart
        shared = [start(env, workers) for workers in args.workers]
        private = (
            [start({**env, "HASHCHECK_INDEX_DIR": ""}, workers) for workers in args.workers]
            if args.private
            else []
        )
        results["shared_files"] = shared
        results["node_bytes_per_entry_1_worker"] = round(
            restart["node_pss_bytes"] / args.entries, 1
        )
        results["private_copies"] = private
        results["index_file_bytes"] = sum(path.stat().st_size for path in index_dir.rglob("*.npy"))
    results["targets"] = {"cold_start_seconds_at_100m": 30, "bytes_per_entry": 40}
    mib = 1024 * 1024
    print(f"entries: {args.entries:,}; import {results['import_seconds']} s")
    print(
        f"cold start: first (builds files) {first['cold_start_seconds']} s, "
        f"restart (maps files) {restart['cold_start_seconds']} s"
    )
    per_entry = restart["node_pss_bytes"] / args.entries
    print(f"node memory per entry (1 worker, mapped files): {per_entry:.1f} B (target <= 40)")
    for number, with_files in enumerate(shared):
        line = (
            f"{with_files['workers']} worker(s): node PSS {with_files['node_pss_bytes'] / mib:,.0f} "
            f"MiB with shared index files, cold start {with_files['cold_start_seconds']} s"
        )
        if private:
            without = private[number]
            line += (
                f"; {without['node_pss_bytes'] / mib:,.0f} MiB with a copy per worker (ratio "
                f"{with_files['node_pss_bytes'] / without['node_pss_bytes']:.2f}), cold start "
                f"{without['cold_start_seconds']} s"
            )
        print(line)
    write_result(f"node_memory_{args.entries // 1_000_000}m", results)


if __name__ == "__main__":
    main()
