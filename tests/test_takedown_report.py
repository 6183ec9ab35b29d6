"""The takedown report: its figures computed from hand-made hits (every window, late and
overdue hits, re-appearances, the notice's clock), then end to end from match records,
actions and notices in the store, through the CLI (table, CSV, JSON, printable HTML), the
admin API, a client's own `GET /v2/report` and a publishable version without names."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hashcheck.admin import operators, takedown
from hashcheck.admin.errors import AdminError
from hashcheck.admin.operators import Actor, Role
from hashcheck.catalog.takedownreport import HitRow, compute
from hashcheck.cli.exitcodes import ExitCode
from hashcheck.store.open import open_store
from hashcheck.store.records import NewAction
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

H = 3600
OPERATOR = Actor("olga", Role.OPERATOR)


def hit(client: str, item: int, start: int, last: int, **more: Any) -> HitRow:
    fields: dict[str, Any] = {
        "acted_at": None,
        "taken_down_at": None,
        "removed_at": None,
        "notice_at": None,
        "notice_deadline": None,
        "notice_state": None,
        **more,
    }
    return HitRow(client, item, start, last, **fields)


def test_the_figures_of_hand_made_hits() -> None:
    t0 = 1_000_000
    rows = [
        # removed after half an hour; matched before that only
        hit(
            "a",
            1,
            t0,
            t0 + 600,
            acted_at=t0 + H // 2,
            taken_down_at=t0 + H // 2,
            removed_at=t0 + H // 2,
        ),
        # quarantined after 13 h, matched again after: a re-appearance
        hit(
            "a",
            2,
            t0,
            t0 + 20 * H,
            acted_at=t0 + 13 * H,
            taken_down_at=t0 + 13 * H,
            removed_at=t0 + 13 * H,
        ),
        # never acted on, still matched after its deadline: overdue and re-appeared
        hit("a", 3, t0, t0 + 25 * H),
        # a notice at +2 h due at +3 h, removed at +2.5 h: timed from the notice
        hit(
            "b",
            4,
            t0,
            t0,
            acted_at=t0 + 5 * H // 2,
            taken_down_at=t0 + 5 * H // 2,
            removed_at=t0 + 5 * H // 2,
            notice_at=t0 + 2 * H,
            notice_deadline=t0 + 3 * H,
            notice_state="removed",
        ),
        # b's agreement gives it 1 h: reported after 2 h is late
        hit("b", 5, t0, t0, acted_at=t0 + 2 * H),
    ]
    overall, clients = compute(rows, {"b": 1}, 24, now=t0 + 30 * H)
    figures = overall.as_dict()
    assert figures["hits"] == 5 and figures["acted_on"] == 4
    assert figures["acted_within"] == {"1h": 0.4, "12h": 0.6, "24h": 0.8, "deadline": 0.6}
    assert (figures["overdue"], figures["unanswered"], figures["reappeared"]) == (2, 1, 2)
    assert figures["median_hours_to_action"] == 1.25
    assert figures["p90_hours_to_action"] == 9.7
    assert figures["timed_from_notice"] == 1
    assert figures["notices"]["issued"] == 1 and figures["notices"]["removed_in_time"] == 1
    b = clients["b"].as_dict()
    assert b["hits"] == 2 and b["acted_within"]["deadline"] == 0.5 and b["overdue"] == 1
    empty = compute([], {}, 24, now=t0)[0].as_dict()
    assert empty["hits"] == 0 and empty["acted_within"]["1h"] is None
    assert empty["median_hours_to_action"] is None


LISTED = [md5_hex(f"listed {n}") for n in range(4)]


@pytest.fixture
def deployment(store_url: str, tmp_path: Path) -> Deployment:
    deployed = make_deployment(store_url, tmp_path)
    list_hashes(deployed, LISTED)
    return deployed


@pytest.fixture
def server(deployment: Deployment) -> Iterator[ServerThread]:
    yield from serve(deployment, stats_flush_interval=3600)


def this_month() -> str:
    return time.strftime("%Y-%m", time.gmtime())


def test_the_report_end_to_end_on_every_face(
    server: ServerThread,
    deployment: Deployment,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    other = another_client(deployment, "beta")
    server.app.node.follower.refresh()
    items = []
    for digest in LISTED[:3]:
        items.append(int(md5_match(server, deployment, digest)["item"]))
    call(server.base, "/v2/check", {"md5": [LISTED[3]]}, auth=other)
    server.app.node.flusher.flush()
    store = deployment.store()
    try:
        now = int(time.time())
        day = now // 86400
        store.record_action(NewAction("acme", items[0], day, "removed", "", now))
        store.record_action(NewAction("acme", items[1], day, "kept_after_review", "our own", now))
        notice = takedown.issue_notice(store, "acme", items[2], actor=OPERATOR).notice
        made = operators.add(store, "olga", Role.OPERATOR, actor=Actor("setup", Role.APPROVER))
    finally:
        store.close()
    monkeypatch.setenv("HASHCHECK_DATABASE_URL", deployment.url)
    monkeypatch.setenv("HASHCHECK_KEY_FILE", str(deployment.key_file))
    monkeypatch.setenv("HASHCHECK_ACTOR", "olga")  # operator accounts exist: the CLI names one
    month = this_month()

    code, out, _ = run("report", "takedown", "--month", month, "--format", "json")
    assert code == ExitCode.OK
    report = json.loads(out)
    assert report["overall"]["hits"] == 4 and report["overall"]["acted_on"] == 2
    assert report["overall"]["acted_within"]["1h"] == 0.5
    assert report["overall"]["timed_from_notice"] == 1
    assert report["overall"]["notices"]["open"] == 1
    by_client = {c["client"]: c for c in report["clients"]}
    assert by_client["acme"]["hits"] == 3 and by_client["beta"]["hits"] == 1
    assert by_client["beta"]["unanswered"] == 1 and by_client["acme"]["name"] == "Acme hosting"
    assert notice.notice_id  # it counts as acme's, from its own clock

    code, out, _ = run("report", "takedown", "--month", month, "--format", "csv")
    assert code == ExitCode.OK
    assert out.splitlines()[0].startswith("client,hits,acted_on,within_1h")
    assert any(line.startswith("acme,3,2,66.7%") for line in out.splitlines())
    code, out, _ = run("report", "takedown", "--month", month)
    assert code == ExitCode.OK and "the clock runs from the operator's notice" in out
    page = tmp_path / "report.html"
    code, out, _ = run(
        "report",
        "takedown",
        "--month",
        month,
        "--format",
        "html",
        "--publishable",
        "--output",
        str(page),
    )
    assert code == ExitCode.OK
    html = page.read_text()
    assert html.startswith("<!doctype html>") and "<svg" in html and "@media print" in html
    assert "acme" not in html and "beta" not in html and "client 1" in html
    assert "<script" not in html and "http" not in html.split("</style>")[1]
    code, out, _ = run(
        "report", "takedown", "--month", month, "--format", "json", "--publishable", "--with-names"
    )
    assert {c["client"] for c in json.loads(out)["clients"]} == {"acme", "beta"}
    for bad in ("2026-13", "2026-1", "November", "２０２６-11", ""):
        code, _, err = run("report", "takedown", "--month", bad)
        assert code != ExitCode.OK and "YYYY-MM" in err and "Traceback" not in err, bad
    code, _, err = run("report", "takedown", "--month", month, "--with-names")
    assert code == ExitCode.USAGE

    admin = ("olga", made.secret)
    status, body, _ = call(
        server.base, f"/admin/v1/reports/takedown?month={month}&publishable=true", auth=admin
    )
    assert status == 200 and body["overall"]["hits"] == 4
    assert [c["client"] for c in body["clients"]] == ["client 1", "client 2"]
    status, body, _ = call(server.base, "/admin/v1/reports/takedown?month=2026-13", auth=admin)
    assert status == 400
    status, body, _ = call(server.base, "/admin/v1/reports/takedown", auth=admin)
    assert status == 400 and "month" in body["error"]["message"]

    # A client sees its own figures only, whatever it asks.
    status, mine, _ = call(
        server.base, f"/v2/report?month={month}", auth=(deployment.client_id, deployment.secret)
    )
    assert status == 200 and mine["overall"]["hits"] == 3
    assert [c["client"] for c in mine["clients"]] == ["acme"]
    status, theirs, _ = call(server.base, "/v2/report", auth=other)
    assert status == 200 and theirs["overall"]["hits"] == 1 and theirs["month"] == month
    status, answer, _ = call(server.base, "/v2/report?month=soon", auth=other)
    assert status == 400 and "YYYY-MM" in answer["error"]["message"]


def test_months_are_read_strictly() -> None:
    assert takedown.month_days("1970-01") == (0, 30)
    assert takedown.month_days("2024-02") == (19754, 19782)  # a leap year's February: 29 days
    assert takedown.month_days("2026-12")[1] - takedown.month_days("2026-12")[0] == 30
    for bad in ("2026-00", "2026-13", "26-11", "2026/11", "2026-11-01", "²⁰²⁶-11"):
        with pytest.raises(AdminError, match="YYYY-MM"):
            takedown.month_days(bad)


def test_the_database_s_figures_are_the_reference_s_on_random_months(
    store_url: str, tmp_path: Path
) -> None:
    """The store counts the report in SQL (10M records must take seconds); the pure module
    counts it hit by hit. On a random month (clients with their own deadlines, notices in
    every state, actions before and after deadlines and notices) both say the same."""
    import numpy as np
    from bench import takedown as generator
    from bench.common import deploy

    from hashcheck.catalog.takedownreport import Figures

    month, first_day = generator.month_of(time.time())
    deployment = deploy(
        tmp_path / "d", 400, url=store_url if not store_url.startswith("sqlite") else None
    )
    url = deployment.url
    items = np.array(generator.item_ids(url), dtype=np.int64)
    data = generator.generated(6000, 12, items, 700, first_day, seed=5)
    if url.startswith("sqlite"):
        generator.fill_sqlite(Path(url.removeprefix("sqlite:///")), data, 12)
    else:
        generator.fill_postgres(url, data, 12)
    store = open_store(url)
    try:
        with store._lock, store._begin(write=True) as cur:  # type: ignore[attr-defined]
            # Notices in every state, some overdue; two clients with agreements of their own.
            cur.execute("UPDATE notices SET state = 'removed' WHERE id % 4 = 1")
            cur.execute("UPDATE notices SET state = 'withdrawn' WHERE id % 4 = 2")
            cur.execute(
                "UPDATE notices SET state = 'acknowledged', deadline_at = issued_at + 60 WHERE id % 4 = 3"
            )
            cur.execute("UPDATE clients SET takedown_deadline_hours = 1 WHERE id = 'c0001'")
            cur.execute("UPDATE clients SET takedown_deadline_hours = 48 WHERE id = 'c0002'")
        first, last = takedown.month_days(month)
        now = (last + 1) * 86400 + 3600
        counted = store.takedown_figures(first, last, None, 24, now)
        rows = store.takedown_hits(first, last)
        agreed = {"c0001": 1, "c0002": 48}
        overall, clients = compute(rows, agreed, 24, now)
        assert len(rows) > 1000 and overall.acted > 300 and overall.notices["issued"] > 20
        assert set(counted) == set(clients)
        for client, found in counted.items():
            assert Figures.from_counts(*found).as_dict() == clients[client].as_dict(), client
        one = store.takedown_figures(first, last, "c0001", 24, now)
        assert list(one) == ["c0001"] and one["c0001"][0] == counted["c0001"][0]
    finally:
        store.close()
