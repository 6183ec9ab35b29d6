"""Which parser reads a file: format detection from the first bytes, and dispatch by name.

Every parser reads a binary stream of UTF-8 bytes (`hashcheck.admin.sources` undoes
compression and UTF-16 first), streams it (memory does not grow with the file) and yields the
items of `hashcheck.formats.entries`. No storage, no keyed digests: that is the importer's job.
A line (or a JSON or XML record) longer than its bound (`formats.bounded`) is refused.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator, Mapping
from typing import BinaryIO

from hashcheck.formats.bounded import bounded_lines
from hashcheck.formats.csvlist import PDQ_COLUMN, hash_column_kind, parse_csv, sniff_delimiter
from hashcheck.formats.entries import (
    Deletion,
    EntryRun,
    FormatError,
    ItemDeletion,
    LineError,
    ParsedEntry,
    PdqDeletion,
    PdqEntry,
    Skipped,
)
from hashcheck.formats.hashdeep import parse_hashdeep
from hashcheck.formats.icse import looks_like_icse, parse_icse
from hashcheck.formats.lines import (
    binary_refusal,
    looks_like_checksum_line,
    parse_md5sum,
    parse_plain,
)
from hashcheck.formats.names import FORMATS
from hashcheck.formats.ncmec import looks_like_ncmec, parse_ncmec
from hashcheck.formats.vics import looks_like_vics, parse_vics

__all__ = ["FORMATS", "PDQ_COLUMN", "Item", "detect_format", "parse", "parse_plain"]

Item = (
    ParsedEntry | PdqEntry | EntryRun | LineError | Skipped | Deletion | PdqDeletion | ItemDeletion
)
_HEXDIGITS = frozenset(b"0123456789abcdefABCDEF")
_SNIFF_BYTES = 64 * 1024


def detect_format(stream: BinaryIO) -> str:
    """Guess the format from the first bytes (the stream must be seekable; it is rewound)."""
    head = stream.read(_SNIFF_BYTES)
    stream.seek(0)
    _refuse_binary(head)
    if looks_like_vics(head):
        return "vics"
    if looks_like_icse(head):
        return "icse"
    if looks_like_ncmec(head):
        return "ncmec"
    text = head.removeprefix(codecs.BOM_UTF8)
    start = text.lstrip()[:1]
    if start in (b"{", b"["):
        raise FormatError(
            'line 1: a JSON document that is not a Project VIC hash set (no "odata.metadata" '
            'or "@odata.context" key); a vPDQ list is imported with --format vpdq'
        )
    if start == b"<":
        raise FormatError(
            "line 1: XML that is not NCMEC hash-sharing XML (no <queryResult> root element)"
        )
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith(b"%%%%"):
            return "hashdeep"
        if line.startswith(b"#TYPE "):  # PowerShell's Export-Csv
            return "csv"
        if line.startswith(b"#"):
            continue
        if _HEXDIGITS.issuperset(line):
            return "plain"
        if looks_like_checksum_line(line):
            return "md5sum"
        if _names_hash_columns(line) or any(d in line for d in (b",", b";", b"\t")):
            return "csv"
        return "plain"
    return "plain"


def _names_hash_columns(line: bytes) -> bool:
    text = line.decode("utf-8", "replace")
    names = next(csv.reader([text], delimiter=sniff_delimiter(text)), [])
    return any(hash_column_kind(name) for name in names)


def _refuse_binary(head: bytes) -> None:
    at = head.find(b"\x00")
    if at >= 0:
        line_start = head.rfind(b"\n", 0, at) + 1
        line_end = head.find(b"\n", at)
        line = head[line_start : line_end if line_end >= 0 else len(head)]
        raise binary_refusal(head.count(b"\n", 0, at) + 1, line)


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
        _refuse_binary(head)
    if fmt == "plain":
        return parse_plain(bounded_lines(stream))
    if fmt == "md5sum":
        return parse_md5sum(bounded_lines(stream))
    if fmt == "hashdeep":
        return parse_hashdeep(bounded_lines(stream))
    if fmt == "csv":
        return parse_csv(bounded_lines(stream), columns, category_column)
    if fmt == "icse":
        return parse_icse(bounded_lines(stream))
    if fmt == "vics":
        return parse_vics(stream)
    if fmt == "ncmec":
        return parse_ncmec(stream)
    raise FormatError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
