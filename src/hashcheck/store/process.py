"""Store calls made in a process of the caller's own, with a store connection of its own,
awaited from an event loop.

A store call is milliseconds of Python holding the interpreter between its statements; run
on a worker's thread beside a saturated event loop, each hand-over of the interpreter cost the
loop more than the call itself (17 client actions a second took 4% of a node's checks, their
CPU time 1.2%). Here the worker's loop only writes the call to a socket and reads back its
result: no thread of the worker takes part. In the child the calls run one at a time on one
thread at nice +10; a call may first prepare its arguments on threads that run only on a core
otherwise idle (SCHED_IDLE: a slow hash that must not delay a check). Calls of a grouped
operation that wait together are made as one (a group commit: a commit writes every page it
touched to the log, 1.1 ms with 64 KiB pages, while a self-submitted case is 0.3 ms of rows).

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
import queue
import signal
import socket
import struct
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Any

from hashcheck.store import errors
from hashcheck.store.interface import Store

log = logging.getLogger("hashcheck.store")
NICENESS = 10
IDLE_THREADS = 2
GROUP = 32  # calls of a grouped operation made together at most
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
        self,
        operation: Operation,
        *args: Any,
        prepare: Callable[..., Any] | None = None,
        grouped: bool = False,
    ) -> Any:
        """``operation`` made in the child: ``store.<operation>(*args)`` for a name, else
        ``operation(store, *args)``; with ``prepare``, on ``prepare(*args)`` instead of
        ``args`` (a tuple), worked out first on an idle-priority thread. A ``grouped``
        operation is a function made as ``operation(store, [args, ...])`` for the calls
        waiting together, answering each call's result in order (an exception instance: that
        call's failure)."""
        stream = await self._started()
        number = next(self._numbers)
        answer: asyncio.Future[tuple[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[number] = answer
        try:
            frame = pickle.dumps(
                (number, operation, args, prepare, grouped), pickle.HIGHEST_PROTOCOL
            )
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


@dataclass(frozen=True)
class _Call:
    number: int
    operation: Operation
    args: tuple[Any, ...]
    grouped: bool


class _Child:
    def __init__(self, sock: socket.socket, open_store: Callable[[], Store]) -> None:
        self._sock = sock
        self._input = sock.makefile("rb")
        self._sending = threading.Lock()
        self._open_store = open_store
        self._store: Store | None = None
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._waiting: deque[_Call] = deque()  # taken from the queue, not yet made
        # Started here, so that it takes this thread's priority, not an idle thread's.
        self._storing = threading.Thread(target=self._make_calls, name="store-calls")
        self._storing.start()
        self._preparing = ThreadPoolExecutor(IDLE_THREADS, initializer=idle_priority)

    def run(self) -> None:
        try:
            while (head := self._input.read(_FRAME.size)) and len(head) == _FRAME.size:
                (length,) = _FRAME.unpack(head)
                number, operation, args, prepare, grouped = pickle.loads(  # noqa: S301
                    self._input.read(length)
                )
                if prepare is None:
                    self._calls.put(_Call(number, operation, args, grouped))
                else:
                    self._preparing.submit(
                        self._prepare, _Call(number, operation, args, grouped), prepare
                    )
        finally:
            self._preparing.shutdown()
            self._calls.put(None)
            self._storing.join()
            if self._store is not None:
                with contextlib.suppress(Exception):
                    self._store.close()
            self._sock.close()

    def _prepare(self, call: _Call, prepare: Callable[..., Any]) -> None:
        try:
            prepared = prepare(*call.args)
        except Exception as exc:  # answered, never left waiting
            self._reply(call.number, "failed", f"cannot prepare the call: {exc}")
            return
        self._calls.put(_Call(call.number, call.operation, prepared, call.grouped))

    def _make_calls(self) -> None:
        """The one thread that makes store calls, in the order they arrived, but that the
        calls of a grouped operation waiting together are made as one."""
        waiting = self._waiting
        stopping = False
        while waiting or not stopping:
            while len(waiting) < GROUP and not stopping:
                try:
                    call = self._calls.get(block=not waiting)
                except queue.Empty:
                    break
                if call is None:
                    stopping = True
                else:
                    waiting.append(call)
            if not waiting:
                continue
            first = waiting.popleft()
            group = [first]
            if first.grouped:
                group += [c for c in waiting if c.grouped and c.operation is first.operation]
                group = group[:GROUP]
                for call in group[1:]:
                    waiting.remove(call)
            self._make(group)

    @property
    def waiting(self) -> int:
        """Calls received and not yet made."""
        return self._calls.qsize() + len(self._waiting)

    def _make(self, calls: list[_Call]) -> None:
        """Make one call, or a group of calls of one grouped operation as one, and answer
        each (an exception instance in a group's results is that call's failure); all with
        the failure of the whole when it fails."""
        first = calls[0]
        try:
            store = self._connected()
            if not first.grouped:
                results = [_made(store, first.operation, first.args)]
            elif callable(first.operation):
                results = list(first.operation(store, [c.args for c in calls]))
            else:
                raise TypeError("a grouped operation is a function")
            if len(results) != len(calls):
                raise RuntimeError(f"{len(results)} results for {len(calls)} calls")
        except Exception as exc:
            if not isinstance(exc, tuple(_REFUSALS.values())):
                self._failed(exc)
            results = [exc] * len(calls)
        for call, result in zip(calls, results, strict=True):
            if isinstance(result, tuple(_REFUSALS.values())):
                self._reply(call.number, type(result).__name__, str(result))
            elif isinstance(result, errors.StoreError):
                self._reply(call.number, "failed", str(result))
            elif isinstance(result, Exception):
                self._reply(call.number, "failed", f"{type(result).__name__}: {result}")
            else:
                self._reply(call.number, "ok", result)

    def _failed(self, exc: Exception) -> None:
        if isinstance(exc, errors.StoreError):
            # The connection may be what failed: the next call opens a new one.
            failed, self._store = self._store, None
            if failed is not None:
                with contextlib.suppress(Exception):
                    failed.close()
        else:
            log.error("a store call failed", exc_info=exc)

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


def _made(store: Store, operation: Operation, args: tuple[Any, ...]) -> Any:
    if isinstance(operation, str):
        return getattr(store, operation)(*args)
    return operation(store, *args)
