"""A node sends each (small) answer in one write, so that a node dying mid-answer never leaves
the balancer a head without a body, which nginx could not retry elsewhere (see
hashcheck.api.onewrite and tests/test_balancer.py). Counted by the kernel: the data segments
the client's socket received (Linux TCP_INFO), from a real `hashcheck serve`."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import Deployment, basic, list_hashes, make_deployment
from tests.test_serve import free_port, wait_ready

LISTED = hashlib.md5(b"on the list", usedforsecurity=False).hexdigest()
# struct tcp_info (linux/tcp.h): tcpi_data_segs_in follows 8 one-byte fields, 24 __u32 and
# 4 __u64 fields, then segs_out, segs_in, notsent_bytes and min_rtt (Linux 4.6 and later).
DATA_SEGS_IN = 8 + 24 * 4 + 4 * 8 + 4 * 4


def data_segments_in(conn: socket.socket) -> int:
    raw = conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    if len(raw) < DATA_SEGS_IN + 4:
        pytest.skip("this kernel's TCP_INFO has no data segment counts")
    return int(struct.unpack_from("I", raw, DATA_SEGS_IN)[0])


@pytest.fixture
def node(sqlite_url: str, tmp_path: Path) -> Iterator[tuple[int, Deployment]]:
    if not sys.platform.startswith("linux"):
        pytest.skip("TCP_INFO's layout is Linux's")
    deployment = make_deployment(sqlite_url, tmp_path)
    list_hashes(deployment, [LISTED])
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HASHCHECK_")},
        "HASHCHECK_DATABASE_URL": deployment.url,
        "HASHCHECK_KEY_FILE": str(deployment.key_file),
        "HASHCHECK_INDEX_DIR": str(tmp_path / "index"),
        "HASHCHECK_ADMIN_API": "false",
    }
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("hashcheck")), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_ready(port, process)
        yield port, deployment
    finally:
        process.terminate()
        process.wait(timeout=30)


def exchange(conn: socket.socket, request: bytes) -> tuple[bytes, int]:
    """Send one request on the open connection; the whole response and the data segments
    it arrived in."""
    before = data_segments_in(conn)
    conn.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += conn.recv(65536)
    return head + b"\r\n\r\n" + body, data_segments_in(conn) - before


def post(path: str, body: bytes, auth: str | None, extra: str = "") -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: node", f"Content-Length: {len(body)}"]
    if auth is not None:
        lines.append(f"Authorization: {auth}")
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode() + body


def test_every_small_answer_leaves_the_node_in_one_segment(
    node: tuple[int, Deployment],
) -> None:
    port, deployment = node
    auth = basic(deployment.client_id, deployment.secret)
    v2 = json.dumps({"md5": [LISTED, "0" * 32]}).encode()
    requests = [
        (post("/v1/check/md5", LISTED.encode(), auth), b"true"),
        (post("/v1/check/md5", b"0" * 32, auth), b"false"),
        (post("/v1/check/md5", b"0" * 32, basic("acme", "wrong")), b"401"),
        (post("/v2/check", v2, auth, "Content-Type: application/json\r\n"), b'"match":true'),
        (b"GET /readyz HTTP/1.1\r\nHost: node\r\n\r\n", b'"ready"'),
        (b"GET /nowhere HTTP/1.1\r\nHost: node\r\n\r\n", b"404"),
        (post("/v1/check/md5", LISTED.encode(), auth, "Connection: close\r\n"), b"true"),
    ]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        for request, expected in requests:
            response, segments = exchange(conn, request)
            assert expected in response, response
            assert segments == 1, (request[:40], response)
        assert conn.recv(1) == b""  # the last asked to close, and its answer was complete
