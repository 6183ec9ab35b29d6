"""PDQ searches in processes of their own, at a lower CPU priority than the worker.

A PDQ query is milliseconds of Python and small numpy calls, holding the GIL between them; run
on a worker's threads, a batch of ten thousand made the event loop wait for the interpreter,
and a cheap legacy check's p99 rose 1.5-8x. Here a batch is searched by child processes that
map the same shared-memory index files as the workers (`node.pdqshare`), read-only, at nice
+10, so the kernel runs a worker's cheap check ahead of them.

Owns the processes' lifetime (started at the first search, stopped with the worker; a child
dies with its parent) and what crosses the pipe: the queries' hashes and, back, positions and
distances. Hashes travel in memory only, never to disk or a log. Knows nothing of clients,
grants or HTTP: mapping positions to items is the caller's (`index.perceptual`).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import threading
from collections import OrderedDict
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np
import numpy.typing as npt

from hashcheck.index.perceptual import Found, PdqEntries
from hashcheck.pdq.algorithm import HASH_BYTES
from hashcheck.pdq.index import ARRAY_NAMES, PdqIndex
from hashcheck.store.process import as_child

log = logging.getLogger("hashcheck.searchers")

NICENESS = 10
# Fewer queries than this are not worth a process's round trip (about a millisecond).
SMALLEST_SHARE = 64
# A child maps only the state it searched last: an older one's pages, removed from shared
# memory when a newer one was written, are freed once no process maps them.
_OPEN_STATES = 1
_INDEX_FILES = ARRAY_NAMES

# (per query: how many found; their positions; their distances), in the index's order
Answer = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]


class PdqSearchers:
    """Up to ``processes`` child processes searching one worker's PDQ index states."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None
        self._guard = threading.Lock()
        self._closed = False

    def usable(self, entries: PdqEntries) -> bool:
        """Whether ``entries`` can be searched here: only a state in shared memory can."""
        return self.processes > 0 and bool(entries.origin) and len(entries.index) > 0

    async def search(self, entries: PdqEntries, queries: bytes, threshold: int) -> Found | None:
        """Every query's near stored hashes, as ``entries.index.search`` answers them; None
        when the processes could not answer (the caller then searches itself)."""
        count = len(queries) // HASH_BYTES
        if not count or not self.usable(entries):
            return None
        shares = max(1, min(self.processes, count // SMALLEST_SHARE))
        step = -(-count // shares) * HASH_BYTES
        try:
            futures = [
                self._submit(entries.origin, queries[start : start + step], threshold)
                for start in range(0, len(queries), step)
            ]
            answers = await asyncio.gather(*(asyncio.wrap_future(f) for f in futures))
        except asyncio.CancelledError:
            raise
        except BrokenProcessPool:
            log.warning("a PDQ search process died; restarting them, this batch searched here")
            self._restart()
            return None
        except Exception as exc:
            log.warning("PDQ search processes failed (%s); this batch searched here", exc)
            return None
        counts = np.concatenate([a[0] for a in answers])
        positions = np.concatenate([a[1] for a in answers])
        distances = np.concatenate([a[2] for a in answers])
        return Found(threshold, queries, counts, positions, distances)

    def _submit(self, origin: str, queries: bytes, threshold: int) -> Future[Answer]:
        with self._guard:
            if self._closed:
                raise RuntimeError("the PDQ search processes are stopped")
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    self.processes,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_child_start,
                )
            return self._pool.submit(_search, origin, queries, threshold)

    def _restart(self) -> None:
        with self._guard:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        """Stop the processes (a worker's stop); searches still running are abandoned."""
        with self._guard:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _child_start() -> None:
    """In each child: lower priority, die with the worker, leave Ctrl-C to the parent."""
    as_child(NICENESS)


_opened: OrderedDict[str, PdqIndex] = OrderedDict()


def _search(origin: str, queries: bytes, threshold: int) -> Answer:
    """In a child: search the index state at ``origin`` (a shared-memory folder)."""
    index = _opened.get(origin)
    if index is None:
        folder = Path(origin)
        present = [name for name in _INDEX_FILES if (folder / f"{name}.npy").exists()]
        named = {name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in present}
        index = PdqIndex.from_arrays(named)
        _opened[origin] = index
        while len(_opened) > _OPEN_STATES:
            _opened.popitem(last=False)
    else:
        _opened.move_to_end(origin)
    return index.search_arrays(queries, threshold)
