"""The operator console in a real browser (Playwright driving Debian's Chromium) against a
real node: off by default, sign-in and sign-out, the overview, a proposal approved by a second
operator and refused to its proposer and to a viewer, a form without its CSRF token refused,
and the security headers on every page. Sessions are checked without a clock."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from hashcheck.admin import clients, governance, importing, operators
from hashcheck.admin.operators import Actor, Role
from hashcheck.console.session import IDLE_S, Sessions
from hashcheck.hashes.algorithms import Algorithm
from hashcheck.hashes.keyed import Digester
from hashcheck.store.records import Sighting, StatRow
from tests.browser import browser
from tests.support import Deployment, ServerThread, make_deployment, serve


def test_sessions_are_signed_expire_when_idle_and_carry_a_csrf_token() -> None:
    sessions = Sessions(b"k" * 32)
    cookie = sessions.issue("alice", "scrypt$hash", now=1000.0)
    session = sessions.read(cookie, now=1000.0 + IDLE_S - 1)
    assert session is not None and session.name == "alice"
    assert sessions.read(cookie, now=1000.0 + IDLE_S + 1) is None  # idle too long
    assert (
        sessions.read(cookie[:-2] + ("A" if cookie[-2] != "A" else "B") + cookie[-1], 1000.0)
        is None
    )
    assert sessions.read("not a cookie", 1000.0) is None
    assert Sessions(b"x" * 32).read(cookie, 1000.0) is None  # another node's key
    token = sessions.csrf(session)
    assert sessions.csrf_ok(session, token) and not sessions.csrf_ok(session, token[:-1] + "0")
    other = sessions.read(sessions.issue("alice", "scrypt$rotated", 1000.0), 1000.0)
    assert other is not None and not sessions.csrf_ok(other, token)


@pytest.fixture
def deployment(sqlite_url: str, tmp_path: Path) -> Deployment:
    return make_deployment(sqlite_url, tmp_path)


@pytest.fixture
def accounts(deployment: Deployment) -> dict[str, str]:
    store = deployment.store()
    setup = Actor("setup", Role.APPROVER)
    try:
        made = operators.add_several(store, ["alice", "bob"], Role.APPROVER, actor=setup)
        secrets = {m.name: m.secret for m in made}
        secrets["vera"] = operators.add(store, "vera", Role.VIEWER, actor=setup).secret
        secrets["olga"] = operators.add(store, "olga", Role.OPERATOR, actor=setup).secret
    finally:
        store.close()
    return secrets


@pytest.fixture
def console(deployment: Deployment) -> Iterator[ServerThread]:
    yield from serve(deployment, console=True)


@pytest.fixture
def context() -> Iterator[BrowserContext]:
    with browser() as opened:
        yield opened


def test_the_console_is_off_by_default(deployment: Deployment) -> None:
    for server in serve(deployment):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(server.base + "/console/", timeout=10)  # noqa: S310
        assert refused.value.code == 404


def sign_in(page: Page, base: str, name: str, secret: str) -> None:
    page.goto(base + "/console/")
    expect(page).to_have_url(base + "/console/signin")
    page.get_by_label("Account name").fill(name)
    page.get_by_label("Secret").fill(secret)
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_overview_and_sign_out(
    console: ServerThread, accounts: dict[str, str], context: BrowserContext
) -> None:
    page = context.new_page()
    sign_in(page, console.base, "alice", "not her secret")
    expect(page.get_by_role("alert")).to_contain_text("wrong operator name or secret")
    expect(page.get_by_label("Account name")).to_have_value("alice")  # what she typed stays
    console.app.node.flusher.flush()  # the node reports itself (every 30 s on its own)
    sign_in(page, console.base, "alice", accounts["alice"])
    expect(page).to_have_url(console.base + "/console/")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    node = page.get_by_role("row").filter(has_text=f":{os.getpid()}")
    expect(node).to_contain_text("ready")
    expect(node).to_contain_text("s ago")
    expect(page.get_by_role("row", name="police")).to_contain_text("National police")
    expect(page.get_by_text("alice (approver)")).to_be_visible()
    response = page.request.get(console.base + "/console/")
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self';" in policy
    assert "unsafe" not in policy
    assert response.headers["x-frame-options"] == "DENY"
    cookie = next(c for c in context.cookies() if c["name"] == "hashcheck_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    missing = page.goto(console.base + "/console/no-such-page")
    assert missing is not None and missing.status == 404
    expect(page.get_by_role("alert")).to_contain_text("no such page")
    page.goto(console.base + "/console/")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(console.base + "/console/signin")
    page.goto(console.base + "/console/proposals")
    expect(page).to_have_url(console.base + "/console/signin")


def test_a_proposal_is_approved_by_a_second_operator_only(
    console: ServerThread,
    deployment: Deployment,
    accounts: dict[str, str],
    context: BrowserContext,
) -> None:
    store = deployment.store()
    try:
        change = governance.enable_category(store, "related", actor=Actor("alice", Role.APPROVER))
    finally:
        store.close()
    assert change.proposal is not None
    number = change.proposal.proposal_id
    page = context.new_page()
    sign_in(page, console.base, "alice", accounts["alice"])
    page.get_by_role("link", name="Proposals").first.click()
    expect(page.get_by_role("row", name=f"{number}")).to_contain_text("enabling category related")
    page.get_by_role("button", name=f"Approve proposal {number}").click()
    expect(page.get_by_role("alert")).to_contain_text("another operator must approve")
    # A form posted without its token (from another site, say) changes nothing.
    refused = page.request.post(console.base + f"/console/proposals/{number}", form={})
    assert refused.status == 403 and "safety token" in refused.text()
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, console.base, "vera", accounts["vera"])
    page.goto(console.base + "/console/proposals")
    page.get_by_role("button", name=f"Approve proposal {number}").click()
    expect(page.get_by_role("alert")).to_contain_text("needs the approver role")
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, console.base, "bob", accounts["bob"])
    page.goto(console.base + "/console/proposals")
    page.get_by_role("button", name=f"Approve proposal {number}").click()
    expect(page.get_by_role("status")).to_have_text(f"Proposal {number} approved.")
    store = deployment.store()
    try:
        assert next(c for c in store.categories() if c.name == "related").enabled
        (approval,) = store.audit_log(10, action="proposal.approve")
    finally:
        store.close()
    assert approval.actor == "bob"


def test_the_setting_switches_the_console_on(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hashcheck import service

    monkeypatch.setenv("HASHCHECK_DATABASE_URL", deployment.url)
    monkeypatch.setenv("HASHCHECK_KEY_FILE", str(deployment.key_file))
    for on, expected in (("true", True), ("false", False)):
        monkeypatch.setenv("HASHCHECK_CONSOLE", on)
        app = service.create_app()
        try:
            assert (app._console is not None) is expected
        finally:
            app.node.store.close()


def test_holds_disputes_items_and_the_audit_trail(
    console: ServerThread,
    deployment: Deployment,
    accounts: dict[str, str],
    context: BrowserContext,
    tmp_path: Path,
) -> None:
    held_md5, disputed_md5 = md5("held file"), md5("disputed file")
    source = tmp_path / "list.txt"
    source.write_text(f"{held_md5}\n{disputed_md5}\n")
    store = deployment.store()
    try:
        importing.import_file(
            store, Digester(deployment.key), "police", source, actor="t", category="baseline"
        )
        digester = Digester(deployment.key)
        held, disputed = (
            store.find_items(digests=[digester.digest(Algorithm.MD5, bytes.fromhex(h))])[0].item_id
            for h in (held_md5, disputed_md5)
        )
        store.set_policy("prevalence-clients", "1", actor="t")
        now, day = int(time.time()), int(time.time() // 86400)
        store.record_matches([Sighting(held, c, day, now, True) for c in ("acme", "beta")], [])
        store.record_matches([Sighting(disputed, "acme", day, now, True)], [])
        dispute = store.open_dispute("acme", disputed, day, "a photo of our own office")
    finally:
        store.close()
    page = context.new_page()
    sign_in(page, console.base, "olga", accounts["olga"])
    page.get_by_role("link", name="Holds and disputes").click()
    hold_row = page.get_by_role("row").filter(
        has=page.get_by_role("button", name=f"Release item {held}")
    )
    expect(hold_row).to_contain_text("police")
    expect(hold_row).to_contain_text("matched for 2 clients")
    page.get_by_role("button", name=f"Release item {held}").click()
    expect(page.get_by_role("status")).to_contain_text(f"Item {held} released")
    # Deciding a dispute needs a reason; without one nothing is decided.
    page.get_by_role("button", name=f"Uphold dispute {dispute.dispute_id}").click()
    expect(page.get_by_text("a photo of our own office")).to_be_visible()  # still open
    page.get_by_label("Why you decide so").fill("checked: not abuse material")
    page.get_by_role("button", name=f"Uphold dispute {dispute.dispute_id}").click()
    expect(page.get_by_role("status")).to_contain_text(f"Dispute {dispute.dispute_id} upheld")
    # Its hash, pasted (posted, never in the address), is now on the known-good list of
    # disputed hashes; the item itself, by its number, is off its list.
    page.get_by_role("link", name="Items").click()
    page.get_by_label("Its number").fill(disputed_md5)
    page.get_by_role("button", name="Find").click()
    expect(page.get_by_role("heading", level=2)).to_contain_text("on disputed: known-good")
    assert disputed_md5 not in page.url and disputed_md5 not in page.content()
    page.get_by_label("Its number").fill(str(disputed))
    page.get_by_role("button", name="Find").click()
    expect(page.get_by_role("heading", name=f"Item {disputed} on police")).to_contain_text(
        "removed"
    )
    # The audit trail shows who did it, filtered, and exports as CSV.
    page.get_by_role("link", name="Audit").click()
    page.get_by_label("Who").fill("olga")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("row", name="dispute.uphold")).to_contain_text("olga")
    with page.expect_download() as download:
        page.get_by_role("link", name="Export as CSV").click()
    exported = Path(download.value.path()).read_text()
    assert exported.startswith("at,actor,action,subject,detail")
    assert "olga,dispute.uphold" in exported and "hold.release" in exported
    page.get_by_label("Since").fill("last tuesday")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("alert")).to_be_visible()


def md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def test_a_shadow_import_is_promoted_and_another_rolled_back(
    console: ServerThread,
    deployment: Deployment,
    accounts: dict[str, str],
    context: BrowserContext,
    tmp_path: Path,
) -> None:
    source = tmp_path / "list.txt"
    source.write_text("".join(md5(f"shadow {n}") + "\n" for n in range(3)))
    store = deployment.store()
    try:
        shadow = importing.import_file(
            store,
            Digester(deployment.key),
            "police",
            source,
            actor="t",
            category="related",
            shadow=True,
        )
    finally:
        store.close()
    page = context.new_page()
    sign_in(page, console.base, "alice", accounts["alice"])
    page.get_by_role("link", name="Batches").click()
    row = page.get_by_role("row").filter(
        has=page.get_by_role("button", name=f"Promote batch {shadow.batch_id}")
    )
    expect(row).to_contain_text("shadow: 0 would-be matches")
    page.get_by_role("button", name=f"Promote batch {shadow.batch_id}").click()
    # `related` is under the two-person rule: a proposal, approved by someone else.
    expect(page.get_by_role("status")).to_contain_text("needs a second operator")
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, console.base, "bob", accounts["bob"])
    page.goto(console.base + "/console/proposals")
    page.get_by_role("button", name="Approve proposal").first.click()
    expect(page.get_by_role("status")).to_contain_text("approved")
    page.goto(console.base + "/console/batches")
    expect(page.get_by_role("button", name=f"Promote batch {shadow.batch_id}")).to_have_count(0)
    page.get_by_role("button", name=f"Roll back batch {shadow.batch_id}").click()
    expect(page.get_by_role("status")).to_contain_text("3 items taken off")
    store = deployment.store()
    try:
        assert store.batch(shadow.batch_id).state == "rolled-back"
    finally:
        store.close()


def test_clients_secrets_and_a_grant_approved_by_a_second_operator(
    console: ServerThread, deployment: Deployment, accounts: dict[str, str], context: BrowserContext
) -> None:
    page = context.new_page()
    sign_in(page, console.base, "alice", accounts["alice"])
    page.get_by_role("link", name="Clients").click()
    page.get_by_label("New client").fill("Beta hosting")
    page.get_by_role("button", name="Add client").click()
    expect(page.get_by_role("status")).to_contain_text("shown only once")
    secret = page.locator("#new-secret").inner_text()
    assert len(secret) >= 20 and secret not in page.url
    beta = page.get_by_role("status").inner_text().split()[1]
    # The secret works at once against the real node, and then only once shown.
    auth = base64.b64encode(f"{beta}:{secret}".encode()).decode()
    request = urllib.request.Request(  # noqa: S310 - loopback
        console.base + "/v2/check",
        data=json.dumps({"md5": [md5("x")]}).encode(),
        headers={"Authorization": f"Basic {auth}", "Content-Type": "application/json"},
    )
    console.app.node.follower.refresh()
    with urllib.request.urlopen(request, timeout=10) as answered:  # noqa: S310
        assert answered.status == 200
    page.goto(console.base + "/console/clients")
    expect(page.locator("#new-secret")).to_have_count(0)
    # A grant of a covered category is a proposal; another operator approves it.
    page.get_by_role("button", name=f"Grant police related to {beta}").click()
    expect(page.get_by_role("status")).to_contain_text("needs a second operator")
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, console.base, "bob", accounts["bob"])
    page.goto(console.base + "/console/proposals")
    page.get_by_role("button", name="Approve proposal").first.click()
    expect(page.get_by_role("status")).to_contain_text("approved")
    page.goto(console.base + "/console/clients")
    expect(page.get_by_role("button", name=f"Revoke police related from {beta}")).to_be_visible()
    page.get_by_role("button", name=f"Disable {beta}").click()
    expect(page.get_by_role("status")).to_contain_text(f"Client {beta} disabled")
    # A viewer sees the clients but may change nothing.
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, console.base, "vera", accounts["vera"])
    page.goto(console.base + "/console/clients")
    page.get_by_role("button", name=f"Enable {beta}").click()
    expect(page.get_by_role("alert")).to_contain_text("needs the operator role")


def test_statistics_and_operator_accounts(
    console: ServerThread, deployment: Deployment, accounts: dict[str, str], context: BrowserContext
) -> None:
    store = deployment.store()
    try:
        police = next(h.list_id for h in store.lists() if h.name == "police")
        store.add_stats(
            [
                StatRow("acme", police, "2026-11-30", 1200, 3),
                StatRow("acme", police, "2026-12-01", 600, 0),
            ]
        )
    finally:
        store.close()
    page = context.new_page()
    sign_in(page, console.base, "vera", accounts["vera"])
    page.get_by_role("link", name="Statistics").click()
    expect(page.get_by_role("row", name="2026-11-30 1,200 3")).to_be_visible()
    checked = page.get_by_role("img", name="Hashes checked per day from 2026-11-30 to 2026-12-01")
    expect(checked).to_contain_text("at most 1,200")
    # Bars scale to the busiest day: 1,200 fills the chart, 600 half of it; 3 matches fill theirs.
    heights = [
        float(h)
        for h in checked.locator("rect").evaluate_all("r => r.map(b => b.getAttribute('height'))")
    ]
    assert heights == [140.0, 70.0]  # (no day between them)
    matched = page.get_by_role("img", name="Matches per day from 2026-11-30 to 2026-12-01")
    assert matched.locator("rect").first.get_attribute("height") == "140.0"
    page.get_by_label("Since").fill("2026-12-01")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("row", name="2026-11-30 1,200 3")).to_have_count(0)
    with page.expect_download() as download:
        page.get_by_role("link", name="Export as CSV").click()
    rows = Path(download.value.path()).read_text().splitlines()
    assert rows == ["day,client,list,checked,matched", "2026-12-01,acme,police,600,0"]
    page.get_by_label("Client id").fill("nobody")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("alert")).to_contain_text("unknown client")
    # The overview charts the last 30 days (the rows above may be older than that).
    today = dt.datetime.now(dt.UTC).date().isoformat()
    store = deployment.store()
    try:
        store.add_stats([StatRow("acme", police, today, 77, 1)])
    finally:
        store.close()
    page.get_by_role("link", name="Overview", exact=True).click()
    recent = page.get_by_role(
        "img", name=re.compile(r"^Hashes checked per day from .* to " + today)
    )
    expect(recent).to_contain_text(f"{today}: 77")
    # Thirty bars, one a day, quiet days too.
    expect(recent.locator("rect")).to_have_count(30)
    page.get_by_role("link", name="Operators").click()
    expect(page.get_by_role("row", name="olga")).to_contain_text("the set-up")


def test_a_session_that_ends_mid_form_loses_nothing_typed(
    console: ServerThread, deployment: Deployment, accounts: dict[str, str], context: BrowserContext
) -> None:
    page = context.new_page()
    sign_in(page, console.base, "olga", accounts["olga"])
    page.goto(console.base + "/console/clients")
    page.get_by_label("New client").fill("Delta hosting")
    context.clear_cookies()  # as when the session ends while the operator types
    page.get_by_role("button", name="Add client").click()
    expect(page.get_by_role("alert")).to_contain_text("Your session ended")
    page.get_by_label("Account name").fill("olga")
    page.get_by_label("Secret").fill(accounts["olga"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("status")).to_contain_text("What you typed is below")
    expect(page.get_by_label("New client")).to_have_value("Delta hosting")
    store = deployment.store()
    try:
        assert all(c.name != "Delta hosting" for c in store.clients())  # not sent by itself
    finally:
        store.close()
    page.get_by_role("button", name="Add client").click()
    expect(page.get_by_role("status")).to_contain_text("(Delta hosting) added")


def test_the_overview_tells_silent_and_lagging_nodes_apart(deployment: Deployment) -> None:
    from hashcheck.console.pages import node_states
    from hashcheck.store.records import NodeStatus

    store = deployment.store()
    try:
        now = 2_000_000_000.0
        version = store.version()

        def at(seconds_ago: float) -> str:
            return dt.datetime.fromtimestamp(now - seconds_ago, dt.UTC).isoformat()

        store.report_node(NodeStatus("up:1", at(600), at(5), True, version, 10, at(5)))
        store.report_node(NodeStatus("lag:2", at(600), at(10), True, version - 1, 10, at(60)))
        store.report_node(NodeStatus("quiet:3", at(600), at(200), True, version, 10, at(200)))
        store.report_node(NodeStatus("new:4", at(2), at(1), False, -1, 0, None))
        store.report_node(NodeStatus("gone:5", at(90_000), at(90_000), True, version, 10, None))
        states = {n["status"].node: n["state"] for n in node_states(store, now)}
    finally:
        store.close()
    assert states == {
        "up:1": "ready",
        "lag:2": "ready, catching up",
        "quiet:3": "silent: no report for a while (stopped, or cut off from the store)",
        "new:4": "starting",
    }


def test_notices_are_issued_listed_and_withdrawn_on_their_page(
    console: ServerThread, deployment: Deployment, accounts: dict[str, str], context: BrowserContext
) -> None:
    noticed = hashlib.md5(b"noticed", usedforsecurity=False).digest()
    digester = Digester(deployment.key)
    store = deployment.store()
    try:
        importing.import_file(
            store, digester, "police", [noticed.hex()], actor="t", category="baseline"
        )
        keyed = digester.digest(Algorithm.MD5, noticed)
        (item,) = [i.item_id for i in store.find_items(digests=[keyed])]
    finally:
        store.close()
    page = context.new_page()
    sign_in(page, console.base, "olga", accounts["olga"])
    page.goto(console.base + "/console/notices")
    expect(page.get_by_text("No notice here.")).to_be_visible()
    page.get_by_label("Client").select_option("acme")
    page.get_by_label("Item number").fill(str(item + 1000))
    page.get_by_role("button", name="Issue the notice").click()
    expect(page.get_by_role("alert")).to_contain_text(f"no item {item + 1000}")
    expect(page.get_by_label("Item number")).to_have_value(str(item + 1000))  # kept as typed
    page.get_by_label("Item number").fill(str(item))
    page.get_by_label("Where it was found (optional)").fill("https://files.example/u/1.jpg")
    page.get_by_role("button", name="Issue the notice").click()
    expect(page.get_by_role("status")).to_contain_text("Notice 1 to acme: act by")
    row = page.get_by_role("row").filter(has_text="https://files.example/u/1.jpg")
    expect(row).to_contain_text("open")
    page.get_by_role("button", name="Withdraw notice 1").click()
    expect(page.get_by_role("status")).to_contain_text("Notice 1 to acme withdrawn")
    expect(page.get_by_text("No notice here.")).to_be_visible()
    page.get_by_label("Show").select_option("withdrawn")
    page.get_by_role("button", name="Show", exact=True).click()
    expect(
        page.get_by_role("row").filter(has_text="https://files.example/u/1.jpg")
    ).to_contain_text("withdrawn")
    store = deployment.store()
    try:
        assert [r.action for r in store.audit_log(action="notice")] == [
            "notice.withdraw",
            "notice.issue",
        ]
    finally:
        store.close()


def test_the_takedown_report_page_shows_the_month_with_names_or_without(
    console: ServerThread, deployment: Deployment, accounts: dict[str, str], context: BrowserContext
) -> None:
    listed = hashlib.md5(b"reported", usedforsecurity=False).digest()
    digester = Digester(deployment.key)
    store = deployment.store()
    try:
        importing.import_file(
            store, digester, "police", [listed.hex()], actor="t", category="baseline"
        )
        (item,) = [
            i.item_id for i in store.find_items(digests=[digester.digest(Algorithm.MD5, listed)])
        ]
        now = int(time.time())
        store.record_matches([Sighting(item, "acme", now // 86400, now, True)], [])
    finally:
        store.close()
    page = context.new_page()
    sign_in(page, console.base, "vera", accounts["vera"])  # a viewer may read it
    page.get_by_role("link", name="Takedown").click()
    month = time.strftime("%Y-%m", time.gmtime())
    expect(page.get_by_label("Month (YYYY-MM)")).to_have_value(month)
    figures = page.get_by_role("table").first
    expect(figures.get_by_role("row").filter(has_text="acme")).to_contain_text("1")
    expect(page.locator("svg.bars title").first).to_contain_text("acted on within 1 h")
    hits = figures.get_by_role("row").filter(has_text="acme").locator("td").first
    assert hits.evaluate("cell => getComputedStyle(cell).textAlign") == "right"
    # Nothing acted on: every bar is empty, and its scale is drawn behind it all the same.
    shares = page.locator("svg.bars rect:has(title)")
    scales = page.locator("svg.bars rect[fill='#e2e8f0']")
    assert shares.count() >= 4 and scales.count() == shares.count()
    assert {r.get_attribute("width") for r in shares.all()} == {"0.0"}
    assert {r.get_attribute("width") for r in scales.all()} == {"240"}
    page.get_by_label("Publishable (client names left out)").check()
    page.get_by_role("button", name="Show").click()
    expect(figures.get_by_role("row").filter(has_text="client 1")).to_be_visible()
    expect(page.get_by_role("main")).not_to_contain_text("acme")
    page.get_by_label("Month (YYYY-MM)").fill("2026-13")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("alert")).to_contain_text("YYYY-MM")


def test_a_client_s_takedown_deadline_is_set_on_its_page(
    console: ServerThread, deployment: Deployment, accounts: dict[str, str], context: BrowserContext
) -> None:
    page = context.new_page()
    sign_in(page, console.base, "olga", accounts["olga"])
    page.goto(console.base + "/console/clients")
    button = page.get_by_role("button", name="Set deadline of acme")
    form = page.locator("form").filter(has=button)
    expect(form).to_contain_text("blank: the policy's, 24 hours")
    form.get_by_label("Hours to act on a hit or notice").fill("0")
    button.click()
    expect(page.get_by_role("alert")).to_contain_text("1 to 8,784 hours")
    page.locator("form").filter(has=button).get_by_label("Hours to act on a hit or notice").fill(
        "99999999999999999999"  # digits (the field takes only digits), too many
    )
    button.click()
    expect(page.get_by_role("alert")).to_contain_text("a whole number of hours")
    page.locator("form").filter(has=button).get_by_label("Hours to act on a hit or notice").fill(
        "12"
    )
    button.click()
    expect(page.get_by_role("status")).to_contain_text("acme now has 12 hours")
    form = page.locator("form").filter(has=button)
    expect(form.get_by_label("Hours to act on a hit or notice")).to_have_value("12")
    form.get_by_label("Hours to act on a hit or notice").fill("")
    button.click()
    expect(page.get_by_role("status")).to_contain_text(
        "24 hours to act on a hit or notice (the policy's)"
    )
    store = deployment.store()
    try:
        mine = next(c for c in store.clients() if c.client_id == "acme")
        assert mine.takedown_deadline_hours is None
        assert len(store.audit_log(action="client.deadline")) == 2
    finally:
        store.close()


def test_a_client_s_budgets_are_set_on_its_page_whatever_its_id(
    console: ServerThread, deployment: Deployment, accounts: dict[str, str], context: BrowserContext
) -> None:
    odd = "Hoster één 50%?#"  # any character but '/' and ':' may be a client id
    store = deployment.store()
    try:
        clients.add_client(store, "Odd hosting", actor="test", client_id=odd)
    finally:
        store.close()
    page = context.new_page()
    sign_in(page, console.base, "olga", accounts["olga"])
    page.goto(console.base + "/console/clients")
    form = page.locator("form").filter(has=page.get_by_role("button", name=f"Set budgets of {odd}"))
    form.get_by_label("Requests per second").fill("99999999999999999999")  # digits, too many
    form.get_by_role("button").click()
    expect(page.get_by_role("alert")).to_contain_text("a whole number")
    form = page.locator("form").filter(has=page.get_by_role("button", name=f"Set budgets of {odd}"))
    form.get_by_label("Requests per second").fill("7")
    form.get_by_label("Work per second").fill("0")
    form.get_by_role("button").click()
    expect(page.get_by_role("status")).to_contain_text(f"The budgets of {odd} are set")
    store = deployment.store()
    try:
        mine = next(c for c in store.clients() if c.client_id == odd)
        assert (mine.requests_per_second, mine.work_per_second) == (7, 0)
    finally:
        store.close()
    form = page.locator("form").filter(has=page.get_by_role("button", name=f"Set budgets of {odd}"))
    expect(form.get_by_label("Requests per second")).to_have_value("7")
    page.get_by_role("button", name=f"New secret for {odd}").click()
    expect(page.get_by_role("status")).to_contain_text(f"Client {odd} has a new secret")
