"""Benchmark (issue 13): what the upload guard adds to an upload, and its memory.

Two app processes on loopback (`bench.guard_app`), one behind `GuardMiddleware` (its check
goes to a hashcheck server with 100,000 entries), one without: a 10 MB multipart upload is
posted to each in alternating rounds and the medians compared (the unguarded app is the
reference in the same run; target: the guard adds <= 10 ms); the guard's reader alone, and each
digest alone, are timed in this process to say where the time goes. Then one 1 GB multipart upload,
streamed, through the guarded app: its peak resident memory before and after (target: flat).
Writes bench/results/upload_guard.json.

    .venv/bin/python -m bench.upload_guard [--rounds N] [--big-mib N]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from bench.common import deploy, free_port, hashcheck_server, process, write_result
from hashcheck.client.uploads import UploadReader

BOUNDARY = "b0undary-bench"
PIECE = os.urandom(1 << 20)


def multipart(mib: int) -> Iterator[bytes]:
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="f"; filename="f.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    for _ in range(mib):
        yield PIECE
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def post(client: httpx.Client, url: str, mib: int) -> float:
    body = b"".join(multipart(mib))
    started = time.perf_counter()
    answer = client.post(
        url, content=body, headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    )
    took = time.perf_counter() - started
    if answer.status_code != 201:
        raise RuntimeError(f"{url} answered {answer.status_code}: {answer.text[:200]}")
    return took * 1000


def _timed(work: Any) -> float:
    started = time.perf_counter()
    work()
    return (time.perf_counter() - started) * 1000


def read_all(pieces: list[bytes]) -> None:
    reader = UploadReader(f"multipart/form-data; boundary={BOUNDARY}")
    try:
        for piece in pieces:
            reader.feed(piece)
        reader.finish()
    finally:
        reader.close()


def peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def app(port: int, service: str, variant: str) -> Any:
    return process([sys.executable, "-m", "bench.guard_app", str(port), service, variant])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--big-mib", type=int, default=1024)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        deployment = deploy(Path(folder) / "deployment", 100_000)
        with hashcheck_server(deployment) as service:
            plain_port, guarded_port = free_port(), free_port()
            with (
                app(plain_port, service, "plain"),
                app(guarded_port, service, "guarded") as guarded,
            ):
                urls = {
                    "plain": f"http://127.0.0.1:{plain_port}/upload",
                    "guarded": f"http://127.0.0.1:{guarded_port}/upload",
                }
                for url in urls.values():
                    wait_http_any(url)
                times: dict[str, list[float]] = {"plain": [], "guarded": []}
                with httpx.Client(timeout=120) as client:
                    for url in urls.values():
                        post(client, url, 10)  # warm both
                    for _ in range(args.rounds):
                        for name, url in urls.items():
                            times[name].append(post(client, url, 10))
                    before = peak_kib(guarded.pid)
                    started = time.perf_counter()
                    answer = client.post(
                        urls["guarded"],
                        content=multipart(args.big_mib),
                        headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
                        timeout=600,
                    )
                    big_seconds = time.perf_counter() - started
                    if answer.status_code != 201:
                        raise RuntimeError(f"the big upload answered {answer.status_code}")
                    after = peak_kib(guarded.pid)
    data = PIECE * 10
    floors = {
        name: min(_timed(lambda name=name: hashlib.new(name, data).digest()) for _ in range(5))
        for name in ("md5", "sha1", "sha256")
    }
    body = b"".join(multipart(10))
    pieces = [body[at : at + (1 << 18)] for at in range(0, len(body), 1 << 18)]
    reading = min(_timed(lambda: read_all(pieces)) for _ in range(5))
    plain = statistics.median(times["plain"])
    guarded_ms = statistics.median(times["guarded"])
    result = {
        "upload_mib": 10,
        "rounds": args.rounds,
        "unguarded_median_ms": round(plain, 1),
        "guarded_median_ms": round(guarded_ms, 1),
        "added_ms": round(guarded_ms - plain, 1),
        "ratio_guarded_to_unguarded": round(guarded_ms / plain, 2),
        "target_added_ms": 10,
        "hashing_10_mib_alone_ms": {name: round(ms, 1) for name, ms in floors.items()},
        "guard_reading_10_mib_alone_ms": round(reading, 1),
        "big_upload_mib": args.big_mib,
        "big_upload_seconds": round(big_seconds, 1),
        "guarded_app_peak_rss_mib_before": round(before / 1024, 1),
        "guarded_app_peak_rss_mib_after": round(after / 1024, 1),
    }
    print(
        f"10 MiB multipart upload: unguarded {plain:.1f} ms, guarded {guarded_ms:.1f} ms "
        f"(median of {args.rounds}); the guard adds {guarded_ms - plain:.1f} ms "
        f"(ratio {guarded_ms / plain:.2f}; target <= 10 ms)"
    )
    print(
        "hashing 10 MiB alone, in this process: "
        + ", ".join(f"{name} {ms:.1f} ms" for name, ms in floors.items())
        + f"; the guard's reader (parse, spool, all three digests) {reading:.1f} ms"
    )
    print(
        f"{args.big_mib} MiB upload through the guard in {big_seconds:.1f} s: the app's peak "
        f"memory {before / 1024:.1f} MiB before, {after / 1024:.1f} MiB after"
    )
    write_result("upload_guard", result)


def wait_http_any(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.post(url, content=b"", timeout=2)
        except httpx.TransportError:
            time.sleep(0.05)  # not listening yet: a start-up poll, not a synchronisation
        else:
            return
    raise RuntimeError(f"{url} did not start")


if __name__ == "__main__":
    main()
