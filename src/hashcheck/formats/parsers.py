"""Parsers for plain hex lists, md5sum/sha1sum output, hashdeep files and CSV with a header.

Each reads a binary stream line by line (memory does not grow with the file) and yields
`ParsedEntry` or `LineError`. No storage, no keyed digests: that is the importer's job.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator, Mapping
from typing import BinaryIO, TextIO

from hashcheck.formats.entries import (
    Deletion,
    EntryRun,
    FormatError,
    LineError,
    ParsedEntry,
    PdqDeletion,
    PdqEntry,
    Skipped,
    text_of,
)
from hashcheck.formats.icse import looks_like_icse, parse_icse
from hashcheck.formats.names import FORMATS
from hashcheck.formats.ncmec import looks_like_ncmec, parse_ncmec
from hashcheck.formats.pdqlist import pdq_bits
from hashcheck.formats.vics import looks_like_vics, parse_vics
from hashcheck.hashes.algorithms import Algorithm

PDQ_COLUMN = "pdq"
Item = ParsedEntry | PdqEntry | EntryRun | LineError | Skipped | Deletion | PdqDeletion
_HEXDIGITS = frozenset(b"0123456789abcdefABCDEF")
_BY_LENGTH = {a.hex_length: a for a in Algorithm}
_SNIFF_BYTES = 64 * 1024
_BLOCK_BYTES = 1 << 20


def _lines(stream: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """Numbered lines without line endings; strips a UTF-8 BOM and refuses binary data."""
    for number, line in enumerate(stream, start=1):
        if number == 1 and line.startswith(codecs.BOM_UTF8):
            line = line[len(codecs.BOM_UTF8) :]
        if b"\x00" in line:
            raise FormatError(f"line {number}: NUL byte; this looks like a binary file")
        yield number, line.rstrip(b"\r\n")


def _hex_entry(number: int, token: bytes, expected: Algorithm | None = None) -> Item:
    algorithm = expected or _BY_LENGTH.get(len(token))
    if algorithm is None:
        return LineError(
            number, f"{len(token)} characters is not an MD5 (32), SHA-1 (40) or SHA-256 (64)"
        )
    if len(token) != algorithm.hex_length:
        return LineError(number, f"{algorithm.value} must be {algorithm.hex_length} hex characters")
    if not _HEXDIGITS.issuperset(token):
        return LineError(number, "not a hex string")
    return ParsedEntry(number, algorithm, bytes.fromhex(token.decode("ascii")))


def parse_plain(stream: BinaryIO) -> Iterator[Item]:
    """One hex digest per line; `#` comments and blank lines are skipped.

    Reads blocks of lines; a block of equally long valid hex lines becomes one `EntryRun`,
    anything else is parsed line by line with precise errors.
    """
    number = 0
    while lines := stream.readlines(_BLOCK_BYTES):
        if number == 0 and lines[0].startswith(codecs.BOM_UTF8):
            lines[0] = lines[0][len(codecs.BOM_UTF8) :]
        start = number + 1
        number += len(lines)
        tokens = [line.strip() for line in lines]
        run = _as_run(start, tokens)
        if run is not None:
            yield run
            continue
        for offset, token in enumerate(tokens):
            if b"\x00" in token:
                raise FormatError(f"line {start + offset}: NUL byte; this looks like a binary file")
            if not token or token.startswith(b"#"):
                continue
            yield _hex_entry(start + offset, token)


def _as_run(start: int, tokens: list[bytes]) -> EntryRun | None:
    lengths = set(map(len, tokens))
    if len(lengths) != 1:
        return None
    algorithm = _BY_LENGTH.get(lengths.pop())
    if algorithm is None:
        return None
    try:
        packed = bytes.fromhex(b"".join(tokens).decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        return None
    # fromhex skips whitespace inside a token; a short result means a token was not pure hex.
    if len(packed) * 2 != algorithm.hex_length * len(tokens):
        return None
    return EntryRun(start, algorithm, packed, len(tokens))


def parse_md5sum(stream: BinaryIO) -> Iterator[Item]:
    """`md5sum`/`sha1sum`/`sha256sum` output: `<hex>  <path>` or `<hex> *<path>`."""
    for number, line in _lines(stream):
        if not line.strip() or line.startswith(b"#"):
            continue
        token, sep, rest = line.partition(b" ")
        if not sep or not rest.lstrip(b" *"):
            yield LineError(number, "expected '<hex>  <path>'")
            continue
        yield _hex_entry(number, token.lstrip(b"\\"))


def parse_hashdeep(stream: BinaryIO) -> Iterator[Item]:
    """hashdeep: `%%%% HASHDEEP-1.0`, `%%%% size,md5,...,filename`, `##` comments, CSV rows."""
    columns: list[tuple[int, Algorithm]] | None = None
    width = 0
    seen_magic = False
    for number, line in _lines(stream):
        if line.startswith(b"%%%% HASHDEEP"):
            seen_magic = True
            continue
        if line.startswith(b"%%%%"):
            names = [n.strip().lower() for n in line[4:].decode("ascii", "replace").split(",")]
            columns = [
                (i, Algorithm(n)) for i, n in enumerate(names) if n in {"md5", "sha1", "sha256"}
            ]
            width = len(names)
            if not columns:
                raise FormatError(f"line {number}: hashdeep header names no md5, sha1 or sha256")
            continue
        if line.startswith(b"##") or not line.strip():
            continue
        if not seen_magic or columns is None:
            raise FormatError(f"line {number}: not a hashdeep file (no '%%%% HASHDEEP' header)")
        # The file name is last and may itself contain commas.
        fields = line.split(b",", width - 1)
        if len(fields) != width:
            yield LineError(number, f"expected {width} comma-separated fields")
            continue
        for index, algorithm in columns:
            yield _hex_entry(number, fields[index].strip(), algorithm)
    if not seen_magic:
        raise FormatError("not a hashdeep file (no '%%%% HASHDEEP' header)")


def parse_csv(
    stream: BinaryIO,
    columns: Mapping[str, str] | None = None,
    category_column: str | None = None,
) -> Iterator[Item]:
    """CSV with a header row. ``columns`` maps algorithm name to header name; by default any
    header named md5, sha1, sha256 or pdq (any case). The delimiter (`,` `;` tab) is
    sniffed. A `pdq` column yields perceptual entries."""
    with text_of(stream) as text:
        yield from _parse_csv_text(text, columns, category_column)


def _parse_csv_text(
    text: TextIO, columns: Mapping[str, str] | None, category_column: str | None
) -> Iterator[Item]:
    first = text.readline()
    if "\x00" in first:
        raise FormatError("line 1: NUL byte; this looks like a binary file")
    if not first.strip():
        raise FormatError("CSV file has no header row")
    delimiter = max((",", ";", "\t"), key=first.count)
    header = next(csv.reader([first], delimiter=delimiter))
    # "SHA-1" (NIST NSRL's header) names the sha1 column too.
    lowered = {name.strip().lower().replace("-", ""): i for i, name in enumerate(header)}
    names = [*(a.value for a in Algorithm), PDQ_COLUMN]
    wanted = columns or {name: name for name in names if name in lowered}
    hash_columns: list[tuple[int, Algorithm | None]] = []  # None: the PDQ column
    for algorithm_name, column in wanted.items():
        algorithm = (
            None if algorithm_name.lower() == PDQ_COLUMN else Algorithm.from_name(algorithm_name)
        )
        key = column.strip().lower().replace("-", "")
        if key not in lowered:
            raise FormatError(f"CSV header has no column {column!r}; it has: {', '.join(header)}")
        hash_columns.append((lowered[key], algorithm))
    if not hash_columns:
        raise FormatError(
            f"CSV header names no md5, sha1, sha256 or pdq column; it has: {', '.join(header)} "
            "(map one with --column ALGORITHM=HEADER)"
        )
    category_index: int | None = None
    if category_column is not None:
        key = category_column.strip().lower().replace("-", "")
        if key not in lowered:
            raise FormatError(f"CSV header has no category column {category_column!r}")
        category_index = lowered[key]
    reader = csv.reader(text, delimiter=delimiter)
    try:
        yield from _csv_rows(reader, header, hash_columns, category_index)
    except csv.Error as exc:
        raise FormatError(f"line {reader.line_num + 1}: {exc}") from None


def _csv_rows(
    reader: Iterator[list[str]],
    header: list[str],
    hash_columns: list[tuple[int, Algorithm | None]],
    category_index: int | None,
) -> Iterator[Item]:
    for row in reader:
        number = reader.line_num + 1  # type: ignore[attr-defined]
        if "\x00" in "".join(row):
            raise FormatError(f"line {number}: NUL byte; this looks like a binary file")
        if not row or not "".join(row).strip():
            continue
        if len(row) < len(header):
            yield LineError(number, f"expected {len(header)} fields, got {len(row)}")
            continue
        category = row[category_index].strip() if category_index is not None else None
        for index, algorithm in hash_columns:
            token = row[index].strip()
            if not token:
                continue
            if algorithm is None:
                try:
                    yield PdqEntry(number, pdq_bits(token), None, category)
                except ValueError as exc:
                    yield LineError(number, str(exc))
                continue
            item = _hex_entry(number, token.encode("utf-8", "replace"), algorithm)
            if isinstance(item, ParsedEntry) and category is not None:
                item = ParsedEntry(item.line, item.algorithm, item.raw, category)
            yield item


def detect_format(stream: BinaryIO) -> str:
    """Guess the format from the first bytes (the stream must be seekable; it is rewound)."""
    head = stream.read(_SNIFF_BYTES)
    stream.seek(0)
    if b"\x00" in head:
        raise FormatError("the file contains NUL bytes; this looks like a binary file")
    if looks_like_vics(head):
        return "vics"
    if looks_like_icse(head):
        return "icse"
    if looks_like_ncmec(head):
        return "ncmec"
    for raw in head.removeprefix(codecs.BOM_UTF8).splitlines():
        line = raw.strip()
        if not line or (line.startswith(b"#") and not line.startswith(b"##")):
            continue
        if line.startswith(b"%%%%"):
            return "hashdeep"
        token, sep, _ = line.partition(b" ")
        if _HEXDIGITS.issuperset(line) or line.startswith(b"##"):
            return "plain"
        if sep and _HEXDIGITS.issuperset(token):
            return "md5sum"
        if b"," in line or b";" in line or b"\t" in line:
            return "csv"
        return "plain"
    return "plain"


def parse(
    stream: BinaryIO,
    fmt: str = "auto",
    *,
    columns: Mapping[str, str] | None = None,
    category_column: str | None = None,
) -> Iterator[Item]:
    if fmt == "auto":
        fmt = detect_format(stream)
    elif stream.seekable():
        head = stream.read(_SNIFF_BYTES)
        stream.seek(0)
        if b"\x00" in head:
            raise FormatError("the file contains NUL bytes; this looks like a binary file")
    if fmt == "plain":
        return parse_plain(stream)
    if fmt == "md5sum":
        return parse_md5sum(stream)
    if fmt == "hashdeep":
        return parse_hashdeep(stream)
    if fmt == "csv":
        return parse_csv(stream, columns, category_column)
    if fmt == "icse":
        return parse_icse(stream)
    if fmt == "vics":
        return parse_vics(stream)
    if fmt == "ncmec":
        return parse_ncmec(stream)
    raise FormatError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
