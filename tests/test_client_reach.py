"""A client that can match nothing says so (issue 11, item 8): every check it sends answers
`false`, which looks exactly like a clean one. On the CLI and the admin API, against real
SQLite and PostgreSQL, and checked against what a real server answers for that client."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hashcheck.admin import operators
from hashcheck.admin.operators import Actor, Role
from hashcheck.admin.reach import NO_GRANTS, NOTHING_REACHED
from hashcheck.cli.exitcodes import ExitCode
from tests.support import (
    Deployment,
    ServerThread,
    basic,
    legacy_post,
    list_hashes,
    make_deployment,
    serve,
)
from tests.test_admin_api import admin
from tests.test_cli import run

LISTED = hashlib.md5(b"on the police list", usedforsecurity=False).hexdigest()


@pytest.fixture
def cli(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HASHCHECK_DATABASE_URL", store_url)
    monkeypatch.setenv("HASHCHECK_KEY_FILE", str(tmp_path / "list.key"))
    monkeypatch.setenv("HASHCHECK_ACTOR", "alice")
    assert run("init")[0] == ExitCode.OK
    assert run("lists", "add", "police", "--supplier", "National police")[0] == ExitCode.OK


def clients_json() -> dict[str, dict[str, Any]]:
    code, out, _ = run("clients", "list", "--json")
    assert code == ExitCode.OK
    return {c["client_id"]: c for c in json.loads(out)}


@pytest.mark.usefixtures("cli")
def test_a_client_added_without_grants_says_every_check_answers_false() -> None:
    code, out, _ = run("clients", "add", "Empty", "--id", "empty", "--no-default-grant", "--json")
    issued = json.loads(out)
    assert code == ExitCode.OK and issued["secret"]
    assert issued["can_match"] is False and issued["warning"] == NO_GRANTS
    assert issued["checks_lists"] == []
    code, out, _ = run("clients", "add", "Quiet", "--id", "quiet", "--no-default-grant")
    assert code == ExitCode.OK
    assert f"WARNING: client quiet: {NO_GRANTS}" in out and "answers false" in out
    code, out, _ = run("clients", "add", "Acme", "--id", "acme", "--json")
    acme = json.loads(out)
    assert acme["can_match"] is True and acme["warning"] is None
    assert acme["checks_lists"] == ["police"]
    assert "WARNING" not in run("clients", "add", "Beta", "--id", "beta")[1]

    listed = clients_json()
    assert listed["empty"]["can_match"] is False and listed["empty"]["warning"] == NO_GRANTS
    assert listed["acme"]["can_match"] is True and listed["acme"]["checks_lists"] == ["police"]
    code, table, _ = run("clients", "list")
    assert code == ExitCode.OK
    header, _, *rows = table.splitlines()
    assert header.split()[-1] == "CAN_MATCH"
    assert next(r for r in rows if r.startswith("acme")).split()[-1] == "yes"
    assert next(r for r in rows if r.startswith("empty")).split()[-1] == "NO"
    assert f"WARNING: client empty: {NO_GRANTS}" in table
    assert "WARNING: client acme" not in table


@pytest.mark.usefixtures("cli")
def test_revoking_the_last_grant_says_so() -> None:
    run("clients", "add", "Acme", "--id", "acme")
    run("clients", "add", "Beta", "--id", "beta")
    code, out, _ = run("clients", "revoke", "acme", "--all-lists", "--category", "baseline")
    assert code == ExitCode.OK
    assert "acme no longer checks category baseline of every list" in out
    assert f"WARNING: client acme: {NO_GRANTS}" in out
    code, out, _ = run(
        "clients", "revoke", "beta", "--all-lists", "--category", "baseline", "--json"
    )
    assert code == ExitCode.OK
    assert json.loads(out) == {
        "client_id": "beta",
        "revoked": True,
        "can_match": False,
        "checks_lists": [],
        "warning": NO_GRANTS,
    }
    code, out, _ = run(
        "clients", "revoke", "beta", "--all-lists", "--category", "baseline", "--json"
    )
    assert code == ExitCode.NOT_FOUND and json.loads(out)["revoked"] is False
    assert clients_json()["acme"]["warning"] == NO_GRANTS


@pytest.mark.usefixtures("cli")
def test_grants_that_reach_only_disabled_or_known_good_lists_are_flagged() -> None:
    run("clients", "add", "Acme", "--id", "acme")  # baseline of every list
    run("lists", "add", "cms", "--supplier", "WordPress", "--known-good")
    run("clients", "add", "Allow", "--id", "allow", "--no-default-grant")
    code, out, _ = run("clients", "grant", "allow", "--list", "cms", "--category", "baseline")
    assert code == ExitCode.OK and f"WARNING: client allow: {NOTHING_REACHED}" in out
    assert clients_json()["allow"]["warning"] == NOTHING_REACHED  # a known-good list never matches

    code, out, _ = run("lists", "disable", "police")
    assert code == ExitCode.OK and "list police disabled" in out
    assert "WARNING: 2 enabled clients can match nothing now" in out and "acme, allow" in out
    acme = clients_json()["acme"]
    assert acme["can_match"] is False and acme["warning"] == NOTHING_REACHED
    run("clients", "disable", "allow")  # disabled clients are refused (403), not answered false
    code, out, _ = run("categories", "disable", "baseline", "--json")
    assert json.loads(out) == {"changed": True, "clients_matching_nothing": ["acme"]}
    code, out, _ = run("clients", "enable", "allow")
    assert code == ExitCode.OK and f"WARNING: client allow: {NOTHING_REACHED}" in out


# -- the admin API, and what a real server answers ---------------------------------------------
@pytest.fixture
def deployment(store_url: str, tmp_path: Path) -> Deployment:
    made = make_deployment(store_url, tmp_path)
    list_hashes(made, [LISTED])
    return made


@pytest.fixture
def olga(deployment: Deployment) -> tuple[str, str]:
    store = deployment.store()
    secret = operators.add(store, "olga", Role.OPERATOR, actor=Actor("setup", Role.APPROVER)).secret
    store.close()
    return "olga", secret


@pytest.fixture
def server(deployment: Deployment) -> Iterator[ServerThread]:
    yield from serve(deployment)


def test_the_admin_api_flags_clients_that_can_match_nothing(
    server: ServerThread, olga: tuple[str, str]
) -> None:
    status, issued = admin(
        server, olga, "POST", "/clients", {"name": "Empty", "default_grant": False}
    )
    assert status == 201 and issued["can_match"] is False and issued["warning"] == NO_GRANTS
    empty = issued["client_id"]
    status, listed = admin(server, olga, "GET", "/clients")
    by_id = {c["client_id"]: c for c in listed}
    assert by_id[empty]["can_match"] is False and by_id[empty]["warning"] == NO_GRANTS
    assert by_id["acme"]["can_match"] is True and by_id["acme"]["checks_lists"] == ["police"]

    grant = {"list": "police", "category": "baseline"}
    status, granted = admin(server, olga, "POST", f"/clients/{empty}/grants", grant)
    assert (status, granted["applied"], granted["can_match"]) == (200, True, True)
    status, revoked = admin(server, olga, "POST", f"/clients/{empty}/revoke", grant)
    assert status == 200 and revoked["revoked"] is True and revoked["warning"] == NO_GRANTS
    status, enabled = admin(server, olga, "POST", f"/clients/{empty}/enable")
    assert status == 200 and enabled["can_match"] is False


def test_a_flagged_client_is_indeed_answered_false(
    server: ServerThread, deployment: Deployment, olga: tuple[str, str]
) -> None:
    auth = basic(deployment.client_id, deployment.secret)

    def answer() -> bytes:
        server.app.node.follower.refresh()
        return legacy_post(server.port, "/v1/check/md5", LISTED.encode(), auth).body

    assert answer() == b"true"
    status, done = admin(server, olga, "POST", "/categories/baseline/disable")
    assert status == 200 and done == {"changed": True, "clients_matching_nothing": ["acme"]}
    assert answer() == b"false"  # what can_match false means for the client
    status, listed = admin(server, olga, "GET", "/clients")
    (acme,) = [c for c in listed if c["client_id"] == "acme"]
    assert acme["can_match"] is False and acme["warning"] == NOTHING_REACHED
    status, done = admin(server, olga, "POST", "/lists/police/disable")
    assert status == 200 and done["clients_matching_nothing"] == ["acme"]
