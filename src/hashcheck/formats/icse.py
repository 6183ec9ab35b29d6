"""Interpol ICSE CSV exports, recognised by their column names in any order and quoting.
A row is one record: its MD5 and SHA-1 with the supplier category `baseline:yes`/`baseline:no`
and its `Image ID` as the item's ref; PhotoDNA-only rows are skipped and counted.
Pure: reads a stream, no storage.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import BinaryIO, TextIO

from hashcheck.formats.csvlist import excel_separator, header_line, sniff_delimiter
from hashcheck.formats.entries import FormatError, LineError, ParsedEntry, Skipped, text_of
from hashcheck.formats.lines import algorithm_key
from hashcheck.hashes.algorithms import Algorithm, InvalidHash, parse_hex

HEADER = (
    "MD5;SHA1;PhotoDNA;Image ID;Is distributed;Victim identified;Offender identified;"
    "Series name;Number of submissions;File Available;Media Type;Baseline"
)
ONLY_PHOTODNA = "row with only a PhotoDNA hash (not imported)"
NO_HASH = "row without any hash"
_FLAGS = {"y": "yes", "yes": "yes", "t": "yes", "true": "yes", "1": "yes"} | {
    "n": "no",
    "no": "no",
    "f": "no",
    "false": "no",
    "0": "no",
}
# Columns no other list format has, besides a hash column: enough to tell ICSE apart.
_MARKERS = ("baseline", "imageid")


def looks_like_icse(head: bytes) -> bool:
    lines = head.removeprefix(b"\xef\xbb\xbf").split(b"\n", 2)
    first = lines[0].decode("utf-8", "replace")
    delimiter = excel_separator(first)
    if delimiter is not None and len(lines) > 1:
        first = lines[1].decode("utf-8", "replace")
    names = next(csv.reader([first], delimiter=delimiter or sniff_delimiter(first)), [])
    keys = {algorithm_key(n) for n in names}
    return all(m in keys for m in _MARKERS) and bool(keys & {"md5", "sha1"})


def parse_icse(stream: BinaryIO) -> Iterator[ParsedEntry | LineError | Skipped]:
    with text_of(stream) as text:
        yield from _rows(text)


def _rows(text: TextIO) -> Iterator[ParsedEntry | LineError | Skipped]:
    try:
        number, first, delimiter = header_line(text)
    except FormatError:
        raise FormatError("empty file: an ICSE export starts with its header") from None
    names = [algorithm_key(n) for n in next(csv.reader([first], delimiter=delimiter))]
    missing = [n for n in ("md5", "sha1", "baseline") if n not in names]
    if missing:
        raise FormatError(
            f"line {number}: not an ICSE export: no {', '.join(missing)} column (an ICSE "
            f"header is {HEADER})"
        )
    md5, sha1, baseline = (names.index(n) for n in ("md5", "sha1", "baseline"))
    image_id = names.index("imageid") if "imageid" in names else None
    photodna = names.index("photodna") if "photodna" in names else None
    reader = csv.reader(text, delimiter=delimiter)
    try:
        for row in reader:
            yield from _row(
                number + reader.line_num, row, len(names), md5, sha1, baseline, image_id, photodna
            )
    except csv.Error as exc:
        raise FormatError(f"line {number + reader.line_num + 1}: {exc}") from None


def _row(
    number: int,
    row: list[str],
    width: int,
    md5: int,
    sha1: int,
    baseline: int,
    image_id: int | None,
    photodna: int | None,
) -> Iterator[ParsedEntry | LineError | Skipped]:
    if not "".join(row).strip():
        return
    if len(row) < width:
        yield LineError(number, f"expected {width} fields, got {len(row)}")
        return
    ref = (row[image_id].strip() or None) if image_id is not None else None
    hashes = [(row[i].strip(), a) for i, a in ((md5, Algorithm.MD5), (sha1, Algorithm.SHA1))]
    present = [(value, algorithm) for value, algorithm in hashes if value]
    if not present:
        has_photodna = photodna is not None and row[photodna].strip()
        yield Skipped(number, ONLY_PHOTODNA if has_photodna else NO_HASH)
        return
    flag = _FLAGS.get(row[baseline].strip().lower())
    if flag is None:
        yield LineError(
            number, f"Baseline must be y/n/t/f/yes/no/true/false, got {row[baseline][:20]!r}"
        )
        return
    for value, algorithm in present:
        try:
            raw = parse_hex(value, algorithm)
        except InvalidHash as exc:
            yield LineError(number, str(exc))
            continue
        yield ParsedEntry(number, algorithm, raw, f"baseline:{flag}", ref)
