"""Keyed digests of large imports computed in worker processes, one per core.

The keyed digest is most of an import's Python work and runs under the GIL, so large files
spread it over processes (forked, so the key never travels through a pipe). Small files do
not pay for the pool.
"""

from __future__ import annotations

import collections
import multiprocessing
import os
from collections.abc import Iterator
from multiprocessing.pool import AsyncResult, Pool
from typing import Any

import numpy as np

from hashcheck.hashes.algorithms import EMPTY_FILE, Algorithm
from hashcheck.hashes.keyed import DIGEST_BYTES, HMAC_BYTES, Digester

# Worth forking for: below this many bytes of list the pool costs more than it saves.
PARALLEL_FROM_BYTES = 32 << 20

_digester: Digester | None = None


def _start(digester: Digester) -> None:
    global _digester  # noqa: PLW0603 - the one per-process state of a pool worker
    _digester = digester


def digest_run(digester: Digester, algorithm: Algorithm, packed: bytes) -> tuple[bytes, int]:
    """Keyed digests of packed raw hashes (empty-file hashes left out) and how many were."""
    size = algorithm.hex_length // 2
    if len(packed) % size:
        raise ValueError(f"packed {algorithm.value} hashes must be {size} bytes each")
    dropped = 0
    if packed.find(EMPTY_FILE[algorithm]) >= 0:  # rare: filter only when it is there at all
        raws = [packed[i : i + size] for i in range(0, len(packed), size)]
        kept = [raw for raw in raws if raw != EMPTY_FILE[algorithm]]
        packed, dropped = b"".join(kept), len(raws) - len(kept)
    fulls = digester.joined(algorithm, [packed[i : i + size] for i in range(0, len(packed), size)])
    digests = np.frombuffer(fulls, dtype=np.uint8).reshape(-1, HMAC_BYTES)[:, :DIGEST_BYTES]
    return digests.tobytes(), dropped


def _work(algorithm: str, packed: bytes) -> tuple[bytes, int]:
    assert _digester is not None
    return digest_run(_digester, Algorithm(algorithm), packed)


class RunDigester:
    """Digests runs in order, in worker processes when there are cores to spare."""

    def __init__(self, digester: Digester, *, parallel: bool) -> None:
        self._digester = digester
        workers = min(os.cpu_count() or 1, 4)
        self._pool: Pool | None = None
        if parallel and workers > 1 and "fork" in multiprocessing.get_all_start_methods():
            context = multiprocessing.get_context("fork")
            self._pool = context.Pool(workers, initializer=_start, initargs=(digester,))
        self._pending: collections.deque[tuple[Any, AsyncResult[tuple[bytes, int]]]] = (
            collections.deque()
        )
        self._limit = 2 * workers

    def submit(
        self, tag: Any, algorithm: Algorithm, packed: bytes
    ) -> Iterator[tuple[Any, bytes, int]]:
        """Queue a run; yields (tag, digests, empty-file hashes dropped) of finished ones."""
        if self._pool is None:
            yield (tag, *digest_run(self._digester, algorithm, packed))
            return
        self._pending.append((tag, self._pool.apply_async(_work, (algorithm.value, packed))))
        while len(self._pending) > self._limit:
            done_tag, result = self._pending.popleft()
            yield (done_tag, *result.get())

    def drain(self) -> Iterator[tuple[Any, bytes, int]]:
        while self._pending:
            tag, result = self._pending.popleft()
            yield (tag, *result.get())

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def __enter__(self) -> RunDigester:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
