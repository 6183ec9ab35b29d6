"""Plain PDQ lists: one hash per line, 64 hex characters, optionally followed by its quality
(`hash,quality`, `hash quality` or `hash;quality`). Lines with a quality below 50 are not
imported (their hashes match far too much), and counted.

Pure: reads the stream it is given.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

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


def parse_pdq(stream: BinaryIO) -> Iterator[PdqEntry | LineError | Skipped]:
    for number, raw_line in enumerate(stream, start=1):
        try:
            line = raw_line.decode("utf-8-sig" if number == 1 else "utf-8").strip()
        except UnicodeDecodeError:
            yield LineError(number, "not UTF-8 text")
            continue
        if not line or line.startswith("#"):
            continue
        fields = _SPLIT.split(line)
        if fields[0].lower() in ("pdq", "hash") and number == 1:
            continue  # a header line
        try:
            bits = pdq_bits(fields[0])
        except ValueError as exc:
            yield LineError(number, str(exc))
            continue
        quality: int | None = None
        if len(fields) > 1 and fields[1]:
            if not fields[1].isdigit() or int(fields[1]) > 100:
                yield LineError(number, "quality must be a whole number from 0 to 100")
                continue
            quality = int(fields[1])
            if quality < MIN_QUALITY:
                yield Skipped(number, f"PDQ quality below {MIN_QUALITY}")
                continue
        yield PdqEntry(number, bits, quality)
