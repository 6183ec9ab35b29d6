"""Interpol ICSE CSV exports: MD5, SHA-1, `Image ID` and `Baseline` columns among others.

Recognised by its column names in any order, quoted or not, whatever the delimiter (`;` in
Interpol's own exports). Each row is one record: its MD5 and SHA-1 with the supplier category
`baseline:yes` or `baseline:no` and the `Image ID` as the item's ref; a row with only a PhotoDNA
hash is skipped and counted. Pure: reads a stream, no storage.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import BinaryIO, TextIO

from hashcheck.formats.csvlist import sniff_delimiter
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
    first = head.removeprefix(b"\xef\xbb\xbf").split(b"\n", 1)[0].decode("utf-8", "replace")
    names = {algorithm_key(n) for n in next(csv.reader([first], delimiter=sniff_delimiter(first)))}
    return all(m in names for m in _MARKERS) and bool(names & {"md5", "sha1"})


def parse_icse(stream: BinaryIO) -> Iterator[ParsedEntry | LineError | Skipped]:
    with text_of(stream) as text:
        yield from _rows(text)


def _rows(text: TextIO) -> Iterator[ParsedEntry | LineError | Skipped]:
    first = text.readline()
    if not first.strip():
        raise FormatError("line 1: empty; an ICSE export starts with its header")
    delimiter = sniff_delimiter(first)
    names = [algorithm_key(n) for n in next(csv.reader([first], delimiter=delimiter))]
    missing = [n for n in ("md5", "sha1", "baseline") if n not in names]
    if missing:
        raise FormatError(
            f"line 1: not an ICSE export: no {', '.join(missing)} column (an ICSE header is "
            f"{HEADER})"
        )
    md5, sha1, baseline = (names.index(n) for n in ("md5", "sha1", "baseline"))
    image_id = names.index("imageid") if "imageid" in names else None
    photodna = names.index("photodna") if "photodna" in names else None
    reader = csv.reader(text, delimiter=delimiter)
    try:
        for row in reader:
            yield from _row(
                reader.line_num + 1, row, len(names), md5, sha1, baseline, image_id, photodna
            )
    except csv.Error as exc:
        raise FormatError(f"line {reader.line_num + 1}: {exc}") from None


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
