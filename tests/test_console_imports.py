"""List imports through the console in a real browser: a file uploaded with its progress shown
(the form sent by the page's script) or by a plain form post (script off), its dry run shown
with nothing changed, then landed in shadow or discarded; refusals that keep what was chosen;
the upload reader's limits on its own."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from hashcheck.admin import audit as trail
from hashcheck.admin import importing, operators
from hashcheck.admin.operators import Actor, Role
from hashcheck.api.errors import PayloadTooLarge
from hashcheck.console.uploads import UploadRefused, boundary_of, receive_upload
from hashcheck.hashes.keyed import Digester
from tests.browser import browser
from tests.support import Deployment, ServerThread, make_deployment, serve


def md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


@pytest.fixture
def deployment(sqlite_url: str, tmp_path: Path) -> Deployment:
    made = make_deployment(sqlite_url, tmp_path)
    store = made.store()
    try:
        setup = Actor("setup", Role.APPROVER)
        operators.add(store, "olga", Role.OPERATOR, actor=setup)
        importing.import_file(
            store,
            Digester(made.key),
            "police",
            [md5("a"), md5("b"), md5("c")],
            actor="setup",
            category="baseline",
        )
    finally:
        store.close()
    return made


@pytest.fixture
def olga(deployment: Deployment) -> tuple[str, str]:
    store = deployment.store()
    try:
        secret = operators.rotate(store, "olga", actor=Actor("olga", Role.OPERATOR))
    finally:
        store.close()
    return ("olga", secret)


@pytest.fixture
def console(deployment: Deployment) -> Iterator[ServerThread]:
    folders = []
    for server in serve(deployment, console=True):
        yield server
        assert server.app._console is not None
        folders.append(server.app._console._tools.held._root)
    # The node stopped: every upload it held is gone from its disk.
    assert all(folder is None or not folder.exists() for folder in folders)


def sign_in(page: Page, base: str, who: tuple[str, str]) -> None:
    page.goto(base + "/console/signin")
    page.get_by_label("Account name").fill(who[0])
    page.get_by_label("Secret").fill(who[1])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()


def state(deployment: Deployment) -> tuple[Any, ...]:
    store = deployment.store()
    try:
        return (
            store.version(),
            store.entry_count(),
            store.batches(None, 100),
            trail.read(store, 500),
        )
    finally:
        store.close()


def choose(page: Page, file: Path, *, category: str = "", replace: bool = False) -> None:
    page.get_by_role("link", name="Imports").click()
    page.get_by_label("List", exact=True).select_option("police")
    page.get_by_label("File", exact=True).set_input_files(file)
    if category:
        page.get_by_label("Category of every item").select_option(category)
    if replace:
        page.get_by_label("The file is the supplier's complete list").check()
        page.get_by_label("Let a complete list take off more").check()


def test_an_upload_shows_its_progress_and_dry_run_then_lands(
    console: ServerThread, deployment: Deployment, olga: tuple[str, str], tmp_path: Path
) -> None:
    delivery = tmp_path / "next.txt"
    delivery.write_text("\n".join([md5("b"), md5("c"), md5("d"), md5("e")]) + "\n")
    before = state(deployment)
    with browser() as context:
        page = context.new_page()
        sign_in(page, console.base, olga)
        choose(page, delivery, category="related", replace=True)
        sent: list[Any] = []

        def hold(route: Any) -> None:
            sent.append(route)  # answered below, once the page has shown it is sending

        page.route("**/console/imports", hold)
        page.get_by_role("button", name="Upload and check (dry run)").click()
        expect(page.get_by_role("status")).not_to_have_text("")
        expect(page.locator("[data-upload-progress]")).to_be_visible()
        expect(page.get_by_role("button", name="Upload and check (dry run)")).to_be_disabled()
        assert len(sent) == 1 and sent[0].request.resource_type == "xhr"
        assert b'filename="next.txt"' in sent[0].request.post_data_buffer
        sent[0].continue_()
        page.unroute("**/console/imports")
        expect(page.get_by_role("heading", name="Dry run of next.txt into police")).to_be_visible()
        expect(page.get_by_role("row", name=re.compile(r"^Would be added"))).to_contain_text("2")
        expect(
            page.get_by_role("row", name=re.compile(r"^Would be recategorised"))
        ).to_contain_text("2")
        expect(page.get_by_role("row", name=re.compile(r"^Would be removed"))).to_contain_text(
            "1 (1 not in this complete delivery)"
        )
        assert state(deployment) == before  # a dry run changes nothing
        # A complete delivery removes: it cannot land in shadow, only answering.
        expect(page.get_by_role("button", name="Land in shadow")).to_have_count(0)
        page.get_by_role("button", name="Land it").click()
        expect(page.get_by_role("status").first).to_contain_text("answering now")
        expect(page.get_by_role("status").first).to_contain_text("2 items added")
        expect(page.get_by_role("status").first).to_contain_text("1 removed")
        page.get_by_role("link", name="Batches").click()
        expect(page.get_by_role("row").filter(has_text="next.txt")).to_contain_text("active")
    store = deployment.store()
    try:
        (batch,) = [b for b in store.batches(None, 10) if b.source == "next.txt"]
        assert not batch.shadow and (batch.added, batch.removed, batch.changed) == (2, 1, 2)
    finally:
        store.close()
    assert console.app._console is not None
    assert console.app._console._tools.held.of("olga") == []  # landed: no longer held


def test_without_script_refusals_keep_the_choices_discards_and_shadow_landings_work(
    console: ServerThread, deployment: Deployment, olga: tuple[str, str], tmp_path: Path
) -> None:
    broken = tmp_path / "broken.txt"
    broken.write_text(md5("x") + "\nnot a hash\n")
    good = tmp_path / "good.txt"
    good.write_text(md5("y") + "\n")
    before = state(deployment)
    with browser(scripts=False) as context:
        page = context.new_page()
        sign_in(page, console.base, olga)
        choose(page, broken, category="related")
        page.get_by_role("button", name="Upload and check (dry run)").click()
        expect(page.get_by_role("alert")).to_contain_text("invalid record")
        expect(page.get_by_role("alert")).to_contain_text("Choose the file again")
        expect(page.get_by_label("Category of every item")).to_have_value("related")
        choose(page, good, category="related")
        page.get_by_role("button", name="Upload and check (dry run)").click()
        expect(page.get_by_role("row", name=re.compile(r"^Would be added"))).to_contain_text("1")
        page.get_by_role("button", name="Discard").click()
        expect(page.get_by_role("status").first).to_contain_text("discarded; nothing was imported")
        assert state(deployment) == before
        choose(page, good, category="related")
        page.get_by_role("button", name="Upload and check (dry run)").click()
        page.get_by_role("button", name="Land in shadow").click()
        expect(page.get_by_role("status").first).to_contain_text("in shadow")
        page.get_by_role("link", name="Batches").click()
        expect(page.get_by_role("row").filter(has_text="good.txt")).to_contain_text("shadow")
        before = state(deployment)
        # A form that did not come from a console page is refused, and nothing is kept.
        answer = page.request.post(
            console.base + "/console/imports",
            multipart={
                "list": "police",
                "file": {"name": "x.txt", "mimeType": "text/plain", "buffer": md5("z").encode()},
            },
        )
        assert answer.status == 403 and "safety token" in answer.text()
    assert state(deployment) == before
    assert console.app._console is not None
    assert console.app._console._tools.held.of("olga") == []


def test_a_viewer_may_not_import(console: ServerThread, deployment: Deployment) -> None:
    store = deployment.store()
    try:
        vera = operators.add(store, "vera", Role.VIEWER, actor=Actor("setup", Role.APPROVER))
    finally:
        store.close()
    with browser() as context:
        page = context.new_page()
        sign_in(page, console.base, ("vera", vera.secret))
        answer = page.goto(console.base + "/console/imports")
        assert answer is not None and answer.status == 403
        expect(page.get_by_role("alert")).to_contain_text("needs the operator role")


# -- the upload reader on its own ----------------------------------------------------------
BOUNDARY = b"----hashcheck-test"


def form(*parts: tuple[str, str | None, bytes]) -> bytes:
    body = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (
            f'; filename="{filename}"' if filename is not None else ""
        )
        body += b"--" + BOUNDARY + b"\r\nContent-Disposition: " + disposition.encode()
        body += b"\r\n\r\n" + data + b"\r\n"
    return body + b"--" + BOUNDARY + b"--\r\n"


def read(
    body: bytes,
    target: Path,
    *,
    limit: int = 1 << 20,
    chunk: int = 7,
    before_file: Any = None,
    sent: list[int] | None = None,
) -> Any:
    """Feed ``body`` to the reader in small pieces, as a slow client would send it; ``sent``
    gets the size of each piece it took."""
    pieces = [body[i : i + chunk] for i in range(0, len(body), chunk)] or [b""]

    async def run() -> Any:
        messages = iter(pieces)

        async def receive() -> dict[str, Any]:
            piece = next(messages)
            if sent is not None:
                sent.append(len(piece))
            return {"type": "http.request", "body": piece, "more_body": piece is not pieces[-1]}

        return await receive_upload(receive, BOUNDARY, target, limit, None, before_file)

    return asyncio.run(run())


def test_the_reader_streams_the_file_and_keeps_the_fields(tmp_path: Path) -> None:
    data = bytes(range(256)) * 40 + b"\r\n--not-the-boundary\r\n"
    received = read(
        form(
            ("csrf", None, b"token"), ("list", None, "pólice".encode()), ("file", "a\\b.txt", data)
        ),
        tmp_path / "out",
    )
    assert (tmp_path / "out").read_bytes() == data
    assert received.fields == {"csrf": "token", "list": "pólice"}
    assert (received.filename, received.size) == ("b.txt", len(data))
    assert boundary_of(b"multipart/form-data; boundary=" + BOUNDARY) == BOUNDARY
    assert boundary_of(b"application/x-www-form-urlencoded") is None


@pytest.mark.parametrize(
    ("body", "refusal"),
    [
        (form(("list", None, b"police")), "choose a file"),
        (form(("file", "a", b"1"), ("file", "b", b"2")), "one file"),
        (form(("other", "a", b"1")), "one file"),
        (form(("list", None, b"x" * 5000), ("file", "a", b"1")), "too long"),
        (form(("list", None, b"\xff"), ("file", "a", b"1")), "UTF-8"),
        (form(("file", "a", b"1"))[:-10], "ended early"),
        (form(("file", "a", b"1"), ("list", None, b"police")), "fields come before its file"),
    ],
)
def test_the_reader_refuses_forms_it_does_not_take(
    body: bytes, refusal: str, tmp_path: Path
) -> None:
    with pytest.raises(UploadRefused, match=refusal):
        read(body, tmp_path / "out")


def test_the_reader_stops_at_its_limit(tmp_path: Path) -> None:
    with pytest.raises(PayloadTooLarge):
        read(form(("file", "a", b"1" * 5000)), tmp_path / "out", limit=4000)


def test_the_reader_shows_the_fields_before_it_keeps_a_byte_of_the_file(tmp_path: Path) -> None:
    """The console checks its form's options there: a refusal reads no more of the body."""
    seen: list[dict[str, str]] = []

    async def refuse(fields: dict[str, str]) -> None:
        seen.append(fields)
        raise UploadRefused("no such list")

    body = form(("list", None, b"nonesuch"), ("file", "big.txt", b"0" * (4 << 20)))
    sent: list[int] = []
    with pytest.raises(UploadRefused, match="no such list"):
        read(body, tmp_path / "out", limit=8 << 20, chunk=4096, before_file=refuse, sent=sent)
    assert seen == [{"list": "nonesuch"}]
    assert (tmp_path / "out").read_bytes() == b""
    assert sum(sent) < 64 * 1024


def test_a_landed_console_import_is_counted_in_the_metrics(
    deployment: Deployment, olga: tuple[str, str], tmp_path: Path
) -> None:
    from tests.test_metrics import samples, scrape, value

    good = tmp_path / "good.txt"
    good.write_text(md5("y") + "\n")
    for server in serve(deployment, console=True, metrics=True):
        with browser(scripts=False) as context:
            page = context.new_page()
            sign_in(page, server.base, olga)
            choose(page, good, category="related")
            page.get_by_role("button", name="Upload and check (dry run)").click()
            found = samples(scrape(server.base)[0])
            # A dry run imports nothing: only landing counts.
            assert value(found, "hashcheck_imports_total", kind="import", outcome="done") == 0
            page.get_by_role("button", name="Land in shadow").click()
            expect(page.get_by_role("status").first).to_contain_text("in shadow")
        found = samples(scrape(server.base)[0])
        assert value(found, "hashcheck_imports_total", kind="import", outcome="done") == 1
        assert value(found, "hashcheck_import_duration_seconds_count", kind="import") == 1
