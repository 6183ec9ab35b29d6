"""NIST NSRL RDS v3: an SQLite database (view `DISTINCT_HASH`, else table `FILE`), read-only.

Yields its SHA-256, SHA-1 and MD5 values as runs, for known-good lists. It lives with the
importer rather than in `formats` because it opens a database file (read-only, never
written) instead of reading a stream.

An uploaded database is hostile until read: its view is SQL someone wrote. It is opened
read-only and immutable (no journal is rolled back, no lock taken), with trusted_schema off, a
16 MiB page cache, temporary data on disk and no value longer than `_LONGEST` bytes. A
recursive view is refused; a query that produces no row for `STALL_SECONDS`, runs past the
import's deadline or leaves the temporary disk less than its reserve is interrupted; and no
database yields more rows than its size could hold (`_most_rows`) — a view that makes rows up
(a self-recursive one kept a core busy and a temporary file growing 10 MB/s) is cut off there.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Generator, Iterator
from pathlib import Path

from hashcheck.admin.bounds import Deadline, ImportBounds, ImportLimit
from hashcheck.formats.entries import EntryRun, FormatError, LineError
from hashcheck.hashes.algorithms import Algorithm

MAGIC = b"SQLite format 3\x00"
_ROWS = 50_000
STALL_SECONDS = 60.0
_PROGRESS_STEPS = 100_000  # SQLite VM steps between looks at the clock and the disk
_LONGEST = 1 << 20  # bytes of one value; a hash column's are 64
_PRAGMAS = (
    "PRAGMA trusted_schema = OFF",  # no functions with side effects from the file's schema
    "PRAGMA query_only = ON",
    "PRAGMA temp_store = FILE",  # sorting a hostile view's rows must not grow memory
    "PRAGMA cache_size = -16384",  # KiB
)
_COLUMNS = (("sha256", Algorithm.SHA256), ("sha1", Algorithm.SHA1), ("md5", Algorithm.MD5))


def looks_like_rds(head: bytes) -> bool:
    return head.startswith(MAGIC)


def parse_rds(
    path: Path, bounds: ImportBounds | None = None, deadline: Deadline | None = None
) -> Generator[EntryRun | LineError, None, None]:
    bounds = bounds or ImportBounds()
    deadline = deadline or bounds.deadline()
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, _LONGEST)
        for pragma in _PRAGMAS:
            conn.execute(pragma)
    except sqlite3.Error as exc:
        raise FormatError(f"cannot open as an NSRL RDS database: {exc}") from None
    last_row = [time.monotonic()]
    stopped: list[Exception] = []  # why the progress handler interrupted the statement

    def progress() -> int:
        """Nonzero interrupts the statement."""
        if time.monotonic() - last_row[0] > STALL_SECONDS:
            stopped.append(
                FormatError(
                    f"NSRL RDS: no row for {STALL_SECONDS:.0f} s; the database's view does not end"
                )
            )
        elif deadline.passed():
            stopped.append(deadline.error())
        else:
            try:
                bounds.check_room(0)
            except ImportLimit as exc:
                stopped.append(exc)
        return int(bool(stopped))

    conn.set_progress_handler(progress, _PROGRESS_STEPS)
    most = _most_rows(path)
    try:
        source = _source(conn)
        columns = [name for name, _ in _COLUMNS if name in source[1]]
        if not columns:
            raise FormatError("NSRL RDS: no sha256, sha1 or md5 column")
        cursor = conn.execute(f"SELECT {', '.join(columns)} FROM {source[0]}")
        number = 0
        while rows := cursor.fetchmany(_ROWS):
            last_row[0] = time.monotonic()
            start = number + 1
            number += len(rows)
            if number > most:
                raise FormatError(
                    f"NSRL RDS: {source[0]} yields more rows than a database of this size "
                    "holds; a real RDS's view makes none up"
                )
            for index, name in enumerate(columns):
                algorithm = dict(_COLUMNS)[name]
                yield from _run(start, algorithm, [row[index] for row in rows])
    except sqlite3.OperationalError as exc:
        if stopped:
            raise stopped[0] from None
        raise FormatError(f"not a readable NSRL RDS database: {exc}") from None
    except sqlite3.DatabaseError as exc:
        raise FormatError(f"not a readable NSRL RDS database: {exc}") from None
    finally:
        conn.close()


def _most_rows(path: Path) -> int:
    """Rows a database of this size can hold at most: each needs at least an MD5's 16 bytes."""
    return path.stat().st_size // 16 + 1000


def _source(conn: sqlite3.Connection) -> tuple[str, set[str]]:
    for name in ("DISTINCT_HASH", "FILE"):
        found = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE name = ? AND type IN ('table', 'view')", (name,)
        ).fetchone()
        if found:
            sql = conn.execute(
                "SELECT coalesce(sql, '') FROM sqlite_master WHERE name = ?", (name,)
            ).fetchone()[0]
            if "recursive" in str(sql).lower():
                raise FormatError(f"NSRL RDS: {name} is a recursive view; a real RDS's is not")
            info = conn.execute(f"PRAGMA table_info({name})").fetchall()
            return name, {str(row[1]).lower() for row in info}
    raise FormatError("not an NSRL RDS v3 database: no DISTINCT_HASH view or FILE table")


def _run(start: int, algorithm: Algorithm, values: list[object]) -> Iterator[EntryRun | LineError]:
    texts = [v.strip() for v in values if isinstance(v, str) and v.strip()]
    length = algorithm.hex_length
    try:
        if texts and set(map(len, texts)) == {length}:
            packed = bytes.fromhex("".join(texts))
            if len(packed) * 2 == length * len(texts):
                yield EntryRun(start, algorithm, packed, len(texts))
                return
    except ValueError:
        pass
    for offset, value in enumerate(values):  # the slow path, with a message per bad value
        if value in (None, ""):
            continue
        text = value.strip() if isinstance(value, str) else ""
        try:
            if len(text) != length:
                raise ValueError
            raw = bytes.fromhex(text)
        except ValueError:
            yield LineError(
                start + offset, f"{algorithm.value} is not {length} hex characters", "row"
            )
            continue
        yield EntryRun(start + offset, algorithm, raw, 1)
