"""PDQ searches in child processes (`node.searchers`): the same answers as the worker's own
search, in processes at a lower CPU priority that die with the worker; a search they cannot
answer (a state gone from shared memory, a killed process) falls back to the worker, never
to a wrong answer; and a real server answers batches the same with them as without."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hashcheck.index.perceptual import Found, PdqEntries, Perceptual
from hashcheck.node.pdqshare import SHARED_MEMORY, PdqShare
from hashcheck.node.searchers import NICENESS, PdqSearchers
from tests.pdq_reference import PDQ_OF
from tests.support import Deployment, list_perceptual, make_deployment, serve, v2_check

THRESHOLD = 31


def near_copy(bits: bytes, flips: int, rng: np.random.Generator) -> bytes:
    value = int.from_bytes(bits, "big")
    for bit in rng.choice(256, size=flips, replace=False):
        value ^= 1 << int(bit)
    return value.to_bytes(32, "big")


@pytest.fixture
def stored() -> list[bytes]:
    rng = np.random.default_rng(14)
    return [rng.bytes(32) for _ in range(3000)]


@pytest.fixture
def share(stored: list[bytes]) -> Iterator[PdqShare]:
    assert SHARED_MEMORY.is_dir(), "no /dev/shm on this machine"
    shared = PdqShare(SHARED_MEMORY / f"hashcheck-test-{secrets.token_hex(8)}")
    try:
        yield shared
    finally:
        shared.leave()
        assert not shared.folder.exists()


@pytest.fixture
def entries(share: PdqShare, stored: list[bytes]) -> PdqEntries:
    items = {k: Perceptual(bits, slot=0) for k, bits in enumerate(stored)}
    return share.shared(items)


def queries_for(stored: list[bytes], count: int) -> bytes:
    """Random hashes, near copies (0 to 40 bits away) of stored ones, and repeats."""
    rng = np.random.default_rng(7)
    picked = [
        near_copy(stored[int(rng.integers(len(stored)))], int(rng.integers(41)), rng)
        if k % 2
        else rng.bytes(32)
        for k in range(count)
    ]
    return b"".join(picked + picked[:50])


def expected(entries: PdqEntries, queries: bytes) -> list[list[tuple[int, int]]]:
    return [
        [(n.position, n.distance) for n in entries.index.search(queries[k : k + 32], THRESHOLD)]
        for k in range(0, len(queries), 32)
    ]


def expected_hits(entries: PdqEntries, query: bytes) -> list[tuple[int, int, int]]:
    owners = [int(entries.owners[n.position]) for n in entries.index.search(query, THRESHOLD)]
    distances = [n.distance for n in entries.index.search(query, THRESHOLD)]
    return [
        (int(entries.item_ids[o]), int(entries.slots[o]), d)
        for o, d in zip(owners, distances, strict=True)
    ]


def answered(found: Found, queries: bytes) -> list[list[tuple[int, int]]]:
    answers = []
    for k in range(0, len(queries), 32):
        near = found.near(queries[k : k + 32], THRESHOLD)
        assert near is not None
        answers.append([(n.position, n.distance) for n in near])
    return answers


def children_of(pid: int | str = "self") -> set[int]:
    """Every child process of ``pid``, whichever of its threads started it."""
    pids: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        pids.update(int(p) for p in (task / "children").read_text().split())
    return pids


def spawned_children(pid: int | str = "self") -> set[int]:
    """The children of ``pid`` that are search processes (not multiprocessing's tracker)."""
    return {p for p in children_of(pid) if b"spawn_main" in command_line(p)}


def command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return b""


def niceness(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[16])  # field 19 of stat(5), counted after the command's name


def wait_gone(pids: set[int], deadline: float = 20.0) -> set[int]:
    """Wait (on pidfds, no polling) until each of ``pids`` has exited; those still alive."""
    handles = {}
    for pid in pids:
        try:
            handles[os.pidfd_open(pid)] = pid
        except ProcessLookupError:
            continue
    poller = select.poll()
    for fd in handles:
        poller.register(fd, select.POLLIN)
    remaining = dict(handles)
    try:
        while remaining:
            ready = poller.poll(deadline * 1000)
            if not ready:
                break
            for fd, _ in ready:
                poller.unregister(fd)
                remaining.pop(fd, None)
    finally:
        for fd in handles:
            os.close(fd)
    return set(remaining.values())


def test_processes_answer_as_the_index_does_at_lower_priority(
    entries: PdqEntries, stored: list[bytes]
) -> None:
    searchers = PdqSearchers(2)
    try:
        assert searchers.usable(entries)
        wanted = queries_for(stored, 600)
        found = asyncio.run(searchers.search(entries, wanted, THRESHOLD))
        assert found is not None
        want = expected(entries, wanted)
        assert answered(found, wanted) == want
        assert sum(map(len, want)) > 100  # near copies were found, not only misses
        # A batch split in two shares, each searched by a process of its own, at nice +10.
        children = spawned_children()
        assert len(children) == 2
        assert {niceness(p) for p in children} == {os.getpriority(os.PRIO_PROCESS, 0) + NICENESS}
        # The entries answer from what was found, and as the index does for other queries.
        with_found = entries.with_found(found)
        some = wanted[32 * 7 : 32 * 8]
        assert with_found.search(some, THRESHOLD) == entries.search(some, THRESHOLD)
        assert found.near(some, THRESHOLD - 1) is None  # searched at another threshold
    finally:
        searchers.close()
    assert wait_gone(children) == set()


def test_a_small_batch_or_a_private_index_is_searched_by_the_worker(
    entries: PdqEntries, stored: list[bytes]
) -> None:
    searchers = PdqSearchers(2)
    private = PdqEntries.build({0: Perceptual(b"\x01" * 32, slot=0)})
    try:
        assert not searchers.usable(private)
        assert asyncio.run(searchers.search(private, b"\x01" * 32, THRESHOLD)) is None
        assert not PdqSearchers(0).usable(entries)
        # Below two shares' worth, one process answers the whole batch.
        few = queries_for(stored, 20)
        found = asyncio.run(searchers.search(entries, few, THRESHOLD))
        assert found is not None and answered(found, few) == expected(entries, few)
        assert len(spawned_children()) == 1
    finally:
        searchers.close()


def test_a_state_gone_from_shared_memory_is_searched_by_the_worker(
    share: PdqShare, entries: PdqEntries, stored: list[bytes]
) -> None:
    # A newer state written: the older one's folder is removed (the worker still maps it).
    share.shared({k: Perceptual(bits, slot=0) for k, bits in enumerate(stored[:100])})
    assert not Path(entries.origin).exists()
    searchers = PdqSearchers(2)
    try:
        wanted = queries_for(stored, 200)
        assert asyncio.run(searchers.search(entries, wanted, THRESHOLD)) is None
        # The worker's own mapping still answers: the app searches there instead.
        assert entries.search(wanted[32:64], THRESHOLD) == expected_hits(entries, wanted[32:64])
    finally:
        searchers.close()


def test_a_killed_process_is_replaced_and_never_answers_wrongly(
    entries: PdqEntries, stored: list[bytes]
) -> None:
    searchers = PdqSearchers(2)
    wanted = queries_for(stored, 400)
    want = expected(entries, wanted)
    try:
        first = asyncio.run(searchers.search(entries, wanted, THRESHOLD))
        assert first is not None and answered(first, wanted) == want
        victims = spawned_children()
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        assert wait_gone(victims) == set()
        # The batch that meets the dead pool is the worker's to search; the next is theirs.
        broken = asyncio.run(searchers.search(entries, wanted, THRESHOLD))
        assert broken is None or answered(broken, wanted) == want
        again = asyncio.run(searchers.search(entries, wanted, THRESHOLD))
        assert again is not None and answered(again, wanted) == want
        assert spawned_children().isdisjoint(victims) and spawned_children()
    finally:
        searchers.close()


_ORPHANED = """
import asyncio, sys
import numpy as np
from pathlib import Path
from hashcheck.node.pdqshare import PdqShare
from hashcheck.index.perceptual import Perceptual
from hashcheck.node.searchers import PdqSearchers
share = PdqShare(Path(sys.argv[1]))
rng = np.random.default_rng(1)
entries = share.shared({k: Perceptual(rng.bytes(32), slot=0) for k in range(500)})
searchers = PdqSearchers(2)
found = asyncio.run(searchers.search(entries, rng.bytes(32 * 400), 31))
print("searched" if found is not None else "not searched", flush=True)
sys.stdin.read()
"""


def test_processes_die_with_their_worker(tmp_path: Path) -> None:
    folder = SHARED_MEMORY / f"hashcheck-test-{secrets.token_hex(8)}"
    worker = subprocess.Popen(
        [sys.executable, "-c", _ORPHANED, str(folder)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "searched"
        children = children_of(worker.pid)
        assert len(spawned_children(worker.pid)) == 2
        worker.kill()  # SIGKILL: no shutdown code runs in the worker
        worker.wait(timeout=20)
        # Every process it started goes with it (multiprocessing's tracker too).
        assert wait_gone(children) == set()
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=20)
        PdqShare(folder).remove_if_abandoned()
    assert not folder.exists()


@pytest.fixture
def perceptual_deployment(sqlite_url: str, tmp_path: Path) -> Deployment:
    deployed = make_deployment(sqlite_url, tmp_path)
    rng = np.random.default_rng(3)
    images = tmp_path / "images.pdq"
    extra = [rng.bytes(32).hex() for _ in range(300)]
    images.write_text("\n".join([*PDQ_OF.values(), *extra]) + "\n")
    list_perceptual(deployed, images)
    videos = tmp_path / "videos.vpdq"
    lines = [
        json.dumps([f"{rng.bytes(32).hex()},100,{s}.000" for s in range(5)]) for _ in range(20)
    ]
    videos.write_text("\n".join(lines) + "\n")
    list_perceptual(deployed, videos, videos=True)
    return deployed


def test_a_server_answers_the_same_with_and_without_processes(
    perceptual_deployment: Deployment, tmp_path: Path
) -> None:
    rng = np.random.default_rng(5)
    references = [bytes.fromhex(h) for h in PDQ_OF.values()]
    images = [
        {"algorithm": "pdq", "hash": near_copy(r, int(rng.integers(30)), rng).hex()}
        for r in references
        for _ in range(3)
    ] + [{"algorithm": "pdq", "hash": rng.bytes(32).hex()} for _ in range(200)]
    videos_file = (tmp_path / "videos.vpdq").read_text().splitlines()
    stored_frames = json.loads(videos_file[0])
    video = {
        "algorithm": "vpdq",
        "frames": [
            f"{near_copy(bytes.fromhex(f.split(',')[0]), 6, rng).hex()},100,{s}.000"
            for s, f in enumerate(stored_frames)
        ],
    }
    batch: list[dict[str, Any]] = [*images, video, {"algorithm": "md5", "hash": "0" * 32}]
    bodies = []
    for processes in (2, 0):
        before = spawned_children()
        for server in serve(
            perceptual_deployment,
            index_dir=tmp_path / f"index-{processes}",
            perceptual_processes=processes,
        ):
            bodies.append(v2_check(server, perceptual_deployment, batch))
            started = spawned_children() - before
            assert len(started) == processes
        assert wait_gone(started) == set()  # stopped with the server
    with_processes, without = bodies
    assert with_processes == without
    results = with_processes["results"]
    assert sum(r["match"] for r in results) >= len(references)
    assert results[-2]["match"] is True  # the video near copy
