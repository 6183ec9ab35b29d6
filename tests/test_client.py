"""The client SDK against a real server: three outcomes, never an error read as clean; retries
with Retry-After; batch splitting; the async client; and a client-only install."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from hashcheck.client import AsyncHashcheckClient, HashcheckClient, Outcome
from hashcheck.client.protocol import CredentialsRefused, Unanswered
from tests.support import Deployment, ServerThread, list_hashes, make_deployment, serve

LISTED = hashlib.md5(b"listed", usedforsecurity=False).hexdigest()
CLEAN = hashlib.md5(b"clean", usedforsecurity=False).hexdigest()
SERVER_ONLY = (
    "numpy",
    "orjson",
    "uvicorn",
    "ijson",
    "defusedxml",
    "psycopg",
    "cryptography",
    "PIL",
)


@pytest.fixture
def deployment(sqlite_url: str, tmp_path: Path) -> Deployment:
    deployed = make_deployment(sqlite_url, tmp_path)
    list_hashes(deployed, [LISTED])
    return deployed


@pytest.fixture
def server(deployment: Deployment) -> Iterator[ServerThread]:
    yield from serve(deployment)


def client(server: ServerThread, deployment: Deployment, **options: Any) -> HashcheckClient:
    return HashcheckClient(
        server.base, deployment.client_id, deployment.secret, backoff=0.01, **options
    )


def test_three_outcomes_over_v2_and_legacy(server: ServerThread, deployment: Deployment) -> None:
    with client(server, deployment, max_batch=3) as api:
        items = [("md5", LISTED), ("md5", CLEAN.upper()), *[("sha1", "ab" * 20)] * 5]
        results = api.check(items)  # seven hashes in three requests
        assert [r.outcome for r in results] == [Outcome.MATCH] + [Outcome.NO_MATCH] * 6
        (match,) = results[0].matches
        assert (match.list, match.category, match.action, match.kind) == (
            "police",
            "baseline",
            "remove",
            "exact",
        )
        assert results[1].hash == CLEAN and results[1].clean and not results[0].clean
        assert api.check_legacy("md5", LISTED).matched
        assert api.check_legacy("md5", CLEAN).clean
        with pytest.raises(ValueError, match="32 hex"):
            api.check_one("md5", "abc")
    # Wrong credentials are no check result: every later call would be refused too.
    wrong = HashcheckClient(server.base, deployment.client_id, "wrong", backoff=0.01)
    with pytest.raises(CredentialsRefused, match="HTTP 401") as refused:
        wrong.check_one("md5", LISTED)
    assert refused.value.status == 401
    with pytest.raises(CredentialsRefused, match="HTTP 401"):
        wrong.check_legacy("md5", LISTED)
    with pytest.raises(CredentialsRefused, match="HTTP 401"):
        wrong.retractions()
    wrong.close()


def test_an_unreachable_service_is_never_clean() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once closed
    with HashcheckClient(f"http://127.0.0.1:{port}", "a", "b", retries=2, backoff=0.01) as api:
        result = api.check_one("md5", LISTED)
    assert result.outcome is Outcome.INDETERMINATE and "cannot reach" in (result.reason or "")


class Flaky:
    """A stand-in for a rate-limiting proxy in front of the service: answers 429 with
    Retry-After a given number of times, then a fixed body."""

    def __init__(self, failures: int, final_status: int, final_body: bytes) -> None:
        self.failures = failures
        self.final = (final_status, final_body)
        self.requests = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        self.requests += 1
        if self.requests <= self.failures:
            status, body, headers = 429, b"slow down", [(b"retry-after", b"0")]
        else:
            status, body = self.final
            headers = []
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture
def flaky_server() -> Iterator[tuple[str, Flaky]]:
    answer = {
        "version": 1,
        "checked": 1,
        "results": [],
    }
    app = Flaky(2, 200, json.dumps(answer).encode())
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]})
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", app
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def test_retries_honour_retry_after_and_odd_bodies_are_indeterminate(
    flaky_server: tuple[str, Flaky],
) -> None:
    base, app = flaky_server
    with HashcheckClient(base, "a", "b", retries=3, backoff=5.0) as api:
        # Backoff alone would wait seconds; Retry-After: 0 makes the retries immediate.
        assert api.check_one("md5", LISTED).clean
        assert app.requests == 3
        app.failures, app.requests, app.final = 0, 0, (200, b"TRUE ")
        odd = api.check_legacy("md5", LISTED)
        assert odd.outcome is Outcome.INDETERMINATE and "TRUE" in (odd.reason or "")
        app.final = (200, b'{"results": []}')
        short = api.check_one("md5", LISTED)
        assert short.outcome is Outcome.INDETERMINATE and "every hash was checked" in (
            short.reason or ""
        )
        app.failures, app.requests = 10, 0
        gave_up = api.check_one("md5", LISTED)
        assert gave_up.outcome is Outcome.INDETERMINATE and app.requests == 4


def test_async_client(server: ServerThread, deployment: Deployment) -> None:
    async def scenario() -> list[Outcome]:
        async with AsyncHashcheckClient(
            server.base, deployment.client_id, deployment.secret, backoff=0.01
        ) as api:
            results = await api.check([("md5", LISTED), ("md5", CLEAN)])
            legacy = await api.check_legacy("md5", LISTED)
            return [*(r.outcome for r in results), legacy.outcome]

    assert asyncio.run(scenario()) == [Outcome.MATCH, Outcome.NO_MATCH, Outcome.MATCH]


def test_the_client_imports_no_server_dependency() -> None:
    program = (
        "import sys\n"
        f"for name in {SERVER_ONLY!r}:\n"
        "    sys.modules[name] = None\n"
        "import hashcheck.client\n"
        f"print(sorted(n for n in {SERVER_ONLY!r} if sys.modules.get(n) is not None))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_matches_land_on_their_own_items_whatever_the_order(
    server: ServerThread, deployment: Deployment
) -> None:
    """The compact shape sends hashes grouped by algorithm; answers name their position."""
    items = [("sha1", "ab" * 20), ("md5", CLEAN), ("md5", LISTED), ("sha1", "cd" * 20)]
    with client(server, deployment) as api:
        outcomes = [r.outcome for r in api.check(items)]
    assert outcomes == [Outcome.NO_MATCH, Outcome.NO_MATCH, Outcome.MATCH, Outcome.NO_MATCH]


@pytest.mark.parametrize(
    "results",
    [
        [{"index": 2, "algorithm": "md5", "hash": LISTED, "match": True, "matches": []}],
        [{"index": 0, "algorithm": "md5", "hash": CLEAN, "match": False, "matches": []}] * 2,
        [{"index": 0, "algorithm": "md5", "hash": LISTED, "match": False, "matches": []}],
        [{"index": True, "algorithm": "md5", "hash": CLEAN, "match": False, "matches": []}],
        [{"algorithm": "md5", "hash": CLEAN, "match": False, "matches": []}],
    ],
)
def test_odd_only_matches_answers_are_indeterminate(results: list[dict[str, Any]]) -> None:
    """Out of range, repeated, for another hash, a bool index, no index: none reads clean."""
    from hashcheck.client import protocol
    from hashcheck.client.queries import Query

    items = [Query("md5", CLEAN), Query("md5", "0" * 32)]
    found = protocol.read_v2(items, 200, {"version": 1, "checked": 2, "results": results})
    assert [r.outcome for r in found] == [Outcome.INDETERMINATE] * 2
    assert protocol.read_v2(items, 200, {"checked": 3, "results": []})[0].outcome is (
        Outcome.INDETERMINATE
    )


def test_both_clients_offer_the_same_methods() -> None:
    """The async client is the sync one's twin: the same public methods, the same
    parameters, every one a coroutine where the sync one does I/O."""

    def public(cls: type) -> dict[str, inspect.Signature]:
        return {
            name: inspect.signature(member)
            for name, member in vars(cls).items()
            if not name.startswith("_") and callable(member)
        }

    sync, aio = public(HashcheckClient), public(AsyncHashcheckClient)
    assert sync.keys() == aio.keys()
    wanted = {"check", "check_one", "check_file", "hash_file", "check_legacy", "retractions"}
    assert wanted | {"open_dispute", "dispute", "close"} <= sync.keys()
    for name, signature in sync.items():
        assert list(signature.parameters) == list(aio[name].parameters), name
        member = vars(AsyncHashcheckClient)[name]
        if not isinstance(member, staticmethod):
            assert inspect.iscoroutinefunction(member), name


def test_disputes_and_retractions_through_both_clients(
    server: ServerThread, deployment: Deployment
) -> None:
    with client(server, deployment) as api:
        (result,) = api.check([("md5", LISTED)])
        (match,) = result.matches
        assert match.item is not None
        opened = api.open_dispute(match.match_id, "our own photo")
        assert opened.state == "open" and opened.match_id == match.match_id
        assert api.dispute(opened.dispute_id) == opened
        with pytest.raises(Unanswered, match="HTTP 404") as missing:
            api.dispute(opened.dispute_id + 1000)
        assert missing.value.status == 404
        with pytest.raises(ValueError, match="reason"):
            api.open_dispute(match.match_id, " ")
        server.app.node.flusher.flush()
        store = deployment.store()
        store.resolve_dispute(opened.dispute_id, upheld=True, comment="yes", actor="op")
        store.close()
        items, cursor = api.retractions()
        assert [(r["match_id"], r["item"]) for r in items] == [(match.match_id, match.item)]

    async def scenario() -> tuple[int, str, int]:
        async with AsyncHashcheckClient(
            server.base, deployment.client_id, deployment.secret
        ) as aio:
            again, _ = await aio.retractions()
            read = await aio.dispute(opened.dispute_id)
            return len(again), read.state, cursor

    assert asyncio.run(scenario()) == (1, "upheld", cursor)


def test_actions_through_both_clients(server: ServerThread, deployment: Deployment) -> None:
    import datetime as dt

    with client(server, deployment) as api:
        (result,) = api.check([("md5", LISTED)])
        (match,) = result.matches
        kept = api.report_action(match.match_id, "removed")
        assert (kept.action, kept.match_id, kept.repeated) == ("removed", match.match_id, False)
        assert api.report_action(match.match_id, "removed").action_id == kept.action_id
        with pytest.raises(ValueError, match="reason"):
            api.report_action(match.match_id, "kept_after_review")
        with pytest.raises(ValueError, match="one of"):
            api.report_action(match.match_id, "deleted")
        with pytest.raises(ValueError, match="time zone"):
            api.report_action(match.match_id, "reported", at=dt.datetime(2026, 11, 30))
        with pytest.raises(Unanswered, match="HTTP 404") as missing:
            api.report_action("m1_" + "a" * 30, "removed")
        assert missing.value.status == 404
        later = dt.datetime.now(dt.UTC)
        reported = api.report_action(match.match_id, "reported", at=later)
        assert reported.action == "reported" and not reported.repeated

    async def scenario() -> tuple[str, bool]:
        async with AsyncHashcheckClient(
            server.base, deployment.client_id, deployment.secret
        ) as aio:
            again = await aio.report_action(match.match_id, "reported", at=later)
            return again.action, again.repeated

    assert asyncio.run(scenario()) == ("reported", True)


def test_server_commands_in_a_client_only_install_name_the_extra(tmp_path: Path) -> None:
    """No traceback: the command says which part of hashcheck to install (exit 15)."""
    program = (
        "import sys\n"
        f"for name in {SERVER_ONLY!r}:\n"
        "    sys.modules[name] = None\n"
        "from hashcheck.cli.main import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    env = {"HASHCHECK_DATABASE_URL": f"sqlite:///{tmp_path / 'h.db'}", "PATH": "/usr/bin:/bin"}
    for command in (["serve"], ["lists", "list"], ["init"]):
        done = subprocess.run(
            [sys.executable, "-c", program, *command],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
            env={**env, "HASHCHECK_KEY_FILE": str(tmp_path / "k.key")},
        )
        assert done.returncode == 15, (command, done.stderr)
        assert "Traceback" not in done.stderr
        assert "pip install 'hashcheck[server]'" in done.stderr, done.stderr
    # The client's own commands still run.
    sample = tmp_path / "f.txt"
    sample.write_bytes(b"x")
    done = subprocess.run(
        [sys.executable, "-c", program, "hash", str(sample)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert (
        done.returncode == 0 and hashlib.md5(b"x", usedforsecurity=False).hexdigest() in done.stdout
    ), done.stderr
