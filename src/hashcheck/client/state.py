"""A scan's state file: the hashes each file had, so that an interrupted or repeated scan does
not read an unchanged file again — but asks about it again: a list may have gained the file
since (a "no match" kept from an earlier run would hide it for ever).

One JSON line per hashed file (appended as answers come in; the last line of a path wins):
its path, size, modification and change times and inode, every hash (`FileHashes.stored`),
and the outcome it got. A file counts as unchanged only if all four are the same (the change
time cannot be set back, so a file rewritten with its old size and modification time is read
again). Lines this version cannot read (older state files, lines damaged by hand) are
ignored, and those files read again. File system work only.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import IO, Any

from hashcheck.client.files import FileHashes
from hashcheck.client.scan import FileReport, Found

_IDENTITY = ("size", "mtime_ns", "inode", "ctime_ns")


class ScanState:
    def __init__(self, path: Path, *, fresh: bool = False) -> None:
        """``fresh``: start over (``--rescan``): earlier hashes are not read, and the file is
        written anew."""
        self.path = path
        self._known: dict[str, dict[str, Any]] = {} if fresh else _read(path)
        flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if fresh else os.O_APPEND)
        # Paths and hashes of a hoster's files: readable by the scanning account only.
        descriptor = os.open(path, flags, 0o600)
        self._out: IO[str] = os.fdopen(descriptor, "w", encoding="utf-8")

    def __len__(self) -> int:
        return len(self._known)

    def earlier(self, found: Found) -> FileHashes | None:
        """The hashes the file had before, if it is the same file still."""
        record = self._known.get(str(found.path))
        if record is None:
            return None
        if [record.get(name) for name in _IDENTITY] != [
            found.size,
            found.mtime_ns,
            found.inode,
            found.ctime_ns,
        ]:
            return None
        try:
            return FileHashes.from_stored(record.get("hashes"))
        except ValueError:
            return None  # a line damaged by hand: read the file again

    def outcome_before(self, path: str) -> str | None:
        record = self._known.get(path)
        return None if record is None else str(record.get("outcome"))

    def record(self, report: FileReport) -> None:
        if report.made is None:
            return  # not read: nothing to keep, it is read next time
        line = {
            "path": report.path,
            "size": report.size,
            "mtime_ns": report.mtime_ns,
            "inode": report.inode,
            "ctime_ns": report.ctime_ns,
            "outcome": report.outcome.value,
            "hashes": report.made.stored(),
        }
        self._out.write(json.dumps(line, sort_keys=True) + "\n")
        self._out.flush()

    def close(self) -> None:
        self._out.close()


def _read(path: Path) -> dict[str, dict[str, Any]]:
    known: dict[str, dict[str, Any]] = {}
    with contextlib.suppress(FileNotFoundError), path.open(encoding="utf-8") as lines:
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and isinstance(record.get("path"), str):
                known[record["path"]] = record
    return known
