"""The operator's review of self-submitted cases on every face: the console in a real
browser, the admin API and the CLI, each showing duplicates across cases and the screen's
findings, and activating (leaving files out) or rejecting."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, expect

from hashcheck.admin import operators
from hashcheck.admin.operators import Actor, Role
from hashcheck.api.app import SubmissionLimits
from hashcheck.hashes.algorithms import Algorithm
from hashcheck.hashes.keyed import Digester
from hashcheck.store.records import NewSubmission, SubmissionRecord, SubmittedFile
from tests.browser import browser
from tests.http_client import call
from tests.support import Deployment, ServerThread, make_deployment, serve
from tests.test_console import sign_in
from tests.test_serve import run_command

SETUP = Actor("setup", Role.APPROVER)


@pytest.fixture
def deployment(sqlite_url: str, tmp_path: Path) -> Deployment:
    return make_deployment(sqlite_url, tmp_path)


@pytest.fixture
def accounts(deployment: Deployment) -> dict[str, str]:
    store = deployment.store()
    try:
        return {
            name: operators.add(store, name, role, actor=SETUP).secret
            for name, role in (("olga", Role.OPERATOR), ("vera", Role.VIEWER))
        }
    finally:
        store.close()


def two_cases(deployment: Deployment) -> tuple[SubmissionRecord, SubmissionRecord]:
    """Case A: two files, the first also in case B. The policy flags any duplicate."""
    digester = Digester(deployment.key)

    def a_file(number: int, seed: bytes) -> SubmittedFile:
        raw = hashlib.md5(seed, usedforsecurity=False).digest()
        return SubmittedFile(number, (("md5", digester.digest(Algorithm.MD5, raw), None),))

    shared, own, other = os.urandom(8), os.urandom(8), os.urandom(8)
    store = deployment.store()
    try:
        store.set_policy("submission-duplicate-cases", "0", actor="t")
        a = store.add_submission(
            NewSubmission(
                "AAAAA-AAAAA",
                "x",
                "nonce-a",
                "2026-12-07T08:00Z",
                (a_file(0, shared), a_file(1, own)),
            )
        )
        b = store.add_submission(
            NewSubmission(
                "BBBBB-BBBBB",
                "x",
                "nonce-b",
                "2026-12-07T08:00Z",
                (a_file(0, shared), a_file(1, other)),
            )
        )
    finally:
        store.close()
    return a, b


def item_states(deployment: Deployment, case: str) -> list[str]:
    store = deployment.store()
    try:
        return [f.item_state for f in store.submission(case).files]
    finally:
        store.close()


def test_the_console_shows_the_queue_and_decides_cases(
    deployment: Deployment, accounts: dict[str, str]
) -> None:
    a, b = two_cases(deployment)
    own_item = a.files[1].item_id
    for console in serve(deployment, console=True):
        with browser() as context:
            page = context.new_page()
            sign_in(page, console.base, "olga", accounts["olga"])
            page.get_by_role("link", name="Submissions").click()
            case_a = page.get_by_role("article").filter(has_text="Case AAAAA-AAAAA")
            expect(case_a).to_contain_text("flagged")
            expect(case_a.get_by_role("row").nth(1)).to_contain_text("held by 1 other cases")
            leave = case_a.get_by_label(f"Leave out item {own_item} of case AAAAA-AAAAA")
            # A tampered form (a Unicode digit for the item) is refused in words, not a 500.
            leave.evaluate("box => { box.value = '\u00b2'; box.checked = true; }")
            page.get_by_role("button", name="Activate case AAAAA-AAAAA").click()
            expect(page.get_by_role("alert")).to_contain_text("named by its number")
            assert item_states(deployment, "AAAAA-AAAAA") == ["held", "held"]
            case_a = page.get_by_role("article").filter(has_text="Case AAAAA-AAAAA")
            case_a.get_by_label(f"Leave out item {own_item} of case AAAAA-AAAAA").check()
            case_a.get_by_label("Why you decide so").fill("a genuine case")
            page.get_by_role("button", name="Activate case AAAAA-AAAAA").click()
            expect(page.get_by_role("status")).to_contain_text("Case AAAAA-AAAAA activated")
            page.get_by_role("button", name="Reject case BBBBB-BBBBB").click()
            expect(page.get_by_role("status")).to_contain_text("Case BBBBB-BBBBB rejected")
            expect(page.get_by_text("No case is received")).to_be_visible()
            page.get_by_label("Cases").select_option("active")
            page.get_by_role("button", name="Show").click()
            expect(page.get_by_role("article")).to_contain_text("decided by olga")
            _viewer_cannot_decide(context, console, accounts)
    # The shared item stays active (A holds it), A's left-out file and B's own are gone.
    assert item_states(deployment, "AAAAA-AAAAA") == ["active", "removed"]
    assert item_states(deployment, "BBBBB-BBBBB") == ["active", "removed"]
    assert b.files[0].item_id == a.files[0].item_id


def _viewer_cannot_decide(
    context: BrowserContext, console: ServerThread, accounts: dict[str, str]
) -> None:
    context.clear_cookies()
    page = context.new_page()
    sign_in(page, console.base, "vera", accounts["vera"])
    page.goto(console.base + "/console/submissions?state=active")
    page.get_by_role("button", name="Reject case AAAAA-AAAAA").click()
    expect(page.get_by_role("alert")).to_contain_text("needs the operator role")


def admin(
    server: ServerThread, who: tuple[str, str], method: str, path: str, body: Any = None
) -> Any:
    return call(server.base, "/admin/v1" + path, body, auth=who, method=method)[:2]


def test_the_admin_api_reviews_cases(deployment: Deployment, accounts: dict[str, str]) -> None:
    a, _ = two_cases(deployment)
    olga, vera = ("olga", accounts["olga"]), ("vera", accounts["vera"])
    for server in serve(deployment, submissions=SubmissionLimits(0, 0)):
        status, queue = admin(server, vera, "GET", "/submissions")
        assert status == 200 and [c["case"] for c in queue] == ["AAAAA-AAAAA", "BBBBB-BBBBB"]
        assert queue[0]["files"][0]["flags"] == ["held by 1 other cases"]
        assert "md5" in queue[0]["files"][0]["hashes"]
        assert admin(server, vera, "POST", "/submissions/AAAAA-AAAAA/activate", {})[0] == 403
        leave = [a.files[1].item_id]
        status, decided = admin(
            server, olga, "POST", "/submissions/AAAAA-AAAAA/activate", {"leave_out": leave}
        )
        assert status == 200 and decided["state"] == "active"
        assert [f["item_state"] for f in decided["files"]] == ["active", "removed"]
        again = admin(server, olga, "POST", "/submissions/AAAAA-AAAAA/activate", {})
        assert again[0] == 409
        status, _ = admin(
            server, olga, "POST", "/submissions/BBBBB-BBBBB/reject", {"leave_out": [1]}
        )
        assert status == 400
        assert admin(server, olga, "GET", "/submissions/ZZZZZ-ZZZZZ")[0] == 404
        status, listed = admin(
            server, olga, "PUT", f"/clients/{deployment.client_id}/public-name", {"name": "Acme"}
        )
        assert status == 200 and listed == {
            "client_id": deployment.client_id,
            "public_name": "Acme",
            "changed": True,
        }
        assert admin(server, olga, "PUT", "/clients/acme/public-name", {"name": " "})[0] == 400


def test_the_cli_reviews_cases(deployment: Deployment, tmp_path: Path) -> None:
    two_cases(deployment)
    env = {"HASHCHECK_DATABASE_URL": deployment.url, "HASHCHECK_ACTOR": "root"}
    listed = run_command(tmp_path, "submissions", "list", "--format", "json", **env)
    assert listed.returncode == 0, listed.stderr
    assert [c["case"] for c in json.loads(listed.stdout)] == ["AAAAA-AAAAA", "BBBBB-BBBBB"]
    shown = run_command(tmp_path, "submissions", "show", "aaaaa-aaaaa", **env)
    assert json.loads(shown.stdout)["files"][0]["other_cases"] == 1
    done = run_command(tmp_path, "submissions", "reject", "BBBBB-BBBBB", "--reason", "no", **env)
    assert done.returncode == 0 and "rejected" in done.stdout
    twice = run_command(tmp_path, "submissions", "reject", "BBBBB-BBBBB", **env)
    assert twice.returncode != 0 and "rejected" in twice.stderr
    unknown = run_command(tmp_path, "submissions", "show", "ZZZZZ-ZZZZZ", **env)
    assert unknown.returncode != 0 and "Traceback" not in unknown.stderr
    named = run_command(tmp_path, "clients", "public-name", "acme", "--name", "Acme B.V.", **env)
    assert named.returncode == 0 and "listed as 'Acme B.V.'" in named.stdout
    assert item_states(deployment, "AAAAA-AAAAA") == ["held", "held"]
