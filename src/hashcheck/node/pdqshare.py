"""One copy of a node's PDQ index for all its workers, in shared memory (/dev/shm).

The exact index can live in files on disk because it holds only keyed digests; the PDQ index
holds the hashes themselves, which must be in the clear only in memory, and only while the
node runs. So its arrays go to a RAM-backed folder (mode 0700, files 0600), named by the
content they index (the entry ids and slots), and every worker maps the same files. The first
worker to need a state writes it under a lock; the others find it and map it.

Owns the folder's lifetime too: each worker using it holds a shared lock on its `.alive` file
for as long as it does, and the last worker to leave (a graceful stop) removes the folder.
The kernel drops the locks of a worker that dies, so the first worker of the next start finds
nobody holding `.alive` and clears what a crash left. Knows nothing of HTTP or the store.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import shutil
import stat
import threading
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from hashcheck.index.perceptual import PdqEntries, Perceptual
from hashcheck.pdq.index import LAYOUT

log = logging.getLogger("hashcheck.pdqshare")
# The folder's owner and mode are checked before use (`_locked`): another user cannot plant it.
SHARED_MEMORY = Path("/dev/shm")  # noqa: S108
_LOCK = ".lock"  # held exclusively for every change to the folder
_ALIVE = ".alive"  # held shared by every worker using the folder


def share_folder(identity: str, index_dir: Path) -> Path | None:
    """The node's folder in shared memory, or None where there is no /dev/shm."""
    if not SHARED_MEMORY.is_dir():
        return None
    name = hashlib.sha256(f"{identity}\0{index_dir.resolve()}".encode()).hexdigest()[:20]
    return SHARED_MEMORY / f"hashcheck-{name}"


class PdqShare:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._alive: int | None = None  # descriptor of `.alive` while this worker uses it
        # Closes it if this object is dropped without leave(), as a process exit would.
        self._close_alive: Callable[[], object] = lambda: None
        self._left = False
        self._guard = threading.Lock()  # the follower's thread against stop()

    @contextlib.contextmanager
    def _locked(self, *, create: bool = True) -> Iterator[None]:
        while True:
            if create:
                self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            try:
                self._check_private()
                handle = (self.folder / _LOCK).open("a")
            except FileNotFoundError:
                if not create:
                    raise
                continue  # the last worker out removed the folder meanwhile
            with handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                if not _is_at(handle.fileno(), self.folder / _LOCK):
                    # Removed while this worker waited for the lock: what it holds is gone.
                    if not create:
                        raise FileNotFoundError(self.folder)
                    continue
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
                return

    def _check_private(self) -> None:
        status = os.lstat(self.folder)
        if (
            not stat.S_ISDIR(status.st_mode)
            or status.st_uid != os.geteuid()
            or stat.S_IMODE(status.st_mode) & 0o077
        ):
            raise OSError(f"{self.folder} is not a private folder of this user; not using it")

    def _join(self) -> None:
        """Count this worker among the folder's users (under `_locked`). The first user of a
        folder nobody holds clears it: whatever is there was left by workers that died."""
        if self._alive is not None:
            if _is_at(self._alive, self.folder / _ALIVE):
                return
            # The folder was deleted under this worker (by hand) and made again: join anew.
            self._close_alive()
            self._alive = None
        descriptor = os.open(self.folder / _ALIVE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pass  # other workers use it: their states stay
        else:
            self._clear_leftovers()
        fcntl.flock(descriptor, fcntl.LOCK_SH)
        self._alive = descriptor
        self._close_alive = weakref.finalize(self, os.close, descriptor)

    def _clear_leftovers(self) -> None:
        left = [p for p in self.folder.iterdir() if p.name not in (_LOCK, _ALIVE)]
        for path in left:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        if left:
            log.info("removed what a node that did not stop cleanly left in %s", self.folder)

    def join_if_present(self) -> None:
        """At a worker's start: take part in a folder already there (another worker's, or a
        crashed run's, which this clears), so that this worker's stop removes it if last."""
        with self._guard:
            if self._left or not self.folder.is_dir():
                return
            try:
                with self._locked(create=False):
                    self._join()
            except FileNotFoundError:
                return  # removed meanwhile: nothing to take part in

    @staticmethod
    def key_of(items: dict[int, Perceptual]) -> str:
        # An entry's hashes never change, so its id, slot and kind name the content; the
        # index's layout is named too (another version's arrays are not this one's).
        content = hashlib.sha256(LAYOUT.encode())
        for entry_id in sorted(items):
            item = items[entry_id]
            content.update(f"{entry_id}:{item.slot}:{int(item.video)};".encode())
        return content.hexdigest()[:32]

    def shared(self, items: dict[int, Perceptual]) -> PdqEntries:
        """The perceptual index of ``items`` (entry id -> hashes, slot, kind), mapped from
        shared memory; built and written there first if no worker of the node has done so."""
        key = self.key_of(items)
        with self._guard:
            if self._left:
                raise OSError(f"this worker has left {self.folder}")
            with self._locked():
                self._join()
                found = self._open(key)
                if found is not None:
                    return found
                self._write(key, PdqEntries.build(items))
                opened = self._open(key)
                if opened is None:
                    raise OSError(f"PDQ index {key} could not be read back from {self.folder}")
                return opened

    def _open(self, key: str) -> PdqEntries | None:
        path = self.folder / key
        if not (path / "done").exists():
            return None
        try:
            named = {file.stem: np.load(file, mmap_mode="r") for file in path.glob("*.npy")}
            return PdqEntries.from_arrays(named, origin=str(path))
        except (OSError, ValueError, KeyError) as exc:
            log.warning("cannot use the shared PDQ index %s: %s", path, exc)
            return None

    def _write(self, key: str, entries: PdqEntries) -> None:
        temporary = self.folder / f".tmp-{key}-{os.getpid()}"
        shutil.rmtree(temporary, ignore_errors=True)
        temporary.mkdir(mode=0o700)
        for name, array in entries.arrays().items():
            target = temporary / f"{name}.npy"
            descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as out:
                np.save(out, np.ascontiguousarray(array))
        (temporary / "done").touch(mode=0o600)
        final = self.folder / key
        shutil.rmtree(final, ignore_errors=True)
        temporary.rename(final)
        # Earlier states go; a worker still mapping one keeps its pages until it moves on.
        for old in self.folder.iterdir():
            if old.is_dir() and old.name not in (key,) and not old.name.startswith(".tmp-"):
                shutil.rmtree(old, ignore_errors=True)

    def leave(self) -> None:
        """At a worker's graceful stop: it no longer uses the folder, and the last worker to
        leave removes it (the hashes in it must not outlive the node). Pages this worker
        still maps stay readable until it exits."""
        with self._guard:
            self._left = True
            if self._alive is None:
                return
            descriptor, self._alive = self._alive, None
            try:
                with self._locked(create=False):
                    self._remove_unless_used(descriptor)
            except FileNotFoundError:
                return  # already gone
            finally:
                self._close_alive()

    def remove_if_abandoned(self) -> bool:
        """Remove the folder if no worker uses it (all of them died); True if it is gone."""
        with self._guard:
            if self._alive is not None:
                return False
            try:
                with self._locked(create=False):
                    descriptor = os.open(self.folder / _ALIVE, os.O_RDWR | os.O_CREAT, 0o600)
                    try:
                        return self._remove_unless_used(descriptor)
                    finally:
                        os.close(descriptor)
            except FileNotFoundError:
                return True

    def _remove_unless_used(self, descriptor: int) -> bool:
        """Under `_locked`: remove the folder unless a worker other than the holder of
        ``descriptor`` (an open `.alive`) holds its lock."""
        if not _is_at(descriptor, self.folder / _ALIVE):
            return False  # a folder made anew after this worker's was deleted: not ours
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        shutil.rmtree(self.folder, ignore_errors=True)
        return True


def _is_at(descriptor: int, path: Path) -> bool:
    """Whether the open file ``descriptor`` is still the file at ``path`` (not unlinked)."""
    try:
        there = path.stat()
    except FileNotFoundError:
        return False
    here = os.fstat(descriptor)
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)
