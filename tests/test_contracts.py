"""Typed contracts: bodies decoded by their msgspec models, answers sent only as declared, and
the served OpenAPI documents generated from the same models. Every JSON answer the rest of
the suite receives is checked against them by `tests.contracts`; these tests show that check
can fail, and that the documents and the decoders agree."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from jsonschema import Draft202012Validator

from hashcheck.admin import operators
from hashcheck.admin.operators import Actor, Role
from hashcheck.api import admin as admin_api
from hashcheck.api.adminroutes import ROUTES, Route
from tests import contracts
from tests.http_client import call
from tests.support import Deployment, ServerThread, make_deployment, serve

SETUP = Actor("setup", Role.APPROVER)


def md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


@pytest.fixture
def deployment(sqlite_url: str, tmp_path: Path) -> Deployment:
    return make_deployment(sqlite_url, tmp_path)


@pytest.fixture
def server(deployment: Deployment) -> Iterator[ServerThread]:
    yield from serve(deployment)


@pytest.fixture
def olga(deployment: Deployment) -> tuple[str, str]:
    store = deployment.store()
    secret = operators.add(store, "olga", Role.OPERATOR, actor=SETUP).secret
    store.close()
    return ("olga", secret)


def test_the_check_refuses_answers_the_documents_do_not_allow(server: ServerThread) -> None:
    base = server.base
    fine = {"version": 3, "checked": 0, "results": []}
    contracts.check(base, "POST", "/v2/check", 200, fine)
    broken = [
        ("POST", "/v2/check", 200, {"version": 3, "checked": 0}),  # results missing
        ("POST", "/v2/check", 418, fine),  # a status the operation does not document
        ("POST", "/v2/check", 400, {"error": {"message": "no code"}}),
        ("GET", "/v2/nothing", 200, fine),  # an undocumented path that answered
        ("GET", "/v2/check", 200, fine),  # an undocumented method that answered
        ("GET", "/admin/v1/whoami", 200, {"name": "olga", "role": "root"}),  # not a role
        ("GET", "/admin/v1/whoami", 200, {"name": "olga", "role": "viewer", "extra": 1}),
        ("POST", "/admin/v1/lists/police/enable", 201, {}),  # it answers 200 or 202
    ]
    for method, path, status, body in broken:
        with pytest.raises(contracts.ContractBroken):
            contracts.check(base, method, path, status, body)


def test_every_route_documents_its_bodies_and_statuses(server: ServerThread) -> None:
    _, document, _ = call(server.base, "/admin/v1/openapi.json")
    for route in ROUTES:
        operation = document["paths"]["/admin/v1" + route.template][route.method.lower()]
        responses = operation["responses"]
        assert {str(status) for status in route.answers} <= set(responses), route.template
        for status in route.answers:
            schema = responses[str(status)]["content"]["application/json"]["schema"]
            assert "$ref" in schema or schema.get("type") == "array", route.template
        assert {"400", "401", "403", "429", "503"} <= set(responses)
        if route.method == "GET":
            assert "requestBody" not in operation
        elif route.upload:
            assert {"413", "422"} <= set(responses)
            assert "application/octet-stream" in operation["requestBody"]["content"]
        else:
            body = operation["requestBody"]["content"]["application/json"]["schema"]
            assert body == {"$ref": f"#/components/schemas/{route.body.__name__}"}


def _route(method: str, template: str) -> Route:
    return next(r for r in ROUTES if (r.method, r.template) == (method, template))


def test_an_answer_is_sent_only_as_its_route_declares_it() -> None:
    whoami = _route("GET", "/whoami")
    assert msgspec.json.decode(admin_api._encoded(whoami, 200, {"name": "a", "role": "viewer"}))
    with pytest.raises(RuntimeError, match="undeclared 201"):
        admin_api._encoded(whoami, 201, {"name": "a", "role": "viewer"})
    with pytest.raises(msgspec.ValidationError):  # a field the model does not declare
        admin_api._encoded(whoami, 200, {"name": "a", "role": "viewer", "secret": "x"})
    with pytest.raises(msgspec.ValidationError):  # a field missing
        admin_api._encoded(whoami, 200, {"name": "a"})


@pytest.mark.parametrize(
    ("method", "path", "body", "names"),
    [
        ("POST", "/lists", {"name": "x", "supplier": "y", "knowngood": True}, "knowngood"),
        ("POST", "/lists", {"name": 5, "supplier": "y"}, "$.name"),
        ("POST", "/lists", {"name": "   ", "supplier": "y"}, "$.name"),
        ("POST", "/lists", {"name": "x", "supplier": "y", "known_good": "yes"}, "known_good"),
        ("POST", "/lists", [1], "object"),
        ("POST", "/clients", {"name": "x", "default_grant": 1}, "default_grant"),
        ("POST", "/lists/police/disable", {"really": True}, "really"),
        ("PUT", "/lists/police/pdq-threshold", {"value": 32}, "$.value"),
        ("PUT", "/lists/police/pdq-threshold", {"value": True}, "$.value"),
        ("POST", "/disputes/1/comments", {"text": 7}, "$.text"),
    ],
)
def test_admin_bodies_are_checked_by_their_models(
    server: ServerThread,
    olga: tuple[str, str],
    method: str,
    path: str,
    body: Any,
    names: str,
) -> None:
    status, answer, _ = call(server.base, "/admin/v1" + path, body, auth=olga, method=method)
    assert status == 400, answer
    assert answer["error"]["code"] == "bad_request"
    assert names in answer["error"]["message"]


def test_a_refused_body_changes_nothing(server: ServerThread, olga: tuple[str, str]) -> None:
    before = call(server.base, "/admin/v1/lists", auth=olga)[1]
    body = {"name": "ngo", "supplier": "NGO", "known_good": "no"}
    assert call(server.base, "/admin/v1/lists", body, auth=olga)[0] == 400
    assert call(server.base, "/admin/v1/lists", auth=olga)[1] == before


# Request bodies whose shape the schema and the decoder must judge alike (the hex length of
# each algorithm is the hex path's, not the schema's, so every hash here has the right one).
SHAPES: list[tuple[str, Any]] = [
    ("objects", {"hashes": [{"algorithm": "md5", "hash": md5("a")}]}),
    ("compact", {"md5": [md5("a")], "sha1": ["a" * 40], "only_matches": True}),
    ("pdq with quality", {"hashes": [{"algorithm": "pdq", "hash": "f" * 64, "quality": 90}]}),
    ("unknown algorithm", {"hashes": [{"algorithm": "crc32", "hash": "abcd"}]}),
    ("hash not a string", {"hashes": [{"algorithm": "md5", "hash": 12}]}),
    ("quality too high", {"hashes": [{"algorithm": "pdq", "hash": "f" * 64, "quality": 101}]}),
    ("quality a flag", {"hashes": [{"algorithm": "pdq", "hash": "f" * 64, "quality": True}]}),
    ("hashes not a list", {"hashes": "abc"}),
    ("no frames", {"hashes": [{"algorithm": "vpdq", "frames": []}]}),
    ("only_matches a word", {"md5": [md5("a")], "only_matches": "yes"}),
    ("compact not hex", {"md5": ["z" * 32]}),
]


@pytest.mark.parametrize(("name", "body"), SHAPES, ids=[name for name, _ in SHAPES])
def test_the_check_schema_and_the_decoder_agree(
    server: ServerThread, deployment: Deployment, name: str, body: Any
) -> None:
    _, document, _ = call(server.base, "/v2/openapi.json")
    schema = document["paths"]["/v2/check"]["post"]["requestBody"]["content"]
    root = {**schema["application/json"]["schema"], "components": document["components"]}
    valid = Draft202012Validator(root).is_valid(body)
    status, answer, _ = call(
        server.base, "/v2/check", body, auth=(deployment.client_id, deployment.secret)
    )
    assert status == (200 if valid else 400), (name, answer)


def test_per_item_errors_name_every_bad_item(server: ServerThread, deployment: Deployment) -> None:
    items: list[dict[str, Any]] = [{"algorithm": "md5", "hash": md5(str(n))} for n in range(8)]
    items[1]["frames"] = ["00,100,0.0"]  # frames belong to videos
    items[2] = {"algorithm": "md5", "hash": md5("x"), "quality": 80}  # quality to pdq
    items[4]["hash"] = 5  # the model's error
    items[6]["hash"] = "g" * 32  # the hex path's error
    status, answer, _ = call(
        server.base, "/v2/check", {"hashes": items}, auth=(deployment.client_id, deployment.secret)
    )
    assert status == 400 and answer["error"]["code"] == "invalid_hash"
    found = {d["index"]: d["message"] for d in answer["error"]["details"]}
    assert sorted(found) == [1, 2, 4, 6]
    assert "vpdq" in found[1] and "pdq" in found[2] and "str" in found[4] and "hex" in found[6]
