"""Parsed entries into staged records: one record per supplier item, keyed and categorised.

Groups a parser's entries by record (consecutive, same `line`), keys every hash, seals
perceptual ones, maps the supplier's value to a category (or to "not imported"), and packs
one-hash records without an id into bare rows so that plain lists stay fast. Counts what it
drops into the import report. Holds no storage and no parsing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from hashcheck.admin.digesting import RunDigester
from hashcheck.admin.errors import ImportRejected
from hashcheck.formats.entries import (
    Deletion,
    EntryRun,
    ItemDeletion,
    LineError,
    ParsedEntry,
    PdqDeletion,
    PdqEntry,
    Skipped,
    VideoEntry,
)
from hashcheck.formats.pdqlist import MIN_QUALITY as MIN_PDQ_QUALITY
from hashcheck.hashes.algorithms import EMPTY_FILE_DIGESTS, Algorithm
from hashcheck.hashes.keyed import Digester
from hashcheck.hashes.sealing import Sealer
from hashcheck.store.interface import NOT_IMPORTED, REMOVE, StageRow

Item = (
    ParsedEntry
    | PdqEntry
    | VideoEntry
    | EntryRun
    | LineError
    | Skipped
    | Deletion
    | PdqDeletion
    | ItemDeletion
)
_Grouped = ParsedEntry | PdqEntry | VideoEntry | LineError | Skipped | Deletion | PdqDeletion
# Supplier values that are never abuse material, whatever a map says: VICS category 0 is
# "known, non-pertinent" (Project VIC's false-positive correction moves items there).
BUILT_IN_NOT_IMPORTED = frozenset({"vics:0"})
SHOWN_ERRORS = 20
NOT_IMPORTED_NAME = "not-imported"  # the category name of NOT_IMPORTED in maps and summaries
BARE_ROW = 64
EMPTY_ONLY = "only the empty file's hash"


@dataclass(frozen=True)
class Categories:
    """Supplier category value -> category id (or `NOT_IMPORTED`); without a map, values
    are category names."""

    ids: Mapping[str, int]
    mapped: bool
    known: tuple[str, ...] = ()

    def get(self, value: str) -> int | None:
        if value in BUILT_IN_NOT_IMPORTED:
            return NOT_IMPORTED
        return self.ids.get(value)

    def refusal(self, where: str, value: str) -> ImportRejected:
        if self.mapped:
            return ImportRejected(
                f"{where}: supplier category {value!r} has no mapping; map it with "
                f"`hashcheck suppliers map SUPPLIER {value} CATEGORY` or --map {value}=CATEGORY "
                f"(or --map {value}={NOT_IMPORTED_NAME}; mapped now: "
                f"{', '.join(self.ids) or 'nothing'}); nothing was changed"
            )
        return ImportRejected(
            f"{where}: unknown category {value!r}; known categories: {', '.join(self.ids)} "
            "(or map supplier values with --map VALUE=CATEGORY); nothing was changed"
        )


@dataclass
class Tally:
    """What the builder saw, in records (items) unless it says hashes."""

    records_read: int = 0
    deletions_read: int = 0
    invalid: int = 0
    errors: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    empty_file_dropped: int = 0  # hashes

    def skip(self, reason: str, count: int = 1) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + count

    def error(self, error: LineError) -> None:
        if len(self.errors) < SHOWN_ERRORS:
            self.errors.append(str(error))


def no_category() -> ImportRejected:
    return ImportRejected(
        "say which category the entries are in: --category NAME, --category-column HEADER "
        "for CSV, or --map VALUE=CATEGORY for a supplier format; nothing was changed"
    )


class RecordBuilder:
    """Turns parsed items into chunks of staging rows; ``sealed`` collects the sealed
    perceptual hashes (keyed digest -> sealed value) for the store."""

    def __init__(
        self,
        digester: Digester,
        runs: RunDigester,
        tally: Tally,
        default_category: int | None,
        categories: Categories,
        *,
        sealer: Sealer | None,
        tick: Callable[[], None] = lambda: None,
        chunk_records: int = 50_000,
        unit: str = "line",
    ) -> None:
        self._unit = unit
        self._digester = digester
        self._keyed = {a: digester.for_algorithm(a) for a in Algorithm}
        self._runs = runs
        self._tally = tally
        self._default = default_category
        self._categories = categories
        self._sealer = sealer
        self._tick = tick
        self._chunk = chunk_records
        self.sealed: dict[bytes, bytes] = {}
        self._number = 0
        self._rows: list[StageRow] = []
        self._bare: dict[tuple[int, str | None], list[bytes]] = {}
        self._bare_count = 0

    def chunks(self, items: Iterable[Item]) -> Iterator[list[StageRow]]:
        group: list[_Grouped] = []
        for item in items:
            if isinstance(item, EntryRun):
                self._record(group)
                group = []
                self._run(item)
            elif isinstance(item, ItemDeletion):
                self._record(group)
                group = []
                self._tally.deletions_read += 1
                self._add_row(REMOVE, [], item.ref, None)
            else:
                if group and item.line != group[0].line:
                    self._record(group)
                    group = []
                group.append(item)
            if len(self._rows) >= self._chunk:
                yield self._take()
        self._record(group)
        for category_id, digests, dropped in self._runs.drain():
            self._digested(category_id, digests, dropped)
        self._flush_bare()
        yield self._take()

    def _take(self) -> list[StageRow]:
        rows, self._rows = self._rows, []
        self._tick()
        return rows

    def _add_row(
        self, category_id: int, digests: list[bytes], ref: str | None, value: str | None
    ) -> None:
        self._rows.append(
            (self._number, category_id, len(digests), b"".join(digests), ref, value, 0)
        )
        self._number += 1

    def _bare_digests(self, category_id: int, value: str | None, packed: bytes) -> None:
        """One-hash records without an id, many to a staging row."""
        step = BARE_ROW * 16
        for start in range(0, len(packed), step):
            piece = packed[start : start + step]
            count = len(piece) // 16
            self._rows.append((self._number, category_id, count, piece, None, value, 1))
            self._number += count

    def _flush_bare(self) -> None:
        for (category_id, value), digests in self._bare.items():
            self._bare_digests(category_id, value, b"".join(digests))
        self._bare, self._bare_count = {}, 0

    def _run(self, run: EntryRun) -> None:
        self._tally.records_read += run.count
        if self._default is None:
            raise no_category()
        for category_id, digests, dropped in self._runs.submit(
            self._default, run.algorithm, run.packed
        ):
            self._digested(category_id, digests, dropped)

    def _digested(self, category_id: int, digests: bytes, dropped: int) -> None:
        if dropped:
            self._tally.empty_file_dropped += dropped
            self._tally.skip(EMPTY_ONLY, dropped)
        self._bare_digests(category_id, None, digests)

    def _record(self, group: list[_Grouped]) -> None:
        if not group:
            return
        errors = [i for i in group if isinstance(i, LineError)]
        if errors:
            self._tally.records_read += 1
            self._tally.invalid += 1
            for error in errors:
                self._tally.error(error)
            return
        deletions = [i for i in group if isinstance(i, Deletion | PdqDeletion)]
        if deletions:
            self._tally.deletions_read += 1
            digests = [
                self._digester.pdq(d.bits)
                if isinstance(d, PdqDeletion)
                else self._keyed[d.algorithm](d.raw)
                for d in deletions
            ]
            self._add_row(REMOVE, digests, next((d.ref for d in deletions if d.ref), None), None)
            return
        self._tally.records_read += 1
        entries = [i for i in group if isinstance(i, ParsedEntry | PdqEntry | VideoEntry)]
        if not entries:
            skipped = next(i for i in group if isinstance(i, Skipped))
            self._tally.skip(skipped.reason)
            return
        value = next((e.category for e in entries if e.category is not None), None)
        ref = next((e.ref for e in entries if e.ref is not None), None)
        category_id = self._category(value, entries[0].line)
        digests, dropped_reason = self._digests(entries)
        if not digests:
            self._tally.skip(dropped_reason or "no hash")
            return
        if ref is None and len(digests) == 1 and not isinstance(entries[0], PdqEntry | VideoEntry):
            self._bare.setdefault((category_id, value), []).append(digests[0])
            self._bare_count += 1
            if self._bare_count >= BARE_ROW * 64:
                self._flush_bare()
            return
        self._add_row(category_id, digests, ref, value)

    def _digests(
        self, entries: list[ParsedEntry | PdqEntry | VideoEntry]
    ) -> tuple[list[bytes], str]:
        digests: list[bytes] = []
        reason = ""
        for entry in entries:
            if isinstance(entry, ParsedEntry):
                if entry.raw in EMPTY_FILE_DIGESTS:
                    self._tally.empty_file_dropped += 1
                    reason = EMPTY_ONLY
                    continue
                digests.append(self._keyed[entry.algorithm](entry.raw))
                continue
            if self._sealer is None:
                raise ImportRejected(
                    "this import cannot take PDQ (perceptual) hashes; nothing was changed"
                )
            if isinstance(entry, VideoEntry):
                digest = self._digester.vpdq(entry.frames)
                self.sealed[digest] = self._sealer.seal_video(digest, entry.frames)
            else:
                if entry.quality is not None and entry.quality < MIN_PDQ_QUALITY:
                    reason = f"PDQ quality below {MIN_PDQ_QUALITY}"
                    continue
                digest = self._digester.pdq(entry.bits)
                self.sealed[digest] = self._sealer.seal(digest, entry.bits)
            digests.append(digest)
        return digests, reason

    def _category(self, value: str | None, line: int) -> int:
        if value is None:
            if self._default is None:
                raise no_category()
            return self._default
        category_id = self._categories.get(value)
        if category_id is None:
            raise self._categories.refusal(f"{self._unit} {line}", value)
        return category_id
