"""Interpol ICSE CSV exports: `;`-separated, MD5 and SHA-1 columns and a `Baseline` flag.

Each row yields its MD5 and SHA-1 with the supplier category `baseline:yes` or `baseline:no`,
which the operator maps onto hashcheck categories. Pure: reads a stream, no storage.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import BinaryIO, TextIO

from hashcheck.formats.entries import FormatError, LineError, ParsedEntry, text_of
from hashcheck.hashes.algorithms import Algorithm, InvalidHash, parse_hex

HEADER = (
    "MD5;SHA1;PhotoDNA;Image ID;Is distributed;Victim identified;Offender identified;"
    "Series name;Number of submissions;File Available;Media Type;Baseline"
)
_FLAGS = {"y": "yes", "yes": "yes", "t": "yes", "true": "yes"} | {
    "n": "no",
    "no": "no",
    "f": "no",
    "false": "no",
}


def looks_like_icse(head: bytes) -> bool:
    first = head.removeprefix(b"\xef\xbb\xbf").split(b"\n", 1)[0].strip().lower()
    return first.startswith(b"md5;sha1;photodna;")


def parse_icse(stream: BinaryIO) -> Iterator[ParsedEntry | LineError]:
    with text_of(stream) as text:
        yield from _rows(text)


def _rows(text: TextIO) -> Iterator[ParsedEntry | LineError]:
    reader = csv.reader(text, delimiter=";")
    try:
        header = next(reader)
    except StopIteration:
        raise FormatError("empty file: no ICSE header") from None
    names = [name.strip().lower() for name in header]
    missing = [n for n in ("md5", "sha1", "baseline") if n not in names]
    if missing:
        raise FormatError(f"not an ICSE export: no {', '.join(missing)} column (header: {HEADER})")
    md5, sha1, baseline = (names.index(n) for n in ("md5", "sha1", "baseline"))
    try:
        for row in reader:
            number = reader.line_num
            if not "".join(row).strip():
                continue
            if len(row) < len(names):
                yield LineError(number, f"expected {len(names)} fields, got {len(row)}")
                continue
            flag = _FLAGS.get(row[baseline].strip().lower())
            if flag is None:
                yield LineError(
                    number,
                    f"Baseline must be y/n/t/f/yes/no/true/false, got {row[baseline][:20]!r}",
                )
                continue
            found = False
            for index, algorithm in ((md5, Algorithm.MD5), (sha1, Algorithm.SHA1)):
                value = row[index].strip()
                if not value:
                    continue
                try:
                    raw = parse_hex(value, algorithm)
                except InvalidHash as exc:
                    yield LineError(number, str(exc))
                    found = True
                    continue
                yield ParsedEntry(number, algorithm, raw, f"baseline:{flag}")
                found = True
            if not found:
                yield LineError(number, "neither an MD5 nor a SHA-1")
    except csv.Error as exc:
        raise FormatError(f"line {reader.line_num}: {exc}") from None
