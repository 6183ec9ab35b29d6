"""False positives end to end, on a real server: the incident replayed (shadow mode, alarm,
rollback), disputes flowing into the retraction feed, holds, and the two-person rule."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hashcheck.admin import clients
from hashcheck.catalog.model import Grant
from hashcheck.cli.exitcodes import ExitCode
from hashcheck.cli.main import main
from tests.http_client import call
from tests.support import Deployment, ServerThread, basic, legacy_post, make_deployment, serve
from tests.test_cli import command_groups


def md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


ABUSE = [md5(f"abuse {n}") for n in range(3)]
WORDPRESS = [md5(f"wp-content/uploads/2026/11/logo-{n}.png") for n in range(4)]
HOSTERS = [f"hoster-{n:02d}" for n in range(12)]


@pytest.fixture
def deployment(sqlite_url: str, tmp_path: Path) -> Deployment:
    return make_deployment(sqlite_url, tmp_path)


@pytest.fixture
def server(deployment: Deployment) -> Iterator[ServerThread]:
    yield from serve(deployment)


def run(deployment: Deployment, actor: str, *args: str) -> tuple[int, str]:
    """Run a command; the store options go where argparse expects them."""
    env_args = ["--database-url", deployment.url, "--key-file", str(deployment.key_file)]
    out = io.StringIO()
    with (
        pytest.MonkeyPatch.context() as patch,
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(out),
    ):
        patch.setenv("HASHCHECK_ACTOR", actor)
        depth = 2 if args[0] in command_groups() else 1
        code = main([*args[:depth], *env_args, *args[depth:]])
    return code, out.getvalue()


def hosters(deployment: Deployment) -> dict[str, str]:
    """Twelve hosting clients that check every category of every list (as in the incident)."""
    store = deployment.store()
    secrets = {}
    for name in HOSTERS:
        issued = clients.add_client(
            store, name, actor="setup", client_id=name, grants=[Grant(None, None)]
        )
        secrets[name] = issued.secret
    store.close()
    return secrets


def legacy(server: ServerThread, client: str, secret: str, digest: str) -> bytes:
    response = legacy_post(server.port, "/v1/check/md5", digest.encode(), basic(client, secret))
    assert response.status == 200, response.body
    return response.body


def v2(server: ServerThread, client: str, secret: str, digests: list[str]) -> Any:
    status, body, _ = call(server.base, "/v2/check", {"md5": digests}, auth=(client, secret))
    assert status == 200, body
    return body


def refresh(server: ServerThread) -> None:
    server.app.node.follower.refresh()


def flush(server: ServerThread) -> None:
    server.app.node.flusher.flush()


def test_the_incident_replayed_no_client_ever_receives_true(
    server: ServerThread, deployment: Deployment, tmp_path: Path
) -> None:
    secrets = hosters(deployment)
    assert run(deployment, "alice", "policy", "set", "prevalence-clients", "5")[0] == 0
    # The mistake: "other" is switched on (two operators agree, wrongly).
    code, out = run(deployment, "alice", "categories", "enable", "other")
    assert code == ExitCode.PENDING and "proposal 1" in out
    assert run(deployment, "bob", "proposals", "approve", "1")[0] == 0
    # The supplier's file mixes abuse material with ordinary CMS images under "other".
    supplier = tmp_path / "supplier.csv"
    supplier.write_text(
        "md5,cat\n"
        + "".join(f"{h},baseline\n" for h in ABUSE)
        + "".join(f"{h},other\n" for h in WORDPRESS)
    )
    code, out = run(
        deployment,
        "alice",
        "import",
        "police",
        str(supplier),
        "--category-column",
        "cat",
        "--shadow",
        "--json",
    )
    assert code == 0, out
    batch = json.loads(out)["batch_id"]
    refresh(server)

    # Every hoster's scanner meets the WordPress images: none is told "match".
    answers: list[bytes] = []
    for name in HOSTERS:
        answers.extend(legacy(server, name, secrets[name], h) for h in WORDPRESS)
        body = v2(server, name, secrets[name], WORDPRESS + ABUSE)
        assert all(not r["match"] for r in body["results"])
    assert set(answers) == {b"false"}
    flush(server)

    # The shadow counters show the would-be matches across many clients.
    code, out = run(deployment, "carol", "batches", "show", str(batch), "--json")
    shown = json.loads(out)
    assert shown["state"] == "shadow" and shown["clients"] == len(HOSTERS)
    # Legacy (4) and v2 (4 WordPress + 3 abuse) per hoster.
    assert shown["per_client"] == dict.fromkeys(HOSTERS, 2 * len(WORDPRESS) + len(ABUSE))

    # The alarm fired for every WordPress image (and the abuse hashes: every hoster met them).
    code, out = run(deployment, "carol", "holds", "list", "--format", "json")
    held = json.loads(out)
    assert len(held) == len(WORDPRESS) + len(ABUSE)
    assert all(h["clients"] == len(HOSTERS) and h["state"] == "open" for h in held)
    alarms = [r for r in store_audit(deployment) if r.action == "hold.add"]
    assert len(alarms) == len(held) and {r.actor for r in alarms} == {"system:prevalence"}

    # One command takes the batch out, for every node, within the next poll.
    code, out = run(deployment, "alice", "batches", "rollback", str(batch))
    assert code == 0 and f"{len(WORDPRESS) + len(ABUSE)} entries removed" in out
    refresh(server)
    for name in HOSTERS[:3]:
        assert {legacy(server, name, secrets[name], h) for h in WORDPRESS} == {b"false"}
    store = deployment.store()
    assert store.entry_count(1) == 0
    assert store.batch(batch).state == "rolled-back"
    # Nobody was answered a match, so nobody has anything to restore.
    assert all(store.retractions(name, 0) == [] for name in HOSTERS)
    store.close()


def store_audit(deployment: Deployment) -> list[Any]:
    store = deployment.store()
    try:
        return store.audit_log(1000)
    finally:
        store.close()


def import_active(deployment: Deployment, tmp_path: Path, hashes: list[str]) -> None:
    source = tmp_path / "police.txt"
    source.write_text("".join(h + "\n" for h in hashes))
    code, out = run(deployment, "alice", "import", "police", str(source), "--category", "baseline")
    assert code == 0, out


def test_a_dispute_flows_to_a_retraction_the_client_reads(
    server: ServerThread, deployment: Deployment, tmp_path: Path
) -> None:
    import_active(deployment, tmp_path, ABUSE[:1] + WORDPRESS[:1])
    refresh(server)
    auth = (deployment.client_id, deployment.secret)
    body = v2(server, *auth, [WORDPRESS[0]])
    (match,) = body["results"][0]["matches"]
    assert match["action"] == "remove"
    flush(server)  # the node records that acme was answered this match (not the hash)

    status, error, _ = call(
        server.base, "/v2/disputes", {"match_id": "m1_nonsense", "reason": "x"}, auth=auth
    )
    assert status == 400 and error["error"]["code"] == "bad_request"
    status, error, _ = call(server.base, "/v2/disputes", {"match_id": match["match_id"]}, auth=auth)
    assert status == 400 and "reason" in error["error"]["message"]
    reason = "This is the stock WordPress logo; our scanner quarantined 3,000 customer sites"
    status, dispute, _ = call(
        server.base, "/v2/disputes", {"match_id": match["match_id"], "reason": reason}, auth=auth
    )
    assert status == 201 and dispute["state"] == "open"
    assert dispute["match_id"] == match["match_id"] and dispute["list"] == "police"
    # Another client cannot use or see it.
    other = hosters(deployment)[HOSTERS[0]]
    refresh(server)
    status, _, _ = call(
        server.base,
        "/v2/disputes",
        {"match_id": match["match_id"], "reason": "x"},
        auth=(HOSTERS[0], other),
    )
    assert status == 400
    status, _, _ = call(
        server.base, f"/v2/disputes/{dispute['dispute_id']}", auth=(HOSTERS[0], other)
    )
    assert status == 404

    code, out = run(deployment, "dave", "disputes", "list", "--state", "open", "--format", "json")
    (listed,) = json.loads(out)
    assert listed["reason"] == reason and listed["client"] == "acme"
    code, out = run(
        deployment,
        "dave",
        "disputes",
        "uphold",
        str(dispute["dispute_id"]),
        "--reason",
        "Confirmed: a stock CMS image",
    )
    assert code == 0, out
    refresh(server)

    status, feed, _ = call(server.base, "/v2/retractions?since=0", auth=auth)
    assert status == 200
    (item,) = feed["retractions"]
    assert item["match_id"] == match["match_id"] and item["reason"] == "dispute-upheld"
    status, later, _ = call(server.base, f"/v2/retractions?since={feed['next']}", auth=auth)
    assert later["retractions"] == [] and later["next"] == feed["next"]
    status, bad, _ = call(server.base, "/v2/retractions?since=-1", auth=auth)
    assert status == 400 and bad["error"]["code"] == "bad_request"

    status, decided, _ = call(server.base, f"/v2/disputes/{dispute['dispute_id']}", auth=auth)
    assert decided["state"] == "upheld"
    assert decided["notes"][0]["text"] == "Confirmed: a stock CMS image"
    # The hash no longer matches, and a supplier re-delivering it cannot bring it back.
    assert legacy(server, *auth, WORDPRESS[0]) == b"false"
    source = tmp_path / "again.txt"
    source.write_text(WORDPRESS[0] + "\n")
    code, out = run(deployment, "alice", "import", "police", str(source), "--category", "baseline")
    assert "WARNING: 1 hashes are also on a list of the other kind" in out
    refresh(server)
    assert legacy(server, *auth, WORDPRESS[0]) == b"false"
    assert legacy(server, *auth, ABUSE[0]) == b"true"
    # A retracted match cannot be disputed again.
    status, gone, _ = call(
        server.base, "/v2/disputes", {"match_id": match["match_id"], "reason": "x"}, auth=auth
    )
    assert status == 410 and gone["error"]["code"] == "gone"


def test_prevalence_hold_answers_review_and_legacy_follows_the_policy(
    server: ServerThread, deployment: Deployment, tmp_path: Path
) -> None:
    secrets = hosters(deployment)
    import_active(deployment, tmp_path, ABUSE[:1])
    run(deployment, "alice", "policy", "set", "prevalence-clients", "2")
    refresh(server)
    for name in HOSTERS[:2]:
        v2(server, name, secrets[name], ABUSE[:1])
    flush(server)
    assert run(deployment, "carol", "holds", "list", "--format", "json")[1].strip() == "[]"
    v2(server, HOSTERS[2], secrets[HOSTERS[2]], ABUSE[:1])
    flush(server)
    refresh(server)
    (match,) = v2(server, HOSTERS[3], secrets[HOSTERS[3]], ABUSE[:1])["results"][0]["matches"]
    assert match["action"] == "review" and "matched for 3 clients" in match["hold"]
    assert legacy(server, HOSTERS[3], secrets[HOSTERS[3]], ABUSE[0]) == b"true"
    assert run(deployment, "alice", "policy", "set", "hold-legacy-answer", "false")[0] == 0
    refresh(server)
    assert legacy(server, HOSTERS[3], secrets[HOSTERS[3]], ABUSE[0]) == b"false"
    (held,) = json.loads(run(deployment, "carol", "holds", "list", "--format", "json")[1])
    assert held["item"] == match["item"]  # a hold is on the item the client was answered
    assert run(deployment, "alice", "holds", "release", str(held["item"]))[0] == 0
    refresh(server)
    assert legacy(server, HOSTERS[3], secrets[HOSTERS[3]], ABUSE[0]) == b"true"
    (match,) = v2(server, HOSTERS[3], secrets[HOSTERS[3]], ABUSE[:1])["results"][0]["matches"]
    assert match["action"] == "remove" and "hold" not in match
    # Released by an operator: the alarm does not put it back on hold.
    flush(server)
    assert (
        json.loads(run(deployment, "carol", "holds", "list", "--format", "json")[1])[0]["state"]
        == "released"
    )


def test_shadow_batch_answers_only_after_promotion(
    server: ServerThread, deployment: Deployment, tmp_path: Path
) -> None:
    source = tmp_path / "new.txt"
    source.write_text(ABUSE[0] + "\n")
    code, out = run(
        deployment, "alice", "import", "police", str(source), "--category", "baseline", "--shadow"
    )
    assert code == 0 and "SHADOW MODE" in out
    refresh(server)
    auth = (deployment.client_id, deployment.secret)
    assert legacy(server, *auth, ABUSE[0]) == b"false"
    # Only baseline entries: promotion needs no second operator.
    code, out = run(deployment, "alice", "batches", "promote", "1")
    assert code == 0 and "promoted" in out
    refresh(server)
    assert legacy(server, *auth, ABUSE[0]) == b"true"
    code, out = run(deployment, "alice", "batches", "promote", "1")
    assert code == ExitCode.REJECTED and "not in shadow mode" in out


def test_two_person_rule_and_operator_roles(deployment: Deployment) -> None:
    # Before any account exists, anyone may act (a fresh install has to start somewhere).
    # The first approvers are made together, so each can be the other's second person.
    code, _ = run(deployment, "alice", "operators", "add", "alice", "bob", "--role", "approver")
    assert code == 0
    code, out = run(deployment, "mallory", "categories", "enable", "related")
    assert code == ExitCode.DENIED and "not an enabled operator account" in out
    # Two approvers exist: a new account waits, disabled, for an approver other than its maker.
    code, out = run(deployment, "alice", "operators", "add", "vera", "--role", "viewer")
    assert code == ExitCode.PENDING and "disabled until then" in out
    code, out = run(deployment, "vera", "proposals", "list")
    assert code == ExitCode.DENIED and "not an enabled operator account" in out
    code, out = run(deployment, "alice", "proposals", "list", "--format", "json")
    (enabling,) = json.loads(out)
    assert enabling["action"] == "operator.enable" and "made by alice" in enabling["detail"]
    assert run(deployment, "bob", "proposals", "approve", str(enabling["proposal"]))[0] == 0
    code, out = run(deployment, "vera", "categories", "enable", "related")
    assert code == ExitCode.DENIED and "needs the operator role" in out

    code, _ = run(
        deployment, "alice", "clients", "grant", "acme", "--list", "police", "--category", "related"
    )
    assert code == ExitCode.PENDING
    code, out = run(deployment, "alice", "proposals", "approve", "2")
    assert code == ExitCode.CONFLICT and "another operator must approve" in out
    code, out = run(deployment, "vera", "proposals", "approve", "2")
    assert code == ExitCode.DENIED
    assert run(deployment, "bob", "proposals", "approve", "2")[0] == 0
    code, out = run(deployment, "bob", "proposals", "approve", "2")
    assert code == ExitCode.CONFLICT and "approved already" in out
    code, out = run(deployment, "bob", "clients", "list", "--json")
    assert "category related of list police" in json.loads(out)[0]["grants"]

    # Baseline grants are not covered: at once. Switching off never waits.
    code, _ = run(
        deployment, "alice", "clients", "grant", "acme", "--all-lists", "--category", "illegal"
    )
    assert code == 0
    assert run(deployment, "alice", "lists", "disable", "police")[0] == 0
    code, out = run(deployment, "alice", "lists", "enable", "police")
    assert code == ExitCode.PENDING
    assert run(deployment, "bob", "proposals", "reject", "3")[0] == 0

    # Loosening the rule itself takes two.
    code, _ = run(deployment, "alice", "policy", "set", "two-person-severities", "informational")
    assert code == ExitCode.PENDING
    code, out = run(deployment, "alice", "policy", "set", "two-person-severities", "sideways")
    assert code == ExitCode.REJECTED and "not a severity" in out
    assert run(deployment, "bob", "proposals", "approve", "4")[0] == 0
    code, out = run(deployment, "alice", "policy", "show", "--format", "json")
    shown = {row["name"]: row["value"] for row in json.loads(out)}
    assert shown["two-person-severities"] == "informational"
    actions = [r.action for r in store_audit(deployment)]
    for expected in (
        "operator.add",
        "proposal.add",
        "proposal.approve",
        "proposal.reject",
        "grant.add",
        "list.disable",
        "policy.set",
    ):
        assert expected in actions


def _proposal_ids(deployment: Deployment, actor: str) -> list[int]:
    code, out = run(deployment, actor, "proposals", "list", "--state", "open", "--format", "json")
    assert code == 0
    return [int(p["proposal"]) for p in json.loads(out)]


def test_one_approver_cannot_make_a_second_self(deployment: Deployment) -> None:
    """The attack: an approver makes another approver account for themselves, proposes with
    one and approves with the other, even switching the rule off."""
    assert run(deployment, "alice", "operators", "add", "alice", "--role", "approver")[0] == 0
    # Alone, alice may make a second approver at once (someone has to)...
    code, out = run(deployment, "alice", "operators", "add", "sock", "--role", "approver", "--json")
    assert code == 0 and json.loads(out)["applied"] is True
    # ...but the two never count as two people, in either direction.
    code, _ = run(deployment, "alice", "policy", "set", "two-person-severities", "none")
    assert code == ExitCode.PENDING
    (off,) = _proposal_ids(deployment, "alice")
    code, out = run(deployment, "sock", "proposals", "approve", str(off))
    assert code == ExitCode.CONFLICT and "alice created sock's account" in out
    code, _ = run(deployment, "sock", "categories", "enable", "related")
    assert code == ExitCode.PENDING
    (enable,) = set(_proposal_ids(deployment, "alice")) - {off}
    code, out = run(deployment, "alice", "proposals", "approve", str(enable))
    assert code == ExitCode.CONFLICT and "created sock's account" in out
    # Now two approvers exist: a third account made by alice waits, disabled, and neither
    # alice nor her own account may enable it.
    code, out = run(deployment, "alice", "operators", "add", "puppet", "--role", "approver")
    assert code == ExitCode.PENDING
    (enabling,) = set(_proposal_ids(deployment, "alice")) - {off, enable}
    for approver in ("alice", "sock"):
        assert run(deployment, approver, "proposals", "approve", str(enabling))[0] == 9
    code, out = run(deployment, "puppet", "proposals", "list")
    assert code == ExitCode.DENIED
    # Disabling and re-enabling her second account: enabling again is a proposal too.
    assert run(deployment, "alice", "operators", "disable", "sock")[0] == 0
    code, out = run(deployment, "alice", "operators", "enable", "sock")
    assert code == 0  # one approver left: the rule is not in force, and sock stays alice's
    code, out = run(deployment, "alice", "policy", "show", "--format", "json")
    shown = {row["name"]: row["value"] for row in json.loads(out)}
    assert shown["two-person-severities"] != "none"
    code, out = run(deployment, "alice", "operators", "list", "--format", "json")
    makers = {row["name"]: row["created_by"] for row in json.loads(out)}
    assert makers == {"alice": "", "sock": "alice", "puppet": "alice"}
    made = [r for r in store_audit(deployment) if r.action == "operator.add"]
    assert {(r.subject, r.actor) for r in made} >= {("sock", "alice"), ("puppet", "alice")}


def test_raising_a_role_takes_an_independent_approver(deployment: Deployment) -> None:
    code, _ = run(deployment, "root", "operators", "add", "alice", "bob", "--role", "approver")
    assert code == 0
    code, _ = run(deployment, "alice", "operators", "add", "carol", "--role", "operator")
    assert code == ExitCode.PENDING
    (enabling,) = _proposal_ids(deployment, "bob")
    assert run(deployment, "bob", "proposals", "approve", str(enabling))[0] == 0
    code, _ = run(deployment, "alice", "operators", "role", "carol", "approver")
    assert code == ExitCode.PENDING
    (raising,) = _proposal_ids(deployment, "bob")
    assert run(deployment, "bob", "proposals", "approve", str(raising))[0] == 0
    code, out = run(deployment, "bob", "operators", "list", "--format", "json")
    roles = {row["name"]: row["role"] for row in json.loads(out)}
    assert roles["carol"] == "approver"
    # Carol, made by alice, is never alice's second person; bob still is.
    code, _ = run(deployment, "alice", "categories", "enable", "related")
    (enable,) = _proposal_ids(deployment, "bob")
    code, out = run(deployment, "carol", "proposals", "approve", str(enable))
    assert code == ExitCode.CONFLICT and "alice created carol's account" in out
    assert run(deployment, "bob", "proposals", "approve", str(enable))[0] == 0
    # Lowering a role is immediate.
    assert run(deployment, "bob", "operators", "role", "carol", "viewer")[0] == 0


def test_the_cli_checks_every_actions_role_from_the_table(deployment: Deployment) -> None:
    code, _ = run(deployment, "root", "operators", "add", "alice", "vera", "--role", "viewer")
    assert code == 0
    # A viewer reads...
    assert run(deployment, "vera", "clients", "list")[0] == 0
    assert run(deployment, "vera", "audit")[0] == 0
    # ...and is refused every change, before anything is touched.
    code, out = run(deployment, "vera", "clients", "add", "Gamma hosting")
    assert code == ExitCode.DENIED and "needs the operator role" in out
    code, out = run(deployment, "vera", "lists", "add", "extra", "--supplier", "x")
    assert code == ExitCode.DENIED
    # A name that is no account may not even read, once accounts exist.
    code, out = run(deployment, "mallory", "clients", "list")
    assert code == ExitCode.DENIED and "not an enabled operator account" in out
    # Client tools and installation commands are no operator actions.
    assert run(deployment, "mallory", "migrate")[0] == 0
