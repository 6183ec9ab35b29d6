"""The upload-path examples, run: an ASGI app behind `GuardMiddleware` against a real server
(reject on match, fail closed by default, open when configured), and the curl script."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import threading
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from bench.debian import program

from hashcheck.client import AsyncHashcheckClient
from hashcheck.client.guard import GuardMiddleware, UploadGuard
from tests.support import (
    Deployment,
    ServerThread,
    another_client,
    list_hashes,
    make_deployment,
    serve,
)

ROOT = Path(__file__).resolve().parent.parent
LISTED = b"bytes of a listed file\n"


@pytest.fixture
def deployment(sqlite_url: str, tmp_path: Path) -> Deployment:
    deployed = make_deployment(sqlite_url, tmp_path)
    list_hashes(deployed, [hashlib.md5(LISTED, usedforsecurity=False).hexdigest()])
    return deployed


@pytest.fixture
def server(deployment: Deployment) -> Iterator[ServerThread]:
    yield from serve(deployment)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def storage(scope: Any, receive: Any, send: Any) -> None:
    """The web app being protected: it stores what it receives (here: echoes its size)."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 201, "headers": []})
    await send({"type": "http.response.body", "body": f"stored {len(body)}".encode()})


def run_app(
    base: str, credentials: tuple[str, str], fail_closed: bool
) -> Generator[str, None, None]:
    client = AsyncHashcheckClient(base, *credentials, retries=1, backoff=0.01)
    app = GuardMiddleware(
        storage,
        UploadGuard(client, fail_closed=fail_closed),
        guarded=lambda scope: scope["method"] == "PUT",
    )
    yield from run_asgi(app)


def run_asgi(app: Any) -> Iterator[str]:
    """An ASGI app on a free loopback port, served by uvicorn in a thread, until closed."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]})
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def test_the_middleware_rejects_matches_and_fails_closed(
    server: ServerThread, deployment: Deployment
) -> None:
    credentials = (deployment.client_id, deployment.secret)
    app = run_app(server.base, credentials, fail_closed=True)
    base = next(app)
    try:
        assert httpx.put(base + "/upload", content=b"holiday photo").status_code == 201
        refused = httpx.put(base + "/upload", content=LISTED)
        assert refused.status_code == 422 and "not accepted" in refused.text
        assert httpx.get(base + "/").status_code == 201  # not guarded: passes untouched
    finally:
        app.close()
    down = f"http://127.0.0.1:{closed_port()}"
    app = run_app(down, credentials, fail_closed=True)
    base = next(app)
    try:
        answer = httpx.put(base + "/upload", content=b"holiday photo")
        # Why it failed is for the hoster's log; the uploader reads no internals.
        assert answer.status_code == 503
        assert answer.text == "upload could not be checked, try again later"
        twice = httpx.put(
            base + "/upload",
            content=LISTED,
            headers=[("Content-Type", "text/plain"), ("Content-Type", "multipart/form-data")],
        )
        assert twice.status_code == 400 and "more than one Content-Type" in twice.text
    finally:
        app.close()
    app = run_app(down, credentials, fail_closed=False)
    base = next(app)
    try:
        assert httpx.put(base + "/upload", content=b"holiday photo").status_code == 201
    finally:
        app.close()


def test_the_curl_example(server: ServerThread, deployment: Deployment, tmp_path: Path) -> None:
    listed, clean = tmp_path / "listed.bin", tmp_path / "clean.bin"
    listed.write_bytes(LISTED)
    clean.write_bytes(b"holiday photo")
    script = str(ROOT / "examples" / "check-upload.sh")

    def check(path: Path, url: str, secret: str = deployment.secret) -> int:
        env = {
            **os.environ,
            "HASHCHECK_SERVICE_URL": url,
            "HASHCHECK_CLIENT_ID": deployment.client_id,
            "HASHCHECK_CLIENT_SECRET": secret,
        }
        return subprocess.run(
            ["bash", script, str(path)], env=env, check=False, capture_output=True, timeout=60
        ).returncode

    assert check(listed, server.base) == 1
    assert check(clean, server.base) == 0
    assert check(clean, server.base, secret="wrong") == 2  # 401: not checked, not accepted
    assert check(clean, f"http://127.0.0.1:{closed_port()}") == 2


def test_the_php_example(server: ServerThread, deployment: Deployment, tmp_path: Path) -> None:
    """The original service's real clients were PHP: the example runs on Debian's php-cli."""
    php = program("php", "php-cli", also=("/usr/bin",))
    listed, clean = tmp_path / "listed.bin", tmp_path / "clean.bin"
    listed.write_bytes(LISTED)
    clean.write_bytes(b"holiday photo")
    script = str(ROOT / "examples" / "check-upload.php")

    def check(path: Path, url: str, secret: str = deployment.secret) -> tuple[int, str]:
        env = {
            **os.environ,
            "HASHCHECK_SERVICE_URL": url,
            "HASHCHECK_CLIENT_ID": deployment.client_id,
            "HASHCHECK_CLIENT_SECRET": secret,
        }
        done = subprocess.run(
            [php, script, str(path)], env=env, check=False, capture_output=True, timeout=60
        )
        return done.returncode, done.stdout.decode().strip()

    assert check(listed, server.base) == (1, "match")
    assert check(clean, server.base) == (0, "no_match")
    assert check(clean, server.base, secret="wrong") == (2, "unchecked")  # 401
    assert check(clean, f"http://127.0.0.1:{closed_port()}") == (2, "unchecked")
    assert check(tmp_path / "missing.bin", server.base) == (2, "unchecked")


def test_a_blocked_upload_is_reported_after_its_answer_unless_turned_off(
    server: ServerThread, deployment: Deployment
) -> None:
    """The guards tell the service which matches they blocked at upload (its takedown
    timing), after deciding and without delaying the answer; a hoster can turn that off."""
    import asyncio

    from hashcheck.client import HashcheckClient
    from hashcheck.client.uploads import UploadReader
    from hashcheck.client.wsgiguard import SyncUploadGuard

    credentials = (deployment.client_id, deployment.secret)

    def actions(client_id: str = deployment.client_id) -> list[tuple[str, int]]:
        store = deployment.store()
        try:
            return [(a.action, a.item_id) for a in store.actions(client_id)]
        finally:
            store.close()

    async def asgi_guard(report: bool) -> int:
        async with AsyncHashcheckClient(server.base, *credentials) as client:
            guard = UploadGuard(client, report_actions=report)
            decided = await guard.decide(b"holiday photo")
            assert decided.allowed
            decided = await guard.decide(LISTED)
            await guard.reported()
        assert decided.status == 422
        (item,) = {m.item for r in decided.results for m in r.matches}
        assert item is not None
        return item

    item = asyncio.run(asgi_guard(report=False))
    assert actions() == []
    assert asyncio.run(asgi_guard(report=True)) == item
    assert actions() == [("blocked_at_upload", item)]

    other = another_client(deployment)  # the WSGI guard of another hoster
    server.app.node.follower.refresh()
    with HashcheckClient(server.base, *other) as client:
        reader = UploadReader(None)
        reader.feed(LISTED)
        parts = reader.finish()
        guard = SyncUploadGuard(client)
        try:
            assert guard.decide_parts(parts).status == 422
        finally:
            guard.close()
            reader.close()
    assert actions() == [("blocked_at_upload", item)]
    assert actions(other[0]) == [("blocked_at_upload", item)]
