"""Benchmark (issue 17, item 5): instructions per legacy check and per PDQ query, counted by
valgrind's callgrind. Counts are the same from run to run on a busy machine, where times are
not, so a regression shows as a larger count even when the wall clock cannot tell.

- **Legacy check.** A `hashcheck serve` process (1 worker, SQLite, 10,000 listed MD5s, the
  store polled once a minute so that the follower adds nothing) runs under callgrind. After a
  warm-up its counters are zeroed (`callgrind_control --zero`), ``--checks`` listed checks
  are sent one after another on one connection from this process, and the counters dumped:
  the server process's instructions over the checks. The reference, in the same run: the bare
  ASGI app on the same uvicorn stack (`bench.ceiling_app`), counted the same way.
- **PDQ query.** A process of this module under callgrind builds `PdqIndex` over ``--pdq-size``
  random hashes; its counters are zeroed, ``--queries`` queries (32 of them, a near-duplicate
  planted for each at distances 0..31, repeated in turn) answered at threshold 31, and the
  counters dumped. The reference,
  in the same process: the physical brute force (XOR and popcount over every stored hash in
  numpy) for the same queries.

Each figure is measured twice (``--checks`` and three times as many, the longer run repeating
the shorter one's requests; the same for queries) and reported per operation with how far the
two agree. Needs valgrind (installed with apt-get
when missing). Loopback only; it stops by itself. Writes bench/results/instructions.json.

    .venv/bin/python -m bench.instructions [--checks N] [--pdq-size N] [--queries N]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from bench.auth_flood import TEST_MD5, basic
from bench.common import (
    CLIENT_ID,
    CLIENT_SECRET,
    ROOT,
    deploy,
    exchange,
    free_port,
    post_request,
    wait_http,
    write_result,
)
from bench.debian import program
from bench.pdq_index import THRESHOLD, flip

WARM_UP = 200
QUERIES = 32  # one planted near-duplicate at each distance 0..31
READY_SECONDS = 900.0  # a node's start under callgrind is tens of seconds here


class Counted:
    """A process under callgrind whose counters this process zeroes and dumps."""

    def __init__(self, command: list[str], folder: Path, env: dict[str, str]) -> None:
        self.folder = folder
        self._dumps = 0
        self.process = subprocess.Popen(
            [
                program("valgrind", "valgrind"),
                "--tool=callgrind",
                f"--callgrind-out-file={folder / 'callgrind.out'}",
                *command,
            ],
            env=env,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )

    def zero(self) -> None:
        self._control("--zero")

    def dump(self) -> int:
        """The instructions counted since the last zero."""
        self._control("--dump")
        self._dumps += 1
        text = (self.folder / f"callgrind.out.{self._dumps}").read_text()
        for line in text.splitlines():
            if line.startswith("summary:"):
                return int(line.split()[1])
        raise RuntimeError("callgrind wrote a dump without a summary line")

    def _control(self, what: str) -> None:
        control = program("callgrind_control", "valgrind")
        done = subprocess.run(
            [control, what, str(self.process.pid)],
            check=False,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            raise RuntimeError(f"callgrind_control {what} failed: {done.stderr.strip()}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextlib.contextmanager
def counted(command: list[str], env: dict[str, str]) -> Iterator[Counted]:
    with tempfile.TemporaryDirectory(prefix="hashcheck-bench-callgrind-") as folder:
        running = Counted(command, Path(folder), env)
        try:
            yield running
        finally:
            running.stop()


def per_request(running: Counted, port: int, path: str, counts: tuple[int, int]) -> list[float]:
    """Instructions per request of ``path``, once for each of ``counts`` requests."""
    headers = {"Authorization": basic(CLIENT_ID, CLIENT_SECRET)}
    request = post_request(f"127.0.0.1:{port}", path, TEST_MD5.encode(), headers)
    figures = []
    with socket.create_connection(("127.0.0.1", port), timeout=300) as connection:
        reader = connection.makefile("rb")
        for _ in range(WARM_UP):
            exchange(connection, reader, request)
        for count in counts:
            running.zero()
            for _ in range(count):
                status, body = exchange(connection, reader, request)
                if status != 200 or body not in (b"true", b"false"):
                    raise RuntimeError(f"{path} was answered {status} {body!r}")
            figures.append(running.dump() / count)
    return figures


def legacy(checks: int) -> dict[str, Any]:
    counts = (checks, 3 * checks)
    with tempfile.TemporaryDirectory() as folder:
        deployment = deploy(Path(folder) / "deployment", 10_000)
        port = free_port()
        hashcheck = str(Path(sys.executable).with_name("hashcheck"))
        env = {**deployment.env(), "HASHCHECK_POLL_INTERVAL": "60"}
        command = [sys.executable, hashcheck, "serve", "--port", str(port), "--workers", "1"]
        with counted(command, env) as running:
            wait_http(f"http://127.0.0.1:{port}/readyz", timeout=READY_SECONDS)
            ours = per_request(running, port, "/v1/test/check/md5", counts)
    port = free_port()
    with counted([sys.executable, "-m", "bench.ceiling_app", str(port)], dict(os.environ)) as bare:
        wait_http(f"http://127.0.0.1:{port}/", timeout=READY_SECONDS)
        reference = per_request(bare, port, "/", counts)
    return {
        "checks": list(counts),
        "instructions_per_check": round(ours[-1]),
        "runs_agree_within": spread(ours),
        "bare_app_instructions_per_request": round(reference[-1]),
        "bare_app_runs_agree_within": spread(reference),
        "ratio_to_bare_app": round(ours[-1] / reference[-1], 2),
    }


def pdq(size: int, queries: int) -> dict[str, Any]:
    counts = (queries, 3 * queries)
    command = [sys.executable, "-m", "bench.instructions", "--pdq-child", str(size)]
    with counted(command, dict(os.environ)) as running:
        child = Child(running)
        child.expect("built")
        # Once through, uncounted: the first searches pay for what numpy and the index
        # set up once (a first run counted 36% more per query than one three times longer).
        child.ask(f"search {queries}")
        child.ask(f"scan {queries}")
        ours = [child.count(f"search {n}") / n for n in counts]
        reference = [child.count(f"scan {n}") / n for n in counts]
        recall = float(child.ask("recall"))
    return {
        "stored_hashes": size,
        "queries": list(counts),
        "threshold": THRESHOLD,
        "instructions_per_query": round(ours[-1]),
        "runs_agree_within": spread(ours),
        "brute_force_instructions_per_query": round(reference[-1]),
        "brute_force_runs_agree_within": spread(reference),
        "ratio_to_brute_force": round(ours[-1] / reference[-1], 3),
        "recall": recall,
    }


class Child:
    """The PDQ process's side of the conversation: one line asked, one line answered."""

    def __init__(self, running: Counted) -> None:
        self._running = running
        assert running.process.stdin is not None and running.process.stdout is not None
        self._stdin, self._stdout = running.process.stdin, running.process.stdout

    def ask(self, line: str) -> str:
        self._stdin.write(line.encode() + b"\n")
        self._stdin.flush()
        return self.expect(None)

    def expect(self, wanted: str | None) -> str:
        answer = self._stdout.readline().decode().strip()
        if not answer or (wanted is not None and answer != wanted):
            raise RuntimeError(f"the PDQ process answered {answer!r}, not {wanted!r}")
        return answer

    def count(self, line: str) -> int:
        self._running.zero()
        self.ask(line)
        return self._running.dump()


def pdq_child(size: int) -> None:
    """Under callgrind: build the index, then answer the parent's lines."""
    from hashcheck.pdq.index import PdqIndex, words

    rng = np.random.default_rng(17)
    stored = bytearray(rng.bytes(32 * size))
    queries = [rng.bytes(32) for _ in range(QUERIES)]
    planted = rng.choice(size, size=len(queries), replace=False).tolist()
    for number, (query, position) in enumerate(zip(queries, planted, strict=True)):
        bits = rng.choice(256, size=number % (THRESHOLD + 1), replace=False).tolist()
        stored[32 * position : 32 * position + 32] = flip(query, bits)
    table = words(bytes(stored))
    index = PdqIndex(table)
    found: set[int] = set()
    searched = 0
    print("built", flush=True)
    for asked in sys.stdin:
        what, _, told = asked.strip().partition(" ")
        if what == "search":
            searched = max(searched, min(int(told), QUERIES))
            for query in cycled(queries, int(told)):
                found.update(near.position for near in index.search(query, THRESHOLD))
            print("searched", flush=True)
        elif what == "scan":
            for query in cycled(queries, int(told)):
                distances = np.bitwise_count(table ^ words(query)).sum(axis=1)
                np.flatnonzero(distances <= THRESHOLD)
            print("scanned", flush=True)
        elif what == "recall":
            # The share of the queries asked whose planted near-duplicate was found.
            print(len(found & set(planted[:searched])) / max(searched, 1), flush=True)


def cycled(queries: list[bytes], count: int) -> list[bytes]:
    """``count`` queries: the first `QUERIES`, then the same again, so that a longer run
    repeats a shorter one's work and the two counts per query can agree."""
    return [queries[i % len(queries)] for i in range(count)]


def spread(figures: list[float]) -> str:
    low, high = min(figures), max(figures)
    return f"{(high - low) / high:.2%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checks", type=int, default=500)
    parser.add_argument("--pdq-size", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=QUERIES)
    parser.add_argument("--pdq-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pdq_child:
        pdq_child(args.pdq_child)
        return
    result = {"legacy": legacy(args.checks), "pdq": pdq(args.pdq_size, args.queries)}
    check, query = result["legacy"], result["pdq"]
    print(
        f"legacy check: {check['instructions_per_check']:,} instructions (runs agree within "
        f"{check['runs_agree_within']}); bare app on the same stack: "
        f"{check['bare_app_instructions_per_request']:,} (ratio {check['ratio_to_bare_app']})"
    )
    print(
        f"PDQ query at {query['stored_hashes']:,} stored: {query['instructions_per_query']:,} "
        f"instructions (runs agree within {query['runs_agree_within']}); brute force: "
        f"{query['brute_force_instructions_per_query']:,} (ratio "
        f"{query['ratio_to_brute_force']}); recall {query['recall']}"
    )
    write_result("instructions", result)


if __name__ == "__main__":
    main()
