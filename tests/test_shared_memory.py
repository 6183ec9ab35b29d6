"""A node's PDQ hashes in shared memory live as long as the node: a real `hashcheck serve`
stopped with SIGTERM leaves no /dev/shm folder, whatever its number of workers, and what a
crashed run left there is cleared when the node starts again."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest

from hashcheck.admin import importing
from hashcheck.hashes.keyed import Digester
from hashcheck.hashes.sealing import Sealer
from hashcheck.node.runtime import Node
from tests.pdq_reference import PDQ_OF
from tests.support import Deployment, make_deployment
from tests.test_serve import free_port


@pytest.fixture
def deployment(sqlite_url: str, tmp_path: Path) -> Deployment:
    deployed = make_deployment(sqlite_url, tmp_path)
    source = tmp_path / "pdq.txt"
    source.write_text(PDQ_OF["aaa-orig.jpg"] + "\n")
    store = deployed.store()
    try:
        importing.import_pdq_file(
            store,
            Digester(deployed.key),
            Sealer(deployed.key),
            "police",
            source,
            actor="t",
            category="baseline",
        )
    finally:
        store.close()
    return deployed


def node_folder(deployment: Deployment, index_dir: Path) -> Path:
    """The shared-memory folder of the node that serves ``deployment`` from ``index_dir``."""
    node = Node(deployment.store(), deployment.key, index_dir=index_dir)
    try:
        assert node.pdq_share is not None, "no /dev/shm on this machine"
        return node.pdq_share.folder
    finally:
        node.store.close()


class Served:
    """`hashcheck serve` in its own process; its log lines, as they come, in a queue."""

    def __init__(self, deployment: Deployment, index_dir: Path, workers: int) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HASHCHECK_")}
        env |= {
            "HASHCHECK_DATABASE_URL": deployment.url,
            "HASHCHECK_KEY_FILE": str(deployment.key_file),
            "HASHCHECK_INDEX_DIR": str(index_dir),
            "HASHCHECK_LOG_LEVEL": "info",
        }
        executable = str(Path(sys.executable).with_name("hashcheck"))
        self.process = subprocess.Popen(
            [executable, "serve", "--port", str(free_port()), "--workers", str(workers)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        assert self.process.stderr is not None
        self._reader = threading.Thread(target=self._read, args=(self.process.stderr,))
        self._reader.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for_workers(self, count: int, deadline: float = 60.0) -> None:
        """Until ``count`` workers say they are ready (each has its PDQ index by then)."""
        ready, until = 0, time.monotonic() + deadline
        seen: list[str] = []
        while ready < count:
            try:
                line = self.lines.get(timeout=max(0.0, until - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"{ready} of {count} workers ready: {''.join(seen)}")
            assert line is not None, f"serve exited: {''.join(seen)}"
            seen.append(line)
            ready += "hashcheck.follower: ready:" in line

    def stop(self, how: signal.Signals) -> tuple[int, str]:
        """Send ``how``; the exit status and what the process logged since the last wait."""
        self.process.send_signal(how)
        try:
            code = self.process.wait(timeout=30)
        finally:
            self._reader.join(timeout=30)
        rest: list[str] = []
        while (line := self.lines.get_nowait()) is not None:
            rest.append(line)
        return code, "".join(rest)

    def close(self) -> None:
        if self.process.poll() is None:
            self.stop(signal.SIGKILL)


@pytest.fixture
def start(deployment: Deployment, tmp_path: Path) -> Iterator[Callable[[int], Served]]:
    """Starts `hashcheck serve` with so many workers; kills what a test did not stop."""
    started: list[Served] = []

    def starter(workers: int) -> Served:
        started.append(Served(deployment, tmp_path / "index", workers))
        return started[-1]

    yield starter
    for served in started:
        served.close()


@pytest.mark.parametrize("workers", [1, 2])
def test_a_graceful_stop_removes_the_shared_memory_folder(
    deployment: Deployment, tmp_path: Path, start: Callable[[int], Served], workers: int
) -> None:
    folder = node_folder(deployment, tmp_path / "index")
    served = start(workers)
    served.wait_for_workers(workers)
    (state,) = [p for p in folder.iterdir() if p.is_dir()]
    assert (state / "done").exists()  # the PDQ hashes, in the clear, while the node runs
    code, log = served.stop(signal.SIGTERM)
    # One worker: uvicorn raises the signal again once it has shut down, as its default does.
    assert code in (0, -signal.SIGTERM), log
    assert log.count("Application shutdown complete.") == workers, log
    assert not folder.exists()


def test_a_crashed_runs_leftovers_are_cleared_on_the_next_start(
    deployment: Deployment, tmp_path: Path, start: Callable[[int], Served]
) -> None:
    folder = node_folder(deployment, tmp_path / "index")
    served = start(1)
    served.wait_for_workers(1)
    assert served.stop(signal.SIGKILL)[0] == -signal.SIGKILL
    (left,) = [p for p in folder.iterdir() if p.is_dir()]  # nobody removed it
    node = Node(deployment.store(), deployment.key, index_dir=tmp_path / "index")
    assert node.pdq_share is not None
    node.pdq_share.join_if_present()  # what a starting worker does first
    assert not left.exists()
    node.stop()
    assert not folder.exists()
