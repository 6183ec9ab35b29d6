"""Hostile input found by probing (issue 14): none of it may answer 500, and none may read as an
answer. Numbers in paths and query strings are ASCII digits within range only ("²" passes
`str.isdigit`; a 38-digit number passes `int`), and a percent-encoded form value on the legacy
paths may decode to any character."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hashcheck.admin import operators
from hashcheck.admin.operators import Actor, Role
from tests.support import (
    Deployment,
    ServerThread,
    another_client,
    basic,
    legacy_post,
    make_deployment,
    serve,
)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    folder = tmp_path_factory.mktemp("hostile")
    return make_deployment(f"sqlite:///{folder}/db.sqlite", folder)


@pytest.fixture(scope="module")
def server(deployed: Deployment) -> Iterator[ServerThread]:
    yield from serve(deployed)


@pytest.fixture(scope="module")
def operator(deployed: Deployment) -> dict[str, str]:
    store = deployed.store()
    try:
        made = operators.add(store, "olga", Role.APPROVER, actor=Actor("setup", Role.APPROVER))
    finally:
        store.close()
    return {"Authorization": basic("olga", made.secret)}


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v2/disputes/²", 404),
        ("/v2/disputes/99999999999999999999999999999999999999", 404),
        ("/v2/retractions?since=²", 400),
        ("/v2/retractions?since=99999999999999999999999999999999999999", 400),
        ("/v2/retractions?limit=٣", 400),
    ],
)
def test_client_numbers_are_ascii_digits_in_range(
    server: ServerThread, deployed: Deployment, path: str, status: int
) -> None:
    answer = httpx.get(
        server.base + path, headers={"Authorization": basic(deployed.client_id, deployed.secret)}
    )
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["message"]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/admin/v1/audit?limit=²", 400),
        ("/admin/v1/batches?limit=²", 400),
        ("/admin/v1/audit?limit=99999999999999999999999999999999999999", 400),
        ("/admin/v1/batches/²", 404),  # no route has a non-digit id
    ],
)
def test_operator_numbers_are_ascii_digits_in_range(
    server: ServerThread, operator: dict[str, str], path: str, status: int
) -> None:
    answer = httpx.get(server.base + path, headers=operator)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["message"]


@pytest.mark.parametrize("path", ["/v1/check/md5", "/v1/test/check/md5", "/v1/check/sha1"])
@pytest.mark.parametrize("body", ["hash=%C3%A9", "hash=%FF", "hash=%00" + "0" * 31])
def test_percent_encoded_form_values_are_refused_not_500(
    server: ServerThread, deployed: Deployment, path: str, body: str
) -> None:
    answer = httpx.post(
        server.base + path,
        content=body,
        headers={
            "Authorization": basic(deployed.client_id, deployed.secret),
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert answer.status_code == 400 and answer.text not in ("true", "false"), answer.text


def _exchange(port: int, head: bytes, later: bytes = b"") -> bytes:
    """Send ``head``; once the server answered (or after a bounded wait for an answer that a
    vulnerable server never sends), send ``later`` in a packet of its own; everything the
    server sends until it closes."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(head)
        conn.settimeout(3)
        try:
            received = conn.recv(65536)
        except TimeoutError:
            received = b""
        if later:
            with contextlib.suppress(OSError):  # closed after its answer: nothing more is read
                conn.sendall(later)
        conn.settimeout(5)
        with contextlib.suppress(OSError):
            while chunk := conn.recv(65536):
                received += chunk
    return received


def test_a_body_after_an_upgrade_header_is_never_read_as_a_request(
    server: ServerThread, deployed: Deployment
) -> None:
    """The smuggling case: the body of an `Upgrade: h2c` request, arriving in a later packet,
    is itself a check. It must not be answered."""
    auth = basic(deployed.client_id, deployed.secret).encode()
    smuggled = (
        b"POST /v1/test/check/md5 HTTP/1.1\r\nHost: x\r\nAuthorization: " + auth + b"\r\n"
        b"Content-Length: 32\r\n\r\n258228aed7b04862fb4f41da4cde67e5"
    )
    head = (
        b"POST /v1/check/md5 HTTP/1.1\r\nHost: x\r\nAuthorization: " + auth + b"\r\n"
        b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n"
        b"Content-Length: " + str(len(smuggled)).encode() + b"\r\n\r\n"
    )
    answer = _exchange(server.port, head, smuggled)
    assert answer.count(b"HTTP/1.1 ") == 1, answer
    assert answer.startswith(b"HTTP/1.1 400") and b"true" not in answer


@pytest.mark.parametrize(
    "headers",
    [
        b"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
        b"Upgrade: h2c\r\n",  # without Connection: upgrade
    ],
    ids=["websocket", "bare-upgrade"],
)
def test_upgrade_headers_on_the_check_paths_are_refused(
    server: ServerThread, deployed: Deployment, headers: bytes
) -> None:
    auth = basic(deployed.client_id, deployed.secret).encode()
    head = (
        b"POST /v1/check/md5 HTTP/1.1\r\nHost: x\r\nAuthorization: "
        + auth
        + b"\r\n"
        + headers
        + b"Content-Length: 32\r\n\r\n258228aed7b04862fb4f41da4cde67e5"
    )
    answer = _exchange(server.port, head)
    assert answer.startswith(b"HTTP/1.1 400") and b"does not upgrade" in answer, answer


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/check/md5", b"258228aed7b04862fb4f41da4cde67e5"),
        ("POST", "/v1/test/check/md5", b"258228aed7b04862fb4f41da4cde67e5"),
        ("GET", "/v2/retractions", b""),
        ("GET", "/admin/v1/audit", b""),
    ],
)
def test_two_authorization_headers_are_refused_everywhere(
    server: ServerThread,
    deployed: Deployment,
    operator: dict[str, str],
    method: str,
    path: str,
    body: bytes,
) -> None:
    good = (
        operator["Authorization"]
        if path.startswith("/admin")
        else basic(deployed.client_id, deployed.secret)
    )
    for pair in ([good, "Basic bm9ib2R5Om5vdGhpbmc="], ["Basic bm9ib2R5Om5vdGhpbmc=", good]):
        answer = httpx.request(
            method,
            server.base + path,
            content=body,
            headers=[("Authorization", value) for value in pair],
        )
        assert answer.status_code == 400, (pair, answer.text)
        assert "more than one Authorization" in answer.text
        assert answer.text not in ("true", "false")


@pytest.mark.parametrize(
    "token",
    [
        base64.urlsafe_b64encode(b"acme:s?>?>x").decode(),  # base64url: '_' for '/'
        base64.b64encode(b"acme:secret").decode().rstrip("="),  # padding left off
        "YWNt ZTpzZWNyZXQ=",
    ],
    ids=["base64url", "unpadded", "inner-space"],
)
def test_basic_credentials_are_decoded_strictly(server: ServerThread, token: str) -> None:
    """RFC 7617: the standard base64 alphabet, padded; anything else is no credential."""
    answer = httpx.post(
        server.base + "/v1/check/md5",
        content=b"258228aed7b04862fb4f41da4cde67e5",
        headers={"Authorization": f"Basic {token}"},
    )
    assert answer.status_code == 401 and answer.text not in ("true", "false")


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/%61dmin/v1/audit", 404),  # percent-encoded: no way past a proxy filtering /admin/
        ("/admin/v1/%61udit", 404),
        ("/v1/check/%6Dd5", 404),
        ("/v2/%63heck", 404),
    ],
)
def test_routing_is_on_the_path_as_sent(
    server: ServerThread, operator: dict[str, str], path: str, status: int
) -> None:
    answer = httpx.request(
        "POST" if path.startswith("/v") else "GET", server.base + path, headers=operator
    )
    assert answer.status_code == status and answer.text not in ("true", "false"), answer.text


@pytest.mark.parametrize(
    ("kind", "body", "says"),
    [
        ("lists", {"name": "police/ne", "supplier": "x"}, "'/'"),
        ("lists", {"name": "x" * 201, "supplier": "x"}, "at most 200"),
        ("lists", {"name": "tab\tinside", "supplier": "x"}, "control"),
        ("clients", {"name": "Acme", "client_id": "acme:eu"}, "':'"),
        ("clients", {"name": "Acme", "client_id": "acme/eu"}, "'/'"),
        ("clients", {"name": "Acme", "client_id": "acme\x07"}, "control"),
    ],
)
def test_names_the_api_creates_are_names_it_can_manage(
    server: ServerThread, operator: dict[str, str], kind: str, body: dict[str, str], says: str
) -> None:
    answer = httpx.post(f"{server.base}/admin/v1/{kind}", json=body, headers=operator)
    assert answer.status_code == 400 and says in answer.json()["error"]["message"], answer.text


def test_a_name_with_escapes_in_its_path_is_managed(
    server: ServerThread, operator: dict[str, str]
) -> None:
    created = httpx.post(
        f"{server.base}/admin/v1/lists",
        json={"name": "two words: é", "supplier": "NGO"},
        headers=operator,
    )
    assert created.status_code == 201, created.text
    answer = httpx.post(
        f"{server.base}/admin/v1/lists/two%20words%3A%20%C3%A9/disable", headers=operator
    )
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("prevalence-hours", "99999999999999999999"),  # made every statistics flush fail
        ("prevalence-hours", "²"),
        ("prevalence-clients", "0"),
        ("match-retention-days", "100000"),
        ("replace-max-removed-percent", "nan"),
    ],
)
def test_policy_values_are_bounded_where_they_are_set(
    server: ServerThread, operator: dict[str, str], name: str, value: str
) -> None:
    answer = httpx.put(
        f"{server.base}/admin/v1/policy/{name}", json={"value": value}, headers=operator
    )
    assert answer.status_code == 400, answer.text
    assert name in answer.json()["error"]["message"]


@pytest.mark.parametrize(
    "upload",
    [b"PK\x03\x04" + b"\x00" * 40, b"\x1f\x8b\x08\x00" + b"\xff" * 40, b"BZh9" + b"\x00" * 40],
    ids=["zip", "gzip", "bzip2"],
)
def test_a_refused_upload_does_not_say_where_it_lay(
    server: ServerThread, operator: dict[str, str], upload: bytes
) -> None:
    answer = httpx.post(
        f"{server.base}/admin/v1/lists/police/imports?category=baseline",
        content=upload,
        headers=operator,
    )
    assert 400 <= answer.status_code < 500, answer.text
    message = answer.json()["error"]["message"]
    assert "hashcheck-upload" not in message and "/tmp" not in message, message
    assert "the upload" in message


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"GET /healthz?" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n", 431),
        (
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
            + b"".join(b"X-%d: 1\r\n" % n for n in range(10_000))
            + b"\r\n",
            431,
        ),
    ],
    ids=["long-request-line", "1-MB-header", "10000-headers"],
)
def test_request_heads_are_bounded(server: ServerThread, head: bytes, status: int) -> None:
    answer = _exchange(server.port, head)
    assert answer.startswith(b"HTTP/1.1 %d" % status), answer[:200]
    assert answer.count(b"HTTP/1.1 ") == 1


def test_a_client_still_sending_after_a_refusal_reads_the_refusal(server: ServerThread) -> None:
    """The head is refused at its first 24 KiB while the client goes on sending 8 MiB: the
    node reads and drops the rest instead of closing on unread bytes (which resets the
    connection, often before the client has read the 431)."""
    import socket
    import threading

    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (8 << 20) + b"\r\n\r\n"
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
            failures: list[OSError] = []

            def send(conn: socket.socket = conn, failures: list[OSError] = failures) -> None:
                try:
                    conn.sendall(head)
                except OSError as failure:
                    failures.append(failure)

            sender = threading.Thread(target=send)
            sender.start()
            received = b""
            with contextlib.suppress(ConnectionResetError):
                while chunk := conn.recv(65536):
                    received += chunk
            sender.join()
        assert received.startswith(b"HTTP/1.1 431"), received[:200]
        assert not failures, failures


def test_slow_and_silent_connections_are_closed(
    server: ServerThread, deployed: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Slowloris (a head that never ends), a connection that sends nothing, and a body that
    stops: each is answered 408 and closed at its deadline, not held open for ever."""
    import socket

    from hashcheck.api import edge

    monkeypatch.setattr(edge, "HEAD_SECONDS", 0.5)
    monkeypatch.setattr(edge, "BODY_IDLE_SECONDS", 0.5)
    for start in (
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: a",
        b"",
        b"POST /v1/check/md5 HTTP/1.1\r\nHost: x\r\nAuthorization: "
        + basic(deployed.client_id, deployed.secret).encode()
        + b"\r\nContent-Length: 32\r\n\r\n2582",
    ):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
            conn.sendall(start)
            received = b""
            while chunk := conn.recv(65536):  # returns when the server closes (or times out)
                received += chunk
        assert received.startswith(b"HTTP/1.1 408"), (start, received)
        assert b"true" not in received and b"false" not in received
    ok = httpx.get(server.base + "/healthz")  # a normal request is served as before
    assert ok.status_code == 200


def test_the_shipped_nginx_keeps_the_same_limits(server: ServerThread, tmp_path: Path) -> None:
    """deploy/nginx/hashcheck.conf in front of a node: an oversized head is refused by nginx
    itself, a slow head is closed at its deadline (the shipped 10 s shortened to 1 s here), the
    operator API and the metrics are not passed on, and an ordinary check passes."""
    import socket

    from bench import nginx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        listen = probe.getsockname()[1]
    text = nginx.render([server.port], listen)
    assert "client_header_timeout 10s;" in text and "large_client_header_buffers 4 8k;" in text

    def faster(text: str) -> str:
        return text.replace("client_header_timeout 10s;", "client_header_timeout 1s;")

    with nginx.running_nginx([server.port], listen, tmp_path / "nginx", faster):
        health = _until_served(listen)
        assert health.startswith(b"HTTP/1.1 200")
        for private in (b"/metrics", b"/admin/v1/clients"):
            asked = b"GET " + private + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            assert _exchange(listen, asked).startswith(b"HTTP/1.1 403")
        big = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n"
        assert _exchange(listen, big).startswith(b"HTTP/1.1 400")
        many = (
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
            + b"".join(b"X-Header-%05d: %s\r\n" % (n, b"v" * 100) for n in range(1000))
            + b"\r\n"
        )
        assert _exchange(listen, many).startswith(b"HTTP/1.1 400")
        with socket.create_connection(("127.0.0.1", listen), timeout=10) as conn:
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: a")
            received = b""
            while chunk := conn.recv(65536):  # nginx closes at its deadline
                received += chunk
        assert b"200" not in received


def _until_served(port: int) -> bytes:
    """nginx's first answer once it listens (a bounded wait on its start)."""
    import time

    deadline = time.monotonic() + 20
    while True:
        try:
            return _exchange(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        except OSError:
            assert time.monotonic() < deadline, "nginx did not start"
            time.sleep(0.05)  # not listening yet: a start-up poll


def test_wrong_secrets_back_off_without_holding_back_a_known_client(
    deployment_with_two: tuple[Deployment, str, str], tmp_path: Path
) -> None:
    """A burst of wrong secrets from one address: after a few, 429 with Retry-After and no
    slow hash; a client that signed in before keeps its answers (never `true`/`false` for
    a refused one)."""
    deployed, other_id, other_secret = deployment_with_two
    service = serve(deployed)
    server = next(service)
    try:
        good = basic(deployed.client_id, deployed.secret)
        body = b"258228aed7b04862fb4f41da4cde67e5"
        assert legacy_post(server.port, "/v1/test/check/md5", body, good).body == b"true"
        statuses = []
        for n in range(12):
            wrong = basic(other_id, f"guess-{n}")
            statuses.append(legacy_post(server.port, "/v1/test/check/md5", body, wrong))
        assert [r.status for r in statuses[:5]] == [401] * 5
        held = statuses[-1]
        assert held.status == 429 and int(held.headers["retry-after"]) >= 1
        assert held.body not in (b"true", b"false")
        # Even its right secret waits now, from this address...
        right = legacy_post(server.port, "/v1/test/check/md5", body, basic(other_id, other_secret))
        assert right.status == 429
        # ...while the client that signed in before is answered as ever.
        assert legacy_post(server.port, "/v1/test/check/md5", body, good).body == b"true"
    finally:
        next(service, None)


@pytest.fixture
def deployment_with_two(sqlite_url: str, tmp_path: Path) -> tuple[Deployment, str, str]:
    deployed = make_deployment(sqlite_url, tmp_path)
    return (deployed, *another_client(deployed))


@pytest.mark.parametrize(
    ("query", "status", "says"),
    [
        ("?category=baseline&colour=red", 400, "unknown import option"),
        ("?category=baseline&dry_run=perhaps", 400, "true or false"),
        ("?category=nonesuch", 404, "nonesuch"),
        ("?format=excel", 422, "unknown format"),
        ("?format=pdq", 422, "needs --category"),
        ("?category=known-good", 422, "is for known-good lists"),
        ("?category=baseline&map=1%3Dnonesuch", 404, "nonesuch"),
    ],
)
def test_upload_options_are_refused_before_the_upload_is_read(
    server: ServerThread, operator: dict[str, str], query: str, status: int, says: str
) -> None:
    """A 4 GiB upload declared, not one byte of it sent: the answer comes at once."""
    head = (
        f"POST /admin/v1/lists/police/imports{query} HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: {operator['Authorization']}\r\nContent-Length: {4 << 30}\r\n\r\n"
    ).encode()
    import socket

    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as conn:
        conn.sendall(head)
        answer = b""
        while b"\r\n\r\n" not in answer or says.encode() not in answer:
            chunk = conn.recv(65536)  # an answer only after the body would time out here
            assert chunk, answer
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 %d" % status), answer[:300]


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("9223372036854775808", 200),  # 19 digits: no item number, looked up as a reference
        ("item:9223372036854775808", 400),
        ("item:%C2%B2", 400),
        ("item:%D9%A3", 400),  # Arabic-Indic three
        ("12345678901234567890123456789012", 200),  # an MD5 of digits only is a hash
    ],
)
def test_item_lookups_read_numbers_strictly(
    server: ServerThread, operator: dict[str, str], query: str, status: int
) -> None:
    answer = httpx.get(f"{server.base}/admin/v1/items?q={query}", headers=operator)
    assert answer.status_code == status, answer.text


def test_an_item_whose_hash_is_all_digits_is_found_by_it(
    server: ServerThread, operator: dict[str, str]
) -> None:
    digits = "12345678901234567890123456789012"
    imported = httpx.post(
        f"{server.base}/admin/v1/lists/police/imports?category=baseline",
        content=digits.encode() + b"\n",
        headers=operator,
    )
    assert imported.status_code == 201, imported.text
    found = httpx.get(f"{server.base}/admin/v1/items?q={digits}", headers=operator)
    assert found.status_code == 200 and len(found.json()["items"]) == 1, found.text


@pytest.mark.parametrize("path", ["/admin/v1/audit", "/admin/v1/batches", "/admin/v1/collisions"])
@pytest.mark.parametrize("limit", ["0", "100001"])
def test_listing_limits_mean_the_same_everywhere(
    server: ServerThread, operator: dict[str, str], path: str, limit: str
) -> None:
    answer = httpx.get(f"{server.base}{path}?limit={limit}", headers=operator)
    assert answer.status_code == 400 and "from 1 to" in answer.text, answer.text


def test_an_unknown_list_is_not_found_on_item_lookups(
    server: ServerThread, operator: dict[str, str]
) -> None:
    answer = httpx.get(f"{server.base}/admin/v1/items?q=abc&list=nolist", headers=operator)
    assert answer.status_code == 404, answer.text
