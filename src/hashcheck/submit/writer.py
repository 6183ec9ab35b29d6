"""New self-submission cases made and written by a process of the worker's own: the PIN's
slow hash and the case's store transaction, nothing of either on the worker.

At 200 cases a second the slow hash is most of a core and the transaction milliseconds of
Python; on the worker's threads both took turns with the event loop for the interpreter and
the cores. Here the worker's event loop sends a screened case over a socket and reads back its
number and PIN; no thread of the worker takes part. In the child the PINs are hashed on two
threads that run only on a core otherwise idle (SCHED_IDLE), the transactions on one thread
at nice +10 (it holds the store's write lock, so it must not wait for idle time).

Owns that process's lifetime (started at the first case, stopped with the worker; the child
dies with its parent, and a child that dies is replaced at the next case) and what crosses the
socket: a case's keyed digests and sealed hashes one way, its case number and PIN the other.
Nothing of the submitter crosses it. Reads, and the rare withdrawal, stay on the worker's own
store thread (`api.submissions`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import itertools
import logging
import multiprocessing
import os
import signal
import socket
import struct
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.process import BaseProcess

import msgspec

from hashcheck.store.errors import AlreadyExists, Conflict, StoreError
from hashcheck.store.interface import Store
from hashcheck.store.records import NewSubmission, SubmittedFile
from hashcheck.submit import cases

log = logging.getLogger("hashcheck.submissions")
NICENESS = 10
PIN_THREADS = 2
DRAWS = 3  # a case number drawn twice (one in 2^50) is drawn again, with a PIN of its own
STOP_SECONDS = 10.0
_PR_SET_PDEATHSIG = 1
_FRAME = struct.Struct("!I")

# Worker to child: (request id, nonce, received at, files). Child to worker: (request id,
# state, case number, PIN, reason); state "stored", "replay" (the nonce was seen) or "failed"
# (the store refused, with its words).
Request = tuple[int, str, str, tuple[SubmittedFile, ...]]
Reply = tuple[int, str, str, str, str]
_REQUEST = msgspec.msgpack.Decoder(Request)
_REPLY = msgspec.msgpack.Decoder(Reply)
_ENCODE = msgspec.msgpack.Encoder()


class StoreUnavailable(Exception):
    """The case could not be stored (the store failed, or the writer process died): nothing
    was kept, and the submitter may try again."""


class CaseWriter:
    """One child process drawing, hashing and adding cases through a store connection of its
    own. `add` is called on the worker's event loop only; `close` from any thread."""

    def __init__(self, open_store: Callable[[], Store], pepper: bytes) -> None:
        self._open_store = open_store  # must pickle: it is called in the child
        self._pepper = pepper
        self._numbers = itertools.count()
        self._waiting: dict[int, asyncio.Future[Reply]] = {}
        self._starting = asyncio.Lock()
        self._process: BaseProcess | None = None
        self._socket: socket.socket | None = None
        self._stream: asyncio.StreamWriter | None = None
        self._reading: asyncio.Task[None] | None = None
        self._guard = threading.Lock()
        self._closed = False

    async def add(
        self, nonce: str, received_at: str, files: tuple[SubmittedFile, ...]
    ) -> tuple[str, str]:
        """Store a new case of ``files`` whole or not at all and answer its case number and
        PIN; raises `Conflict` for a nonce already seen, `StoreUnavailable` otherwise."""
        stream = await self._started()
        number = next(self._numbers)
        answer: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._waiting[number] = answer
        try:
            frame = _ENCODE.encode((number, nonce, received_at, files))
            stream.write(_FRAME.pack(len(frame)) + frame)
            await stream.drain()
            _, state, case_number, pin, reason = await answer
        except (ConnectionError, OSError) as exc:
            raise StoreUnavailable(f"the writer process is gone: {exc}") from None
        finally:
            self._waiting.pop(number, None)
        if state == "replay":
            raise Conflict(reason)
        if state != "stored":
            log.warning("submission store request failed: %s", reason)
            raise StoreUnavailable(reason)
        return case_number, pin

    @property
    def process_ids(self) -> list[int]:
        """The writer process's id while it runs (for monitoring and tests)."""
        process = self._process
        alive = process is not None and process.pid is not None and process.is_alive()
        return [process.pid] if alive and process is not None and process.pid else []

    @property
    def in_flight(self) -> int:
        """Cases sent to the process and not yet answered."""
        return len(self._waiting)

    async def _started(self) -> asyncio.StreamWriter:
        async with self._starting:
            if self._closed:
                raise StoreUnavailable("the submission writer is stopped")
            if self._stream is not None and not self._stream.is_closing():
                return self._stream
            ours, theirs = socket.socketpair()
            process = multiprocessing.get_context("spawn").Process(
                target=_child_main,
                args=(theirs, self._open_store, self._pepper),
                name="hashcheck-submission-writer",
                daemon=True,
            )
            try:
                # Off the loop: starting an interpreter is some milliseconds of fork and exec.
                await asyncio.to_thread(process.start)
            except Exception as exc:
                ours.close()
                log.exception("could not start the submission writer")
                raise StoreUnavailable(f"cannot start the writer process: {exc}") from None
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
        """Hand each reply to the case waiting for it, until the process is gone; then fail
        what still waits (the submitter tries again) and let the next case start another."""
        try:
            while True:
                (length,) = _FRAME.unpack(await reader.readexactly(_FRAME.size))
                reply = _REPLY.decode(await reader.readexactly(length))
                waiting = self._waiting.get(reply[0])
                if waiting is not None and not waiting.done():
                    waiting.set_result(reply)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        except Exception:
            log.exception("the submission writer's answer could not be read")
        stream.close()
        if not self._closed:
            log.warning("the submission writer process stopped; the next case starts another")
        for waiting in list(self._waiting.values()):
            if not waiting.done():
                waiting.set_exception(StoreUnavailable("the writer process died"))
        await asyncio.to_thread(process.join, STOP_SECONDS)

    def close(self) -> None:
        """Stop the process (a worker's stop) after the cases it holds."""
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


def _child_main(sock: socket.socket, open_store: Callable[[], Store], pepper: bytes) -> None:
    """In the child: lower priority, die with the worker, leave Ctrl-C to the parent; then
    take cases until the worker closes the socket."""
    os.nice(NICENESS)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() == 1:  # the worker died before the above took hold
        os._exit(1)
    _Child(sock, open_store, pepper).run()


class _Child:
    def __init__(self, sock: socket.socket, open_store: Callable[[], Store], pepper: bytes) -> None:
        self._sock = sock
        self._input = sock.makefile("rb")
        self._sending = threading.Lock()
        self._open_store = open_store
        self._pepper = pepper
        self._store: Store | None = None
        self._storing = ThreadPoolExecutor(1)
        # Started here, so that it takes this thread's priority, not a PIN thread's.
        self._storing.submit(lambda: None).result()
        self._hashing = ThreadPoolExecutor(PIN_THREADS, initializer=idle_priority)

    def run(self) -> None:
        try:
            while (head := self._input.read(_FRAME.size)) and len(head) == _FRAME.size:
                (length,) = _FRAME.unpack(head)
                request = _REQUEST.decode(self._input.read(length))
                self._hashing.submit(self._draw, request, DRAWS)
        finally:
            self._hashing.shutdown()
            self._storing.shutdown()
            if self._store is not None:
                with contextlib.suppress(Exception):
                    self._store.close()
            self._sock.close()

    def _draw(self, request: Request, draws: int) -> None:
        """On a PIN thread: a case number, its PIN and the PIN's slow hash; then the store."""
        try:
            case_number, pin = cases.new_case_number(), cases.new_pin()
            pin_hash = cases.hash_pin(self._pepper, case_number, pin)
            self._storing.submit(self._add, request, case_number, pin, pin_hash, draws)
        except Exception as exc:  # a stopped pool at the end: answered, never left waiting
            self._reply((request[0], "failed", "", "", f"cannot hash the PIN: {exc}"))

    def _add(self, request: Request, case_number: str, pin: str, pin_hash: str, draws: int) -> None:
        """On the store thread: the case in one transaction."""
        number, nonce, received_at, files = request
        try:
            self._connected().add_submission(
                NewSubmission(case_number, pin_hash, nonce, received_at, files)
            )
        except AlreadyExists as exc:
            try:
                if draws > 1:
                    self._hashing.submit(self._draw, request, draws - 1)
                    return
            except RuntimeError:  # the PIN threads are stopped: the worker is stopping
                pass
            self._reply((number, "failed", "", "", str(exc)))
            return
        except Conflict as exc:
            self._reply((number, "replay", "", "", str(exc)))
            return
        except StoreError as exc:
            # The connection may be what failed: the next case opens a new one.
            failed, self._store = self._store, None
            if failed is not None:
                with contextlib.suppress(Exception):
                    failed.close()
            self._reply((number, "failed", "", "", str(exc)))
            return
        except _Unopened as exc:
            self._reply((number, "failed", "", "", str(exc)))
            return
        self._reply((number, "stored", case_number, pin, ""))

    def _connected(self) -> Store:
        if self._store is None:
            try:
                self._store = self._open_store()
            except Exception as exc:  # an unreachable or missing store: reported, tried again
                raise _Unopened(f"cannot open the store: {exc}") from None
        return self._store

    def _reply(self, reply: Reply) -> None:
        frame = _ENCODE.encode(reply)
        with self._sending, contextlib.suppress(OSError):
            self._sock.sendall(_FRAME.pack(len(frame)) + frame)


class _Unopened(Exception):
    pass
