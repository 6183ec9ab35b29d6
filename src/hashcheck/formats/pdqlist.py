"""Plain PDQ lists: a 64-hex hash per line, optionally its quality (`hash,quality`), or
ThreatExchange's `pdq <hash>`; the first line is data unless it is a header. Hashes below
quality 50 are not imported (they match far too much), and counted.
Pure: reads the stream it is given.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

from hashcheck.formats.bounded import bounded_lines
from hashcheck.formats.entries import LineError, PdqEntry, Skipped

HEX_LENGTH = 64
MIN_QUALITY = 50


def pdq_bits(text: str) -> bytes:
    """32 bytes from 64 hex characters; ValueError saying what is wrong otherwise."""
    text = text.strip()
    if len(text) != HEX_LENGTH:
        raise ValueError(f"a PDQ hash is {HEX_LENGTH} hex characters")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise ValueError("a PDQ hash is hex") from None


_SPLIT = re.compile(r"[,;\s]+")
# First-line column names of PDQ lists; any other first line is data (and checked as such).
_HEADER_NAMES = frozenset({"pdq", "hash", "pdqhash", "signal", "signalvalue", "hashvalue"})
SIGNAL_NAME = "pdq"  # ThreatExchange's `<signal type> <hash>` lines


def parse_pdq(stream: BinaryIO) -> Iterator[PdqEntry | LineError | Skipped]:
    first = True
    for number, raw_line in enumerate(bounded_lines(stream), start=1):
        try:
            line = raw_line.decode("utf-8-sig" if number == 1 else "utf-8").strip()
        except UnicodeDecodeError:
            yield LineError(number, "not UTF-8 text")
            continue
        if not line or line.startswith("#"):
            continue
        fields = _SPLIT.split(line)
        if first:
            first = False
            if _is_header(fields):
                continue
        yield _entry(number, fields)


def _is_header(fields: list[str]) -> bool:
    names = [re.sub(r"[^a-z]", "", field.lower()) for field in fields]
    return names[0] in _HEADER_NAMES and not any(len(f) == HEX_LENGTH for f in fields[1:])


def _entry(number: int, fields: list[str]) -> PdqEntry | LineError | Skipped:
    if len(fields) > 1 and not _is_hex(fields[0]) and fields[0].isidentifier():
        if fields[0].lower() != SIGNAL_NAME:
            return LineError(
                number, f"{fields[0][:20]!r} is not a PDQ hash, nor ThreatExchange's 'pdq <hash>'"
            )
        fields = fields[1:]  # ThreatExchange: `pdq <hash>`
    try:
        bits = pdq_bits(fields[0])
    except ValueError as exc:
        return LineError(number, str(exc))
    quality: int | None = None
    if len(fields) > 1 and fields[1]:
        if not fields[1].isdigit() or int(fields[1]) > 100:
            return LineError(number, "quality must be a whole number from 0 to 100")
        quality = int(fields[1])
        if quality < MIN_QUALITY:
            return Skipped(number, f"PDQ quality below {MIN_QUALITY}")
    return PdqEntry(number, bits, quality)


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)
