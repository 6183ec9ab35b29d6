"""Store calls made in a process of the caller's own, with a store connection of its own,
awaited from an event loop.

A store call is milliseconds of Python holding the interpreter between its statements; run
on a worker's thread beside a saturated event loop, each hand-over of the interpreter cost the
loop more than the call itself (17 client actions a second took 4% of a node's checks, their
CPU time 1.2%). Here the worker's loop only writes the call to a socket and reads back its
result: no thread of the worker takes part. In the child the calls run one at a time on one
thread at nice +10; a call may first prepare its arguments on threads that run only on a core
otherwise idle (SCHED_IDLE: a slow hash that must not delay a check).

Owns that process's lifetime (started at the first call, stopped with the caller; the child
dies with its parent, and one that dies fails the calls it held with `StoreUnavailable` and is
replaced at the next call) and the wire between them. The store's own refusals (`NotFound`,
`Gone`, `Invalid`, `Conflict`, `AlreadyExists`) are raised in the caller as they were raised
in the child. Calls and results cross as pickles: the peer is this process's own child.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import itertools
import logging
import multiprocessing
import os
import pickle
import signal
import socket
import struct
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.process import BaseProcess
from typing import Any

from hashcheck.store import errors
from hashcheck.store.interface import Store

log = logging.getLogger("hashcheck.store")
NICENESS = 10
IDLE_THREADS = 2
STOP_SECONDS = 10.0
_PR_SET_PDEATHSIG = 1
_FRAME = struct.Struct("!I")
# The refusals that cross as themselves; any other failure is the store being unavailable.
_REFUSALS: dict[str, type[errors.StoreError]] = {
    kind.__name__: kind
    for kind in (
        errors.NotFound,
        errors.Gone,
        errors.Invalid,
        errors.Conflict,
        errors.AlreadyExists,
    )
}
Operation = str | Callable[..., Any]  # a Store method's name, or f(store, *args)


class StoreUnavailable(errors.StoreError):
    """The call could not be made (the store failed, or the process died); nothing of it was
    kept, and the caller may try again."""


class StoreProcess:
    """One child process making store calls through a connection of its own. `call` is made
    on one event loop only; `close` from any thread."""

    def __init__(self, open_store: Callable[[], Store], name: str) -> None:
        self._open_store = open_store  # must pickle: it is called in the child
        self._name = name
        self._numbers = itertools.count()
        self._waiting: dict[int, asyncio.Future[tuple[str, Any]]] = {}
        self._starting = asyncio.Lock()
        self._process: BaseProcess | None = None
        self._socket: socket.socket | None = None
        self._stream: asyncio.StreamWriter | None = None
        self._reading: asyncio.Task[None] | None = None
        self._guard = threading.Lock()
        self._closed = False

    async def call(
        self, operation: Operation, *args: Any, prepare: Callable[..., Any] | None = None
    ) -> Any:
        """``operation`` made in the child: ``store.<operation>(*args)`` for a name, else
        ``operation(store, *args)``; with ``prepare``, on ``prepare(*args)`` instead of
        ``args`` (a tuple), worked out first on an idle-priority thread."""
        stream = await self._started()
        number = next(self._numbers)
        answer: asyncio.Future[tuple[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[number] = answer
        try:
            frame = pickle.dumps((number, operation, args, prepare), pickle.HIGHEST_PROTOCOL)
            stream.write(_FRAME.pack(len(frame)) + frame)
            await stream.drain()
            kind, value = await answer
        except (ConnectionError, OSError) as exc:
            raise StoreUnavailable(f"the {self._name} process is gone: {exc}") from None
        finally:
            self._waiting.pop(number, None)
        if kind == "ok":
            return value
        refusal = _REFUSALS.get(kind)
        if refusal is not None:
            raise refusal(value)
        raise StoreUnavailable(value)

    @property
    def process_ids(self) -> list[int]:
        """The process's id while it runs (for monitoring and tests)."""
        process = self._process
        if process is None or process.pid is None or not process.is_alive():
            return []
        return [process.pid]

    @property
    def in_flight(self) -> int:
        """Calls sent to the process and not yet answered."""
        return len(self._waiting)

    async def _started(self) -> asyncio.StreamWriter:
        async with self._starting:
            if self._closed:
                raise StoreUnavailable(f"the {self._name} process is stopped")
            if self._stream is not None and not self._stream.is_closing():
                return self._stream
            ours, theirs = socket.socketpair()
            process = multiprocessing.get_context("spawn").Process(
                target=_child_main,
                args=(theirs, self._open_store),
                name=f"hashcheck-{self._name}",
                daemon=True,
            )
            try:
                # Off the loop: starting an interpreter is some milliseconds of fork and exec.
                await asyncio.to_thread(process.start)
            except Exception as exc:
                ours.close()
                log.exception("could not start the %s process", self._name)
                raise StoreUnavailable(f"cannot start the {self._name} process: {exc}") from None
            finally:
                theirs.close()
            reader, stream = await asyncio.open_unix_connection(sock=ours)
            with self._guard:
                self._process, self._socket, self._stream = process, ours, stream
            # Kept: the loop holds its tasks only weakly.
            self._reading = asyncio.get_running_loop().create_task(
                self._read(reader, process, stream)
            )
            return stream

    async def _read(
        self, reader: asyncio.StreamReader, process: BaseProcess, stream: asyncio.StreamWriter
    ) -> None:
        """Hand each result to the call waiting for it until the process is gone; then fail
        what still waits and let the next call start another process."""
        try:
            while True:
                (length,) = _FRAME.unpack(await reader.readexactly(_FRAME.size))
                number, kind, value = pickle.loads(await reader.readexactly(length))  # noqa: S301
                waiting = self._waiting.get(number)
                if waiting is not None and not waiting.done():
                    waiting.set_result((kind, value))
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        except Exception:
            log.exception("a result of the %s process could not be read", self._name)
        stream.close()
        if not self._closed:
            log.warning("the %s process stopped; the next call starts another", self._name)
        for waiting in list(self._waiting.values()):
            if not waiting.done():
                waiting.set_exception(StoreUnavailable(f"the {self._name} process died"))
        await asyncio.to_thread(process.join, STOP_SECONDS)

    def close(self) -> None:
        """Stop the process after the calls it holds."""
        with self._guard:
            self._closed = True
            process, sock = self._process, self._socket
        if sock is not None:
            # The child reads the end of its input, finishes what it holds and leaves.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_WR)
        if process is not None:
            process.join(STOP_SECONDS)
            if process.is_alive():
                process.kill()
                process.join(STOP_SECONDS)


def idle_priority() -> None:
    """This thread only (Linux scheduling policies are per thread): SCHED_IDLE, else nice
    +19; where neither can be had, as it is."""
    thread = threading.get_native_id()
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setscheduler(thread, os.SCHED_IDLE, os.sched_param(0))
        return
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, thread, 19)


# -- the child ------------------------------------------------------------------------------


def as_child(niceness: int) -> None:
    """In a worker's child process (this one's and `node.searchers`'): lower priority, die
    with the worker, leave Ctrl-C to the worker."""
    os.nice(niceness)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() == 1:  # the worker died before the above took hold
        os._exit(1)


def _child_main(sock: socket.socket, open_store: Callable[[], Store]) -> None:
    """In the child: as a child; then make calls until the parent closes the socket."""
    as_child(NICENESS)
    _Child(sock, open_store).run()


class _Child:
    def __init__(self, sock: socket.socket, open_store: Callable[[], Store]) -> None:
        self._sock = sock
        self._input = sock.makefile("rb")
        self._sending = threading.Lock()
        self._open_store = open_store
        self._store: Store | None = None
        self._storing = ThreadPoolExecutor(1)
        # Started here, so that it takes this thread's priority, not an idle thread's.
        self._storing.submit(lambda: None).result()
        self._preparing = ThreadPoolExecutor(IDLE_THREADS, initializer=idle_priority)

    def run(self) -> None:
        try:
            while (head := self._input.read(_FRAME.size)) and len(head) == _FRAME.size:
                (length,) = _FRAME.unpack(head)
                number, operation, args, prepare = pickle.loads(self._input.read(length))  # noqa: S301
                if prepare is None:
                    self._storing.submit(self._make, number, operation, args)
                else:
                    self._preparing.submit(self._prepare, number, operation, args, prepare)
        finally:
            self._preparing.shutdown()
            self._storing.shutdown()
            if self._store is not None:
                with contextlib.suppress(Exception):
                    self._store.close()
            self._sock.close()

    def _prepare(
        self, number: int, operation: Operation, args: tuple[Any, ...], prepare: Callable[..., Any]
    ) -> None:
        try:
            prepared = prepare(*args)
            self._storing.submit(self._make, number, operation, prepared)
        except Exception as exc:  # a stopped pool at the end: answered, never left waiting
            self._reply(number, "failed", f"cannot prepare the call: {exc}")

    def _make(self, number: int, operation: Operation, args: tuple[Any, ...]) -> None:
        try:
            store = self._connected()
            if isinstance(operation, str):
                value = getattr(store, operation)(*args)
            else:
                value = operation(store, *args)
        except tuple(_REFUSALS.values()) as exc:
            self._reply(number, type(exc).__name__, str(exc))
            return
        except errors.StoreError as exc:
            # The connection may be what failed: the next call opens a new one.
            failed, self._store = self._store, None
            if failed is not None:
                with contextlib.suppress(Exception):
                    failed.close()
            self._reply(number, "failed", str(exc))
            return
        except Exception as exc:
            log.exception("a store call failed")
            self._reply(number, "failed", f"{type(exc).__name__}: {exc}")
            return
        self._reply(number, "ok", value)

    def _connected(self) -> Store:
        if self._store is None:
            try:
                self._store = self._open_store()
            except Exception as exc:  # an unreachable or missing store: reported, tried again
                raise errors.StoreError(f"cannot open the store: {exc}") from None
        return self._store

    def _reply(self, number: int, kind: str, value: Any) -> None:
        frame = pickle.dumps((number, kind, value), pickle.HIGHEST_PROTOCOL)
        with self._sending, contextlib.suppress(OSError):
            self._sock.sendall(_FRAME.pack(len(frame)) + frame)
