"""Benchmark (issue 11): items at scale, on SQLite.

1. A first delivery of N items (default 10M), each a file with an MD5 and a SHA-1 (a CSV
   `md5,sha1,category`), through the same function `hashcheck import` uses: hashes/s. The
   reference in the same run: the keyed digest alone (the part no importer can skip).
2. A node (`hashcheck serve`, one worker, index files) loads it: its memory (PSS) per stored
   hash after the first start (which builds the index files) and after a restart (which maps
   them: the steady state). The reference in the same run: a Python dict of 16-byte digests
   to (item, slot).
3. A complete delivery (`--replace`) where 1% of the items changed category and 1% are gone:
   the import's time, and, on the running node, the time from the commit until it answers
   both kinds of change (polled over HTTP); the node applies the changes as a delta.

Writes bench/results/items.json.

    .venv/bin/python -m bench.items [--items 10000000]
"""

from __future__ import annotations

import argparse
import base64
import gc
import json
import os
import resource
import select
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import ROOT, children, free_port, machine, write_result
from bench.memory import release_free_memory, resident_bytes
from bench.node_memory import pss_bytes
from hashcheck.admin import clients, importing
from hashcheck.admin.setup import initialise
from hashcheck.hashes.algorithms import Algorithm
from hashcheck.hashes.keyed import Digester
from hashcheck.store.open import open_store

CLIENT_ID, SECRET = "bench", "bench-secret"  # a throwaway credential on loopback


def files(count: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(count)
    md5s = np.frombuffer(rng.bytes(16 * count), dtype="V16")
    sha1s = np.frombuffer(rng.bytes(20 * count), dtype="V20")
    return md5s, sha1s


def write_delivery(path: Path, md5s: np.ndarray, sha1s: np.ndarray, categories: list[str]) -> None:
    with path.open("w") as out:
        out.write("md5,sha1,category\n")
        step = 500_000
        for start in range(0, len(md5s), step):
            m = md5s[start : start + step].tobytes().hex()
            s = sha1s[start : start + step].tobytes().hex()
            out.write(
                "".join(
                    f"{m[32 * i : 32 * i + 32]},{s[40 * i : 40 * i + 40]},{categories[start + i]}\n"
                    for i in range(len(m) // 32)
                )
            )


def dict_reference(count: int = 1_000_000) -> float:
    """Bytes per entry of the obvious Python index: digest -> (item id, slot)."""
    release_free_memory()
    before = resident_bytes()
    table = {os.urandom(16): (n, 0) for n in range(count)}
    release_free_memory()
    per_entry = (resident_bytes() - before) / count
    del table
    gc.collect()
    return per_entry


def start_node(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str, float]:
    port = free_port()
    executable = str(Path(sys.executable).with_name("hashcheck"))
    started = time.monotonic()
    proc = subprocess.Popen(
        [executable, "serve", "--port", str(port), "--workers", "1"],
        env={**env, "HASHCHECK_LOG_LEVEL": "info"},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    buffered = b""
    while b"hashcheck.follower: ready:" not in buffered:
        if time.monotonic() - started > 1800 or proc.poll() is not None:
            proc.kill()
            raise RuntimeError("the node did not become ready: " + buffered.decode()[-2000:])
        if select.select([proc.stderr], [], [], 5)[0]:
            buffered += os.read(proc.stderr.fileno(), 65536)
    return proc, f"http://127.0.0.1:{port}", time.monotonic() - started


def matched(base: str, md5: bytes) -> bool:
    body = json.dumps({"hashes": [{"algorithm": "md5", "hash": md5.hex()}]}).encode()
    request = urllib.request.Request(  # noqa: S310 - http on loopback
        base + "/v2/check", data=body, method="POST"
    )
    token = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
        return bool(json.load(response)["results"][0]["match"])


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run(count: int) -> dict[str, Any]:
    result: dict[str, Any] = {"items": count, "hashes": 2 * count}
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        url = f"sqlite:///{scratch / 'hashcheck.db'}"
        store = open_store(url, create=True)
        key, _ = initialise(store, scratch / "list.key")
        store.add_list("bench", "benchmark", "", actor="bench")
        # Granted baseline only (the default): an item moved to `illegal` stops matching.
        clients.add_client(store, "Bench", actor="bench", client_id=CLIENT_ID, secret=SECRET)
        digester = Digester(key)
        md5s, sha1s = files(count)
        first = scratch / "first.csv"
        write_delivery(first, md5s, sha1s, ["baseline"] * count)
        raws = [bytes(v) for v in md5s[: min(count, 1_000_000)]]
        started = time.perf_counter()
        digester.digest_many(Algorithm.MD5, raws)
        digest_rate = len(raws) / (time.perf_counter() - started)
        del raws
        started = time.perf_counter()
        report = importing.import_file(
            store, digester, "bench", first, actor="bench", category_column="category"
        )
        seconds = time.perf_counter() - started
        assert (report.added, report.hashes_added) == (count, 2 * count), report
        result["first_delivery"] = {
            "seconds": round(seconds, 1),
            "hashes_per_second": round(2 * count / seconds),
            "keyed_digest_alone_hashes_per_second": round(digest_rate),
            "ratio_to_digest_alone": round(2 * count / seconds / digest_rate, 3),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }
        say(f"first delivery: {result['first_delivery']}")
        first.unlink()
        env = {
            **os.environ,
            "HASHCHECK_DATABASE_URL": url,
            "HASHCHECK_KEY_FILE": str(scratch / "list.key"),
            "HASHCHECK_INDEX_DIR": str(scratch / "index"),
        }
        # The first start builds the index files from the store (its heap stays with the
        # process); a restart maps them, which is the node's steady state.
        node, base, cold = start_node(env)
        first_pss = sum(pss_bytes(pid) for pid in [node.pid, *children(node.pid)])
        node.terminate()
        node.wait(timeout=120)
        node, base, warm = start_node(env)
        try:
            pss = sum(pss_bytes(pid) for pid in [node.pid, *children(node.pid)])
            reference = dict_reference()
            result["node_memory"] = {
                "cold_start_seconds": round(cold, 1),
                "first_start_pss_mb": round(first_pss / 2**20, 1),
                "first_start_bytes_per_stored_hash": round(first_pss / (2 * count), 1),
                "restart_seconds": round(warm, 1),
                "pss_mb": round(pss / 2**20, 1),
                "bytes_per_stored_hash": round(pss / (2 * count), 1),
                "python_dict_bytes_per_entry": round(reference, 1),
                "ratio_to_dict": round(pss / (2 * count) / reference, 3),
            }
            say(f"node: {result['node_memory']}")
            changed, gone = count // 100, count // 100
            categories = ["illegal"] * changed + ["baseline"] * (count - changed - gone)
            second = scratch / "second.csv"
            write_delivery(second, md5s[: count - gone], sha1s[: count - gone], categories)
            probe_changed, probe_gone = bytes(md5s[0]), bytes(md5s[count - 1])
            assert matched(base, probe_changed) and matched(base, probe_gone)
            started = time.perf_counter()
            report = importing.import_file(
                store,
                digester,
                "bench",
                second,
                actor="bench",
                category_column="category",
                replace=True,
            )
            committed = time.perf_counter()
            say(f"replace delivery imported in {committed - started:.1f}s: {report.as_dict()}")
            while matched(base, probe_changed) or matched(base, probe_gone):
                if time.perf_counter() - committed > 600:
                    raise RuntimeError("the node did not answer the changes")
            answered = time.perf_counter()
            result["replace_delivery"] = {
                "items_read": report.records_read,
                "changed": report.changed,
                "unchanged": report.unchanged,
                "removed": report.removed,
                "import_seconds": round(committed - started, 1),
                "node_answered_seconds_after_commit": round(answered - committed, 2),
            }
            assert (report.changed, report.removed) == (changed, gone), report
        finally:
            node.terminate()
            node.wait(timeout=120)
        store.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=10_000_000)
    args = parser.parse_args()
    result = {"benchmark": "items", "machine": machine(), **run(args.items)}
    print(json.dumps(result, indent=2))
    write_result("items", result)


if __name__ == "__main__":
    main()
