"""NIST NSRL RDS v3: an SQLite database (view `DISTINCT_HASH`, else table `FILE`), read-only.

Yields its SHA-256, SHA-1 and MD5 values as runs, for known-good lists. It lives with the
importer rather than in `formats` because it opens a database file (read-only, never
written) instead of reading a stream.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

from hashcheck.formats.entries import EntryRun, FormatError, LineError
from hashcheck.hashes.algorithms import Algorithm

MAGIC = b"SQLite format 3\x00"
_ROWS = 50_000
_COLUMNS = (("sha256", Algorithm.SHA256), ("sha1", Algorithm.SHA1), ("md5", Algorithm.MD5))


def looks_like_rds(head: bytes) -> bool:
    return head.startswith(MAGIC)


def parse_rds(path: Path) -> Iterator[EntryRun | LineError]:
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise FormatError(f"cannot open as an NSRL RDS database: {exc}") from None
    try:
        source = _source(conn)
        columns = [name for name, _ in _COLUMNS if name in source[1]]
        if not columns:
            raise FormatError("NSRL RDS: no sha256, sha1 or md5 column")
        cursor = conn.execute(f"SELECT {', '.join(columns)} FROM {source[0]}")
        number = 0
        while rows := cursor.fetchmany(_ROWS):
            start = number + 1
            number += len(rows)
            for index, name in enumerate(columns):
                algorithm = dict(_COLUMNS)[name]
                yield from _run(start, algorithm, [row[index] for row in rows])
    except sqlite3.DatabaseError as exc:
        raise FormatError(f"not a readable NSRL RDS database: {exc}") from None
    finally:
        conn.close()


def _source(conn: sqlite3.Connection) -> tuple[str, set[str]]:
    for name in ("DISTINCT_HASH", "FILE"):
        found = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE name = ? AND type IN ('table', 'view')", (name,)
        ).fetchone()
        if found:
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
