"""Shared fixtures: real SQLite files and one real PostgreSQL server for the session."""

from __future__ import annotations

import collections
import contextlib
import os
import secrets
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from hashcheck.store.interface import Store
from hashcheck.store.open import open_store


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL server from the pgserver package, started for this test session.

    Its data lives in a folder of its own, not under pytest's numbered temporary folders:
    another test session on the machine prunes old ones of those, and with them this
    server's socket and data while it runs."""
    # (pgserver's lock file may live there: it is written again at exit, and only read at
    # start-up, so pytest's folders suit it.)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(tmp_path_factory.mktemp("xdg")))
    folder = Path(tempfile.mkdtemp(prefix="hashcheck-pg-"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pgserver

            server = pgserver.get_server(  # type: ignore[attr-defined]
                folder / "pg", cleanup_mode="stop"
            )
        try:
            yield server.get_uri()
        finally:
            server.cleanup()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A fresh, empty database on the session's server for each test."""
    import psycopg

    name = "t_" + secrets.token_hex(6)
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    base, _, query = postgres_server.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{name}?{query}"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hashcheck.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    opened.migrate()
    try:
        yield opened
        _list_sizes_agree(opened)
    finally:
        opened.close()


def _list_sizes_agree(store: Store) -> None:
    """Every write keeps each list's entry count (`list_sizes`): after whatever the test did
    to the store, the kept counts are the rows themselves."""
    try:
        added = store.changes_since(0, 0).added
        lists = [h.list_id for h in store.lists()]
    except Exception:  # a test that broke or closed its store on purpose
        return
    counted = collections.Counter(int(i) for i in added.list_ids.tolist())
    kept = {list_id: store.entry_count(list_id) for list_id in lists}
    assert kept == {list_id: counted.get(list_id, 0) for list_id in lists}
    assert store.entry_count() == len(added.list_ids)


@pytest.fixture(autouse=True)
def _no_shared_memory_left_behind() -> Iterator[None]:
    """Nodes with an index folder share their PDQ index through /dev/shm; a test's nodes
    must not leave theirs behind. A folder another live process uses (another hashcheck on
    this machine, another test session's node) is not this test's to remove."""
    from hashcheck.node.pdqshare import SHARED_MEMORY, PdqShare

    before = set(SHARED_MEMORY.glob("hashcheck-*")) if SHARED_MEMORY.is_dir() else set()
    yield
    if not SHARED_MEMORY.is_dir():
        return
    for folder in set(SHARED_MEMORY.glob("hashcheck-*")) - before:
        holders = _lock_holders(folder / ".alive")
        if holders is None:  # no lock table to read: remove only what nobody uses
            with contextlib.suppress(OSError):
                PdqShare(folder).remove_if_abandoned()
        elif holders <= {os.getpid()}:  # none, or nodes this test did not stop
            shutil.rmtree(folder, ignore_errors=True)


def _lock_holders(path: Path) -> set[int] | None:
    """The processes holding a lock on ``path`` (Linux's /proc/locks); None if unknown."""
    try:
        status = path.stat()
    except FileNotFoundError:
        return set()  # no worker ever took part in the folder
    try:
        table = Path("/proc/locks").read_text()
    except OSError:
        return None
    where = f"{os.major(status.st_dev):02x}:{os.minor(status.st_dev):02x}:{status.st_ino}"
    holders = set()
    for line in table.splitlines():
        # "1: FLOCK  ADVISORY  READ 1234 00:1b:2382 0 EOF"; a waiter's line has "->" first
        fields = line.replace("->", "").split()
        if len(fields) > 5 and fields[5] == where:
            holders.add(int(fields[4]))
    return holders
