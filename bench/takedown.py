"""Benchmark (issue 16): the monthly takedown report over a month of match records, on SQLite
and on PostgreSQL in the same run; and the check path's throughput with and without actions
arriving.

The month: ``--records`` match records (10M) of ``--clients`` clients (500), each record one
client's matches of one item on one day; a hit's records are on consecutive days (five
each), so 10M records are 2M hits (and 2M rows of `hit_months`, which the node's flush keeps
beside the day records). ``--actions`` of the hits (1M) have an action, some
minutes to two days after the match; 1 in 40 hits has a notice. Rows are written straight into
the store's tables (the generator is not what is measured), then the report is built through
`admin.takedown.report`, as the CLI, the admin API and the console build it.

The check path (written to `takedown_checks`; ``--stores ''`` runs it alone): one node
(1 worker, SQLite, 100,000 entries) answering legacy checks from wrk (32 connections,
``--seconds`` 4 a measurement) with no action arriving, then while another process posts
actions over a plain socket at ``--action-rate`` a second (20: fifty times the rate of 1M
actions a month); ``--rounds`` rounds with actions, each set against the rounds without on
either side of it (this VM drifts minute to minute); the ratio is the median. Beside it the
CPU time of the worker per check and, of the worker and its store process, per action: a
measure the drift does not move.

    .venv/bin/python -m bench.takedown [--records N] [--clients N] [--actions N]

Loopback only; it stops by itself and removes what it made.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import socket
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import (
    CLIENT_ID,
    CLIENT_SECRET,
    authorization,
    children,
    deploy,
    exchange,
    hashcheck_process,
    legacy_bodies,
    post_request,
    postgres_server,
    run_wrk,
    write_result,
)
from hashcheck.admin import takedown
from hashcheck.admin.operators import Actor, Role
from hashcheck.store.open import open_store

DAYS_PER_HIT = 5
ACTIONS = ("removed", "blocked_at_upload", "quarantined", "kept_after_review", "reported")


def month_of(now: float) -> tuple[str, int]:
    """The previous calendar month (whole, in the past) and its first day number."""
    today = time.gmtime(now)
    year, month = (today.tm_year, today.tm_mon - 1) if today.tm_mon > 1 else (today.tm_year - 1, 12)
    label = f"{year:04d}-{month:02d}"
    return label, takedown.month_days(label)[0]


def generated(
    records: int,
    clients: int,
    items: np.ndarray[Any, Any],
    actions: int,
    first_day: int,
    seed: int = 16,
) -> dict[str, Any]:
    """The month's rows as arrays: sightings, actions, notices."""
    rng = np.random.default_rng(seed)
    hits = records // DAYS_PER_HIT
    client = rng.integers(0, clients, hits)
    item = rng.choice(items, hits)
    # Distinct (client, item) hits: a repeat pair is dropped.
    key = client.astype(np.int64) * (1 << 40) + item
    _, keep = np.unique(key, return_index=True)
    client, item = client[keep], item[keep]
    hits = len(keep)
    start_day = rng.integers(first_day, first_day + 28 - DAYS_PER_HIT, hits)
    start = start_day * 86400 + rng.integers(0, 86400, hits)
    days = np.repeat(np.arange(DAYS_PER_HIT)[None, :], hits, axis=0) + start_day[:, None]
    first_seen = np.where(days == start_day[:, None], start[:, None], days * 86400 + 60)
    last_seen = days * 86400 + 80_000
    acted = rng.choice(hits, min(actions, hits), replace=False)
    delay = rng.exponential(6 * 3600, len(acted)).astype(np.int64)
    noticed = rng.choice(hits, hits // 40, replace=False)
    return {
        "sightings": (
            np.repeat(item, DAYS_PER_HIT),
            np.repeat(client, DAYS_PER_HIT),
            days.reshape(-1),
            first_seen.reshape(-1),
            last_seen.reshape(-1),
        ),
        "actions": (
            client[acted],
            item[acted],
            start_day[acted],
            rng.integers(0, len(ACTIONS), len(acted)),
            start[acted] + delay,
        ),
        "notices": (client[noticed], item[noticed], start[noticed] + 600),
        # What the node's flush keeps beside the day records: each hit's month.
        "hit_months": (
            np.full(hits, first_day),
            client,
            item,
            start,
            last_seen[:, -1],
        ),
        "hits": hits,
    }


def client_name(number: int) -> str:
    return f"c{number:04d}"


def _chunks(
    columns: tuple[np.ndarray[Any, Any], ...], convert: Any, size: int = 200_000
) -> Iterator[list[tuple[Any, ...]]]:
    total = len(columns[0])
    for at in range(0, total, size):
        part = [c[at : at + size].tolist() for c in columns]
        yield [convert(*row) for row in zip(*part, strict=True)]


def fill_sqlite(path: Path, data: dict[str, Any], clients: int) -> None:
    db = sqlite3.connect(path)
    try:
        with db:
            _fill(db.executemany, data, clients, "?")
    finally:
        db.close()


def fill_postgres(url: str, data: dict[str, Any], clients: int) -> None:
    import psycopg

    with psycopg.connect(url) as db, db.cursor() as cur:
        _fill(cur.executemany, data, clients, "%s", copy=cur)
        db.commit()
        # What autovacuum does to tables that grew this much: without statistics the
        # planner sizes its hash joins for a tenth of the rows and spills them to disk.
        cur.execute("ANALYZE")
        db.commit()


def _fill(many: Any, data: dict[str, Any], clients: int, mark: str, copy: Any = None) -> None:
    def sql(text: str) -> str:
        return text.replace("?", mark)

    many(
        sql(
            "INSERT INTO clients (id, name, enabled, secret_hash, created_at, updated_at) VALUES (?, ?, 1, 'x', '', '')"
        ),
        [(client_name(n), f"Hoster {n}") for n in range(clients)],
    )
    names = [client_name(n) for n in range(clients)]
    sightings = _chunks(data["sightings"], lambda i, c, d, f, last: (i, names[c], d, last, 1, f))
    actions = _chunks(
        data["actions"], lambda c, i, d, a, at: (names[c], i, d, ACTIONS[a], "", at, at)
    )
    notices = _chunks(
        data["notices"], lambda c, i, at: (names[c], i, at, at + 24 * 3600, "bench", "open")
    )
    months = _chunks(data["hit_months"], lambda m, c, i, f, last: (m, names[c], i, f, last))
    tables = (
        ("sightings (entry_id, client_id, day, last_seen, answered, first_seen)", sightings, 6),
        ("hit_months (month, client_id, item_id, first_seen, last_seen)", months, 5),
        ("actions (client_id, item_id, day, action, reason, acted_at, recorded_at)", actions, 7),
        ("notices (client_id, item_id, issued_at, deadline_at, issued_by, state)", notices, 6),
    )
    for table, rows, width in tables:
        if copy is not None:
            with copy.copy(f"COPY {table} FROM STDIN") as out:
                for chunk in rows:
                    for row in chunk:
                        out.write_row(row)
        else:
            statement = f"INSERT INTO {table} VALUES ({', '.join('?' * width)})"
            for chunk in rows:
                many(sql(statement), chunk)


def item_ids(url: str) -> list[int]:
    query = "SELECT item_id FROM entries"
    if url.startswith("sqlite"):
        db = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            return [int(i) for (i,) in db.execute(query)]
        finally:
            db.close()
    import psycopg

    with psycopg.connect(url) as pg:
        return [int(i) for (i,) in pg.execute(query)]


def timed_report(url: str, month: str) -> tuple[float, dict[str, Any]]:
    store = open_store(url)
    try:
        started = time.perf_counter()
        found = takedown.report(store, month, actor=Actor("bench", Role.VIEWER))
        return time.perf_counter() - started, found
    finally:
        store.close()


def one_store(
    url: str, folder: Path, args: argparse.Namespace, month: str, first_day: int
) -> dict[str, Any]:
    deployment = deploy(folder, args.items, url=url)
    items = np.array(item_ids(url), dtype=np.int64)
    data = generated(args.records, args.clients, items, args.actions, first_day)
    started = time.perf_counter()
    if url.startswith("sqlite"):
        fill_sqlite(Path(url.removeprefix("sqlite:///")), data, args.clients)
    else:
        fill_postgres(url, data, args.clients)
    filled = time.perf_counter() - started
    first, found = timed_report(url, month)
    second, _ = timed_report(url, month)
    del deployment
    return {
        "records": len(data["sightings"][0]),
        "hits": data["hits"],
        "actions": len(data["actions"][0]),
        "notices": len(data["notices"][0]),
        "fill_seconds": round(filled, 1),
        "report_seconds": round(min(first, second), 2),
        "report_seconds_first": round(first, 2),
        "overall": found["overall"],
    }


def post_actions(base: str, match_ids: list[str], rate: float, stop: Any, counts: Any) -> None:
    """In a process of its own: actions at ``rate`` a second until ``stop`` is set (new ones
    first, then repeats, as retries would be), over a plain socket with the requests made
    beforehand (`bench.common.exchange`)."""
    host, port = base.removeprefix("http://").split(":")
    requests = []
    for number in range(len(match_ids) * 6):
        match_id = match_ids[number % len(match_ids)]
        action = ACTIONS[(number // len(match_ids)) % 3]  # removed, blocked, quarantined
        body = json.dumps({"match_id": match_id, "action": action}).encode()
        requests.append(
            post_request(f"{host}:{port}", "/v2/actions", body, {"Authorization": authorization()})
        )
    every = 1.0 / rate
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        reader = connection.makefile("rb")
        started = time.perf_counter()
        number = 0
        while not stop.is_set():
            ahead = started + number * every - time.perf_counter()
            if ahead > 0:
                time.sleep(ahead)
            status, _ = exchange(connection, reader, requests[number % len(requests)])
            counts[0 if status in (200, 201) else 1] += 1
            number += 1


def worker_seconds(pid: int) -> float:
    """CPU seconds the worker process has run, all its threads (the scheduler's own count)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


def store_processes(pid: int) -> list[int]:
    """The worker's child processes started by `store.process` (multiprocessing's spawn)."""
    found = []
    for child in children(pid):
        with contextlib.suppress(OSError):
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(child)
    return found


def worker_costs(
    base: str, pid: int, url: str, bodies: list[str], match_ids: list[str], scratch: Path
) -> dict[str, Any]:
    """The worker's CPU per legacy check (wrk, 32 connections) and per action recorded (one
    connection, each a new action), in the same run: a measure the machine's drift in speed
    does not move as it moves throughput."""
    import httpx

    before = worker_seconds(pid)
    checked = run_wrk(url, bodies, seconds=3, connections=32, scratch=scratch)
    check_cpu = worker_seconds(pid) - before
    kept = 0
    auth = (CLIENT_ID, CLIENT_SECRET)
    with httpx.Client(base_url=base, auth=auth, timeout=30) as client:
        # A first action starts the worker's store process, which is measured from here on.
        client.post("/v2/actions", json={"match_id": match_ids[-1], "action": "reported"})
        writers = store_processes(pid)
        before = worker_seconds(pid)
        writers_before = sum(worker_seconds(p) for p in writers)
        for number in range(len(match_ids) * 3):  # removed, blocked, quarantined
            match_id = match_ids[number % len(match_ids)]
            action = ACTIONS[number // len(match_ids)]
            answer = client.post("/v2/actions", json={"match_id": match_id, "action": action})
            kept += answer.status_code == 201
        action_cpu = worker_seconds(pid) - before
        writer_cpu = sum(worker_seconds(p) for p in writers) - writers_before
    return {
        "check_us": round(check_cpu / checked.requests * 1e6, 1),
        "checks_cores": round(check_cpu / 3, 3),
        "action_us": round(action_cpu / max(kept, 1) * 1e6, 1),
        "store_process_action_us": round(writer_cpu / max(kept, 1) * 1e6, 1),
        "actions_measured": kept,
    }


def check_path(args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    import httpx

    deployment = deploy(scratch / "checks", 100_000)
    bodies = legacy_bodies(deployment)
    with hashcheck_process(deployment) as (base, process):
        listed = [raw.hex() for raw in deployment.listed[:1000]]
        answer = httpx.post(
            base + "/v2/check", json={"md5": listed}, auth=(CLIENT_ID, CLIENT_SECRET), timeout=60
        ).json()
        match_ids = [r["matches"][0]["match_id"] for r in answer["results"]]
        measured, sent = match_ids[:500], match_ids[500:]
        url = base + "/v1/check/md5"
        run_wrk(url, bodies, seconds=2, connections=32, scratch=scratch)
        costs = worker_costs(base, process.pid, url, bodies, measured, scratch)
        print("worker CPU", costs, flush=True)
        context = multiprocessing.get_context("spawn")

        def without() -> float:
            measured = run_wrk(url, bodies, seconds=args.seconds, connections=32, scratch=scratch)
            return measured.requests_per_second

        # Each round with actions is set against the rounds without on either side of it,
        # which cancels drift that is steady over a round's length.
        rounds = []
        before = without()
        for _ in range(args.rounds):
            stop, counts = context.Event(), context.Array("l", 2)
            sender = context.Process(
                target=post_actions, args=(base, sent, args.action_rate, stop, counts)
            )
            sender.start()
            try:
                during = run_wrk(url, bodies, seconds=args.seconds, connections=32, scratch=scratch)
            finally:
                stop.set()
                sender.join(timeout=60)
            after = without()
            reference = (before + after) / 2
            rounds.append(
                {
                    "without_rps": [round(before), round(after)],
                    "with_rps": round(during.requests_per_second),
                    "ratio": round(during.requests_per_second / reference, 4),
                    "actions_kept": counts[0],
                    "actions_refused": counts[1],
                    "actions_per_second": round(counts[0] / args.seconds, 1),
                    "errors": during.errors,
                }
            )
            print("check path round", rounds[-1], flush=True)
            before = after
    rate = float(np.median([r["actions_per_second"] for r in rounds]))
    return {
        "action_rate": args.action_rate,
        "worker_cpu": costs,
        # The share of the worker's time that actions at the rate reached take from checks.
        "cpu_share_of_actions": round(rate * costs["action_us"] / 1e6 / costs["checks_cores"], 5),
        "rounds": rounds,
        "median_ratio": float(np.median([r["ratio"] for r in rounds])),
        "target_ratio_at_least": 0.98,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--actions", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--seconds", type=int, default=4, help="per check-path measurement")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--action-rate", type=float, default=20.0)
    parser.add_argument("--no-check-path", action="store_true")
    args = parser.parse_args()
    month, first_day = month_of(time.time())
    result: dict[str, Any] = {"month": month, "target_seconds": 10.0}
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        for kind in filter(None, args.stores.split(",")):
            if kind == "sqlite":
                result["sqlite"] = one_store(
                    f"sqlite:///{scratch / 'sqlite' / 'hashcheck.db'}",
                    scratch / "sqlite",
                    args,
                    month,
                    first_day,
                )
            else:
                with postgres_server(scratch / "pg") as server:
                    result["postgres"] = one_store(
                        server.get_uri(), scratch / "postgres", args, month, first_day
                    )
            print(kind, {k: v for k, v in result[kind].items() if k != "overall"}, flush=True)
        if len(result) > 2:
            write_result("takedown", result)
        if not args.no_check_path:
            found = check_path(args, scratch)
            costs = found["worker_cpu"]
            print(
                f"check path: median ratio {found['median_ratio']}; an action costs the worker "
                f"{costs['action_us']} µs of CPU and its store process "
                f"{costs['store_process_action_us']} µs, a check {costs['check_us']} µs: at "
                f"the rate reached, actions take {found['cpu_share_of_actions']:.2%} of the "
                "worker's time from checks",
                flush=True,
            )
            write_result("takedown_checks", found)


if __name__ == "__main__":
    main()
