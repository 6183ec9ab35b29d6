"""Test helpers: a deployment in a temporary folder, a real server thread, raw HTTP."""

from __future__ import annotations

import base64
import hashlib
import socket
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from hashcheck.admin import clients
from hashcheck.admin.bounds import ImportBounds
from hashcheck.admin.setup import initialise
from hashcheck.api.app import HashcheckApp, SubmissionLimits
from hashcheck.api.budgets import Budgets
from hashcheck.api.edge import EdgeHttpProtocol
from hashcheck.hashes.keyed import ListKey
from hashcheck.node.runtime import Node
from hashcheck.store.interface import Store
from hashcheck.store.open import open_store
from tests import contracts


@dataclass
class Deployment:
    """An initialised database and key, with one list and one client."""

    url: str
    key_file: Path
    key: ListKey
    client_id: str
    secret: str

    def store(self) -> Store:
        return open_store(self.url)


def make_deployment(url: str, folder: Path, list_name: str = "police") -> Deployment:
    store = open_store(url)
    try:
        key, _ = initialise(store, folder / "list.key")
        store.add_list(list_name, "National police", "", actor="test")
        issued = clients.add_client(store, "Acme hosting", actor="test", client_id="acme")
    finally:
        store.close()
    return Deployment(url, folder / "list.key", key, issued.client_id, issued.secret)


def another_client(deployment: Deployment, client_id: str = "other") -> tuple[str, str]:
    """A second client of the deployment (the baseline of every list): its id and secret."""
    store = deployment.store()
    try:
        issued = clients.add_client(store, "Other hosting", actor="test", client_id=client_id)
    finally:
        store.close()
    return issued.client_id, issued.secret


class ServerThread:
    """The real ASGI app under uvicorn on a random loopback port, in a thread."""

    def __init__(self, app: HashcheckApp, port: int = 0) -> None:
        """``port``: a given one (a service coming back where clients wait for it)."""
        self.app = app
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        # Listening before the server runs: connections queue instead of being refused.
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        # The protocol `hashcheck serve` uses: what it refuses is tested as it runs.
        config = uvicorn.Config(
            app,
            lifespan="on",
            log_level="warning",
            access_log=False,
            loop="asyncio",
            http=EdgeHttpProtocol,
            ws="none",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]})

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()
        contracts.forget(self.base)  # its port may serve another server next


def serve(
    deployment: Deployment,
    *,
    poll_interval: float = 0.25,
    stats_flush_interval: float = 5.0,
    index_dir: Path | None = None,
    console: bool = False,
    load_timeout: float = 10.0,
    port: int = 0,
    budgets: Budgets | None = None,
    metrics: bool = False,
    perceptual_processes: int = 2,
    import_bounds: ImportBounds | None = None,
    checks: bool = True,
    submissions: SubmissionLimits | None = None,
) -> Generator[ServerThread, None, None]:
    store = deployment.store()
    node = Node(
        store,
        deployment.key,
        poll_interval=poll_interval,
        stats_flush_interval=stats_flush_interval,
        store_factory=deployment.store,
        index_dir=index_dir,
    )
    app = HashcheckApp(
        node,
        console=console,
        budgets=budgets,
        metrics=metrics,
        perceptual_processes=perceptual_processes,
        import_bounds=import_bounds,
        checks=checks,
        submissions=submissions,
    )
    with ServerThread(app, port) as server:
        assert node.follower.ready.wait(load_timeout), "first snapshot did not load"
        yield server


@dataclass
class RawResponse:
    status: int
    version: str
    headers: dict[str, str]
    body: bytes


def raw_request(port: int, request: bytes) -> RawResponse:
    """Send bytes exactly as given; read the response until the server closes or it is complete."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        # Send from a thread: a server may answer (413) and close before the body is sent.
        sender = threading.Thread(target=_send_quietly, args=(conn, request))
        sender.start()
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        version, status, *_ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "-1"))
        while length >= 0 and len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
        if length < 0:
            while chunk := conn.recv(65536):
                body += chunk
        sender.join(timeout=10)
        return RawResponse(int(status), version, headers, body)


def _send_quietly(conn: socket.socket, data: bytes) -> None:
    try:
        conn.sendall(data)
    except OSError:
        return


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def legacy_post(
    port: int,
    path: str,
    body: bytes,
    authorization: str | None,
    *,
    http_version: str = "HTTP/1.1",
    content_type: str | None = "application/x-www-form-urlencoded",
    extra: str = "",
) -> RawResponse:
    """A POST shaped like libcurl's from the PHP clients: no User-Agent, credentials up front."""
    lines = [f"POST {path} {http_version}", f"Host: 127.0.0.1:{port}", "Accept: */*"]
    if authorization is not None:
        lines.append(f"Authorization: {authorization}")
    lines.append(f"Content-Length: {len(body)}")
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}")
    if http_version == "HTTP/1.1":
        lines.append("Connection: close")
    head = "\r\n".join(lines) + "\r\n" + extra + "\r\n"
    return raw_request(port, head.encode() + body)


def within_deadline(probe: Callable[[], object], expected: object, deadline: float) -> float:
    """Seconds until ``probe()`` returns ``expected``; fails past ``deadline``. Each probe is a
    real request, so the loop waits on the server, not on a timer."""
    started = time.monotonic()
    while True:
        got = probe()
        elapsed = time.monotonic() - started
        if got == expected:
            return elapsed
        assert elapsed < deadline, f"still {got!r} after {elapsed:.2f}s"


def list_hashes(
    deployment: Deployment,
    hexes: list[str],
    *,
    list_name: str = "police",
    category: str = "baseline",
) -> None:
    """Import ``hexes`` (a plain list) into the deployment's list, as the CLI would."""
    from hashcheck.admin import importing
    from hashcheck.hashes.keyed import Digester

    store = deployment.store()
    try:
        importing.import_file(
            store, Digester(deployment.key), list_name, hexes, actor="test", category=category
        )
    finally:
        store.close()


def list_perceptual(
    deployment: Deployment, source: Path, *, videos: bool = False, list_name: str = "police"
) -> None:
    """Import a PDQ list file (or, with ``videos``, a vPDQ one) as baseline, as the CLI would."""
    from hashcheck.admin import importing
    from hashcheck.hashes.keyed import Digester
    from hashcheck.hashes.sealing import Sealer

    store = deployment.store()
    try:
        importing.import_pdq_file(
            store,
            Digester(deployment.key),
            Sealer(deployment.key),
            list_name,
            source,
            actor="test",
            category="baseline",
            videos=videos,
        )
    finally:
        store.close()


def v2_check(server: ServerThread, deployment: Deployment, items: list[dict[str, Any]]) -> Any:
    """POST /v2/check with ``items`` as the deployment's client; the answer, which must be 200."""
    from tests.http_client import call

    status, body, _ = call(
        server.base, "/v2/check", {"hashes": items}, auth=(deployment.client_id, deployment.secret)
    )
    assert status == 200, body
    return body


def md5_hex(text: str) -> str:
    """The MD5 of ``text``, as a list or a client gives it."""
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def md5_match(server: ServerThread, deployment: Deployment, md5: str) -> dict[str, Any]:
    """The one match (v2) the deployment's client is answered for ``md5``."""
    (result,) = v2_check(server, deployment, [{"algorithm": "md5", "hash": md5}])["results"]
    (match,) = result["matches"]
    return dict(match)
