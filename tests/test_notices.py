"""Notices to clients, over real HTTP: the operator issues one (CLI, admin API; the console's
page is in `test_console`), the client reads and acknowledges it and says it removed the item,
which closes it; the automatic rule on `remove` matches, once per hit and again after a
re-appearance; a defined answer for every kind of bad input."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hashcheck.admin import operators, takedown
from hashcheck.admin.errors import AdminError, PermissionDenied
from hashcheck.admin.operators import Actor, Role
from hashcheck.catalog.policy import validate
from hashcheck.cli.exitcodes import ExitCode
from hashcheck.store.errors import Conflict, Gone, NotFound
from hashcheck.store.records import Sighting
from hashcheck.store.sqltakedown import AUTOMATIC
from tests.http_client import call
from tests.support import (
    Deployment,
    ServerThread,
    another_client,
    list_hashes,
    make_deployment,
    md5_hex,
    md5_match,
    serve,
)
from tests.test_cli import run

OPERATOR = Actor("olga", Role.OPERATOR)


LISTED = [md5_hex(f"listed {n}") for n in range(3)]


@pytest.fixture
def deployment(store_url: str, tmp_path: Path) -> Deployment:
    deployed = make_deployment(store_url, tmp_path)
    list_hashes(deployed, LISTED)
    return deployed


@pytest.fixture
def server(deployment: Deployment) -> Iterator[ServerThread]:
    yield from serve(deployment, stats_flush_interval=3600)


def item_of(server: ServerThread, deployment: Deployment, digest: str) -> int:
    return int(md5_match(server, deployment, digest)["item"])


def notices(server: ServerThread, auth: tuple[str, str], state: str = "") -> Any:
    query = f"?state={state}" if state else ""
    status, body, _ = call(server.base, "/v2/notices" + query, auth=auth)
    assert status == 200, body
    return body["notices"]


def acknowledge(server: ServerThread, auth: tuple[str, str], notice: object) -> Any:
    return call(server.base, f"/v2/notices/{notice}/acknowledge", {}, auth=auth)


def test_a_notice_from_issue_to_removal(server: ServerThread, deployment: Deployment) -> None:
    auth = (deployment.client_id, deployment.secret)
    item = item_of(server, deployment, LISTED[0])
    store = deployment.store()
    try:
        takedown.set_deadline(store, "acme", 12, actor=OPERATOR)
        done = takedown.issue_notice(
            store, "acme", item, url="https://files.example/u/123.jpg", actor=OPERATOR
        )
        assert done.new and done.notice.deadline_at - done.notice.issued_at == 12 * 3600
        again = takedown.issue_notice(store, "acme", item, actor=OPERATOR)
        assert not again.new and again.notice.notice_id == done.notice.notice_id
    finally:
        store.close()
    notice_id = done.notice.notice_id
    (listed,) = notices(server, auth)
    assert (listed["notice_id"], listed["item"], listed["state"]) == (notice_id, item, "open")
    assert listed["url"] == "https://files.example/u/123.jpg"
    status, read, _ = acknowledge(server, auth, notice_id)
    assert status == 200 and read["state"] == "acknowledged" and read["acknowledged_at"]
    status, twice, _ = acknowledge(server, auth, notice_id)
    assert status == 200 and twice["acknowledged_at"] == read["acknowledged_at"]
    status, kept, _ = call(
        server.base, "/v2/actions", {"notice": notice_id, "action": "removed"}, auth=auth
    )
    assert status == 201 and kept["notice"] == notice_id and kept["item"] == item
    assert notices(server, auth) == []
    (closed,) = notices(server, auth, "removed")
    assert closed["closed_at"] == kept["at"]
    # A removal reported by match id closes the live notice about the item as well.
    item = item_of(server, deployment, LISTED[1])
    store = deployment.store()
    try:
        second = takedown.issue_notice(store, "acme", item, actor=OPERATOR).notice
    finally:
        store.close()
    match_id = md5_match(server, deployment, LISTED[1])["match_id"]
    status, kept, _ = call(
        server.base, "/v2/actions", {"match_id": match_id, "action": "quarantined"}, auth=auth
    )
    assert status == 201 and kept["notice"] == second.notice_id
    assert [n["state"] for n in notices(server, auth, "all")] == ["removed", "removed"]
    store = deployment.store()
    try:
        trail = store.audit_log(action="notice.issue")
        assert len(trail) == 2 and all(r.actor == "olga" for r in trail)
    finally:
        store.close()


def test_bad_notices_and_bad_uses_of_them_get_a_defined_answer(
    server: ServerThread, deployment: Deployment
) -> None:
    auth = (deployment.client_id, deployment.secret)
    item = item_of(server, deployment, LISTED[0])
    other = another_client(deployment)
    server.app.node.follower.refresh()
    store = deployment.store()
    try:
        notice = takedown.issue_notice(store, "acme", item, actor=OPERATOR).notice
        for url in ("ftp://x/y", "files.example/a", "https://", "http://[::1", "x" * 3000):
            with pytest.raises(AdminError, match="http:// or https://"):
                takedown.issue_notice(store, "acme", item, url=url, actor=OPERATOR)
        with pytest.raises(NotFound):
            takedown.issue_notice(store, "nobody", item, actor=OPERATOR)
        with pytest.raises(NotFound):
            takedown.issue_notice(store, "acme", item + 999, actor=OPERATOR)
        with pytest.raises(PermissionDenied):
            takedown.issue_notice(store, "acme", item, actor=Actor("v", Role.VIEWER))
        with pytest.raises(AdminError, match="state"):
            takedown.notices(store, state="closed", actor=OPERATOR)
    finally:
        store.close()
    # Another client's notice does not exist for it.
    status, answer, _ = acknowledge(server, other, notice.notice_id)
    assert status == 404
    status, answer, _ = call(
        server.base, "/v2/actions", {"notice": notice.notice_id, "action": "removed"}, auth=other
    )
    assert status == 404 and "notice" in answer["error"]["message"]
    assert notices(server, other) == []
    for text in ("0", "x", "%C2%B2", "99999999999999999999", "1/more"):
        status, _, _ = call(server.base, f"/v2/notices/{text}/acknowledge", {}, auth=auth)
        assert status == 404, text
    status, answer, _ = call(server.base, "/v2/notices?state=closed", auth=auth)
    assert status == 400 and "state" in answer["error"]["message"]
    status, answer, _ = call(
        server.base,
        "/v2/actions",
        {"notice": notice.notice_id, "item": item, "action": "removed"},
        auth=auth,
    )
    assert status == 400 and "one of the three" in answer["error"]["message"]
    # Withdrawn: gone for the client; a closed notice cannot be withdrawn twice.
    store = deployment.store()
    try:
        assert (
            takedown.withdraw_notice(store, notice.notice_id, actor=OPERATOR).state == "withdrawn"
        )
        with pytest.raises(Conflict):
            takedown.withdraw_notice(store, notice.notice_id, actor=OPERATOR)
        with pytest.raises(NotFound):
            takedown.withdraw_notice(store, notice.notice_id + 50, actor=OPERATOR)
    finally:
        store.close()
    status, answer, _ = acknowledge(server, auth, notice.notice_id)
    assert status == 410 and "withdrew" in answer["error"]["message"]
    status, answer, _ = call(
        server.base, "/v2/actions", {"notice": notice.notice_id, "action": "removed"}, auth=auth
    )
    assert status == 410
    # A notice about an item no longer on its list: nothing to take down.
    store = deployment.store()
    try:
        (batch,) = [b for b in store.batches() if b.kind == "import"]
        store.rollback_batch(batch.batch_id, actor="t")
        with pytest.raises(Gone, match="no longer on its list"):
            takedown.issue_notice(store, "acme", item, actor=OPERATOR)
    finally:
        store.close()


def test_the_automatic_rule_gives_each_remove_hit_one_notice_and_a_re_appearance_another(
    server: ServerThread, deployment: Deployment
) -> None:
    auth = (deployment.client_id, deployment.secret)
    store = deployment.store()
    try:
        store.set_policy(
            "takedown-notices", validate("takedown-notices", "remove-matches"), actor="olga"
        )
    finally:
        store.close()
    server.app.node.follower.refresh()
    item = item_of(server, deployment, LISTED[2])
    item_of(server, deployment, LISTED[2])
    server.app.node.flusher.flush()
    (notice,) = notices(server, auth)
    assert notice["item"] == item
    store = deployment.store()
    try:
        assert store.notice(notice["notice_id"]).issued_by == AUTOMATIC
    finally:
        store.close()
    item_of(server, deployment, LISTED[2])  # the same hit again, notice still open
    server.app.node.flusher.flush()
    assert len(notices(server, auth, "all")) == 1
    status, _, _ = call(
        server.base, "/v2/actions", {"notice": notice["notice_id"], "action": "removed"}, auth=auth
    )
    assert status == 201
    store = deployment.store()
    try:
        day = int(time.time() // 86400)
        closed = store.notice(notice["notice_id"]).closed_at
        assert closed is not None
        # A record of a match from before the removal is no new hit ...
        store.record_matches([Sighting(item, "acme", day, closed - 1, True)], [])
        assert len(store.notices("acme", states=("open",))) == 0
        # ... one after it is the item back on the client's servers: a new notice.
        store.record_matches([Sighting(item, "acme", day, closed + 60, True)], [])
        (again,) = store.notices("acme", states=("open",))
        assert again.notice_id != notice["notice_id"] and again.issued_by == AUTOMATIC
        # With the manual setting the rule issues none.
        store.set_policy("takedown-notices", "manual", actor="olga")
        store.record_matches([Sighting(item, "acme", day, closed + 120, True)], [])
        assert len(store.notices("acme", states=("open",))) == 1
    finally:
        store.close()


def test_the_cli_and_the_admin_api_issue_list_and_withdraw(
    server: ServerThread, deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    item = item_of(server, deployment, LISTED[0])
    monkeypatch.setenv("HASHCHECK_DATABASE_URL", deployment.url)
    monkeypatch.setenv("HASHCHECK_KEY_FILE", str(deployment.key_file))
    code, out, _ = run(
        "notices", "issue", "acme", str(item), "--url", "https://x.example/a", "--json"
    )
    assert code == ExitCode.OK
    issued = json.loads(out)
    assert issued["new"] is True and issued["url"] == "https://x.example/a"
    code, out, _ = run("notices", "issue", "acme", str(item))
    assert code == ExitCode.OK and "already" in out
    code, out, _ = run("notices", "list", "--format", "csv")
    assert code == ExitCode.OK and f"{issued['notice_id']},acme,{item},open" in out
    code, _, err = run("notices", "issue", "acme", str(item), "--url", "javascript:alert(1)")
    assert code != ExitCode.OK and "http://" in err and "Traceback" not in err
    code, _, err = run("notices", "issue", "acme", "²")
    assert code == ExitCode.USAGE
    code, out, _ = run("notices", "withdraw", str(issued["notice_id"]))
    assert code == ExitCode.OK and "withdrawn" in out
    code, _, err = run("notices", "withdraw", str(issued["notice_id"]))
    assert code != ExitCode.OK and "withdrawn already" in err

    store = deployment.store()
    try:
        made = operators.add(store, "olga", Role.OPERATOR, actor=Actor("setup", Role.APPROVER))
    finally:
        store.close()
    admin = ("olga", made.secret)
    status, body, _ = call(
        server.base, "/admin/v1/notices", {"client_id": "acme", "item": item}, auth=admin
    )
    assert status == 201 and body["new"] is True and body["issued_by"] == "olga"
    status, again, _ = call(
        server.base, "/admin/v1/notices", {"client_id": "acme", "item": item}, auth=admin
    )
    assert status == 200 and again["notice_id"] == body["notice_id"]
    status, listed, _ = call(server.base, "/admin/v1/notices?state=all&client=acme", auth=admin)
    assert status == 200 and [n["state"] for n in listed] == ["withdrawn", "open"]
    for bad in (
        {"client_id": "acme"},
        {"client_id": "acme", "item": 0},
        {"client_id": "acme", "item": item, "url": "nope"},
        {"client_id": "acme", "item": item, "colour": "red"},
    ):
        status, _, _ = call(server.base, "/admin/v1/notices", bad, auth=admin)
        assert status == 400, bad
    status, _, _ = call(
        server.base, "/admin/v1/notices", {"client_id": "nobody", "item": item}, auth=admin
    )
    assert status == 404
    status, _, _ = call(server.base, "/admin/v1/notices?state=closed", auth=admin)
    assert status == 400
    status, done, _ = call(
        server.base, f"/admin/v1/notices/{body['notice_id']}/withdraw", {}, auth=admin
    )
    assert status == 200 and done["state"] == "withdrawn"
    status, _, _ = call(
        server.base, f"/admin/v1/notices/{body['notice_id']}/withdraw", {}, auth=admin
    )
    assert status == 409
