"""Not a benchmark: the docs command that renders every console page into docs/console.md.

Builds a throwaway deployment with a little of everything (lists, a shadow batch, clients,
a hold, a dispute, a proposal, statistics), serves it with the console on a loopback port,
signs in with Debian's Chromium through Playwright and saves a screenshot of each page under
docs/console/, then writes the list of them into docs/console.md between its markers.

    .venv/bin/python -m bench.screenshots
"""

from __future__ import annotations

import hashlib
import re
import tempfile
import time
from pathlib import Path

from playwright.sync_api import Page
from tests.browser import browser
from tests.support import Deployment, make_deployment, serve

from bench.common import ROOT
from hashcheck.admin import clients, governance, importing, operators
from hashcheck.admin.operators import Actor, Role
from hashcheck.hashes.algorithms import Algorithm
from hashcheck.hashes.keyed import Digester
from hashcheck.store.records import Sighting, StatRow

PAGES = (
    ("signin", "Sign-in", "/console/signin"),
    ("overview", "Overview", "/console/"),
    ("proposals", "Proposals", "/console/proposals"),
    ("decisions", "Holds and disputes", "/console/decisions"),
    ("clients", "Clients and their grants", "/console/clients"),
    ("imports", "Imports: a file's dry run before it lands", "/console/imports"),
    ("batches", "Batches", "/console/batches"),
    ("items", "An item, found by its number", "/console/items?q=1"),
    ("statistics", "Statistics", "/console/statistics"),
    ("audit", "Audit trail", "/console/audit"),
    ("operators", "Operator accounts", "/console/operators"),
)
SHOTS = ROOT / "docs" / "console"
DOC = ROOT / "docs" / "console.md"
BEGIN, END = "<!-- screenshots -->", "<!-- /screenshots -->"


def md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def populate(deployment: Deployment, folder: Path) -> str:
    """A little of everything; returns alice's secret."""
    store = deployment.store()
    try:
        setup = Actor("setup", Role.APPROVER)
        made = operators.add_several(store, ["alice", "bob"], Role.APPROVER, actor=setup)
        operators.add(store, "olga", Role.OPERATOR, actor=setup)
        clients.add_client(store, "Beta hosting", actor="setup", client_id="beta")
        digester = Digester(deployment.key)
        source = folder / "police.txt"
        source.write_text("".join(md5(f"file {n}") + "\n" for n in range(40)))
        importing.import_file(store, digester, "police", source, actor="olga", category="baseline")
        store.add_list("ngo", "An NGO", "its analysts' list", actor="olga")
        shadow = folder / "ngo.txt"
        shadow.write_text("".join(md5(f"ngo {n}") + "\n" for n in range(12)))
        importing.import_file(
            store, digester, "ngo", shadow, actor="olga", category="related", shadow=True
        )
        governance.enable_category(store, "related", actor=Actor("alice", Role.APPROVER))
        first, second = (
            store.find_items(digests=[digester.digest(Algorithm.MD5, bytes.fromhex(md5(t)))])[0]
            for t in ("file 1", "file 2")
        )
        store.set_policy("prevalence-clients", "1", actor="setup")
        now, day = int(time.time()), int(time.time() // 86400)
        store.record_matches(
            [Sighting(first.item_id, c, day, now, True) for c in ("acme", "beta")], []
        )
        store.record_matches([Sighting(second.item_id, "acme", day, now, True)], [])
        store.open_dispute("acme", second.item_id, day, "a picture of our own office")
        police = next(h.list_id for h in store.lists() if h.name == "police")
        today = time.strftime("%Y-%m-%d", time.gmtime())
        store.add_stats(
            [
                StatRow(client, police, f"2026-11-{d:02d}", 800 + 37 * d, d % 3)
                for d in range(20, 31)
                for client in ("acme", "beta")
            ]
            + [StatRow("acme", police, today, 1200, 2)]
        )
        return {m.name: m.secret for m in made}["alice"]
    finally:
        store.close()


def dry_run(page: Page, folder: Path) -> None:
    """Upload a next delivery of the police list, so that the page shows its dry run."""
    delivery = folder / "police-2026-12.txt"
    delivery.write_text("".join(md5(f"file {n}") + "\n" for n in range(30, 55)))
    page.get_by_label("List", exact=True).select_option("police")
    page.get_by_label("File", exact=True).set_input_files(delivery)
    page.get_by_label("Category of every item").select_option("illegal")
    page.get_by_role("button", name="Upload and check (dry run)").click()
    page.get_by_role("heading", name=re.compile("^Dry run of")).wait_for()


def main() -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        deployment = make_deployment(f"sqlite:///{Path(folder) / 'hashcheck.db'}", Path(folder))
        secret = populate(deployment, Path(folder))
        for server in serve(deployment, console=True):
            server.app.node.flusher.flush()
            with browser() as context:
                page = context.new_page()
                page.set_viewport_size({"width": 1200, "height": 800})
                page.goto(server.base + "/console/signin")
                page.screenshot(path=SHOTS / "signin.png", full_page=True)
                page.get_by_label("Account name").fill("alice")
                page.get_by_label("Secret").fill(secret)
                page.get_by_role("button", name="Sign in").click()
                page.wait_for_url(server.base + "/console/")
                for name, _, path in PAGES[1:]:
                    page.goto(server.base + path)
                    if name == "imports":
                        dry_run(page, Path(folder))
                    page.screenshot(path=SHOTS / f"{name}.png", full_page=True)
    listing = "\n".join(
        f"### {title}\n\n![{title}](console/{name}.png)\n" for name, title, _ in PAGES
    )
    text = DOC.read_text()
    text = re.sub(
        re.escape(BEGIN) + r".*" + re.escape(END),
        f"{BEGIN}\n{listing}\n{END}",
        text,
        flags=re.DOTALL,
    )
    DOC.write_text(text)
    print(
        f"wrote {len(PAGES)} screenshots to {SHOTS.relative_to(ROOT)} and listed them in docs/console.md"
    )


if __name__ == "__main__":
    main()
