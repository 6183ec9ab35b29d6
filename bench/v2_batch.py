"""Benchmark (b): v2 batch checks, hashes per second with one worker, over HTTP.

In one run on loopback: wrk (native) posts batches of 10,000 MD5s (1 in 100 listed) to a
hashcheck server with 1M entries, in both request shapes: one object per hash with a result
per hash, and the compact per-algorithm lists with `only_matches`. The reference is the keyed
digest alone (HMAC-SHA256 of the same 10,000 hashes, in this process), the part of the work no
implementation can skip; the v2 handler called in-process without HTTP is shown too.

The machine's speed drifts within a run (a shared VM), so reference and HTTP are measured in
alternating rounds: each round times the reference, then each shape over HTTP, and the ratio
is the median of the rounds' ratios. Writes bench/results/v2_batch.json.

    .venv/bin/python -m bench.v2_batch [--entries N] [--seconds S] [--rounds R]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import deploy, hashcheck_server, random_md5s, run_wrk, write_result
from hashcheck.admin.setup import open_key
from hashcheck.api import v2
from hashcheck.hashes.algorithms import Algorithm
from hashcheck.hashes.keyed import Digester
from hashcheck.hashes.matchid import MatchIds
from hashcheck.node.follower import Follower
from hashcheck.store.open import open_store

BATCH = 10_000


def rate(work: Any, items: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return items / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=4, help="per shape and round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        deployment = deploy(scratch / "deployment", args.entries)
        hashes = [raw.hex() for raw in random_md5s(BATCH, seed=7)]
        for position in range(0, BATCH, 100):
            hashes[position] = deployment.listed[position].hex()
        shapes = {
            "objects": json.dumps({"hashes": [{"algorithm": "md5", "hash": h} for h in hashes]}),
            "compact_only_matches": json.dumps({"md5": hashes, "only_matches": True}),
        }

        store = open_store(deployment.url)
        key = open_key(store, deployment.key_file)
        digester = Digester(key)
        raws = [bytes.fromhex(h) for h in hashes]
        follower = Follower(store)
        follower.refresh()
        snapshot = follower.snapshot
        assert snapshot is not None
        view = snapshot.catalog.views["bench"]
        match_ids = MatchIds(key)
        in_process = {}
        for shape, body in shapes.items():
            payload = body.encode()

            def handle(payload: bytes = payload) -> None:
                v2.check(snapshot, view, v2.parse_request(payload, BATCH), digester, match_ids)

            in_process[shape] = rate(handle, BATCH, 10)
        store.close()

        def reference() -> float:
            return rate(lambda: digester.digest_many(Algorithm.MD5, raws), BATCH, 20)

        rounds: list[dict[str, Any]] = []
        with hashcheck_server(deployment) as base:
            options: dict[str, Any] = {
                "connections": 2,
                "content_type": "application/json",
                "scratch": scratch,
            }
            for body in shapes.values():
                run_wrk(base + "/v2/check", [body], seconds=2, **options)
            for _ in range(args.rounds):
                measured: dict[str, Any] = {"reference": reference()}
                for shape, body in shapes.items():
                    measured[shape] = run_wrk(
                        base + "/v2/check", [body], seconds=args.seconds, **options
                    )
                rounds.append(measured)
    references = [r["reference"] for r in rounds]
    digest_rate = statistics.median(references)
    results: dict[str, Any] = {
        "entries": args.entries,
        "batch": BATCH,
        "rounds": args.rounds,
        "seconds_per_shape_and_round": args.seconds,
        "keyed_digest_alone_hashes_per_second": round(digest_rate),
        "keyed_digest_alone_range": [round(min(references)), round(max(references))],
        "target_hashes_per_second": 500_000,
        "shapes": {},
    }
    print(
        f"keyed digest alone: {digest_rate:>10,.0f} hashes/s (median of {args.rounds} rounds, "
        f"{min(references):,.0f} to {max(references):,.0f})"
    )
    for shape in shapes:
        rates = [r[shape].requests_per_second * BATCH for r in rounds]
        ratios = sorted(r[shape].requests_per_second * BATCH / r["reference"] for r in rounds)
        http_rate = statistics.median(rates)
        ratio = statistics.median(ratios)
        results["shapes"][shape] = {
            "http_hashes_per_second": round(http_rate),
            "http_rounds": [
                {**r[shape].as_dict(), "hashes_per_second": round(rate_)}
                for r, rate_ in zip(rounds, rates, strict=True)
            ],
            "in_process_handler_hashes_per_second": round(in_process[shape]),
            "ratio_http_to_digest_alone": round(ratio, 3),
            "ratio_range": [round(ratios[0], 3), round(ratios[-1], 3)],
        }
        p99 = max(r[shape].p99_ms for r in rounds)
        print(
            f"{shape:>21}: {http_rate:>9,.0f} hashes/s over HTTP (1 worker, p99 up to "
            f"{p99:.0f} ms per batch), {in_process[shape]:,.0f}/s in-process; "
            f"{ratio:.2f} of the digest alone (rounds {ratios[0]:.2f} to {ratios[-1]:.2f}; "
            "target 500,000/s)"
        )
    write_result("v2_batch", results)


if __name__ == "__main__":
    main()
