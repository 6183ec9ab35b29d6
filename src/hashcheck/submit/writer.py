"""New self-submission cases written to the store by a process of its own, at a lower CPU
priority than the worker.

Storing a case is a transaction of a few dozen statements, milliseconds of Python holding the
interpreter between them; run on a worker's thread at 200 cases a second, a cheap check on the
event loop waited for the interpreter, and its p99 rose several times over. Here the writes run
in a child process with its own store connection, at nice +10, so the worker's interpreter
holds only the HTTP work and the kernel runs the worker's checks first.

Owns that process's lifetime (started at the first case, stopped with the worker; the child
dies with its parent) and what crosses the pipe: a case's keyed digests and sealed hashes, its
PIN's slow hash, and back the stored case. Nothing of the submitter crosses it. Reads, and
the rare withdrawal, stay on the worker's own store thread (`api.submissions`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from hashcheck.store.errors import AlreadyExists, Conflict, StoreError
from hashcheck.store.interface import Store
from hashcheck.store.records import NewSubmission, SubmissionRecord

log = logging.getLogger("hashcheck.submissions")
NICENESS = 10
_PR_SET_PDEATHSIG = 1

# What a child answers: the stored case, or why not ("exists": the case number is taken;
# "replay": the nonce was seen; "failed": the store refused, with its words).
Answer = tuple[str, SubmissionRecord | None, str]


class StoreUnavailable(Exception):
    """The case could not be stored (the store failed, or the writer process died): nothing
    was kept, and the submitter may try again."""


class CaseWriter:
    """One child process adding cases through a store connection of its own."""

    def __init__(self, open_store: Callable[[], Store]) -> None:
        self._open_store = open_store  # must pickle: it is called in the child
        self._pool: ProcessPoolExecutor | None = None
        self._guard = threading.Lock()
        self._closed = False

    async def add(self, submission: NewSubmission) -> SubmissionRecord:
        """Store ``submission`` whole or not at all; raises `AlreadyExists` for a case number
        already taken, `Conflict` for a nonce already seen, `StoreUnavailable` otherwise."""
        try:
            state, record, reason = await asyncio.wrap_future(self._submit(submission))
        except asyncio.CancelledError:
            raise
        except BrokenProcessPool:
            log.warning("the submission writer process died; starting another")
            self._restart()
            raise StoreUnavailable("the writer process died") from None
        except Exception as exc:
            log.exception("the submission writer failed")
            raise StoreUnavailable(str(exc)) from None
        if state == "exists":
            raise AlreadyExists(reason)
        if state == "replay":
            raise Conflict(reason)
        if state != "stored" or record is None:
            log.warning("submission store request failed: %s", reason)
            raise StoreUnavailable(reason)
        return record

    @property
    def process_ids(self) -> list[int]:
        """The writer process's id while it runs (for monitoring and tests)."""
        with self._guard:
            pool = self._pool
        # The executor keeps its processes by id and offers no public view of them.
        processes = getattr(pool, "_processes", None) or {}
        return sorted(processes)

    def _submit(self, submission: NewSubmission) -> Future[Answer]:
        with self._guard:
            if self._closed:
                raise RuntimeError("the submission writer is stopped")
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    1,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_child_start,
                    initargs=(self._open_store,),
                )
            return self._pool.submit(_add, submission)

    def _restart(self) -> None:
        with self._guard:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        """Stop the process (a worker's stop), after the case it is writing."""
        with self._guard:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


class _Child:
    """What the child process keeps between cases."""

    opener: Callable[[], Store] | None = None
    store: Store | None = None


_child = _Child()


def _child_start(open_store: Callable[[], Store]) -> None:
    """In the child: lower priority, die with the worker, leave Ctrl-C to the parent."""
    os.nice(NICENESS)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() == 1:  # the worker died before the above took hold
        os._exit(1)
    _child.opener = open_store


def _add(submission: NewSubmission) -> Answer:
    """In the child: one case, in one transaction."""
    if _child.store is None:
        assert _child.opener is not None
        try:
            _child.store = _child.opener()
        except Exception as exc:  # an unreachable or missing store: reported, tried again
            return "failed", None, f"cannot open the store: {exc}"
    try:
        return "stored", _child.store.add_submission(submission), ""
    except AlreadyExists as exc:
        return "exists", None, str(exc)
    except Conflict as exc:
        return "replay", None, str(exc)
    except StoreError as exc:
        # The connection may be what failed: the next case opens a new one.
        store, _child.store = _child.store, None
        if store is not None:
            with contextlib.suppress(Exception):
                store.close()
        return "failed", None, str(exc)
