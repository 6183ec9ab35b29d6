"""The public self-submission page in a real browser (Debian's Chromium) against a real node:
files hashed on the device and only their hashes sent (every request the page makes is
recorded: none carries a byte of any file), the case number and PIN shown, the case looked up
and withdrawn with the plain form and no script at all, English and Dutch, no cookie, a
strict Content Security Policy, and the participating platforms."""

from __future__ import annotations

import hashlib
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, Request, expect

from hashcheck.api.app import SubmissionLimits
from hashcheck.pdq.algorithm import distance
from tests.browser import browser
from tests.pdq_reference import DATA, EXPECTED
from tests.support import Deployment, ServerThread, make_deployment, serve

PHOTOS = [row for row in EXPECTED if int(row["quality"]) >= 50][:2]


@pytest.fixture
def deployment(sqlite_url: str, tmp_path: Path) -> Deployment:
    return make_deployment(sqlite_url, tmp_path)


@pytest.fixture
def server(deployment: Deployment) -> Iterator[ServerThread]:
    yield from serve(deployment, submissions=SubmissionLimits(0, 0))


def test_only_hashes_leave_the_device(server: ServerThread, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_bytes(b"a file that is no image, with words of its own\n" * 20)
    picked = [DATA / row["file"] for row in PHOTOS] + [text]
    contents = [path.read_bytes() for path in picked]
    bodies: list[tuple[str, bytes]] = []
    with browser() as context:
        page = context.new_page()
        page.on("request", lambda r: bodies.append((r.url, _body(r))))
        answer = page.goto(server.base + "/submit/")
        assert answer is not None
        policy = answer.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "connect-src 'self'" in policy
        assert "set-cookie" not in answer.headers
        page.get_by_label("Choose photos and videos").set_input_files([str(p) for p in picked])
        expect(page.get_by_role("button", name="Send the fingerprints")).to_be_visible(
            timeout=60_000
        )
        rows = page.locator("#hashes tr")
        expect(rows).to_have_count(3)
        page.get_by_role("button", name="Send the fingerprints").click()
        expect(page.locator("#case-number")).not_to_be_empty()
        case = page.locator("#case-number").inner_text()
        pin = page.locator("#case-pin").inner_text()
        assert context.cookies() == []
    sent = [body for url, body in bodies if url.endswith("/v2/submissions")]
    (submission,) = [json.loads(body) for body in sent]
    # No request of any kind held a run of any file's bytes.
    for _, body in bodies:
        for content in contents:
            assert not any(content[i : i + 32] in body for i in range(0, len(content) - 32, 997))
    files = submission["files"]
    assert [f["md5"] for f in files] == [
        hashlib.md5(c, usedforsecurity=False).hexdigest() for c in contents
    ]
    assert [f["sha256"] for f in files] == [hashlib.sha256(c).hexdigest() for c in contents]
    for row, file in zip(PHOTOS, files, strict=False):
        assert distance(bytes.fromhex(file["pdq"]), bytes.fromhex(row["pdq"])) <= 8
    assert "pdq" not in files[2]  # no image: exact hashes only
    assert set(files[0]) <= {"md5", "sha1", "sha256", "pdq", "pdq_quality"}
    assert len(case) == 11 and len(pin) == 9


def _body(request: Request) -> bytes:
    try:
        return request.post_data_buffer or b""
    except UnicodeDecodeError:
        return b""


def _submitted(server: ServerThread) -> tuple[str, str]:
    body = json.dumps(
        {
            "nonce": "n" * 20,
            "files": [
                {
                    "md5": hashlib.md5(b"x", usedforsecurity=False).hexdigest(),
                    "sha1": hashlib.sha1(b"x", usedforsecurity=False).hexdigest(),
                    "sha256": hashlib.sha256(b"x").hexdigest(),
                }
            ],
        }
    ).encode()
    request = urllib.request.Request(  # noqa: S310
        server.base + "/v2/submissions", data=body, headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
        got = json.loads(answer.read())
    return got["case"], got["pin"]


def look_up(page: Page, case: str, pin: str, button: str) -> None:
    page.get_by_label("Case number").fill(case)
    page.get_by_label("PIN").fill(pin)
    page.get_by_role("button", name=button).click()


def test_a_case_is_looked_up_and_withdrawn_without_javascript(server: ServerThread) -> None:
    case, pin = _submitted(server)
    with browser(scripts=False) as context:
        page = context.new_page()
        page.goto(server.base + "/submit/")
        expect(page.get_by_text("needs JavaScript")).to_be_visible()
        expect(page.get_by_role("button", name="Send the fingerprints")).to_be_hidden()
        look_up(page, case, "0000-0000" if pin != "0000-0000" else "1111-1111", "Look up")
        expect(page.get_by_role("alert")).to_have_text("No case with this number and PIN.")
        look_up(page, case.lower(), pin, "Look up")
        expect(page.get_by_role("status")).to_have_text("Received: waiting for review.")
        assert pin not in page.url and case not in page.url
        page.get_by_role("link", name="Back").click()
        look_up(page, case, pin, "Withdraw")
        expect(page.get_by_role("status")).to_contain_text("Withdrawn")
        assert context.cookies() == []


def test_the_page_speaks_dutch_and_lists_the_platforms(
    server: ServerThread, deployment: Deployment
) -> None:
    store = deployment.store()
    try:
        store.set_client_public_name(deployment.client_id, "Acme Hosting", actor="t")
    finally:
        store.close()
    with browser(scripts=False) as context:
        page = context.new_page()
        page.goto(server.base + "/submit/")
        page.get_by_role("link", name="Nederlands").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "Voorkom dat je beelden worden gedeeld"
        )
        expect(page.locator("html")).to_have_attribute("lang", "nl")
        page.get_by_role("link", name="Welke platforms doen mee?").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Platforms die meedoen")
        expect(page.get_by_role("listitem").filter(has_text="Acme Hosting")).to_be_visible()
    request = urllib.request.Request(  # noqa: S310
        server.base + "/submit/", headers={"accept-language": "nl-NL,nl;q=0.9,en;q=0.5"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
        assert "Voorkom dat" in answer.read().decode()


def test_the_page_answers_a_proof_of_work_when_the_node_asks_for_one(
    deployment: Deployment, tmp_path: Path
) -> None:
    text = tmp_path / "notes.txt"
    text.write_bytes(b"one more file of words\n" * 10)
    bodies: list[tuple[str, bytes]] = []
    for server in serve(deployment, submissions=SubmissionLimits(0, 0, proof_bits=14)):
        with browser() as context:
            page = context.new_page()
            page.on("request", lambda r: bodies.append((r.url, _body(r))))
            page.goto(server.base + "/submit/")
            page.get_by_label("Choose photos and videos").set_input_files([str(text)])
            page.get_by_role("button", name="Send the fingerprints").click()
            expect(page.locator("#case-number")).not_to_be_empty()
    urls = [url for url, _ in bodies]
    assert any(url.endswith("/v2/submission-challenge") for url in urls)
    (submission,) = [json.loads(b) for url, b in bodies if url.endswith("/v2/submissions")]
    proof = submission["proof"]
    message = (
        bytes.fromhex(proof["challenge"]) + hashlib.sha256(submission["nonce"].encode()).digest()
    )
    answer = hashlib.sha256(message + proof["counter"].to_bytes(8, "big"))
    assert int.from_bytes(answer.digest(), "big") >> (256 - 14) == 0
