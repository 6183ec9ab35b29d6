"""What clients say they did about their hits (`POST /v2/actions`), over real HTTP: kept once
per match and action, against the match records, across a restart; a defined answer for every
kind of bad input; refused (never accepted and dropped) while the store cannot be reached."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from hashcheck.store.records import Sighting
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
    within_deadline,
)

LISTED = [md5_hex(f"listed {n}") for n in range(3)]


def iso(stamp: float) -> str:
    return dt.datetime.fromtimestamp(stamp, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def deployment(store_url: str, tmp_path: Path) -> Deployment:
    deployed = make_deployment(store_url, tmp_path)
    list_hashes(deployed, LISTED)
    return deployed


@pytest.fixture
def server(deployment: Deployment) -> Iterator[ServerThread]:
    yield from serve(deployment, stats_flush_interval=3600)


def act(
    server: ServerThread, auth: tuple[str, str], **body: Any
) -> tuple[int, Any, dict[str, str]]:
    return call(server.base, "/v2/actions", body, auth=auth)


def test_an_action_is_kept_once_per_match_and_read_against_the_match_record(
    server: ServerThread, deployment: Deployment
) -> None:
    auth = (deployment.client_id, deployment.secret)
    match = md5_match(server, deployment, LISTED[0])
    # Right after the match the node has not yet written its record of it: the match id's
    # day is what is known, and the action is kept all the same.
    status, kept, _ = act(server, auth, match_id=match["match_id"], action="quarantined")
    assert status == 201, kept
    assert kept["action"] == "quarantined" and kept["item"] == match["item"]
    assert kept["match_id"] == match["match_id"] and kept["repeated"] is False
    assert kept["matched_at"] is None
    server.app.node.flusher.flush()
    # The same action on the same match again, even with another time: the first stands.
    earlier = iso(time.time() - 1)
    status, again, _ = act(
        server, auth, match_id=match["match_id"], action="quarantined", at=earlier
    )
    assert status == 200 and again["repeated"] is True
    assert again["action_id"] == kept["action_id"] and again["at"] == kept["at"]
    assert again["matched_at"] is not None and again["matched_at"] <= again["at"]
    # Another action on the same match is another record; by item: the latest match of it.
    status, removed, _ = act(server, auth, item=match["item"], action="removed")
    assert status == 201 and removed["match_id"] == match["match_id"]
    store = deployment.store()
    try:
        kept_actions = store.actions(deployment.client_id)
    finally:
        store.close()
    assert [(a.action, a.item_id) for a in kept_actions] == [
        ("quarantined", match["item"]),
        ("removed", match["item"]),
    ]


def test_bad_actions_get_a_defined_answer_and_keep_nothing(
    server: ServerThread, deployment: Deployment
) -> None:
    auth = (deployment.client_id, deployment.secret)
    match = md5_match(server, deployment, LISTED[1])
    match_id = match["match_id"]
    now = time.time()
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"match_id": "m1_nonsense", "action": "removed"}, 404, "no match"),
        ({"match_id": match_id}, 400, "action"),
        ({"match_id": match_id, "action": "deleted"}, 400, "action"),
        ({"match_id": match_id, "action": "kept_after_review"}, 400, "reason"),
        ({"match_id": match_id, "action": "kept_after_review", "reason": "  "}, 400, "reason"),
        ({"action": "removed"}, 400, "one of the three"),
        ({"match_id": match_id, "item": match["item"], "action": "removed"}, 400, "one of"),
        ({"match_id": match_id, "action": "removed", "at": iso(now + 3600)}, 400, "future"),
        ({"match_id": match_id, "action": "removed", "at": iso(now - 3 * 86400)}, 400, "before"),
        ({"match_id": match_id, "action": "removed", "at": "2026-11-30T10:00"}, 400, "zone"),
        ({"match_id": match_id, "action": "removed", "at": "yesterday"}, 400, "ISO 8601"),
        ({"match_id": match_id, "action": "removed", "at": "２０２６-11-30"}, 400, "ISO 8601"),
        ({"match_id": match_id, "action": "removed", "colour": "red"}, 400, "colour"),
        ({"item": 0, "action": "removed"}, 400, "item"),
        ({"item": 10**30, "action": "removed"}, 400, "item"),
        ({"item": "²", "action": "removed"}, 400, "item"),
        ({"item": match["item"] + 999, "action": "removed"}, 404, "no"),
        ({"match_id": match_id, "action": "removed", "reason": "x" * 3000}, 400, "reason"),
    ]
    for body, status, words in cases:
        got, answer, _ = act(server, auth, **body)
        assert got == status, (body, answer)
        assert words in answer["error"]["message"], (body, answer)
    for raw in (b"", b"{", b"[]", b'"removed"', b"\xff\xfe"):
        got, answer, _ = call(server.base, "/v2/actions", raw=raw, auth=auth)
        assert got == 400, (raw, answer)
    # Another client's match id is no match at all for this client; nor is an item it never
    # matched.
    other = another_client(deployment)
    server.app.node.follower.refresh()
    got, answer, _ = act(server, other, match_id=match_id, action="removed")
    assert got == 404 and "no match" in answer["error"]["message"]
    server.app.node.flusher.flush()
    got, answer, _ = act(server, other, item=match["item"], action="removed")
    assert got == 404, answer
    store = deployment.store()
    try:
        assert store.actions() == []
    finally:
        store.close()


def test_an_expired_match_is_gone_and_an_action_survives_a_restart(
    deployment: Deployment,
) -> None:
    auth = (deployment.client_id, deployment.secret)
    today = int(time.time() // 86400)
    for server in serve(deployment):
        item = md5_match(server, deployment, LISTED[0])["item"]
        store = deployment.store()
        try:  # a match record of yesterday, as a node would have written it
            yesterday_at = int(time.time()) - 86400
            store.record_matches([Sighting(item, "acme", today - 1, yesterday_at, True)], [])
        finally:
            store.close()
        old = server.app.node.match_ids.issue(item, today - 91, "acme")  # kept: 90 days
        status, answer, _ = act(server, auth, match_id=old, action="removed")
        assert status == 410 and "90 days" in answer["error"]["message"]
        yesterday = server.app.node.match_ids.issue(item, today - 1, "acme")
        status, kept, _ = act(server, auth, match_id=yesterday, action="reported")
        assert status == 201 and kept["matched_at"] == iso(yesterday_at)
    for server in serve(deployment):  # a new node, the same store
        status, again, _ = act(server, auth, match_id=yesterday, action="reported")
        assert status == 200 and again["action_id"] == kept["action_id"]


def test_an_action_whose_writer_is_lost_is_refused_not_dropped(
    server: ServerThread, deployment: Deployment
) -> None:
    """Actions are written by a store process of the worker's own. While the store is locked
    (here by another connection, as a long migration would) the action waits in that
    process; the process killed, the action is answered 503, nothing of it kept, and sent
    again it is written by a new process as a new action."""
    import os
    import signal

    auth = (deployment.client_id, deployment.secret)
    match = md5_match(server, deployment, LISTED[2])
    # A first action starts the process.
    assert act(server, auth, match_id=match["match_id"], action="reported")[0] == 201
    writes = server.app.client_store
    assert writes is not None
    (pid,) = writes.process_ids
    answers: list[tuple[int, Any, dict[str, str]]] = []
    with _store_locked(deployment.url):
        sending = threading.Thread(
            target=lambda: answers.append(
                act(server, auth, match_id=match["match_id"], action="removed")
            )
        )
        sending.start()
        within_deadline(lambda: writes.in_flight, 1, 10)
        os.kill(pid, signal.SIGKILL)
        sending.join(timeout=30)
    ((status, answer, _),) = answers
    assert status == 503 and "try again" in answer["error"]["message"]
    status, kept, _ = act(server, auth, match_id=match["match_id"], action="removed")
    assert status == 201 and kept["repeated"] is False
    assert writes.process_ids and writes.process_ids != [pid]


@contextmanager
def _store_locked(url: str) -> Iterator[None]:
    """The store locked against writers by a transaction of the test's own."""
    if url.startswith("sqlite"):
        lock = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            lock.rollback()
            lock.close()
        return
    import psycopg

    with psycopg.connect(url) as pg:
        pg.execute("LOCK TABLE actions IN ACCESS EXCLUSIVE MODE")
        try:
            yield
        finally:
            pg.rollback()
