"""The v2 JSON API: batches, match details, one error shape, and the OpenAPI document."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from openapi_spec_validator import validate

from hashcheck.admin import clients, importing
from hashcheck.api import v2
from hashcheck.catalog.model import Grant
from hashcheck.hashes.keyed import Digester
from hashcheck.hashes.matchid import MatchIds
from tests.http_client import call
from tests.support import (
    Deployment,
    ServerThread,
    basic,
    legacy_post,
    make_deployment,
    serve,
    v2_check,
)


def md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def deployment(sqlite_url: str, tmp_path: Path) -> Deployment:
    deployed = make_deployment(sqlite_url, tmp_path)
    store = deployed.store()
    store.add_list("ngo", "NGO analysts", "", actor="t")
    # Below-severe categories start switched off; these tests look at every kind of match.
    for category in store.categories():
        store.set_category_enabled(category.category_id, True, actor="t")
    source = tmp_path / "police.csv"
    source.write_text(
        "md5,sha256,cat\n"
        f"{md5('severe')},{sha256('severe')},baseline\n"
        f"{md5('related')},,related\n"
        f"{md5('other')},,other\n"
    )
    digester = Digester(deployed.key)
    importing.import_file(
        store, digester, "police", source, actor="t", fmt="csv", category_column="cat"
    )
    ngo = tmp_path / "ngo.txt"
    ngo.write_text(md5("severe") + "\n")
    importing.import_file(store, digester, "ngo", ngo, actor="t", category="illegal")
    store.close()
    return deployed


@pytest.fixture
def server(deployment: Deployment) -> Iterator[ServerThread]:
    yield from serve(deployment)


def test_batch_answers_in_order_with_match_details(
    server: ServerThread, deployment: Deployment
) -> None:
    store = deployment.store()
    store.add_grant("acme", Grant(None, None), actor="t")  # everything, to see every field
    store.close()
    server.app.node.follower.refresh()
    body = v2_check(
        server,
        deployment,
        [
            {"algorithm": "md5", "hash": md5("severe").upper()},
            {"algorithm": "sha256", "hash": sha256("severe")},
            {"algorithm": "md5", "hash": md5("related")},
            {"algorithm": "sha1", "hash": "ab" * 20},
        ],
    )
    results = body["results"]
    assert isinstance(body["version"], int)
    assert [r["match"] for r in results] == [True, True, True, False]
    assert results[0]["hash"] == md5("severe")
    by_list = {m["list"]: m for m in results[0]["matches"]}
    assert set(by_list) == {"police", "ngo"}
    assert by_list["police"]["category"] == "baseline"
    assert by_list["police"]["severity"] == "severe"
    assert by_list["police"]["action"] == "remove"
    assert by_list["ngo"]["category"] == "illegal"
    assert results[2]["matches"][0]["action"] == "review"
    assert results[2]["matches"][0]["severity"] == "sensitive"
    assert results[3]["matches"] == []
    match_id = by_list["police"]["match_id"]
    ref = MatchIds(deployment.key).read(match_id, "acme")
    assert ref is not None
    assert MatchIds(deployment.key).read(match_id, "someone-else") is None


def test_default_grant_is_baseline_only(server: ServerThread, deployment: Deployment) -> None:
    body = v2_check(
        server,
        deployment,
        [
            {"algorithm": "md5", "hash": md5("severe")},
            {"algorithm": "md5", "hash": md5("related")},
            {"algorithm": "md5", "hash": md5("other")},
        ],
    )
    assert [r["match"] for r in body["results"]] == [True, False, False]
    # The NGO list has the hash as "illegal", which the default grant does not include.
    assert [m["list"] for m in body["results"][0]["matches"]] == ["police"]


def test_grants_per_list_and_category(
    server: ServerThread, deployment: Deployment, tmp_path: Path
) -> None:
    store = deployment.store()
    ngo = next(item for item in store.lists() if item.name == "ngo")
    issued = clients.add_client(
        store, "Picky", actor="t", client_id="picky", grants=[Grant(ngo.list_id, None)]
    )
    store.close()
    server.app.node.follower.refresh()
    status, body, _ = call(
        server.base,
        "/v2/check",
        {"hashes": [{"algorithm": "md5", "hash": md5("severe")}]},
        auth=("picky", issued.secret),
    )
    assert status == 200
    assert [m["list"] for m in body["results"][0]["matches"]] == ["ngo"]


def assert_error(status: int, body: Any, expected: int, code: str) -> None:
    assert status == expected, body
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"", "bad_request"),
        (b"not json", "bad_request"),
        (b"[1, 2]", "bad_request"),
        (b'"hashes"', "bad_request"),
        (b'{"hashes": "abc"}', "bad_request"),
        (b'{"hashes": []}', "bad_request"),
        (b"{}", "bad_request"),
        (b'{"md5": []}', "bad_request"),
        (b'{"md5": "abc"}', "bad_request"),
        (b'{"md5": ["' + b"a" * 32 + b'"], "hashes": []}', "bad_request"),
        (b'{"md5": ["' + b"a" * 32 + b'"], "only_matches": "yes"}', "bad_request"),
        (b'{"md5": ["' + b"a" * 31 + b'"]}', "invalid_hash"),
        (b'{"sha1": [5]}', "invalid_hash"),
        (b'{"hashes": [5]}', "invalid_hash"),
        (b'{"hashes": [{"algorithm": "crc32", "hash": "abcd"}]}', "invalid_hash"),
        (b'{"hashes": [{"algorithm": "md5", "hash": "abc"}]}', "invalid_hash"),
        (b'{"hashes": [{"algorithm": "md5", "hash": 12}]}', "invalid_hash"),
    ],
)
def test_malformed_requests_are_400(
    server: ServerThread, deployment: Deployment, payload: bytes, code: str
) -> None:
    status, body, _ = call(
        server.base,
        "/v2/check",
        raw=payload,
        auth=(deployment.client_id, deployment.secret),
        method="POST",
    )
    assert_error(status, body, 400, code)


def test_invalid_items_are_listed_by_index(server: ServerThread, deployment: Deployment) -> None:
    items = [{"algorithm": "md5", "hash": md5(str(n))} for n in range(10)]
    items[3]["hash"] = "zz" * 16
    items[7]["algorithm"] = "photodna"
    status, body, _ = call(
        server.base, "/v2/check", {"hashes": items}, auth=(deployment.client_id, deployment.secret)
    )
    assert_error(status, body, 400, "invalid_hash")
    assert [d["index"] for d in body["error"]["details"]] == [3, 7]


def test_batch_limit(server: ServerThread, deployment: Deployment) -> None:
    auth = (deployment.client_id, deployment.secret)
    items = [{"algorithm": "md5", "hash": md5(str(n))} for n in range(10_000)]
    status, body, _ = call(server.base, "/v2/check", {"hashes": items}, auth=auth)
    assert status == 200 and len(body["results"]) == 10_000
    items.append({"algorithm": "md5", "hash": md5("one more")})
    status, body, _ = call(server.base, "/v2/check", {"hashes": items}, auth=auth)
    assert_error(status, body, 400, "bad_request")
    assert "10000" in body["error"]["message"]


def test_too_large_body_is_413(server: ServerThread, deployment: Deployment) -> None:
    response = legacy_post(
        server.port,
        "/v2/check",
        b" " * 10_000_000,
        basic(deployment.client_id, deployment.secret),
        content_type="application/json",
    )
    assert_error(response.status, json.loads(response.body), 413, "payload_too_large")


def test_auth_errors_use_the_json_shape(server: ServerThread) -> None:
    status, body, headers = call(server.base, "/v2/check", {"hashes": []}, auth=("acme", "wrong"))
    assert_error(status, body, 401, "unauthorized")
    assert headers["www-authenticate"].startswith("Basic")


def test_unknown_path_and_method(server: ServerThread) -> None:
    status, body, _ = call(server.base, "/v2/nothing", {"a": 1})
    assert_error(status, body, 404, "not_found")
    status, body, headers = call(server.base, "/v2/check")
    assert_error(status, body, 405, "method_not_allowed")
    assert headers["allow"] == "POST"


def test_openapi_document_is_valid(server: ServerThread) -> None:
    status, document, _ = call(server.base, "/v2/openapi.json")
    assert status == 200
    validate(document)
    assert {"/v2/check", "/v1/check/md5", "/v1/test/check/sha1", "/readyz"} <= set(
        document["paths"]
    )


def test_readiness_reports_index(server: ServerThread, deployment: Deployment) -> None:
    status, body, _ = call(server.base, "/readyz")
    assert status == 200
    assert body["status"] == "ready"
    assert body["entries"] == 5
    assert body["index_version"] == deployment.store().version()
    assert body["snapshot_age_seconds"] >= 0


def test_compact_shape_with_only_matches(server: ServerThread, deployment: Deployment) -> None:
    clean = [md5(f"clean {n}") for n in range(2000)]
    payload = {
        "md5": [*clean[:1000], md5("severe"), *clean[1000:]],
        "sha256": [sha256("severe"), sha256("clean")],
        "only_matches": True,
    }
    status, body, _ = call(
        server.base, "/v2/check", payload, auth=(deployment.client_id, deployment.secret)
    )
    assert status == 200
    assert body["checked"] == 2003
    found = [(r["index"], r["algorithm"]) for r in body["results"]]
    assert found == [(1000, "md5"), (2001, "sha256")]
    assert all(r["match"] and r["matches"] for r in body["results"])


def test_mixed_algorithms_and_whitespace_in_object_shape(
    server: ServerThread, deployment: Deployment
) -> None:
    body = v2_check(
        server,
        deployment,
        [
            {"algorithm": "sha256", "hash": " " + sha256("severe") + " "},
            {"algorithm": "md5", "hash": md5("severe")},
        ],
    )
    assert [r["match"] for r in body["results"]] == [True, True]
    assert body["results"][0]["hash"] == sha256("severe")


def test_degraded_when_the_store_is_gone(server: ServerThread, deployment: Deployment) -> None:
    """Checks keep answering from memory; readiness says degraded without leaking details."""
    import time

    node = server.app.node
    node.store.close()  # the follower's next poll fails on the closed connection
    started = time.monotonic()
    while True:
        status, body, _ = call(server.base, "/readyz")
        if body["status"] == "degraded":
            break
        assert time.monotonic() - started < 5, body
    assert status == 200
    assert "hashcheck.db" not in json.dumps(body) and body["store_error"]
    answer = v2_check(server, deployment, [{"algorithm": "md5", "hash": md5("severe")}])
    assert answer["results"][0]["match"] is True
    # The check's counts cannot be written either: kept, tried again, and said.
    with pytest.raises(Exception):  # noqa: B017 - whatever the closed store raises
        node.flusher.flush()
    status, body, _ = call(server.base, "/readyz")
    assert body["status"] == "degraded" and body["stats_flush_failures"] >= 1


def test_uniform_batch_answers_every_position_in_order(
    server: ServerThread, deployment: Deployment
) -> None:
    """One algorithm only (the fast path): upper case accepted, echoed lower, order kept."""
    hashes = [md5(f"clean {n}") for n in range(300)]
    hashes[7] = md5("severe").upper()
    hashes[299] = md5("severe")
    status, body, _ = call(
        server.base, "/v2/check", {"md5": hashes}, auth=(deployment.client_id, deployment.secret)
    )
    assert status == 200
    assert [r["hash"] for r in body["results"]] == [h.lower() for h in hashes]
    assert [n for n, r in enumerate(body["results"]) if r["match"]] == [7, 299]


def test_uniform_batch_keeps_every_byte_of_each_hash() -> None:
    """Hashes that end (or are made) of zero bytes survive the one-pass split."""
    texts = ["00" * 16, "ab" + "00" * 15, "00" * 15 + "cd", "FF" * 16]
    batch = v2.parse_request(orjson.dumps({"md5": texts}), 10)
    assert batch.raws == [bytes.fromhex(t) for t in texts]
    assert batch.texts == [t.lower() for t in texts]
