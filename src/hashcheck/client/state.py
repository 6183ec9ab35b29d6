"""A scan's state file: the answer each checked file got, so that an interrupted or repeated
scan goes on where it stopped and still reports what it found before.

One JSON line per answered file (appended as answers come in; the last line of a path wins):
its path, size and modification time, the outcome and the matches. An answer counts again only
for the same file unchanged (same size and time); a file that could not be checked is never
kept, so it is tried again. Lines this version cannot read (an older state file: bare paths)
are ignored, and those files checked again. File system work only.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import IO, Any

from hashcheck.client.results import Match, Outcome
from hashcheck.client.scan import FileReport, Found

_KEPT = (Outcome.MATCH, Outcome.NO_MATCH)


class ScanState:
    def __init__(self, path: Path, *, fresh: bool = False) -> None:
        """``fresh``: start over (``--rescan``): earlier answers are not read, and the file is
        written anew."""
        self.path = path
        self._known: dict[str, dict[str, Any]] = {} if fresh else _read(path)
        flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if fresh else os.O_APPEND)
        # Paths and hashes of a hoster's files: readable by the scanning account only.
        descriptor = os.open(path, flags, 0o600)
        self._out: IO[str] = os.fdopen(descriptor, "w", encoding="utf-8")

    def __len__(self) -> int:
        return len(self._known)

    def earlier(self, found: Found) -> FileReport | None:
        """The answer the file got before, if it is the same file still."""
        record = self._known.get(str(found.path))
        if record is None or record.get("size") != found.size:
            return None
        if record.get("mtime_ns") != found.mtime_ns:
            return None
        try:
            return FileReport(
                str(found.path),
                Outcome(record["outcome"]),
                found.size,
                dict(record.get("hashes", {})),
                [Match(**m) for m in record.get("matches", [])],
                notes=list(record.get("notes", [])),
                mtime_ns=found.mtime_ns,
                earlier=True,
            )
        except (KeyError, TypeError, ValueError):
            return None  # a line damaged by hand: check the file again

    def record(self, report: FileReport) -> None:
        if report.outcome not in _KEPT or report.earlier:
            return
        line = {
            "path": report.path,
            "size": report.size,
            "mtime_ns": report.mtime_ns,
            "outcome": report.outcome.value,
            "hashes": report.hashes,
            "matches": [m.__dict__ for m in report.matches],
            "notes": report.notes,
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
