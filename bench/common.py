"""Shared benchmark plumbing: deployments, server processes, wrk, and result files.

Benchmarks use loopback addresses only, bounded durations, and stop what they start.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hashcheck.admin import clients
from hashcheck.admin.setup import initialise
from hashcheck.hashes.algorithms import Algorithm
from hashcheck.hashes.keyed import Digester
from hashcheck.store.open import open_store

ROOT = Path(__file__).resolve().parent.parent
# A quick run (`bench.quick`) writes elsewhere: the docs cite the files here.
RESULTS = Path(os.environ.get("HASHCHECK_BENCH_RESULTS") or ROOT / "bench" / "results")
CLIENT_ID = "bench"
CLIENT_SECRET = "bench-secret"  # noqa: S105 - a throwaway credential on loopback


def require_wrk() -> str:
    """wrk, the native HTTP load generator: Debian's, installed when missing."""
    from bench.debian import program

    return program("wrk", "wrk")


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def write_result(name: str, result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    result = {
        "benchmark": name,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        **result,
    }
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return path


def random_md5s(count: int, seed: int) -> list[bytes]:
    data = np.random.default_rng(seed).bytes(16 * count)
    return [data[i : i + 16] for i in range(0, len(data), 16)]


@dataclass
class BenchDeployment:
    folder: Path
    url: str
    key_file: Path
    listed: list[bytes]  # raw MD5s on the list

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "HASHCHECK_DATABASE_URL": self.url,
            "HASHCHECK_KEY_FILE": str(self.key_file),
            "HASHCHECK_INDEX_DIR": str(self.folder / "index"),
            "HASHCHECK_LOG_LEVEL": "warning",
        }


def deploy(folder: Path, entries: int, *, seed: int = 1, url: str | None = None) -> BenchDeployment:
    """A deployment (SQLite in ``folder`` unless ``url`` names another store) with one list
    of ``entries`` random MD5s and the bench client."""
    folder.mkdir(parents=True, exist_ok=True)
    url = url or f"sqlite:///{folder / 'hashcheck.db'}"
    store = open_store(url)
    try:
        key, _ = initialise(store, folder / "list.key")
        hash_list = store.add_list("bench", "benchmark", "", actor="bench")
        baseline = next(c.category_id for c in store.categories() if c.name == "baseline")
        listed = random_md5s(entries, seed)
        digest = Digester(key).for_algorithm(Algorithm.MD5)
        step = 500_000
        store.import_entries(
            hash_list.list_id,
            (
                (baseline, b"".join(map(digest, listed[i : i + step])))
                for i in range(0, entries, step)
            ),
            source="bench",
            actor="bench",
        )
        clients.add_client(store, "Bench", actor="bench", client_id=CLIENT_ID, secret=CLIENT_SECRET)
    finally:
        store.close()
    return BenchDeployment(folder, url, folder / "list.key", listed)


def children(pid: int) -> list[int]:
    """The ids of a process's direct children (uvicorn's workers, nginx's workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 120.0) -> None:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer 200 within {timeout}s")


@contextlib.contextmanager
def process(
    command: list[str], env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def legacy_bodies(deployment: BenchDeployment) -> list[str]:
    """A thousand legacy check bodies, listed and unlisted in turn: a scan that finds
    something now and then."""
    listed = [raw.hex() for raw in deployment.listed[:500]]
    unlisted = [raw.hex() for raw in random_md5s(500, seed=99)]
    return [h for pair in zip(listed, unlisted, strict=True) for h in pair]


@contextlib.contextmanager
def hashcheck_process(
    deployment: BenchDeployment, workers: int = 1, settings: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A `hashcheck serve` process on a free loopback port, ready: its base URL and the
    process; ``settings`` adds environment."""
    port = free_port()
    executable = str(Path(sys.executable).with_name("hashcheck"))
    with process(
        [executable, "serve", "--port", str(port), "--workers", str(workers)],
        {**deployment.env(), **(settings or {})},
    ) as proc:
        base = f"http://127.0.0.1:{port}"
        wait_http(base + "/readyz")
        yield base, proc


@contextlib.contextmanager
def hashcheck_server(
    deployment: BenchDeployment, workers: int = 1, settings: dict[str, str] | None = None
) -> Iterator[str]:
    """`hashcheck_process`, when only its base URL is wanted."""
    with hashcheck_process(deployment, workers, settings) as (base, _):
        yield base


@contextlib.contextmanager
def ceiling_server() -> Iterator[str]:
    port = free_port()
    with process([sys.executable, "-m", "bench.ceiling_app", str(port)]):
        base = f"http://127.0.0.1:{port}"
        wait_http(base + "/")
        yield base


def authorization() -> str:
    return "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()


def post_request(host: str, path: str, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    """One HTTP/1.1 POST of a JSON body, made beforehand, for `exchange`."""
    lines = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\n{lines}Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def exchange(connection: socket.socket, reader: Any, request: bytes) -> tuple[int, bytes]:
    """Send one prepared request on a kept-alive connection and read its answer (status,
    body). A load sender's own CPU shares this machine's two cores with the node it loads:
    an HTTP client library's took more than the node's work it was meant to cause."""
    connection.sendall(request)
    first = reader.readline().split()
    if len(first) < 2 or not first[1].isdigit():
        raise RuntimeError(f"the node answered no HTTP status line: {first!r}")
    status = int(first[1])
    length = 0
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    return status, reader.read(length)


WRK_SCRIPT = r"""
local bodies = {}
local i = 0
local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
for line in io.lines(os.getenv("BENCH_BODIES")) do bodies[#bodies + 1] = line end
wrk.method = "POST"
wrk.headers["Authorization"] = os.getenv("BENCH_AUTH")
wrk.headers["Content-Type"] = os.getenv("BENCH_CONTENT_TYPE")
request = function()
  i = i % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[i])
end
if pause > 0 then
  delay = function() return pause end
end
"""


@dataclass
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int

    def as_dict(self) -> dict[str, float | int]:
        return dict(self.__dict__)


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(
    url: str,
    bodies: list[str],
    *,
    seconds: int,
    connections: int,
    delay_ms: float = 0,
    content_type: str = "application/x-www-form-urlencoded",
    scratch: Path,
) -> WrkResult:
    script = scratch / "bench.lua"
    script.write_text(WRK_SCRIPT)
    body_file = scratch / "bodies.txt"
    body_file.write_text("\n".join(bodies) + "\n")
    env = {
        **os.environ,
        "BENCH_BODIES": str(body_file),
        "BENCH_AUTH": authorization(),
        "BENCH_CONTENT_TYPE": content_type,
        "BENCH_DELAY_MS": str(delay_ms),
    }
    output = subprocess.run(
        [
            require_wrk(),
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=seconds + 60,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", output)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", output)
    total = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors += int(non_2xx.group(1)) if non_2xx else 0
    assert p50 and p99, output
    return WrkResult(rps, _ms(*p50.groups()), _ms(*p99.groups()), total, errors)


@contextlib.contextmanager
def postgres_server(folder: Path) -> Iterator[Any]:
    """A PostgreSQL server (pgserver) with its data in ``folder``, stopped at the end. Its
    runtime folder, where pgserver writes a lock file (again at interpreter exit), is removed
    after everything else at exit: a benchmark leaves nothing behind."""
    runtime = tempfile.mkdtemp(prefix="hashcheck-bench-runtime-")
    # Registered before pgserver registers its own: exit handlers run last first.
    atexit.register(shutil.rmtree, runtime, True)
    os.environ.setdefault("XDG_RUNTIME_DIR", runtime)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

        server = pgserver.get_server(folder, cleanup_mode="stop")  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.cleanup()
