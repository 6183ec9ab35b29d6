"""A client's own takedown deadline, where its agreement says so: set and reset from the CLI
and the admin API (the console's form is in `test_console`), bounded, audited, and the
policy's `takedown-deadline-hours` otherwise."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hashcheck.admin import operators, takedown
from hashcheck.admin.errors import AdminError, PermissionDenied
from hashcheck.admin.operators import Actor, Role
from hashcheck.catalog.policy import PolicyError, validate
from hashcheck.cli.exitcodes import ExitCode
from tests.http_client import call
from tests.support import Deployment, ServerThread, make_deployment, serve
from tests.test_cli import run

OPERATOR = Actor("olga", Role.OPERATOR)


@pytest.fixture
def deployment(sqlite_url: str, tmp_path: Path) -> Deployment:
    return make_deployment(sqlite_url, tmp_path)


def put(server: ServerThread, auth: tuple[str, str], body: Any, client: str = "acme") -> Any:
    status, answer, _ = call(
        server.base,
        f"/admin/v1/clients/{client}/takedown-deadline",
        body,
        auth=auth,
        method="PUT",
    )
    return status, answer


def test_the_policy_applies_unless_an_agreement_says_otherwise(deployment: Deployment) -> None:
    store = deployment.store()
    try:
        assert takedown.deadline_of(store, "acme").hours == 24
        store.set_policy(
            "takedown-deadline-hours", validate("takedown-deadline-hours", "12"), actor="t"
        )
        assert takedown.deadline_of(store, "acme").hours == 12
        done = takedown.set_deadline(store, "acme", 1, actor=OPERATOR)
        assert (done.agreed, done.hours, done.changed) == (1, 1, True)
        assert not takedown.set_deadline(store, "acme", 1, actor=OPERATOR).changed
        assert takedown.set_deadline(store, "acme", None, actor=OPERATOR).hours == 12
        for wrong in (0, -1, 10**6):
            with pytest.raises(AdminError, match="1 to 8,784 hours"):
                takedown.set_deadline(store, "acme", wrong, actor=OPERATOR)
        with pytest.raises(PermissionDenied):
            takedown.set_deadline(store, "acme", 5, actor=Actor("v", Role.VIEWER))
        trail = store.audit_log(action="client.deadline")
        assert [(r.actor, r.subject) for r in trail] == [("olga", "acme")] * 2
    finally:
        store.close()
    for text in ("0", "8785", "²", "12.5", ""):
        with pytest.raises(PolicyError):
            validate("takedown-deadline-hours", text)


def test_the_admin_api_sets_and_resets_it(deployment: Deployment) -> None:
    store = deployment.store()
    try:
        made = operators.add(store, "olga", Role.OPERATOR, actor=Actor("setup", Role.APPROVER))
    finally:
        store.close()
    auth = ("olga", made.secret)
    for server in serve(deployment):
        status, done = put(server, auth, {"hours": 12})
        assert status == 200
        assert done == {"client_id": "acme", "agreed_hours": 12, "hours": 12, "changed": True}
        status, listed, _ = call(server.base, "/admin/v1/clients", auth=auth)
        assert next(c for c in listed if c["client_id"] == "acme")["takedown_deadline_hours"] == 12
        status, done = put(server, auth, {"hours": None})
        assert (status, done["agreed_hours"], done["hours"]) == (200, None, 24)
        for body in ({"hours": 0}, {"hours": 9000}, {"hours": "12"}, {"hours": 1.5}, {}):
            status, error = put(server, auth, body)
            assert status == 400 and "error" in error, body
        assert put(server, auth, {"hours": 3}, "nobody")[0] == 404


def test_the_cli_sets_and_resets_it_strictly(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HASHCHECK_DATABASE_URL", deployment.url)
    monkeypatch.setenv("HASHCHECK_KEY_FILE", str(deployment.key_file))
    code, out, _ = run("clients", "deadline", "acme", "--hours", "1", "--json")
    assert code == ExitCode.OK
    assert json.loads(out) == {"client_id": "acme", "agreed_hours": 1, "hours": 1, "changed": True}
    code, out, _ = run("clients", "list", "--json")
    assert (
        next(c for c in json.loads(out) if c["client_id"] == "acme")["takedown_deadline_hours"] == 1
    )
    code, out, _ = run("clients", "deadline", "acme", "--policy")
    assert code == ExitCode.OK and "24 hours" in out and "the policy's" in out
    for bad in ("٣", "-1", "1.5", "", "99999999999999999999"):
        code, _, err = run("clients", "deadline", "acme", "--hours", bad)
        assert code == ExitCode.USAGE and "Traceback" not in err, bad
    code, _, err = run("clients", "deadline", "acme", "--hours", "0")
    assert code != ExitCode.OK and "1 to 8,784" in err
    code, _, err = run("clients", "deadline", "nobody", "--hours", "1")
    assert code == ExitCode.NOT_FOUND and "nobody" in err
    code, _, err = run("clients", "deadline", "acme")
    assert code == ExitCode.USAGE
