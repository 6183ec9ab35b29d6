"""The legacy wire protocol, over a real socket, with requests shaped like the real clients'."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from hashcheck.admin import importing
from hashcheck.hashes.keyed import Digester
from tests.support import (
    Deployment,
    ServerThread,
    basic,
    legacy_post,
    make_deployment,
    raw_request,
    serve,
)

LISTED_MD5 = hashlib.md5(b"listed file", usedforsecurity=False).hexdigest()
LISTED_SHA1 = hashlib.sha1(b"listed file", usedforsecurity=False).hexdigest()
CLEAN_MD5 = hashlib.md5(b"clean file", usedforsecurity=False).hexdigest()
TEST_MD5 = "258228aed7b04862fb4f41da4cde67e5"
TEST_SHA1 = "41247e2022c2f4264816f6e3eeef1acee14b6af8"


@pytest.fixture
def deployment(sqlite_url: str, tmp_path: Path) -> Deployment:
    deployed = make_deployment(sqlite_url, tmp_path)
    source = tmp_path / "list.txt"
    source.write_text(f"{LISTED_MD5}\n{LISTED_SHA1}\n")
    store = deployed.store()
    importing.import_file(
        store, Digester(deployed.key), "police", source, actor="t", category="baseline"
    )
    store.close()
    return deployed


@pytest.fixture
def server(deployment: Deployment) -> Iterator[ServerThread]:
    yield from serve(deployment)


def post(
    server: ServerThread, deployment: Deployment, path: str, body: bytes, **kw: str
) -> tuple[int, bytes]:
    response = legacy_post(
        server.port, path, body, basic(deployment.client_id, deployment.secret), **kw
    )
    return response.status, response.body


def test_listed_hash_answers_exactly_true(server: ServerThread, deployment: Deployment) -> None:
    response = legacy_post(
        server.port, "/v1/check/md5", LISTED_MD5.encode(), basic("acme", deployment.secret)
    )
    assert (response.status, response.body) == (200, b"true")
    assert "user-agent" not in response.headers  # sanity: we sent none and were answered


def test_unlisted_hash_answers_exactly_false(server: ServerThread, deployment: Deployment) -> None:
    assert post(server, deployment, "/v1/check/md5", CLEAN_MD5.encode()) == (200, b"false")


def test_sha1_endpoint(server: ServerThread, deployment: Deployment) -> None:
    assert post(server, deployment, "/v1/check/sha1", LISTED_SHA1.encode()) == (200, b"true")
    # The MD5 of a listed file is not a SHA-1 hit: algorithms are kept apart.
    padded = (LISTED_MD5 + "00000000").encode()
    assert post(server, deployment, "/v1/check/sha1", padded) == (200, b"false")


@pytest.mark.parametrize(
    "body",
    [
        LISTED_MD5.upper().encode(),
        f"  {LISTED_MD5}\r\n".encode(),
        f"hash={LISTED_MD5}".encode(),
        f'{{"hash": "{LISTED_MD5}"}}'.encode(),
    ],
    ids=["upper", "whitespace", "form-field", "json"],
)
def test_body_shapes_other_integrators_send(
    server: ServerThread, deployment: Deployment, body: bytes
) -> None:
    assert post(server, deployment, "/v1/check/md5", body) == (200, b"true")


def test_content_type_is_ignored(server: ServerThread, deployment: Deployment) -> None:
    for content_type in (None, "text/plain", "application/json", "application/octet-stream"):
        response = legacy_post(
            server.port,
            "/v1/check/md5",
            LISTED_MD5.encode(),
            basic("acme", deployment.secret),
            content_type=content_type,
        )
        assert response.body == b"true", content_type


def test_http_1_0_request(server: ServerThread, deployment: Deployment) -> None:
    response = legacy_post(
        server.port,
        "/v1/check/md5",
        LISTED_MD5.encode(),
        basic("acme", deployment.secret),
        http_version="HTTP/1.0",
    )
    assert (response.status, response.body) == (200, b"true")


def test_http_1_0_without_host_header(server: ServerThread, deployment: Deployment) -> None:
    request = (
        f"POST /v1/check/md5 HTTP/1.0\r\nAuthorization: {basic('acme', deployment.secret)}\r\n"
        f"Content-Length: 32\r\n\r\n{CLEAN_MD5}"
    ).encode()
    response = raw_request(server.port, request)
    assert (response.status, response.body) == (200, b"false")


def test_test_endpoints_know_exactly_one_positive(
    server: ServerThread, deployment: Deployment
) -> None:
    assert post(server, deployment, "/v1/test/check/md5", TEST_MD5.encode()) == (200, b"true")
    assert post(server, deployment, "/v1/test/check/sha1", TEST_SHA1.encode()) == (200, b"true")
    # A listed hash is negative on the test endpoint: it consults no list.
    assert post(server, deployment, "/v1/test/check/md5", LISTED_MD5.encode()) == (200, b"false")
    assert post(server, deployment, "/v1/test/check/sha1", LISTED_SHA1.encode()) == (200, b"false")
    assert post(server, deployment, "/v1/test/check/md5", TEST_MD5.upper().encode()) == (
        200,
        b"true",
    )


def assert_error(status: int, body: bytes, expected: int) -> None:
    assert status == expected, body
    assert body.strip() not in (b"true", b"false")
    assert body not in {b"true", b"false"}
    assert body.startswith(b"error: ")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   ",
        b"a" * 31,
        b"a" * 33,
        b"0123456789abcdef0123456789abcdeg",
        b"0123456789abcdef\x000123456789abcde",
        "0123456789abcdef0123456789abcdé".encode(),
        b"hash=",
        b"hash=1&hash=2",
        b"{not json",
        b"[1, 2]",
        b'{"hash": 5}',
        b"\xff\xfe" * 16,
    ],
    ids=[
        "empty",
        "blank",
        "31",
        "33",
        "non-hex",
        "nul",
        "non-ascii",
        "empty-form",
        "two-fields",
        "bad-json",
        "json-array",
        "json-number",
        "binary",
    ],
)
def test_malformed_md5_is_400(server: ServerThread, deployment: Deployment, body: bytes) -> None:
    assert_error(*post(server, deployment, "/v1/check/md5", body), 400)


@pytest.mark.parametrize("length", [39, 41])
def test_malformed_sha1_is_400(server: ServerThread, deployment: Deployment, length: int) -> None:
    assert_error(*post(server, deployment, "/v1/check/sha1", b"a" * length), 400)


def test_missing_credentials_is_401_with_challenge(server: ServerThread) -> None:
    response = legacy_post(server.port, "/v1/check/md5", LISTED_MD5.encode(), None)
    assert_error(response.status, response.body, 401)
    assert response.headers["www-authenticate"].startswith("Basic")


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic bm90LWJhc2U2NA===",  # bad base64
        "Basic " + "YWNtZQ==",  # no colon
        "Bearer abc",
        "Basic",
        "Basic //79/Q==",  # not UTF-8
    ],
)
def test_malformed_authorization_is_401(server: ServerThread, authorization: str) -> None:
    response = legacy_post(server.port, "/v1/check/md5", LISTED_MD5.encode(), authorization)
    assert_error(response.status, response.body, 401)


def test_wrong_secret_and_unknown_client_are_401(
    server: ServerThread, deployment: Deployment
) -> None:
    for auth in (basic("acme", "wrong"), basic("nobody", deployment.secret), basic("acme", "")):
        response = legacy_post(server.port, "/v1/check/md5", LISTED_MD5.encode(), auth)
        assert_error(response.status, response.body, 401)


def test_unknown_algorithm_is_404(server: ServerThread, deployment: Deployment) -> None:
    # The misconfigured hotline tool posts an empty body to /v1/check/photodna.
    assert_error(*post(server, deployment, "/v1/check/photodna", b""), 404)
    assert_error(*post(server, deployment, "/v1/test/check/sha256", b"a" * 64), 404)


def test_no_redirects(server: ServerThread, deployment: Deployment) -> None:
    status, body = post(server, deployment, "/v1/check/md5/", LISTED_MD5.encode())
    assert status == 404 and body not in (b"true", b"false")
    response = raw_request(server.port, b"GET /v1/check/md5 HTTP/1.0\r\n\r\n")
    assert response.status == 405 and response.body not in (b"true", b"false")


def test_oversized_body_is_413(server: ServerThread, deployment: Deployment) -> None:
    status, body = post(server, deployment, "/v1/check/md5", b"a" * 10_000_000)
    assert_error(status, body, 413)


def test_oversized_chunked_body_is_413(server: ServerThread, deployment: Deployment) -> None:
    chunk = b"a" * 65536
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(160)) + b"0\r\n\r\n"
    head = (
        "POST /v1/check/md5 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        f"Authorization: {basic('acme', deployment.secret)}\r\nConnection: close\r\n\r\n"
    )
    response = raw_request(server.port, head.encode() + body)
    assert_error(response.status, response.body, 413)


def test_not_ready_is_503(deployment: Deployment) -> None:
    # A node whose follower never started has no snapshot: it must not answer false.
    from hashcheck.api.app import HashcheckApp
    from hashcheck.node.runtime import Node

    node = Node(deployment.store(), deployment.key)
    with ServerThread(HashcheckApp(node, manage_node=False)) as server:
        response = legacy_post(
            server.port, "/v1/check/md5", LISTED_MD5.encode(), basic("acme", deployment.secret)
        )
        assert_error(response.status, response.body, 503)
        ready = raw_request(server.port, b"GET /readyz HTTP/1.0\r\n\r\n")
        assert ready.status == 503
        alive = raw_request(server.port, b"GET /healthz HTTP/1.0\r\n\r\n")
        assert alive.status == 200
    node.store.close()


def test_disabled_client_is_403(server: ServerThread, deployment: Deployment) -> None:
    store = deployment.store()
    store.set_client_enabled("acme", False, actor="t")
    store.close()
    server.app.node.follower.refresh()
    assert_error(*post(server, deployment, "/v1/check/md5", LISTED_MD5.encode()), 403)
