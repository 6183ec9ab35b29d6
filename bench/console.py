"""Benchmark (issue 12): console pages at scale, on SQLite, over HTTP on loopback.

A deployment with N items (default 10M, a plain list), 1M match records (100 clients), 90 days
of statistics for 100 clients and 10,000 audit records; a node with the console, its index
loaded. Each page is fetched `ROUNDS` times by a signed-in operator: the overview, an item
found by a pasted hash, the audit page and the statistics page (90 days x 100 clients). The
reference in the same run: the sign-in page (rendered, reads nothing). Writes
bench/results/console.json.

    .venv/bin/python -m bench.console [--items 10000000]
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

import numpy as np
from tests.support import Deployment, make_deployment, serve

from bench.common import write_result
from bench.import_rate import write_list
from hashcheck.admin import importing, operators
from hashcheck.admin.operators import Actor, Role
from hashcheck.hashes.algorithms import Algorithm
from hashcheck.hashes.keyed import Digester
from hashcheck.store.records import Sighting, StatRow

ROUNDS = 30
TARGET_MS = 100.0


def populate(folder: Path, count: int) -> tuple[Deployment, str, str]:
    deployment = make_deployment(f"sqlite:///{folder / 'hashcheck.db'}", folder)
    store = deployment.store()
    try:
        setup = Actor("setup", Role.APPROVER)
        secret = operators.add(store, "alice", Role.APPROVER, actor=setup).secret
        source = folder / "list.txt"
        write_list(source, count)
        digester = Digester(deployment.key)
        importing.import_file(store, digester, "police", source, actor="bench", category="baseline")
        with source.open() as handle:
            probe = handle.readline().strip()
        police = next(h.list_id for h in store.lists() if h.name == "police")
        today = int(time.time() // 86400)
        # Matches spread over many clients as a benchmark needs, without the prevalence alarm
        # holding every item (which real lists never see, and which costs a write per item).
        store.set_policy("prevalence-clients", "1000", actor="bench")
        # 1M match records: 100 clients over 10,000 items and 10 days.
        first = store.find_items(digests=[digester.digest(Algorithm.MD5, bytes.fromhex(probe))])
        base = first[0].item_id
        now = int(time.time())
        rng = np.random.default_rng(12)
        for start in range(0, 1_000_000, 50_000):
            items = rng.integers(base, base + 10_000, 50_000)
            store.record_matches(
                [
                    Sighting(int(item), f"c{n % 100:03d}", today - (n // 100) % 10, now, True)
                    for n, item in enumerate(items, start)
                ],
                [],
            )
        # 90 days of statistics for 100 clients.
        store.add_stats(
            StatRow(f"c{c:03d}", police, _day(today - d), 1000 + c, c % 5)
            for d in range(90)
            for c in range(100)
        )
        for n in range(10_000):
            store.audit_event("bench", "bench.event", f"record {n}", {"n": n})
        return deployment, secret, probe
    finally:
        store.close()


def _day(number: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(number * 86400))


def timed(port: int, method: str, path: str, cookie: str, body: str = "") -> float:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Cookie": cookie}
    if body:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    started = time.perf_counter()
    connection.request(method, path, body=body or None, headers=headers)
    response = connection.getresponse()
    response.read()
    took = time.perf_counter() - started
    connection.close()
    if response.status != 200:
        raise RuntimeError(f"{path} answered {response.status}")
    return took * 1000


def run(count: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        deployment, secret, probe = populate(Path(folder), count)
        built = time.perf_counter() - started
        for server in serve(deployment, console=True, load_timeout=600):
            port = server.port
            form = urllib.parse.urlencode({"name": "alice", "secret": secret})
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            connection.request(
                "POST",
                "/console/signin",
                body=form,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            answer = connection.getresponse()
            answer.read()
            cookie = answer.getheader("set-cookie", "").split(";")[0]
            connection.close()
            page = timed(port, "GET", "/console/items?q=1", cookie)  # warm the templates
            csrf = _csrf(port, cookie)
            lookup = urllib.parse.urlencode({"csrf": csrf, "q": probe})
            pages = {
                "sign-in page (reference)": ("GET", "/console/signin", ""),
                "overview": ("GET", "/console/", ""),
                "item by pasted hash": ("POST", "/console/items", lookup),
                "audit page": ("GET", "/console/audit", ""),
                "statistics, 90 days x 100 clients": ("GET", "/console/statistics", ""),
            }
            figures: dict[str, dict[str, float]] = {}
            for name, (method, path, body) in pages.items():
                times = sorted(timed(port, method, path, cookie, body) for _ in range(ROUNDS))
                figures[name] = {
                    "median_ms": round(statistics.median(times), 1),
                    "p95_ms": round(times[int(0.95 * len(times)) - 1], 1),
                }
            del page
    reference = figures["sign-in page (reference)"]["median_ms"]
    for row in figures.values():
        row["ratio_to_reference"] = round(row["median_ms"] / reference, 2)
    return {
        "items": count,
        "match_records": 1_000_000,
        "statistics_rows": 9000,
        "audit_records": 10_000,
        "setup_seconds": round(built, 1),
        "rounds": ROUNDS,
        "pages": figures,
        "target_ms": TARGET_MS,
    }


def _csrf(port: int, cookie: str) -> str:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", "/console/items", headers={"Cookie": cookie})
    text = connection.getresponse().read().decode()
    connection.close()
    marker = 'name="csrf" value="'
    start = text.index(marker) + len(marker)
    return text[start : text.index('"', start)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=10_000_000)
    args = parser.parse_args()
    result = run(args.items)
    for name, row in result["pages"].items():
        print(
            f"{name:40} median {row['median_ms']:7.1f} ms  p95 {row['p95_ms']:7.1f} ms  "
            f"ratio {row['ratio_to_reference']}"
        )
    print(f"(target: every page <= {TARGET_MS:.0f} ms; {result['items']:,} items)")
    write_result("console", result)


if __name__ == "__main__":
    main()
