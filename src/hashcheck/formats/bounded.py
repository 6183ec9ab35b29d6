"""Bounds on what a parser holds at once: a line of a line format, a record of JSON or XML.

`readline` and the csv module keep a whole line in memory, and a JSON or XML parser a whole
record: a file of one 10 GB line must be refused at the bound, naming where, not read in.
Pure: wraps the stream it is given.
"""

from __future__ import annotations

import io
from typing import BinaryIO

from hashcheck.formats.entries import FormatError

LINE_BYTES = 1 << 20
RECORD_BYTES = 16 << 20


class Bounded(io.RawIOBase):
    """``stream`` read forward from where it is, refusing a line longer than ``line`` bytes
    (counted between LFs) or, with ``record`` set, more than that many bytes between two
    `mark` calls (the parser marks each record it has read). Never closes ``stream``."""

    def __init__(
        self, stream: BinaryIO, *, line: int | None = None, record: tuple[int, str] | None = None
    ) -> None:
        super().__init__()
        self._stream = stream
        self._line = line
        self._record = record
        self._lines = 0  # whole lines read
        self._tail = 0  # bytes read of the line not yet ended
        self._since_mark = 0
        self._records = 0
        # Reads no larger than the line bound: a line longer than it cannot hide in one read.
        self._most = max(line or LINE_BYTES, 1)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._stream.seekable()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Rewinding starts the counts again (detection's and VICS's second look)."""
        position = self._stream.seek(offset, whence)
        self._lines = self._tail = self._since_mark = self._records = 0
        return position

    def tell(self) -> int:
        return self._stream.tell()

    def mark(self) -> None:
        """One more record read whole."""
        self._records += 1
        self._since_mark = 0

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._stream.read(min(len(buffer), self._most))
        count = len(data)
        buffer[:count] = data
        if self._line is not None:
            self._count_lines(data)
        if self._record is not None:
            self._since_mark += count
            limit, unit = self._record
            if self._since_mark > limit:
                raise FormatError(
                    f"{unit} {self._records + 1} is longer than {limit:,} bytes; no list's "
                    f"{unit} is (a damaged file, or not a list?)"
                )
        return count

    def _count_lines(self, data: bytes) -> None:
        assert self._line is not None
        first = data.find(b"\n")
        if first < 0:
            self._tail += len(data)
        else:
            self._tail += first
        if self._tail > self._line:
            raise FormatError(
                f"line {self._lines + 1} is longer than {self._line:,} bytes; no list's line "
                "is (a damaged file, or not a list in this format?)"
            )
        if first >= 0:
            self._lines += data.count(b"\n")
            self._tail = len(data) - data.rfind(b"\n") - 1

    def close(self) -> None:
        super().close()  # the stream is its owner's


def bounded_lines(stream: BinaryIO, limit: int = LINE_BYTES) -> BinaryIO:
    """``stream`` with its lines bounded, buffered for `readline` and iteration."""
    return io.BufferedReader(Bounded(stream, line=limit))


def bounded_records(stream: BinaryIO, unit: str, limit: int = RECORD_BYTES) -> Bounded:
    """``stream`` with the bytes between two `Bounded.mark` calls bounded."""
    return Bounded(stream, record=(limit, unit))
