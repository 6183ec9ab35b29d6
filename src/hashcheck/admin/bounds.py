"""What one import may take: time, unpacked bytes, and the temporary disk it must leave free.

A supplier's file is hostile until read: a zip bomb, a database whose view never ends. The
faces build an `ImportBounds` from their settings; the importer, the spool and the NSRL
reader check it as they go and raise `ImportLimit` (an `ImportRejected`: nothing imported).
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field

from hashcheck.admin.errors import ImportRejected

MIB = 1 << 20


class ImportLimit(ImportRejected):
    """An import stopped at one of its bounds; its message says which and what to set."""


@dataclass(frozen=True)
class ImportBounds:
    """``max_unpacked``: bytes a compressed or transcoded file may unpack to; ``reserve``:
    bytes of the temporary folder's disk an import leaves free; ``max_seconds``: how long one
    import may read and stage."""

    max_unpacked: int = 16384 * MIB
    reserve: int = 1024 * MIB
    max_seconds: float = 3600.0
    folder: str = field(default_factory=tempfile.gettempdir)

    @classmethod
    def of(cls, max_unpacked_mb: int, reserve_mb: int, max_seconds: float) -> ImportBounds:
        """From the settings' units (`HASHCHECK_IMPORT_*`)."""
        return cls(max_unpacked_mb * MIB, reserve_mb * MIB, max_seconds)

    def deadline(self) -> Deadline:
        return Deadline(time.monotonic() + self.max_seconds, self.max_seconds)

    def check_room(self, adding: int) -> None:
        """Refuse to write ``adding`` more bytes when the temporary disk would keep less
        than the reserve free."""
        try:
            stat = os.statvfs(self.folder)
        except OSError:
            return  # no figure to go by (not POSIX): the unpacked bound still holds
        free = stat.f_bavail * stat.f_frsize
        if free - adding < self.reserve:
            raise ImportLimit(
                f"the server's temporary disk has {free // MIB:,} MiB free and an import must "
                f"leave {self.reserve // MIB:,} MiB (HASHCHECK_IMPORT_TEMP_RESERVE_MB); "
                "free some space, or import the file uncompressed; nothing was changed"
            )

    def check_unpacked(self, size: int) -> None:
        if size > self.max_unpacked:
            raise ImportLimit(
                f"the file unpacks to more than {self.max_unpacked // MIB:,} MiB "
                "(HASHCHECK_IMPORT_MAX_UNPACKED_MB; a zip bomb?); unpack it yourself and "
                "check it, or raise the bound; nothing was changed"
            )


@dataclass(frozen=True)
class Deadline:
    at: float
    seconds: float

    def passed(self) -> bool:
        return time.monotonic() > self.at

    def check(self) -> None:
        if self.passed():
            raise self.error()

    def error(self) -> ImportLimit:
        return ImportLimit(
            f"the import took longer than {self.seconds:g} s (HASHCHECK_IMPORT_MAX_SECONDS) and "
            "was stopped; split the file, or raise the bound; nothing was changed"
        )
