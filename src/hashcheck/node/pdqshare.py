"""One copy of a node's PDQ index for all its workers, in shared memory (/dev/shm).

The exact index can live in files on disk because it holds only keyed digests; the PDQ index
holds the hashes themselves, which must be in the clear only in memory. So its arrays go to a
RAM-backed folder (mode 0700, files 0600), named by the content they index (the entry ids
and slots), and every worker maps the same files. The first worker to need a state writes it
under a lock; the others find it and map it. Knows nothing of HTTP or the store.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from hashcheck.index.perceptual import PdqEntries, Perceptual

log = logging.getLogger("hashcheck.pdqshare")
# The folder's owner and mode are checked before use (`_locked`): another user cannot plant it.
SHARED_MEMORY = Path("/dev/shm")  # noqa: S108


def share_folder(identity: str, index_dir: Path) -> Path | None:
    """The node's folder in shared memory, or None where there is no /dev/shm."""
    if not SHARED_MEMORY.is_dir():
        return None
    name = hashlib.sha256(f"{identity}\0{index_dir.resolve()}".encode()).hexdigest()[:20]
    return SHARED_MEMORY / f"hashcheck-{name}"


class PdqShare:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        status = os.lstat(self.folder)
        if (
            not stat.S_ISDIR(status.st_mode)
            or status.st_uid != os.geteuid()
            or stat.S_IMODE(status.st_mode) & 0o077
        ):
            raise OSError(f"{self.folder} is not a private folder of this user; not using it")
        with (self.folder / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @staticmethod
    def key_of(items: dict[int, Perceptual]) -> str:
        # An entry's hashes never change, so its id, slot and kind name the content.
        content = hashlib.sha256()
        for entry_id in sorted(items):
            item = items[entry_id]
            content.update(f"{entry_id}:{item.slot}:{int(item.video)};".encode())
        return content.hexdigest()[:32]

    def shared(self, items: dict[int, Perceptual]) -> PdqEntries:
        """The perceptual index of ``items`` (entry id -> hashes, slot, kind), mapped from
        shared memory; built and written there first if no worker of the node has done so."""
        key = self.key_of(items)
        with self._locked():
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
            return PdqEntries.from_arrays(named)
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

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
