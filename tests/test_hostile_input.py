"""Hostile input found by probing (issue 14): none of it may answer 500, and none may read as an
answer. Numbers in paths and query strings are ASCII digits within range only ("²" passes
`str.isdigit`; a 38-digit number passes `int`), and a percent-encoded form value on the legacy
paths may decode to any character."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from hashcheck.admin import operators
from hashcheck.admin.operators import Actor, Role
from tests.support import Deployment, ServerThread, basic, make_deployment, serve


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
