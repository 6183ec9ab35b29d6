"""The store process's call loop (`store.process`): calls of a grouped operation that wait
together are made as one call, each answered with its own result; a refusal or failure of one
is that call's alone, a failure of the whole fails every call of the group.

Drives the loop the child process runs, in this process and over a real socket pair, so that
the test can hold the loop until the calls it sends are waiting (a child's queue cannot be
seen from outside)."""

from __future__ import annotations

import functools
import pickle
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hashcheck.store import process
from hashcheck.store.errors import Conflict, NotFound, StoreError
from hashcheck.store.interface import Store
from hashcheck.store.open import open_store
from tests.support import within_deadline

RELEASED = threading.Event()


def hold(store: Store) -> str:
    """Keeps the loop busy until the test lets it go."""
    assert RELEASED.wait(30)
    return "held"


def group_of(store: Store, calls: list[tuple[Any, ...]]) -> list[Any]:
    """Each call's answer: its argument and the size of the group it was made in; an
    argument that names a refusal is refused."""
    answers: list[Any] = []
    for (argument,) in calls:
        if argument == "replay":
            answers.append(Conflict("seen before"))
        elif argument == "broken":
            answers.append(ValueError("cannot be stored"))
        else:
            answers.append((argument, len(calls)))
    return answers


def failing_group(store: Store, calls: list[tuple[Any, ...]]) -> list[Any]:
    raise NotFound("the whole group is refused")


def wrongly_counted(store: Store, calls: list[tuple[Any, ...]]) -> list[Any]:
    return []


def migrated(url: str) -> None:
    store = open_store(url)
    store.migrate()
    store.close()


class Loop:
    """A `_Child` loop on a thread, and the caller's side of its socket."""

    def __init__(self, url: str) -> None:
        ours, theirs = socket.socketpair()
        self.socket = ours
        self.reader = ours.makefile("rb")
        self.child = process._Child(theirs, lambda: open_store(url))
        self.thread = threading.Thread(target=self.child.run)
        self.thread.start()
        self.numbers = iter(range(10**6))

    def send(self, operation: Any, *args: Any, grouped: bool = False) -> int:
        number = next(self.numbers)
        frame = pickle.dumps((number, operation, args, None, grouped))
        self.socket.sendall(process._FRAME.pack(len(frame)) + frame)
        return number

    def answers(self, count: int) -> dict[int, tuple[str, Any]]:
        got = {}
        for _ in range(count):
            (length,) = process._FRAME.unpack(self.reader.read(process._FRAME.size))
            number, kind, value = pickle.loads(self.reader.read(length))  # noqa: S301
            got[number] = (kind, value)
        return got

    def waiting(self) -> int:
        return self.child.waiting

    def close(self) -> None:
        self.socket.shutdown(socket.SHUT_WR)
        self.thread.join(30)
        self.reader.close()
        self.socket.close()


@pytest.fixture
def loop(tmp_path: Path) -> Iterator[Loop]:
    url = f"sqlite:///{tmp_path / 'hashcheck.db'}"
    migrated(url)
    RELEASED.clear()
    running = Loop(url)
    try:
        yield running
    finally:
        RELEASED.set()
        running.close()


def test_grouped_calls_that_wait_together_are_made_as_one(loop: Loop) -> None:
    held = loop.send(hold)
    first = [loop.send(group_of, n, grouped=True) for n in range(3)]
    plain = loop.send("version")
    later = [loop.send(group_of, n, grouped=True) for n in range(3, 5)]
    within_deadline(loop.waiting, 6, 10)
    RELEASED.set()
    got = loop.answers(7)
    assert got[held] == ("ok", "held")
    # All five were waiting: one call of five, each answered its own; the plain call is
    # made on its own.
    assert [got[n] for n in first + later] == [("ok", (n, 5)) for n in range(5)]
    assert got[plain][0] == "ok" and isinstance(got[plain][1], int)


def test_a_call_that_arrives_alone_is_a_group_of_one(loop: Loop) -> None:
    (number,) = [loop.send(group_of, "alone", grouped=True)]
    assert loop.answers(1) == {number: ("ok", ("alone", 1))}


def test_a_refusal_or_failure_in_a_group_is_that_call_s_alone(loop: Loop) -> None:
    loop.send(hold)
    numbers = [loop.send(group_of, a, grouped=True) for a in ("a", "replay", "broken", "b")]
    within_deadline(loop.waiting, 4, 10)
    RELEASED.set()
    got = loop.answers(5)
    assert [got[n] for n in numbers] == [
        ("ok", ("a", 4)),
        ("Conflict", "seen before"),
        ("failed", "ValueError: cannot be stored"),
        ("ok", ("b", 4)),
    ]


@pytest.mark.parametrize(
    ("operation", "kind"), [(failing_group, "NotFound"), (wrongly_counted, "failed")]
)
def test_a_group_that_fails_as_a_whole_fails_each_of_its_calls(
    loop: Loop, operation: Any, kind: str
) -> None:
    loop.send(hold)
    numbers = [loop.send(operation, n, grouped=True) for n in range(3)]
    within_deadline(loop.waiting, 3, 10)
    RELEASED.set()
    got = loop.answers(4)
    assert {got[n][0] for n in numbers} == {kind}
    # And the loop goes on.
    after = loop.send(group_of, "next", grouped=True)
    assert loop.answers(1) == {after: ("ok", ("next", 1))}


def test_the_caller_sees_a_group_member_s_refusal_as_the_store_s_own(tmp_path: Path) -> None:
    """Through a real child process: a grouped call is answered as a call of its own."""
    import asyncio

    url = f"sqlite:///{tmp_path / 'hashcheck.db'}"
    migrated(url)
    calls = process.StoreProcess(functools.partial(open_store, url), "test-group")

    async def both() -> tuple[Any, Any]:
        return await asyncio.gather(
            calls.call(group_of, "x", grouped=True),
            calls.call(group_of, "replay", grouped=True),
            return_exceptions=True,
        )

    try:
        ok, refused = asyncio.run(both())
    finally:
        calls.close()
    assert ok[0] == "x" and ok[1] in (1, 2)
    assert isinstance(refused, Conflict) and isinstance(refused, StoreError)
