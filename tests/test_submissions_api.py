"""Self-submission over real HTTP: a case from submission to withdrawal as the submitter and
a participating client see it, and a defined answer for every kind of bad input."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hashcheck.admin import importing
from hashcheck.api.app import SubmissionLimits
from hashcheck.catalog.model import Grant
from hashcheck.hashes.keyed import Digester
from hashcheck.store.schema import SELF_SUBMITTED_LIST
from tests.http_client import call
from tests.pdq_reference import EXPECTED
from tests.support import (
    Deployment,
    ServerThread,
    another_client,
    legacy_post,
    make_deployment,
    md5_match,
    serve,
    v2_check,
    within_deadline,
)

OPEN = SubmissionLimits(per_source_per_hour=0, per_second=0)


def a_file(seed: str | None = None, **extra: Any) -> dict[str, Any]:
    data = (os.urandom(8).hex() if seed is None else seed).encode()
    return {
        "md5": hashlib.md5(data, usedforsecurity=False).hexdigest(),
        "sha1": hashlib.sha1(data, usedforsecurity=False).hexdigest(),
        "sha256": hashlib.sha256(data).hexdigest(),
        **extra,
    }


def a_body(*files: dict[str, Any], nonce: str | None = None) -> dict[str, Any]:
    return {"nonce": nonce or os.urandom(12).hex(), "files": list(files)}


def pdq_of_reference() -> tuple[str, int]:
    row = next(r for r in EXPECTED if int(r["quality"]) >= 50)
    return row["pdq"], int(row["quality"])


@pytest.fixture
def deployment(sqlite_url: str, tmp_path: Path) -> Deployment:
    return make_deployment(sqlite_url, tmp_path)


@pytest.fixture
def server(deployment: Deployment) -> Iterator[ServerThread]:
    yield from serve(deployment, poll_interval=0.05, stats_flush_interval=0.1, submissions=OPEN)


def submit(server: ServerThread, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
    return call(server.base, "/v2/submissions", body)


def received(server: ServerThread, body: dict[str, Any]) -> tuple[str, str]:
    status, answer, _ = submit(server, body)
    assert status == 201, answer
    return answer["case"], answer["pin"]


def look_up(server: ServerThread, case: str, pin: str, *, method: str = "GET") -> Any:
    return call(server.base, f"/v2/submissions/{case}", auth=(case, pin), method=method)


def grant_by_name(deployment: Deployment, client_id: str) -> None:
    store = deployment.store()
    try:
        listed = next(h for h in store.lists() if h.name == SELF_SUBMITTED_LIST)
        store.add_grant(client_id, Grant(listed.list_id, None), actor="test")
    finally:
        store.close()


def actions(server: ServerThread, deployment: Deployment, md5: str) -> list[str]:
    (result,) = v2_check(server, deployment, [{"algorithm": "md5", "hash": md5}])["results"]
    return [m["action"] for m in result["matches"]]


def test_a_case_from_submission_to_withdrawal(
    server: ServerThread, deployment: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    pdq, quality = pdq_of_reference()
    photo, other = a_file(pdq=pdq, pdq_quality=quality), a_file()
    status, received, headers = submit(server, a_body(photo, other))
    assert status == 201, received
    assert received["state"] == "received" and received["files"] == 2
    named = {k.lower(): v for k, v in headers.items()}
    assert named["cache-control"] == "no-store" and "set-cookie" not in named
    case, pin = received["case"], received["pin"]

    status, state, _ = look_up(server, case, pin)
    assert status == 200 and state["state"] == "received"
    assert [f["state"] for f in state["files"]] == ["received", "received"]
    assert "platforms_matched" not in state  # the operator has not allowed feedback
    # Lenient reading of what a person types back: lower case, no dashes.
    assert look_up(server, case.lower().replace("-", ""), pin.lower())[0] == 200

    # Granted to nobody: the client (baseline of every list) is not answered anything.
    assert actions(server, deployment, photo["md5"]) == []
    # Granted by name, a held item answers review, never remove.
    grant_by_name(deployment, deployment.client_id)
    within_deadline(lambda: actions(server, deployment, photo["md5"]), ["review"], 5)
    legacy = legacy_post(server.port, "/v1/check/md5", photo["md5"].encode(), _auth(deployment))
    assert legacy.body == b"true"  # the legacy answer for a match on hold, as the policy says

    store = deployment.store()
    try:
        decided = store.decide_submission(case, activate=True, reason="ok", actor="op")
    finally:
        store.close()
    assert decided.state == "active"
    within_deadline(lambda: actions(server, deployment, photo["md5"]), ["remove"], 5)
    assert look_up(server, case, pin)[1]["state"] == "active"

    # With the operator's leave, the submitter learns how many platforms matched (a count).
    store = deployment.store()
    try:
        store.set_policy("submission-feedback", "true", actor="op")
    finally:
        store.close()
    within_deadline(lambda: look_up(server, case, pin)[1].get("platforms_matched"), 1, 10)
    assert look_up(server, case, pin)[1]["platforms_acted"] == 0
    # The platform says it took the file down: the submitter reads it as a count too, and
    # reviewing and keeping it is not taking it down.
    auth = (deployment.client_id, deployment.secret)
    match = md5_match(server, deployment, photo["md5"])
    kept = {"match_id": match["match_id"], "action": "kept_after_review", "reason": "art"}
    assert call(server.base, "/v2/actions", kept, auth=auth)[0] == 201
    assert look_up(server, case, pin)[1]["platforms_acted"] == 0
    removed = {"match_id": match["match_id"], "action": "removed"}
    assert call(server.base, "/v2/actions", removed, auth=auth)[0] == 201
    assert look_up(server, case, pin)[1]["platforms_acted"] == 1

    status, withdrawn, _ = look_up(server, case, pin, method="DELETE")
    assert status == 200 and withdrawn["state"] == "withdrawn"
    assert {f["state"] for f in withdrawn["files"]} == {"withdrawn"}
    within_deadline(lambda: actions(server, deployment, photo["md5"]), [], 5)
    assert look_up(server, case, pin, method="DELETE")[1]["state"] == "withdrawn"

    # The client that was answered a match finds it on its retraction feed.
    def retracted() -> int:
        auth = (deployment.client_id, deployment.secret)
        return len(call(server.base, "/v2/retractions?since=0", auth=auth)[1]["retractions"])

    within_deadline(retracted, 1, 10)
    # Nothing of the submitter, and no submitted hash, reached the log.
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in ("127.0.0.1", photo["md5"], photo["sha256"], pdq, pin):
        assert secret not in logged


def _header(headers: dict[str, str], name: str) -> str:
    return next(v for k, v in headers.items() if k.lower() == name)


def _auth(deployment: Deployment) -> str:
    token = base64.b64encode(f"{deployment.client_id}:{deployment.secret}".encode()).decode()
    return f"Basic {token}"


def test_a_wrong_pin_reads_as_an_unknown_case_and_backs_off(server: ServerThread) -> None:
    case, pin = received(server, a_body(a_file()))
    wrong = "0000-0000" if pin != "0000-0000" else "1111-1111"
    status, body, _ = look_up(server, case, wrong)
    unknown_status, unknown, _ = look_up(server, "ZZZZZ-ZZZZZ", pin)
    assert (status, body) == (unknown_status, unknown) == (404, unknown)
    assert look_up(server, case, "not a pin")[0] == 404
    assert call(server.base, f"/v2/submissions/{case}")[0] == 400  # no credentials
    other = "ZZZZZ-ZZZZY" if case != "ZZZZZ-ZZZZY" else "ZZZZZ-ZZZZX"
    assert call(server.base, f"/v2/submissions/{other}", auth=(case, pin))[0] == 400
    # Five failures from here (two above, one with a bad PIN, two more): then 429.
    for _ in range(2):
        assert look_up(server, case, wrong)[0] == 404
    status, _, headers = look_up(server, case, wrong)
    assert status == 429 and int(_header(headers, "retry-after")) >= 1
    # The case itself is untouched, and withdrawing it needs the right PIN.
    assert look_up(server, case, wrong, method="DELETE")[0] == 429


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        (b"not json", 400, "JSON"),
        (json.dumps({"files": [a_file()]}).encode(), 400, "nonce"),
        (json.dumps({"nonce": "short", "files": [a_file()]}).encode(), 400, "nonce"),
        (json.dumps(a_body()).encode(), 400, "files"),
        (json.dumps(a_body(*[a_file() for _ in range(101)])).encode(), 400, "files"),
        (json.dumps(a_body({**a_file(), "name": "me.jpg"})).encode(), 400, "name"),
        (json.dumps(a_body({**a_file(), "md5": "abc"})).encode(), 400, "files[0].md5"),
        (json.dumps(a_body(a_file(), {**a_file(), "sha1": "g" * 40})).encode(), 400, "files[1]"),
        (json.dumps(a_body({**a_file(), "md5": "²" * 32})).encode(), 400, "md5"),
        # Of the right length with blanks inside: fewer bytes than a hash, never taken as one.
        (json.dumps(a_body({**a_file(), "md5": "00 11 " + "2" * 26})).encode(), 400, "md5"),
        (
            json.dumps(a_body(a_file(pdq="00 11 " + "a" * 58, pdq_quality=90))).encode(),
            400,
            "files[0].pdq",
        ),
        (json.dumps(a_body(a_file(""))).encode(), 400, "empty file"),
        (json.dumps(a_body(a_file(pdq="a" * 64, pdq_quality=12))).encode(), 400, "quality 12"),
        (json.dumps(a_body(a_file(pdq="a" * 64))).encode(), 400, "pdq_quality"),
        (json.dumps(a_body(a_file(pdq_quality=90))).encode(), 400, "without a pdq"),
        (json.dumps(a_body(a_file(frames=["zz,1,0"]))).encode(), 400, "frames"),
        (json.dumps(a_body(a_file("same"), a_file("same"))).encode(), 400, "once"),
    ],
)
def test_bad_submissions_get_a_clear_answer_and_store_nothing(
    server: ServerThread, deployment: Deployment, body: bytes, status: int, says: str
) -> None:
    got, answer, _ = call(server.base, "/v2/submissions", raw=body)
    assert got == status, answer
    assert says in answer["error"]["message"]
    store = deployment.store()
    try:
        assert store.submissions() == []
    finally:
        store.close()


def test_an_oversized_body_is_refused_before_it_is_read(
    server: ServerThread, deployment: Deployment
) -> None:
    body = b"{" + b" " * (5 << 20) + b"}"
    answer = legacy_post(
        server.port, "/v2/submissions", body, None, content_type="application/json"
    )
    assert answer.status == 413 and b"larger" in answer.body
    store = deployment.store()
    try:
        assert store.submissions() == []
    finally:
        store.close()


def test_a_replay_is_refused_and_the_first_case_stands(
    server: ServerThread, deployment: Deployment
) -> None:
    body = a_body(a_file(), a_file())
    assert submit(server, body)[0] == 201
    status, answer, _ = submit(server, body)
    assert status == 409 and "received already" in answer["error"]["message"]
    store = deployment.store()
    try:
        (only,) = store.submissions()
        assert {f.file_no for f in only.files} == {0, 1}
    finally:
        store.close()


def test_a_writer_process_that_dies_costs_one_answer_and_keeps_nothing_half(
    server: ServerThread, deployment: Deployment
) -> None:
    """New cases are made and written by a process of the worker's own. Killed while it holds
    a case, it costs that case a 503 (nothing of it kept: the submitter tries again), and the
    next case is written by a new process."""
    import signal
    import sqlite3
    import threading

    received(server, a_body(a_file()))
    assert server.app.submissions is not None
    writer = server.app.submissions.writer_process
    (pid,) = writer.process_ids
    # The case waits in the process for the store's write lock, held here.
    lock = sqlite3.connect(deployment.url.removeprefix("sqlite:///"), isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    lost = a_file()
    answers: list[tuple[int, Any, dict[str, str]]] = []
    sending = threading.Thread(target=lambda: answers.append(submit(server, a_body(lost))))
    sending.start()
    try:
        within_deadline(lambda: writer.in_flight, 1, 10)
        os.kill(pid, signal.SIGKILL)
        sending.join(timeout=30)
    finally:
        lock.rollback()
        lock.close()
    ((status, answer, _),) = answers
    assert status == 503 and "try again" in answer["error"]["message"]
    case, _ = received(server, a_body(lost))
    assert writer.process_ids and writer.process_ids != [pid]
    store = deployment.store()
    try:
        cases = store.submissions()
        assert len(cases) == 2 and case in {c.case_number for c in cases}
    finally:
        store.close()


def test_files_on_a_known_good_list_are_rejected_at_once(
    server: ServerThread, deployment: Deployment
) -> None:
    ordinary = a_file("a logo everyone has")
    store = deployment.store()
    try:
        store.add_list("nsrl", "NIST", "", actor="t", known_good=True)
        importing.import_file(store, Digester(deployment.key), "nsrl", [ordinary["md5"]], actor="t")
    finally:
        store.close()

    def screened() -> list[str]:
        case, pin = received(server, a_body(ordinary, a_file()))
        return [f["state"] for f in look_up(server, case, pin)[1]["files"]]

    # The node learns of the new list within its poll interval; until then the screen cannot.
    within_deadline(screened, ["rejected", "received"], 5)
    store = deployment.store()
    try:
        last = store.submissions()[-1]
        assert last.files[0].item_id is None and last.files[0].finding == "known-good: nsrl"
    finally:
        store.close()


def test_floods_are_limited_per_source(deployment: Deployment) -> None:
    limits = SubmissionLimits(per_source_per_hour=3, per_second=0)
    for server in serve(deployment, poll_interval=0.05, submissions=limits):
        assert [submit(server, a_body(a_file()))[0] for _ in range(3)] == [201] * 3
        status, answer, headers = submit(server, a_body(a_file()))
        assert status == 429 and int(_header(headers, "retry-after")) > 60
        assert "try again" in answer["error"]["message"]


def test_a_node_serves_submissions_checks_or_both(deployment: Deployment) -> None:
    for only_submissions in serve(deployment, checks=False, submissions=OPEN):
        assert submit(only_submissions, a_body(a_file()))[0] == 201
        auth = _auth(deployment)
        assert legacy_post(only_submissions.port, "/v1/check/md5", b"0" * 32, auth).status == 404
        status, _, _ = call(
            only_submissions.base,
            "/v2/check",
            {"hashes": []},
            auth=(deployment.client_id, deployment.secret),
        )
        assert status == 404
    for only_checks in serve(deployment):
        assert submit(only_checks, a_body(a_file()))[0] == 404
        assert call(only_checks.base, "/v2/platforms")[0] == 404


def test_participating_platforms_are_listed_by_their_public_name(
    server: ServerThread, deployment: Deployment
) -> None:
    another_client(deployment, "quiet")  # agreed to nothing: never listed
    store = deployment.store()
    try:
        store.set_client_public_name(deployment.client_id, "Acme Hosting B.V.", actor="t")
    finally:
        store.close()
    within_deadline(
        lambda: call(server.base, "/v2/platforms")[1],
        {"platforms": [{"name": "Acme Hosting B.V."}]},
        5,
    )
