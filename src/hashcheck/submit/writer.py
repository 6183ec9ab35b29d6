"""New self-submission cases made and written by a store process of the worker's own
(`store.process`): the PIN's slow hash and the case's transaction, nothing of either on the
worker.

At 200 cases a second the slow hash is most of a core and the transaction milliseconds of
Python; on the worker's threads both took turns with the event loop for the interpreter and
the cores. Here the worker's event loop sends the screened case and reads back its number
and PIN. In the process the case number and PIN are drawn and the PIN hashed on a thread that
runs only on a core otherwise idle, then the case is stored at nice +10 (it holds the store's
write lock, so it must not wait for idle time), together with the cases that wait beside it
in one transaction (`Store.add_submissions`): a commit cost 1.1 ms of writing pages, a case
0.3 ms of rows.

Owns what a case is made of on its way: its keyed digests and sealed hashes one way, its case
number and PIN the other. Nothing of the submitter crosses. Reads, and the rare withdrawal,
stay on the worker's own store thread (`api.submissions`).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable

from hashcheck.store.errors import AlreadyExists, StoreError
from hashcheck.store.interface import Store
from hashcheck.store.process import StoreProcess, StoreUnavailable
from hashcheck.store.records import NewSubmission, SubmittedFile
from hashcheck.submit import cases

__all__ = ["CaseWriter", "StoreUnavailable"]
DRAWS = 3  # a case number drawn twice (one in 2^50) is drawn again, with a PIN of its own


class CaseWriter:
    """Adds cases through a store process; `add` on the worker's event loop only."""

    def __init__(self, open_store: Callable[[], Store], pepper: bytes) -> None:
        self._process = StoreProcess(open_store, "submission-writer")
        self._draw = functools.partial(_drawn, pepper)

    async def add(
        self, nonce: str, received_at: str, files: tuple[SubmittedFile, ...]
    ) -> tuple[str, str]:
        """Store a new case of ``files`` whole or not at all and answer its case number and
        PIN; raises `Conflict` for a nonce already seen, `StoreUnavailable` otherwise."""
        for _ in range(DRAWS):
            with contextlib.suppress(AlreadyExists):
                stored: tuple[str, str] = await self._process.call(
                    _store, nonce, received_at, files, prepare=self._draw, grouped=True
                )
                return stored
        raise StoreUnavailable("could not draw a free case number")

    @property
    def process_ids(self) -> list[int]:
        return self._process.process_ids

    @property
    def in_flight(self) -> int:
        return self._process.in_flight

    def close(self) -> None:
        self._process.close()


def _drawn(
    pepper: bytes, nonce: str, received_at: str, files: tuple[SubmittedFile, ...]
) -> tuple[NewSubmission, str]:
    """In the store process, at idle priority: the case with a new number and its PIN's slow
    hash, and the PIN."""
    case_number, pin = cases.new_case_number(), cases.new_pin()
    pin_hash = cases.hash_pin(pepper, case_number, pin)
    return NewSubmission(case_number, pin_hash, nonce, received_at, files), pin


def _store(
    store: Store, calls: list[tuple[NewSubmission, str]]
) -> list[tuple[str, str] | StoreError]:
    """In the store process: the cases waiting together in one transaction, each whole or
    not at all; each call's case number and PIN, or why its case was not stored."""
    refusals = store.add_submissions([submission for submission, _ in calls])
    return [
        (submission.case_number, pin) if refused is None else refused
        for (submission, pin), refused in zip(calls, refusals, strict=True)
    ]
