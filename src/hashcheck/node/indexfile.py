"""The node's index files: the compacted exact index on local disk, memory-mapped.

Every worker process of a node maps the same files read-only, so the operating system keeps
one copy of the index in memory however many workers there are, and a restart maps the files
instead of reading every entry from the store. A generation is a folder of numpy arrays plus
`meta.json` (cursors, slot table, store identity and version); it is written to a temporary
folder and renamed into place, so a reader never sees half of one. Writers take an exclusive
lock on the folder; the newest complete generation wins.

Owns the file format and its locking; knows nothing of HTTP. Holds no submitted hash: the
files contain what the store holds (keyed digests, entry and item ids, slots) and nothing else.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import mmap
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hashcheck.catalog.model import Slot
from hashcheck.index.exact import ExactIndex

log = logging.getLogger("hashcheck.indexfile")
# 2: an item id per entry (schema 7); files of format 1 are ignored and built anew.
FORMAT = 2
_COLUMNS = ("hi", "lo", "ids", "slots", "items")
_PREFIX = "gen-"


@dataclass(frozen=True)
class Generation:
    """One complete, mapped generation of the index."""

    number: int
    exact: ExactIndex
    slots: tuple[Slot, ...]
    entries_cursor: int
    tombstones_cursor: int
    store_version: int


class IndexFiles:
    def __init__(self, folder: Path, identity: str) -> None:
        """``identity`` names the store and key the digests belong to; files of another
        identity are ignored (and replaced)."""
        self.folder = folder
        self.identity = identity

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive among the node's processes: one builds or compacts, the others wait."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _numbers(self) -> list[int]:
        if not self.folder.is_dir():
            return []
        numbers = []
        for path in self.folder.iterdir():
            suffix = path.name.removeprefix(_PREFIX)
            if path.name.startswith(_PREFIX) and suffix.isdigit():
                numbers.append(int(suffix))
        return sorted(numbers)

    def newest_number(self) -> int:
        numbers = self._numbers()
        return numbers[-1] if numbers else 0

    def latest(self, store_version: int) -> Generation | None:
        """The newest usable generation, mapped; None if there is none. A generation newer
        than the store (restored from an older backup) or of another identity is unusable."""
        for number in reversed(self._numbers()):
            found = self._open(number, store_version)
            if found is not None:
                return found
        return None

    def _open(self, number: int, store_version: int) -> Generation | None:
        path = self.folder / f"{_PREFIX}{number}"
        try:
            meta = json.loads((path / "meta.json").read_text())
            if meta.get("format") != FORMAT:
                log.warning("index files %s are of another format; ignoring them", path)
                return None
            if meta.get("identity") != self.identity:
                log.warning(
                    "index files %s belong to another store or list key; ignoring them", path
                )
                return None
            if int(meta["store_version"]) > store_version:
                log.warning("index files %s are newer than the store; ignoring them", path)
                return None
            columns = [np.load(path / f"{name}.npy", mmap_mode="r") for name in _COLUMNS]
            _check(columns, int(meta["entries"]), len(meta["slots"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("cannot use index files %s: %s", path, exc)
            return None
        hi, lo, ids, slots, items = columns
        return Generation(
            number,
            ExactIndex(hi, lo, ids, slots, items),
            tuple(Slot(*fields) for fields in meta["slots"]),
            int(meta["entries_cursor"]),
            int(meta["tombstones_cursor"]),
            int(meta["store_version"]),
        )

    def write(
        self,
        exact: ExactIndex,
        slots: tuple[Slot, ...],
        entries_cursor: int,
        tombstones_cursor: int,
        store_version: int,
    ) -> Generation:
        """Write ``exact`` (compacted) as the next generation and return it mapped. Call under
        `locked()`. Keeps the previous generation (a worker may still map it); older ones go."""
        number = self.newest_number() + 1
        final = self.folder / f"{_PREFIX}{number}"
        temporary = self.folder / f".tmp-{number}-{os.getpid()}"
        shutil.rmtree(temporary, ignore_errors=True)
        temporary.mkdir(parents=True)
        columns: list[npt.NDArray[Any]] = list(exact.base_columns())
        for name, column in zip(_COLUMNS, columns, strict=True):
            with (temporary / f"{name}.npy").open("wb") as out:
                np.save(out, column)
                out.flush()
                os.fsync(out.fileno())
        meta: dict[str, Any] = {
            "format": FORMAT,
            "identity": self.identity,
            "entries_cursor": entries_cursor,
            "tombstones_cursor": tombstones_cursor,
            "store_version": store_version,
            "slots": [[s.list_id, s.category_id, s.batch_id] for s in slots],
            "entries": len(exact),
        }
        (temporary / "meta.json").write_text(json.dumps(meta))
        temporary.rename(final)
        _fsync_folder(self.folder)
        for old in self._numbers():
            if old < number - 1:
                # A process still mapping these keeps its pages; the names just go.
                shutil.rmtree(self.folder / f"{_PREFIX}{old}", ignore_errors=True)
        opened = self._open(number, store_version)
        if opened is None:
            raise OSError(f"index files {final} could not be read back")
        return opened


_DTYPES = (np.uint64, np.uint64, np.int64, np.uint16, np.int64)


def _check(columns: list[npt.NDArray[Any]], entries: int, slots: int) -> None:
    """Refuses columns that would answer wrongly: of another length or type than the meta
    says, digests out of order (a lookup bisects them), or slots the meta does not have.
    Reading them this way also faults their pages in (no stall inside a request later)."""
    for name, column, dtype in zip(_COLUMNS, columns, _DTYPES, strict=True):
        if column.ndim != 1 or column.dtype != dtype or len(column) != entries:
            raise ValueError(
                f"{name}.npy is {column.dtype}{list(column.shape)}, not {entries} of "
                f"{np.dtype(dtype)}"
            )
    hi, lo, ids, slot_column, items = columns
    if entries > 1 and bool(np.any(hi[1:] < hi[:-1])):
        raise ValueError("hi.npy is not in order")
    if entries and int(slot_column.max()) >= slots:
        raise ValueError("slots.npy names a slot the meta does not have")
    for column in (lo, ids, items):
        _prefault(column)


def _prefault(column: npt.NDArray[Any]) -> None:
    """Read one value per page, so that the mapping is resident before the first lookup
    (no page-fault stalls inside requests; shared with the node's other workers)."""
    if len(column):
        step = max(1, mmap.PAGESIZE // column.itemsize)
        column[::step].max()


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
