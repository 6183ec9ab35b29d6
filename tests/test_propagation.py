"""Changes reach a running node without a restart: imports, removals, grants, clients."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hashcheck.admin import clients, importing
from hashcheck.catalog.model import Grant
from hashcheck.hashes.keyed import Digester
from tests import support
from tests.support import Deployment, ServerThread, basic, legacy_post, make_deployment, serve

HASH = hashlib.md5(b"arrives later", usedforsecurity=False).hexdigest()
DEADLINE = 1.0  # what the issue promises: answered within one second


@pytest.fixture(params=["sqlite", "postgres"])
def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> Deployment:
    url = request.getfixturevalue(f"{request.param}_url")
    return make_deployment(url, tmp_path)


@pytest.fixture
def server(deployment: Deployment) -> Iterator[ServerThread]:
    yield from serve(deployment, poll_interval=0.1)


def answer(server: ServerThread, secret: str, client_id: str = "acme") -> tuple[int, bytes]:
    response = legacy_post(server.port, "/v1/check/md5", HASH.encode(), basic(client_id, secret))
    return response.status, response.body


def within_deadline(probe: Callable[[], tuple[int, bytes]], expected: tuple[int, bytes]) -> float:
    return support.within_deadline(probe, expected, DEADLINE)


def test_import_and_removal_are_answered_within_a_second(
    server: ServerThread, deployment: Deployment, tmp_path: Path
) -> None:
    assert answer(server, deployment.secret) == (200, b"false")
    source = tmp_path / "new.txt"
    source.write_text(HASH + "\n")
    store = deployment.store()
    digester = Digester(deployment.key)
    importing.import_file(store, digester, "police", source, actor="t", category="baseline")
    within_deadline(lambda: answer(server, deployment.secret), (200, b"true"))
    importing.remove_hashes(store, digester, "police", [HASH], actor="t")
    within_deadline(lambda: answer(server, deployment.secret), (200, b"false"))
    # Re-adding after a removal works too (a new entry, not a resurrected one).
    importing.import_file(store, digester, "police", source, actor="t", category="baseline")
    within_deadline(lambda: answer(server, deployment.secret), (200, b"true"))
    store.close()


def test_grant_changes_are_answered_within_a_second(
    server: ServerThread, deployment: Deployment, tmp_path: Path
) -> None:
    source = tmp_path / "new.txt"
    source.write_text(HASH + "\n")
    store = deployment.store()
    importing.import_file(
        store, Digester(deployment.key), "police", source, actor="t", category="related"
    )
    within_deadline(lambda: answer(server, deployment.secret), (200, b"false"))
    related = clients.resolve_grant(store, "police", "related")
    assert related.category_id is not None
    store.set_category_enabled(related.category_id, True, actor="t")
    store.add_grant("acme", related, actor="t")
    within_deadline(lambda: answer(server, deployment.secret), (200, b"true"))
    store.remove_grant("acme", related, actor="t")
    within_deadline(lambda: answer(server, deployment.secret), (200, b"false"))
    store.close()


def test_disable_and_rotate_take_effect_within_a_second(
    server: ServerThread, deployment: Deployment
) -> None:
    assert answer(server, deployment.secret)[0] == 200  # now cached as verified
    store = deployment.store()
    store.set_client_enabled("acme", False, actor="t")
    within_deadline(lambda: (*answer(server, deployment.secret)[:1], b""), (403, b""))
    store.set_client_enabled("acme", True, actor="t")
    within_deadline(lambda: (*answer(server, deployment.secret)[:1], b""), (200, b""))
    issued = clients.rotate_secret(store, "acme", actor="t")
    within_deadline(lambda: (*answer(server, deployment.secret)[:1], b""), (401, b""))
    assert answer(server, issued.secret) == (200, b"false")
    store.close()


def test_new_client_can_check_within_a_second(server: ServerThread, deployment: Deployment) -> None:
    store = deployment.store()
    issued = clients.add_client(store, "Newcomer", actor="t", client_id="newcomer")
    store.add_grant("newcomer", Grant(None, None), actor="t")
    store.close()
    within_deadline(lambda: answer(server, issued.secret, "newcomer"), (200, b"false"))


def test_rollback_is_answered_within_a_second(
    server: ServerThread, deployment: Deployment, tmp_path: Path
) -> None:
    source = tmp_path / "new.txt"
    source.write_text(HASH + "\n")
    store = deployment.store()
    report = importing.import_file(
        store, Digester(deployment.key), "police", source, actor="t", category="baseline"
    )
    within_deadline(lambda: answer(server, deployment.secret), (200, b"true"))
    store.rollback_batch(report.batch_id, actor="t")
    within_deadline(lambda: answer(server, deployment.secret), (200, b"false"))
    store.close()


def test_shadow_promotion_and_switches_are_answered_within_a_second(
    server: ServerThread, deployment: Deployment, tmp_path: Path
) -> None:
    source = tmp_path / "new.txt"
    source.write_text(HASH + "\n")
    store = deployment.store()
    report = importing.import_file(
        store,
        Digester(deployment.key),
        "police",
        source,
        actor="t",
        category="baseline",
        shadow=True,
    )
    # Shadow: stored and counted, never answered, until promoted.
    server.app.node.follower.refresh()
    assert server.app.node.follower.snapshot is not None
    assert len(server.app.node.follower.snapshot.exact) == 1
    assert answer(server, deployment.secret) == (200, b"false")
    store.promote_batch(report.batch_id, actor="t")
    within_deadline(lambda: answer(server, deployment.secret), (200, b"true"))
    police = next(item for item in store.lists() if item.name == "police")
    store.set_list_enabled(police.list_id, False, actor="t")
    within_deadline(lambda: answer(server, deployment.secret), (200, b"false"))
    store.set_list_enabled(police.list_id, True, actor="t")
    within_deadline(lambda: answer(server, deployment.secret), (200, b"true"))
    baseline = next(c for c in store.categories() if c.name == "baseline")
    store.set_category_enabled(baseline.category_id, False, actor="t")
    within_deadline(lambda: answer(server, deployment.secret), (200, b"false"))
    store.close()
