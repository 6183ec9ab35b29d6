"""What every parser yields: entries and line errors, with the line they came from."""

from __future__ import annotations

from dataclasses import dataclass

from hashcheck.hashes.algorithms import Algorithm


@dataclass(frozen=True, slots=True)
class ParsedEntry:
    line: int
    algorithm: Algorithm
    raw: bytes
    category: str | None = None  # from a category column; None means "the import's category"


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

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class FormatError(ValueError):
    """The file as a whole cannot be read in the requested format."""
