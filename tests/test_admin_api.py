"""The operator HTTP API on a real server: accounts and roles, the same governance as the CLI,
uploads, errors, and its OpenAPI document."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from hashcheck.admin import operators
from hashcheck.admin.operators import Actor, Role
from hashcheck.api.adminroutes import ROUTES
from hashcheck.hashes.algorithms import Algorithm
from hashcheck.hashes.keyed import Digester
from hashcheck.store.records import Sighting
from tests.http_client import call
from tests.support import Deployment, ServerThread, basic, legacy_post, make_deployment, serve
from tests.test_governance import run as run_governance

BOOTSTRAP = Actor("setup", Role.APPROVER)


def md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


@pytest.fixture
def deployment(sqlite_url: str, tmp_path: Path) -> Deployment:
    return make_deployment(sqlite_url, tmp_path)


@pytest.fixture
def accounts(deployment: Deployment) -> dict[str, tuple[str, str]]:
    store = deployment.store()
    made = {}
    for name, role in (
        ("alice", Role.APPROVER),
        ("bob", Role.APPROVER),
        ("olga", Role.OPERATOR),
        ("vera", Role.VIEWER),
    ):
        made[name] = (name, operators.add(store, name, role, actor=BOOTSTRAP).secret)
    store.close()
    return made


@pytest.fixture
def server(deployment: Deployment) -> Iterator[ServerThread]:
    yield from serve(deployment)


def admin(
    server: ServerThread,
    who: tuple[str, str] | None,
    method: str,
    path: str,
    payload: Any = None,
    raw: bytes | None = None,
) -> tuple[int, Any]:
    status, body, _ = call(
        server.base, "/admin/v1" + path, payload, auth=who, raw=raw, method=method
    )
    return status, body


def test_openapi_document_is_valid_and_complete(server: ServerThread) -> None:
    status, document, _ = call(server.base, "/admin/v1/openapi.json")
    assert status == 200
    validate(document)
    for route in ROUTES:
        operation = document["paths"]["/admin/v1" + route.template][route.method.lower()]
        assert route.role.label in operation["description"]


def test_only_operator_accounts_get_in(
    server: ServerThread, deployment: Deployment, accounts: dict[str, tuple[str, str]]
) -> None:
    status, _, headers = call(server.base, "/admin/v1/clients")
    assert status == 401 and headers["www-authenticate"].startswith("Basic")
    assert admin(server, (deployment.client_id, deployment.secret), "GET", "/clients")[0] == 401
    assert admin(server, ("alice", "wrong"), "GET", "/clients")[0] == 401
    status, me = admin(server, accounts["vera"], "GET", "/whoami")
    assert (status, me) == (200, {"name": "vera", "role": "viewer"})
    status, error = admin(
        server, accounts["vera"], "POST", "/lists", {"name": "x", "supplier": "y"}
    )
    assert status == 403 and "needs the operator role" in error["error"]["message"]
    store = deployment.store()
    operators.set_enabled(store, "vera", False, actor=BOOTSTRAP)
    store.close()
    assert admin(server, accounts["vera"], "GET", "/whoami")[0] == 403
    assert admin(server, accounts["alice"], "GET", "/nope")[0] == 404
    status, error = admin(server, accounts["alice"], "DELETE", "/clients")
    assert status == 405 and error["error"]["code"] == "method_not_allowed"


def test_lists_imports_batches_and_the_two_person_rule(
    server: ServerThread, deployment: Deployment, accounts: dict[str, tuple[str, str]]
) -> None:
    olga, alice = accounts["olga"], accounts["alice"]
    status, created = admin(server, olga, "POST", "/lists", {"name": "ngo", "supplier": "NGO"})
    assert (status, created) == (201, {"name": "ngo", "supplier": "NGO"})
    assert admin(server, olga, "POST", "/lists", {"name": "ngo", "supplier": "NGO"})[0] == 409
    assert admin(server, olga, "POST", "/lists", {"name": "ngo"})[0] == 400
    upload = "".join(md5(f"abuse {n}") + "\n" for n in range(5)).encode()
    status, report = admin(
        server, olga, "POST", "/lists/ngo/imports?category=baseline&shadow=true", raw=upload
    )
    assert status == 201 and report["added"] == 5 and report["shadow"] is True
    batch = report["batch_id"]
    status, shown = admin(server, accounts["vera"], "GET", f"/batches/{batch}")
    assert shown["state"] == "shadow" and shown["list"] == "ngo" and shown["live"] == 5
    assert shown["categories"] == ["baseline"]
    status, change = admin(server, olga, "POST", f"/batches/{batch}/promote")
    assert status == 200 and change["applied"] is True

    status, refused = admin(
        server, olga, "POST", "/lists/ngo/imports?category=baseline", raw=b"not a hash\n"
    )
    assert status == 422 and "nothing was changed" in refused["error"]["message"]
    status, refused = admin(server, olga, "POST", "/lists/ngo/imports?colour=red", raw=upload)
    assert status == 400 and "unknown import option" in refused["error"]["message"]
    assert admin(server, olga, "POST", "/lists/nope/imports", raw=upload)[0] == 404

    status, change = admin(server, olga, "POST", "/categories/other/enable")
    assert status == 202 and change["applied"] is False
    proposal = change["proposal"]
    assert admin(server, olga, "POST", f"/proposals/{proposal}/approve")[0] == 403
    status, decided = admin(server, alice, "POST", f"/proposals/{proposal}/approve")
    assert status == 200 and decided["state"] == "approved" and decided["decided_by"] == "alice"
    status, categories = admin(server, olga, "GET", "/categories")
    assert next(c for c in categories if c["name"] == "other")["enabled"] is True
    status, error = admin(server, alice, "POST", f"/proposals/{proposal}/approve")
    assert status == 409 and "approved already" in error["error"]["message"]

    status, rolled = admin(server, olga, "POST", f"/batches/{batch}/rollback")
    assert (status, rolled["removed"]) == (200, 5)
    status, audit = admin(server, accounts["vera"], "GET", "/audit?limit=50")
    by = {(a["actor"], a["action"]) for a in audit}
    assert {
        ("olga", "list.add"),
        ("olga", "list.import"),
        ("alice", "proposal.approve"),
        ("olga", "batch.rollback"),
    } <= by
    assert admin(server, olga, "GET", "/audit?limit=x")[0] == 400


def test_clients_from_the_admin_api_can_check(
    server: ServerThread, deployment: Deployment, accounts: dict[str, tuple[str, str]]
) -> None:
    olga = accounts["olga"]
    status, issued = admin(server, olga, "POST", "/clients", {"name": "Beta hosting"})
    assert status == 201 and issued["secret"]
    status, listed = admin(server, olga, "GET", "/clients")
    (beta,) = [c for c in listed if c["client_id"] == issued["client_id"]]
    assert beta["grants"] == ["category baseline of every list"]
    admin(server, olga, "POST", "/lists/police/imports?category=baseline", raw=b"ab" * 16 + b"\n")
    server.app.node.follower.refresh()
    auth = basic(issued["client_id"], issued["secret"])
    assert legacy_post(server.port, "/v1/check/md5", b"ab" * 16, auth).body == b"true"
    status, _ = admin(server, olga, "POST", f"/clients/{issued['client_id']}/disable")
    server.app.node.follower.refresh()
    assert legacy_post(server.port, "/v1/check/md5", b"ab" * 16, auth).status == 403
    status, change = admin(
        server,
        olga,
        "POST",
        f"/clients/{issued['client_id']}/grants",
        {"list": None, "category": "related"},
    )
    assert status == 202 and "proposal" in change["message"]
    status, error = admin(
        server, olga, "POST", f"/clients/{issued['client_id']}/grants", {"list": "police"}
    )
    assert status == 400 and "missing required field `category`" in error["error"]["message"]
    status, policy = admin(server, olga, "GET", "/policy")
    assert {p["name"] for p in policy} >= {"two-person-severities", "prevalence-clients"}
    status, refused = admin(server, olga, "PUT", "/policy/prevalence-clients", {"value": "0"})
    assert status == 400 and "from 1 to" in refused["error"]["message"]
    status, stats = admin(server, olga, "GET", "/stats")
    assert status == 200 and isinstance(stats, list)


def test_holds_disputes_and_proposals_name_items_lists_and_clients(
    server: ServerThread, deployment: Deployment, accounts: dict[str, tuple[str, str]]
) -> None:
    olga, vera = accounts["olga"], accounts["vera"]
    upload = (md5("held") + "\n" + md5("disputed") + "\n").encode()
    assert (
        admin(server, olga, "POST", "/lists/police/imports?category=baseline", raw=upload)[0] == 201
    )
    store = deployment.store()
    try:
        held, disputed = (store.find_items(digests=[d])[0].item_id for d in digest_of(deployment))
        store.set_policy("prevalence-clients", "1", actor="test")
        now, day = int(time.time()), int(time.time() // 86400)
        store.record_matches(
            [Sighting(held, client, day, now, True) for client in ("acme", "beta")], []
        )
        store.record_matches([Sighting(disputed, "acme", day, now, True)], [])
        store.open_dispute("acme", disputed, day, "our own picture")
    finally:
        store.close()
    status, holds = admin(server, vera, "GET", "/holds")
    assert status == 200
    assert [(h["item"], h["list"], h["clients"]) for h in holds] == [(held, "police", 2)]
    status, found = admin(server, vera, "GET", "/disputes")
    assert [(d["item"], d["list"], d["client"]) for d in found] == [(disputed, "police", "acme")]
    status, released = admin(server, olga, "POST", f"/holds/{held}/release")
    assert (status, released) == (200, {"item": held, "state": "released"})
    assert admin(server, olga, "POST", "/holds/999999/release")[0] == 404
    # A proposal says in words what it would do, naming the client, list and category.
    status, change = admin(
        server, olga, "POST", "/clients/acme/grants", {"list": "police", "category": "related"}
    )
    assert status == 202
    status, proposals = admin(server, vera, "GET", "/proposals")
    (proposal,) = [p for p in proposals if p["proposal_id"] == change["proposal"]]
    what = proposal["detail"]["what"]
    assert "acme" in what and "list police" in what and "category related" in what
    status, audit = admin(server, vera, "GET", "/audit?limit=50")
    (opened,) = [a for a in audit if a["action"] == "dispute.open"]
    after = json.loads(opened["detail"])["after"]
    assert (after["list"], after["item"]) == ("police", disputed)


def digest_of(deployment: Deployment) -> list[bytes]:
    digester = Digester(deployment.key)
    return [digester.digest(Algorithm.MD5, bytes.fromhex(md5(t))) for t in ("held", "disputed")]


def test_an_approver_cannot_approve_with_an_account_they_made(
    server: ServerThread, accounts: dict[str, tuple[str, str]]
) -> None:
    alice, bob = accounts["alice"], accounts["bob"]
    status, made = admin(server, alice, "POST", "/operators", {"name": "sock", "role": "approver"})
    assert status == 202 and made["applied"] is False and made["secret"]
    sock = ("sock", made["secret"])
    assert admin(server, sock, "GET", "/whoami")[0] == 403  # disabled until approved
    status, error = admin(server, alice, "POST", f"/proposals/{made['proposal']}/approve")
    assert status == 409
    status, _ = admin(server, bob, "POST", f"/proposals/{made['proposal']}/approve")
    assert status == 200
    assert admin(server, sock, "GET", "/whoami")[1] == {"name": "sock", "role": "approver"}
    status, change = admin(server, alice, "PUT", "/policy/two-person-severities", {"value": "none"})
    assert status == 202
    status, error = admin(server, sock, "POST", f"/proposals/{change['proposal']}/approve")
    assert status == 409 and "alice created sock's account" in error["error"]["message"]
    status, listed = admin(server, bob, "GET", "/operators")
    assert {o["name"]: o["created_by"] for o in listed}["sock"] == "alice"
    # Switching off is immediate; switching back on is a proposal again.
    status, change = admin(server, bob, "POST", "/operators/sock/disable")
    assert (status, change["applied"]) == (200, True)
    status, change = admin(server, alice, "POST", "/operators/sock/enable")
    assert status == 202
    status, change = admin(server, alice, "PUT", "/operators/olga/role", {"role": "approver"})
    assert status == 202 and "raising olga" in change["message"]
    assert admin(server, alice, "PUT", "/operators/olga/role", {"role": "boss"})[0] == 400
    assert admin(server, accounts["olga"], "POST", "/operators/vera/disable")[0] == 403


def test_the_cli_and_the_admin_api_show_lists_alike_and_import_the_same_formats(
    server: ServerThread,
    deployment: Deployment,
    accounts: dict[str, tuple[str, str]],
    tmp_path: Path,
) -> None:
    olga = accounts["olga"]
    pdq = "".join(f"{n:064x}\n" for n in (1, 1 << 200, 7 << 100)).encode()
    status, report = admin(
        server, olga, "POST", "/lists/police/imports?format=pdq&category=baseline", raw=pdq
    )
    assert (status, report["added"]) == (201, 3)
    # A supplier's values mapped and a complete delivery replacing the list, as the CLI can.
    vics = b"md5,category\n" + b"".join(f"{md5(f'f{n}')},{n % 2}\n".encode() for n in range(4))
    status, report = admin(
        server,
        olga,
        "POST",
        "/lists/police/imports?category_column=category&map=0=not-imported,1=baseline",
        raw=vics,
    )
    assert status == 201 and report["added"] == 2, report
    status, refused = admin(
        server, olga, "POST", "/lists/police/imports?category=baseline&map=nonsense", raw=vics
    )
    assert status == 422 and "VALUE=CATEGORY" in refused["error"]["message"]
    status, report = admin(
        server,
        olga,
        "POST",
        "/lists/police/imports?category=baseline&replace=true&confirm_removals=true",
        raw=(md5("f1") + "\n").encode(),
    )
    assert status == 201 and report["removed"] == 4, report
    status, shown = admin(server, olga, "GET", "/lists")
    code, out = run_governance(deployment, "olga", "lists", "list", "--json")
    assert code == 0
    cli = json.loads(out)
    assert [{k: row[k] for k in cli[0]} for row in shown] == cli
    assert cli[0]["kind"] == "hashes" and cli[0]["pdq_threshold"] == 31


def test_thresholds_collisions_and_supplier_maps_from_the_admin_api(
    server: ServerThread, accounts: dict[str, tuple[str, str]]
) -> None:
    olga, vera = accounts["olga"], accounts["vera"]
    status, change = admin(server, olga, "PUT", "/lists/police/pdq-threshold", {"value": 20})
    assert (status, change["applied"]) == (200, True)
    status, change = admin(server, olga, "PUT", "/lists/police/pdq-threshold", {"value": 30})
    assert status == 202 and "widening" in change["message"]
    for wrong in ({"value": 32}, {"value": "20"}, {}):
        assert admin(server, olga, "PUT", "/lists/police/pdq-threshold", wrong)[0] == 400
    status, _ = admin(
        server,
        olga,
        "POST",
        "/lists",
        {"name": "cms", "supplier": "CMS vendor", "known_good": True},
    )
    assert status == 201
    logo = (md5("logo") + "\n").encode()
    assert (
        admin(server, olga, "POST", "/lists/police/imports?category=baseline", raw=logo)[0] == 201
    )
    assert admin(server, olga, "POST", "/lists/cms/imports", raw=logo)[0] == 201
    status, collisions = admin(server, vera, "GET", "/collisions")
    assert status == 200
    assert [(c["list"], c["known_good_list"]) for c in collisions] == [("police", "cms")]
    assert admin(server, vera, "GET", "/collisions?limit=x")[0] == 400
    # The supplier's category map, by the supplier's name as `lists add` gave it.
    supplier = "/suppliers/National%20police/map"
    status, mapped = admin(server, olga, "PUT", f"{supplier}/vics:1", {"category": "illegal"})
    assert (status, mapped["changed"]) == (200, True)
    status, mapped = admin(server, olga, "PUT", f"{supplier}/vics:0", {"category": "not-imported"})
    assert status == 200
    assert admin(server, olga, "PUT", f"{supplier}/vics:2", {"category": "nope"})[0] == 404
    assert admin(server, olga, "PUT", "/suppliers/Nobody/map/x", {"category": "illegal"})[0] == 404
    status, shown = admin(server, vera, "GET", supplier)
    assert shown == [
        {"value": "vics:0", "category": "not-imported"},
        {"value": "vics:1", "category": "illegal"},
    ]
    assert admin(server, vera, "DELETE", f"{supplier}/vics:1")[0] == 403
    assert admin(server, olga, "DELETE", f"{supplier}/vics:1")[0] == 200
    assert admin(server, olga, "DELETE", f"{supplier}/vics:1")[0] == 404
