"""`hashcheck serve` as a newcomer runs it: a real process, the demo set-up, graceful stop."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import basic, legacy_post

TEST_MD5 = "258228aed7b04862fb4f41da4cde67e5"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(port: int, process: subprocess.Popen[str], deadline: float = 30.0) -> None:
    """Poll readiness (a real request each time) until 200, the process dies, or time is up."""
    started = time.monotonic()
    while time.monotonic() - started < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            pass
        # Block on the server's own output rather than sleeping blindly.
        if process.stderr is not None:
            os.set_blocking(process.stderr.fileno(), False)
            process.stderr.readline()
    pytest.fail("server did not become ready")


HASHCHECK = str(Path(sys.executable).with_name("hashcheck"))


def command_env(**extra: str) -> dict[str, str]:
    """This environment without any hashcheck setting, and with ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HASHCHECK_", "PROMETHEUS"))}
    return env | extra


def run_command(folder: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """`hashcheck ARGS` run to its end in ``folder``, with only the settings in ``extra``."""
    return subprocess.run(
        [HASHCHECK, *args],
        cwd=folder,
        env=command_env(**extra),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@contextlib.contextmanager
def running_demo(
    folder: Path, workers: int = 2, **extra: str
) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    """`hashcheck serve --demo` in ``folder`` until the block ends (then stopped with
    SIGINT, if still running): its port and process."""
    port = free_port()
    process = subprocess.Popen(
        [HASHCHECK, "serve", "--demo", "--port", str(port), "--workers", str(workers)],
        cwd=folder,
        env=command_env(**extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_ready(port, process)
        yield port, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                raise


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    with running_demo(tmp_path) as started:
        yield started


def answered(port: int, body: bytes, auth: str, deadline: float = 30.0) -> bytes:
    """The legacy answer, once the worker the request lands on is ready: with two workers,
    /readyz on one says nothing about the other, which answers 503 until it has loaded."""
    started = time.monotonic()
    while True:
        response = legacy_post(port, "/v1/check/md5", body, auth)
        if response.status != 503 or time.monotonic() - started > deadline:
            assert response.status == 200, response.body
            return response.body


def v2_answer(port: int, auth: str, item: dict[str, str]) -> Any:
    """The one result for ``item``, once the worker the request lands on is ready."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v2/check",
        data=json.dumps({"hashes": [item]}).encode(),
        headers={"Authorization": auth, "Content-Type": "application/json"},
    )
    started = time.monotonic()
    while True:
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return json.loads(response.read())["results"][0]
        except urllib.error.HTTPError as error:
            # 503 only until the worker the request lands on has loaded its index.
            assert error.code == 503 and time.monotonic() - started < 30, error.code


def test_demo_serves_what_it_prints(
    demo: tuple[int, subprocess.Popen[str]], tmp_path: Path
) -> None:
    port, process = demo
    auth = basic("demo", "demo-secret")
    assert answered(port, TEST_MD5.encode(), auth) == b"true"
    assert answered(port, b"0" * 32, auth) == b"false"
    sha1 = {"algorithm": "sha1", "hash": "41247e2022c2f4264816f6e3eeef1acee14b6af8"}
    assert v2_answer(port, auth, sha1)["match"] is True
    from hashcheck.cli.demo import DEMO_PDQ_QUERY

    near = v2_answer(port, auth, {"algorithm": "pdq", "hash": DEMO_PDQ_QUERY})
    assert [m["distance"] for m in near["matches"]] == [3]
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0
    stdout = process.stdout.read() if process.stdout else ""
    assert (
        f"curl -u demo:demo-secret --data {TEST_MD5} http://127.0.0.1:{port}/v1/check/md5" in stdout
    )
    assert '"algorithm": "pdq"' in stdout
    assert (tmp_path / "demo-data" / "hashcheck.db").exists()


def test_serve_refuses_to_start_without_init(tmp_path: Path) -> None:
    result = run_command(tmp_path, "serve", "--port", str(free_port()))
    # The default database (hashcheck-data/hashcheck.db) does not exist: no empty one is made.
    assert result.returncode == 7
    assert "hashcheck-data/hashcheck.db" in result.stderr and "hashcheck init" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "hashcheck-data").exists()


def test_demo_set_up_completes_an_interrupted_one(tmp_path: Path) -> None:
    from hashcheck.admin.setup import initialise
    from hashcheck.cli import demo
    from hashcheck.config import Settings
    from hashcheck.store.open import open_store

    fresh = Settings(
        database_url=f"sqlite:///{tmp_path / 'demo.db'}", key_file=tmp_path / "list.key"
    )
    # As if a first run had stopped after creating the list: no client, no entries yet.
    other = open_store(fresh.database_url)
    initialise(other, fresh.key_file)
    other.add_list(demo.DEMO_LIST, "hashcheck demo", "", actor="t")
    other.close()
    demo.prepare(fresh)
    demo.prepare(fresh)  # and running it again changes nothing
    other = open_store(fresh.database_url)
    assert [c.client_id for c in other.clients()] == [demo.DEMO_CLIENT]
    assert other.entry_count() == demo.SYNTHETIC + 3  # MD5, SHA-1, synthetic MD5s and one PDQ
    other.close()
