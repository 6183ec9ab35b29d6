"""What every parser yields: entries and line errors, with the line they came from.

Records: the entries of one supplier record (one item: the hashes of one file) are yielded
consecutively and share `line`; `ref` is the supplier's own id for the item where the format
has one (VICS `MediaID`, ICSE `Image ID`, NCMEC `member/id`), else None (the importer then
identifies the item by its hashes). A `LineError` for a record's `line` makes the whole record
invalid: none of its entries is imported.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from hashcheck.hashes.algorithms import Algorithm


@dataclass(frozen=True, slots=True)
class ParsedEntry:
    line: int
    algorithm: Algorithm
    raw: bytes
    # The supplier's category value (a CSV column, VICS `Category`, ICSE `Baseline`);
    # None means "the import's category".
    category: str | None = None
    ref: str | None = None  # the supplier's id for the item (see the module docstring)


@dataclass(frozen=True, slots=True)
class PdqEntry:
    """A perceptual (PDQ) hash from a list: 32 bytes, the supplier's quality if given, and
    its category value like `ParsedEntry.category`."""

    line: int
    bits: bytes
    quality: int | None = None
    category: str | None = None
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class VideoEntry:
    """A video from a vPDQ list: its prepared frame set (`pdq.video.usable_frames`: frames of
    quality 50 or more, each distinct hash once, sorted) and how many frames the line gave."""

    line: int
    frames: bytes
    frames_read: int
    category: str | None = None
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class EntryRun:
    """Many consecutive valid entries of one algorithm, raw digests packed back to back.

    Parsers yield runs where they can so that large files cost one Python step per block of
    lines instead of one per line.
    """

    first_line: int
    algorithm: Algorithm
    packed: bytes
    count: int

    def raws(self) -> list[bytes]:
        size = len(self.packed) // self.count
        return [self.packed[i : i + size] for i in range(0, len(self.packed), size)]


@dataclass(frozen=True, slots=True)
class LineError:
    line: int
    message: str
    unit: str = "line"  # "item" for formats without meaningful lines (JSON)

    def __str__(self) -> str:
        return f"{self.unit} {self.line}: {self.message}"


@dataclass(frozen=True, slots=True)
class Deletion:
    """A supplier's record that a hash must leave the list (NCMEC `deletedImage`); the item
    holding it leaves with all its hashes."""

    line: int
    algorithm: Algorithm
    raw: bytes
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class PdqDeletion:
    """A supplier's record that a perceptual hash must leave the list."""

    line: int
    bits: bytes
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class ItemDeletion:
    """A supplier's record that the item it names by id must leave the list (an NCMEC
    `<deletedImage>` with only `<member>` and `<id>`)."""

    line: int
    ref: str


@dataclass(frozen=True, slots=True)
class Skipped:
    """A record that is not imported, and why (a PDQ hash of too low a quality)."""

    line: int
    reason: str


class FormatError(ValueError):
    """The file as a whole cannot be read in the requested format."""


@contextlib.contextmanager
def text_of(stream: BinaryIO) -> Iterator[io.TextIOWrapper]:
    """The binary stream as UTF-8 text (BOM dropped, bad bytes replaced), for the csv module.

    Detached on exit: closing the wrapper would close the caller's file, which the importer
    still reads its position from.
    """
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")
    try:
        yield text
    finally:
        # Already closed by its owner (an abandoned import): nothing left to protect.
        with contextlib.suppress(ValueError):
            text.detach()
