"""CSV lists: hash columns found by name (`md5`, `SHA-1`, `SHA256 Hash`, `pdq`; one column
will do) or mapped; PowerShell's `Export-Csv` of `Get-FileHash` (`Algorithm`, `Hash`); lists
without a header. A row is one record; a one-column list comes in `EntryRun`s.
Pure: reads the stream it is given.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import BinaryIO, TextIO

from hashcheck.formats.entries import (
    EntryRun,
    FormatError,
    LineError,
    ParsedEntry,
    PdqEntry,
    Skipped,
    text_of,
)
from hashcheck.formats.lines import (
    ALGORITHM_NAMES,
    OTHER_ALGORITHMS,
    algorithm_key,
    binary_refusal,
    hex_entry,
)
from hashcheck.formats.pdqlist import pdq_bits
from hashcheck.hashes.algorithms import Algorithm

PDQ_COLUMN = "pdq"
NO_HASH = "row without any hash"
_DELIMITERS = (",", ";", "\t", "|")
_GENERIC = frozenset({"hash", "hashvalue", "digest", "checksum"})
_ALGORITHM_COLUMNS = frozenset({"algorithm", "hashalgorithm", "algo", "hashtype"})
_AFFIXES = ("checksum", "digest", "hash", "sum")
_EXCEL_SEP = re.compile(r"sep=(.)")
Item = ParsedEntry | PdqEntry | EntryRun | LineError | Skipped


@dataclass(frozen=True)
class _Layout:
    """Where a row's hashes are: (column, algorithm) pairs, None meaning the PDQ column; or
    one generic hash column whose algorithm comes from ``algorithm_index`` or its length."""

    hashes: list[tuple[int, Algorithm | None]]
    generic: int | None = None
    algorithm_index: int | None = None
    category_index: int | None = None

    @property
    def last(self) -> int:
        """The last column a row must have."""
        indexes = (self.generic, self.algorithm_index, self.category_index)
        return max([i for i, _ in self.hashes] + [i for i in indexes if i is not None])


def hash_column_kind(name: str) -> str | None:
    """`md5`, `sha1`, `sha256`, `pdq` or `hash` (generic) for a header name, else None."""
    key = algorithm_key(name)
    if key in _GENERIC:
        return "hash"
    for affix in _AFFIXES:
        key = key.removeprefix(affix).removesuffix(affix)
    return key if key in ALGORITHM_NAMES or key == PDQ_COLUMN else None


def sniff_delimiter(line: str) -> str:
    return max(_DELIMITERS, key=line.count)


def parse_csv(
    stream: BinaryIO,
    columns: Mapping[str, str] | None = None,
    category_column: str | None = None,
) -> Iterator[Item]:
    """``columns`` maps algorithm name (or `pdq`) to header name; by default the columns
    are found by name. ``category_column`` names the supplier's category column."""
    with text_of(stream) as text:
        yield from _parse(text, columns, category_column)


def _parse(
    text: TextIO, columns: Mapping[str, str] | None, category_column: str | None
) -> Iterator[Item]:
    number, first, delimiter = header_line(text)
    header = next(csv.reader([first], delimiter=delimiter))
    headerless = None if columns or category_column else _hash_cell(header)
    if headerless is None:
        layout = _layout(number, header, columns, category_column)
    else:
        layout = _Layout([], generic=headerless)
    reader = csv.reader(text, delimiter=delimiter)
    run = _Run.of(layout)
    last = layout.last
    if headerless is not None:  # no header: the first line is a row like the others
        yield from _row(number, header, len(header), layout, last)
    try:
        for row in reader:
            line = number + reader.line_num
            if run is not None:
                if run.add(line, row):
                    continue
                yield from run.flush()
                if run.add(line, row):  # the previous run ended at a gap in the lines
                    continue
            yield from _row(line, row, len(header), layout, last)
        if run is not None:
            yield from run.flush()
    except csv.Error as exc:
        raise FormatError(f"line {number + reader.line_num + 1}: {exc}") from None


def _hash_cell(row: Sequence[str]) -> int | None:
    """The column of a hex MD5, SHA-1 or SHA-256 in a first line that names no column."""
    if any(hash_column_kind(name) for name in row):
        return None
    for index, cell in enumerate(row):
        value = cell.strip()
        if len(value) in (32, 40, 64) and all(c in "0123456789abcdefABCDEF" for c in value):
            return index
    return None


def header_line(text: TextIO) -> tuple[int, str, str]:
    """The header's line number, text and delimiter: the first line that is neither blank,
    nor Excel's `sep=;` line (which names the delimiter), nor a `#` line naming no hash
    column."""
    number = 0
    delimiter = None
    while line := text.readline():
        number += 1
        if "\x00" in line:
            raise binary_refusal(number, line.encode("utf-8", "replace"))
        if not line.strip():
            continue
        if number == 1 and (separator := excel_separator(line)):
            delimiter = separator
            continue
        if line.startswith("#"):
            names = next(csv.reader([line], delimiter=sniff_delimiter(line)))
            if not any(hash_column_kind(name) for name in names):
                continue
        return number, line, delimiter or sniff_delimiter(line)
    raise FormatError("CSV file has no header row")


def excel_separator(line: str) -> str | None:
    """The delimiter an Excel `sep=;` first line names, else None."""
    match = _EXCEL_SEP.fullmatch(line.rstrip("\r\n"))
    return match.group(1) if match else None


def _layout(
    number: int,
    header: Sequence[str],
    columns: Mapping[str, str] | None,
    category_column: str | None,
) -> _Layout:
    keys = [algorithm_key(name) for name in header]
    where = f"line {number}: CSV header"
    category_index = None
    if category_column is not None:
        category_index = _index(keys, category_column)
        if category_index is None:
            raise FormatError(f"{where} has no category column {category_column!r}")
    if columns:
        hashes: list[tuple[int, Algorithm | None]] = []
        for algorithm_name, column in columns.items():
            index = _index(keys, column)
            if index is None:
                raise FormatError(f"{where} has no column {column!r}; it has: {', '.join(header)}")
            algorithm = (
                None
                if algorithm_name.lower() == PDQ_COLUMN
                else Algorithm.from_name(algorithm_name)
            )
            hashes.append((index, algorithm))
        return _Layout(hashes, category_index=category_index)
    kinds: dict[str, int] = {}
    for index, name in enumerate(header):
        kind = hash_column_kind(name)
        if kind is None or index == category_index:
            continue
        if kind in kinds:
            raise FormatError(
                f"{where} has two {kind} columns ({header[kinds[kind]]!r} and {name!r}); "
                f"say which with --column {kind}=HEADER"
            )
        kinds[kind] = index
    generic = kinds.pop("hash", None)
    if kinds:
        found = [(i, None if k == PDQ_COLUMN else ALGORITHM_NAMES[k]) for k, i in kinds.items()]
        return _Layout(sorted(found, key=lambda f: f[0]), category_index=category_index)
    if generic is not None:
        algorithm_index = next((i for i, k in enumerate(keys) if k in _ALGORITHM_COLUMNS), None)
        return _Layout([], generic, algorithm_index, category_index)
    raise FormatError(
        f"{where} names no md5, sha1, sha256, pdq or hash column; it has: {', '.join(header)} "
        "(map one with --column ALGORITHM=HEADER)"
    )


class _Run:
    """Consecutive rows of a one-hash-column CSV (no category) packed into `EntryRun`s,
    so that such lists cost what plain lists do; any other row ends the run."""

    LIMIT = 65_536

    def __init__(self, index: int, algorithm: Algorithm) -> None:
        self._index = index
        self._algorithm = algorithm
        self._length = algorithm.hex_length
        self._first = 0
        self._parts: list[bytes] = []

    @classmethod
    def of(cls, layout: _Layout) -> _Run | None:
        if len(layout.hashes) != 1 or layout.category_index is not None:
            return None
        index, algorithm = layout.hashes[0]
        return None if algorithm is None else cls(index, algorithm)

    def add(self, number: int, row: list[str]) -> bool:
        if len(row) <= self._index or len(self._parts) >= self.LIMIT:
            return False
        token = row[self._index].strip()
        if len(token) != self._length:
            return False
        try:
            raw = bytes.fromhex(token)
        except ValueError:
            return False
        # fromhex skips whitespace: a short result means the token was not pure hex.
        if len(raw) * 2 != self._length:
            return False
        if not self._parts:
            self._first = number
        elif number != self._first + len(self._parts):
            return False
        self._parts.append(raw)
        return True

    def flush(self) -> Iterator[EntryRun]:
        if self._parts:
            yield EntryRun(self._first, self._algorithm, b"".join(self._parts), len(self._parts))
            self._parts = []


def _index(keys: list[str], name: str) -> int | None:
    key = algorithm_key(name)
    return keys.index(key) if key in keys else None


def _row(number: int, row: list[str], width: int, layout: _Layout, last: int) -> Iterator[Item]:
    if not row or (len(row) == 1 and not row[0].strip()):
        return  # a blank line; a row of empty cells is a row without any hash
    if "\x00" in "".join(row):
        raise binary_refusal(number, "".join(row).encode("utf-8", "replace"))
    if len(row) <= last:
        yield LineError(number, f"expected {width} fields, got {len(row)}")
        return
    category = row[layout.category_index].strip() if layout.category_index is not None else None
    if layout.generic is not None:
        yield from _generic(number, row, layout, category)
        return
    found = False
    seen: set[tuple[Algorithm | None, bytes]] = set()
    for index, algorithm in layout.hashes:
        token = row[index].strip()
        if not token:
            continue
        found = True
        item = (
            _pdq(number, token, category)
            if algorithm is None
            else _entry(number, token, algorithm, category)
        )
        key = _key(item)
        if key is not None:
            if key in seen:  # a hash repeated within the row counts once
                continue
            seen.add(key)
        yield item
    if not found:
        yield Skipped(number, NO_HASH)


def _generic(number: int, row: list[str], layout: _Layout, category: str | None) -> Iterator[Item]:
    assert layout.generic is not None
    token = row[layout.generic].strip()
    if not token:
        yield Skipped(number, NO_HASH)
        return
    algorithm = None
    if layout.algorithm_index is not None:
        name = row[layout.algorithm_index].strip()
        key = algorithm_key(name)
        algorithm = ALGORITHM_NAMES.get(key)
        if algorithm is None:
            why = "cannot be listed (only MD5, SHA-1 and SHA-256)"
            if key not in OTHER_ALGORITHMS:
                why = "is not a hash algorithm hashcheck knows"
            yield LineError(number, f"algorithm {name[:20]!r} {why}")
            return
    yield _entry(number, token, algorithm, category)


def _entry(number: int, token: str, algorithm: Algorithm | None, category: str | None) -> Item:
    item = hex_entry(number, token.encode("utf-8", "replace"), algorithm)
    if isinstance(item, ParsedEntry) and category is not None:
        return ParsedEntry(item.line, item.algorithm, item.raw, category)
    return item


def _pdq(number: int, token: str, category: str | None) -> Item:
    try:
        return PdqEntry(number, pdq_bits(token), None, category)
    except ValueError as exc:
        return LineError(number, str(exc))


def _key(item: Item) -> tuple[Algorithm | None, bytes] | None:
    if isinstance(item, ParsedEntry):
        return item.algorithm, item.raw
    if isinstance(item, PdqEntry):
        return None, item.bits
    return None
