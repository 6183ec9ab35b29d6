"""hashdeep files: `%%%% HASHDEEP-1.0`, `%%%% size,<algorithms>,filename`, `#` comments, rows.

Every column hashdeep writes is known: md5, sha1 and sha256 (also spelt `sha-1`, `sha-256`)
are read; tiger, whirlpool, sha3 and null are ignored; any other column refuses the file. A
row is one record (one file's hashes). Pure: reads the stream it is given.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

from hashcheck.formats.entries import FormatError, LineError, ParsedEntry, Skipped
from hashcheck.formats.lines import ALGORITHM_NAMES, algorithm_key, hex_entry, numbered_lines
from hashcheck.hashes.algorithms import Algorithm

MAGIC = b"%%%% HASHDEEP"
IGNORED = frozenset({"tiger", "whirlpool", "sha3", "null"})
NO_HASH = "row without any hash"
UNHASHED = "hashdeep left the file unhashed (over its size limit)"
PIECEWISE = "piecewise hash (of part of a file, hashdeep -p)"
_PIECE = re.compile(rb" offset \d+-\d+$")


def parse_hashdeep(stream: BinaryIO) -> Iterator[ParsedEntry | LineError | Skipped]:
    columns: list[tuple[int, Algorithm]] | None = None
    width = 0
    seen_magic = False
    for number, line in numbered_lines(stream):
        if line.startswith(MAGIC):
            seen_magic = True
            continue
        if line.startswith(b"%%%%"):
            columns, width = _header(number, line)
            continue
        if line.startswith(b"#") or not line.strip():
            continue
        if not seen_magic or columns is None:
            raise FormatError(
                f"line {number}: not a hashdeep file (no '%%%% HASHDEEP-1.0' and "
                "'%%%% size,...' header lines before it)"
            )
        # The file name is last and may itself contain commas.
        fields = line.split(b",", width - 1)
        if len(fields) != width:
            yield LineError(number, f"expected {width} comma-separated fields, got {len(fields)}")
            continue
        yield from _row(number, fields, columns)
    if not seen_magic:
        raise FormatError("not a hashdeep file (no '%%%% HASHDEEP-1.0' header line)")


def _header(number: int, line: bytes) -> tuple[list[tuple[int, Algorithm]], int]:
    names = [n.strip() for n in line[4:].decode("ascii", "replace").split(",")]
    columns = []
    for index, name in enumerate(names):
        key = algorithm_key(name)
        if key in ALGORITHM_NAMES:
            columns.append((index, ALGORITHM_NAMES[key]))
        elif key not in IGNORED and key not in ("size", "filename"):
            raise FormatError(
                f"line {number}: unknown hashdeep column {name[:30]!r}; hashdeep writes size, "
                "md5, sha1, sha256, tiger, whirlpool and filename"
            )
    if not columns:
        raise FormatError(
            f"line {number}: the hashdeep header names no md5, sha1 or sha256 column "
            f"(it has {', '.join(names)}); nothing here can be listed"
        )
    return columns, len(names)


def _row(
    number: int, fields: list[bytes], columns: list[tuple[int, Algorithm]]
) -> Iterator[ParsedEntry | LineError | Skipped]:
    if _PIECE.search(fields[-1]):
        yield Skipped(number, PIECEWISE)
        return
    tokens = [(fields[index].strip(), algorithm) for index, algorithm in columns]
    present = [(t, a) for t, a in tokens if t and t.strip(b"*")]
    if not present:
        starred = any(t for t, _ in tokens)
        yield Skipped(number, UNHASHED if starred else NO_HASH)
        return
    seen: set[tuple[Algorithm, bytes]] = set()
    for token, algorithm in present:
        if (algorithm, token.lower()) in seen:
            continue  # `sha1` and `sha-1` columns both: the hash counts once
        seen.add((algorithm, token.lower()))
        yield hex_entry(number, token, algorithm)
