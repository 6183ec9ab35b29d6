"""Importing list files and removing entries: parse, validate, key, and hand to the store.

Streams: memory does not grow with the file. Atomic: the store commits all or nothing, and a
file with invalid lines is refused (unless skipping is allowed) before anything is visible.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, TypeVar

from hashcheck.admin.digesting import PARALLEL_FROM_BYTES, RunDigester
from hashcheck.admin.errors import ImportRejected
from hashcheck.admin.names import find_category, find_list
from hashcheck.admin.nsrl import MAGIC, looks_like_rds, parse_rds
from hashcheck.formats.entries import (
    Deletion,
    EntryRun,
    FormatError,
    LineError,
    ParsedEntry,
    PdqDeletion,
    PdqEntry,
    Skipped,
    VideoEntry,
)
from hashcheck.formats.parsers import parse
from hashcheck.formats.pdqlist import MIN_QUALITY as MIN_PDQ_QUALITY
from hashcheck.formats.pdqlist import parse_pdq
from hashcheck.formats.vpdqlist import parse_vpdq
from hashcheck.hashes.algorithms import EMPTY_FILE_DIGESTS, Algorithm, InvalidHash, parse_hex
from hashcheck.hashes.keyed import Digester
from hashcheck.hashes.sealing import Sealer
from hashcheck.store.interface import REMOVE, DigestBlock, Store
from hashcheck.store.schema import KNOWN_GOOD

_Block = TypeVar("_Block")
_Item = (
    ParsedEntry | PdqEntry | VideoEntry | EntryRun | LineError | Skipped | Deletion | PdqDeletion
)
# Perceptual entries of an import: (category id, keyed digest, sealed hash).
PdqRows = list[tuple[int, bytes, bytes]]
CHUNK = 50_000
SHOWN_ERRORS = 20
Progress = Callable[[int, int], None]  # (bytes done, bytes in all)


@dataclass
class ImportReport:
    list_name: str
    source: str
    batch_id: int = 0
    entries_read: int = 0
    added: int = 0
    unchanged: int = 0  # already on the list, or repeated in the file
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> entries
    deletions_read: int = 0
    removed: int = 0  # by the file's deletion records
    known_good_collisions: int = 0  # digests also on a list of the other kind
    empty_file_dropped: int = 0
    invalid: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    shadow: bool = False  # landed in shadow mode: counted, not answered, until promoted

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


@dataclass
class RemovalReport:
    list_name: str
    source: str
    batch_id: int = 0
    removed: int = 0
    not_found: int = 0
    invalid: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def _note_error(report: ImportReport | RemovalReport, error: LineError) -> None:
    report.invalid += 1
    if len(report.errors) < SHOWN_ERRORS:
        report.errors.append(str(error))


def _refusal(report: ImportReport | RemovalReport) -> ImportRejected:
    more = report.invalid - len(report.errors)
    listing = "\n  ".join(report.errors) + (f"\n  ... and {more} more" if more > 0 else "")
    return ImportRejected(
        f"{report.invalid} invalid line(s) in {report.source}; nothing was changed "
        f"(use --skip-invalid to import the valid lines):\n  {listing}"
    )


def _progress_reader(stream: BinaryIO, progress: Progress | None) -> Callable[[], None]:
    name = getattr(stream, "name", None)
    total = Path(name).stat().st_size if isinstance(name, str) else 0
    raw = getattr(stream, "raw", stream)

    def tick() -> None:
        if progress is not None:
            progress(min(raw.tell(), total), total)

    return tick


def import_file(
    store: Store,
    digester: Digester,
    list_name: str,
    path: Path | Sequence[str],
    *,
    actor: str,
    fmt: str = "auto",
    category: str | None = None,
    columns: Mapping[str, str] | None = None,
    category_column: str | None = None,
    category_map: Mapping[str, str] | None = None,
    skip_invalid: bool = False,
    progress: Progress | None = None,
    chunk_size: int = CHUNK,
    shadow: bool = False,
    sealer: Sealer | None = None,
) -> ImportReport:
    """Import ``path`` (a file, or hex hashes given one by one) into ``list_name``.

    PDQ fingerprints in the file (NCMEC `<pdq>`) are imported as perceptual entries, sealed
    with ``sealer``; without one, a file holding them is refused.

    A ``shadow`` import lands as a batch whose would-be matches are counted per client but
    not answered until it is promoted (or rolled back).

    Every entry gets ``category``, or the supplier's value for it (a CSV column, the VICS
    `Category`, the ICSE `Baseline` flag) translated by the list supplier's stored map and
    ``category_map`` (which wins); without any map such a value must itself name a category.
    A value the map lacks fails the import.
    """
    started = time.monotonic()
    hash_list = find_list(store, list_name)
    categories = _supplier_categories(store, hash_list.supplier, category_map)
    if hash_list.known_good:
        # A known-good list holds one kind of entry, whatever the file says.
        if category not in (None, KNOWN_GOOD) or category_column or category_map:
            raise ImportRejected(
                f"{list_name} is a known-good list: its entries are all {KNOWN_GOOD!r}; "
                "give no category; nothing was changed"
            )
        category = KNOWN_GOOD
        categories = _Categories({}, mapped=True)
    elif category == KNOWN_GOOD:
        raise ImportRejected(
            f"{KNOWN_GOOD!r} is for known-good lists, and {list_name} is not one; "
            "nothing was changed"
        )
    default_category = None if category is None else find_category(store, category).category_id
    source = path.name if isinstance(path, Path) else "command line"
    report = ImportReport(list_name, str(path) if isinstance(path, Path) else source, shadow=shadow)
    opened = _open(path) if isinstance(path, Path) else io.BytesIO("\n".join(path).encode())
    size = _size(path) if isinstance(path, Path) else 0
    with opened as stream, RunDigester(digester, parallel=size >= PARALLEL_FROM_BYTES) as runs:
        tick = _progress_reader(stream, progress)
        items = _parse(stream, fmt, columns, category_column)
        pdq_rows: PdqRows = []
        chunks = _keyed_blocks(
            items,
            digester,
            runs,
            report,
            default_category,
            categories,
            tick,
            chunk_size,
            None if sealer is None or hash_list.known_good else (sealer, pdq_rows),
        )
        checked = _refuse_invalid(chunks, report, skip_invalid)
        # The blocks are all staged before the write transaction starts, so pdq_rows is
        # complete by the time the store reads it.
        outcome = store.import_entries(
            hash_list.list_id, checked, source=source, actor=actor, shadow=shadow, pdq=pdq_rows
        )
    report.batch_id, report.added = outcome.batch_id, outcome.added
    report.unchanged = outcome.unchanged
    report.removed = outcome.removed
    report.known_good_collisions = outcome.known_good_collisions
    report.seconds = round(time.monotonic() - started, 3)
    return report


def _open(path: Path) -> BinaryIO:
    try:
        return path.open("rb", buffering=1 << 20)
    except OSError as exc:
        raise ImportRejected(f"cannot read {path}: {exc.strerror}") from None


def _parse(
    stream: BinaryIO, fmt: str, columns: Mapping[str, str] | None, category_column: str | None
) -> Iterator[_Item]:
    try:
        if fmt == "nsrl-rds" or (fmt == "auto" and looks_like_rds(stream.read(len(MAGIC)))):
            yield from parse_rds(Path(str(stream.name)))
            return
        stream.seek(0)
        yield from parse(stream, fmt, columns=columns, category_column=category_column)
    except (FormatError, InvalidHash) as exc:
        raise ImportRejected(f"{stream.name}: {exc}; nothing was changed") from None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _keyed_blocks(
    items: Iterable[_Item],
    digester: Digester,
    runs: RunDigester,
    report: ImportReport,
    default_category: int | None,
    categories: _Categories,
    tick: Callable[[], None],
    chunk_size: int,
    perceptual: tuple[Sealer, PdqRows] | None = None,
) -> Iterator[DigestBlock]:
    """Keyed digests grouped by category, in blocks of at most about ``chunk_size``.
    Perceptual entries go, sealed, to ``perceptual``'s rows instead (the store adds them in
    the same transaction)."""
    keyed = {a: digester.for_algorithm(a) for a in Algorithm}
    pending: dict[int, list[bytes]] = {}
    held = 0
    for item in items:
        if isinstance(item, LineError):
            _note_error(report, item)
            continue
        if isinstance(item, PdqDeletion):
            report.deletions_read += 1
            pending.setdefault(REMOVE, []).append(digester.pdq(item.bits))
            held += 1
            continue
        if isinstance(item, VideoEntry):
            raise ImportRejected("vPDQ videos are imported with --format vpdq; nothing was changed")
        if isinstance(item, PdqEntry):
            if perceptual is None:
                raise ImportRejected("this import cannot take PDQ hashes; nothing was changed")
            if item.quality is not None and item.quality < MIN_PDQ_QUALITY:
                reason = f"PDQ quality below {MIN_PDQ_QUALITY}"
                report.skipped[reason] = report.skipped.get(reason, 0) + 1
                continue
            report.entries_read += 1
            sealer, rows = perceptual
            digest = digester.pdq(item.bits)
            category_id = _category_of(item, default_category, categories)
            rows.append((category_id, digest, sealer.seal(digest, item.bits)))
            continue
        if isinstance(item, Skipped):
            report.skipped[item.reason] = report.skipped.get(item.reason, 0) + 1
            continue
        if isinstance(item, Deletion):
            report.deletions_read += 1
            pending.setdefault(REMOVE, []).append(keyed[item.algorithm](item.raw))
            held += 1
            continue
        if isinstance(item, EntryRun):
            report.entries_read += item.count
            if default_category is None:
                raise _no_category()
            for category_id, digests, dropped in runs.submit(
                default_category, item.algorithm, item.packed
            ):
                report.empty_file_dropped += dropped
                yield category_id, digests
            tick()
            continue
        report.entries_read += 1
        if item.raw in EMPTY_FILE_DIGESTS:
            report.empty_file_dropped += 1
            continue
        category_id = _category_of(item, default_category, categories)
        pending.setdefault(category_id, []).append(keyed[item.algorithm](item.raw))
        held += 1
        if held >= chunk_size:
            yield from ((c, b"".join(d)) for c, d in pending.items())
            pending, held = {}, 0
            tick()
    for category_id, digests, dropped in runs.drain():
        report.empty_file_dropped += dropped
        yield category_id, digests
    yield from ((c, b"".join(d)) for c, d in pending.items())
    tick()


def _supplier_categories(
    store: Store, supplier: str, category_map: Mapping[str, str] | None
) -> _Categories:
    """The list supplier's stored map, overridden value by value by this import's map."""
    known = {c.name: c.category_id for c in store.categories()}
    mapped = store.category_map(supplier)
    for value, name in (category_map or {}).items():
        mapped[value] = find_category(store, name).category_id
    if not mapped:
        return _Categories(known, mapped=False)
    return _Categories(mapped, mapped=True, known=tuple(known))


@dataclass(frozen=True)
class _Categories:
    """Supplier category value -> category id; without a map, values are category names."""

    ids: Mapping[str, int]
    mapped: bool
    known: tuple[str, ...] = ()

    def get(self, value: str) -> int | None:
        return self.ids.get(value)

    def refusal(self, line: str, value: str) -> ImportRejected:
        if self.mapped:
            return ImportRejected(
                f"{line}: supplier category {value!r} has no mapping; map it with "
                f"`hashcheck suppliers map SUPPLIER {value} CATEGORY` or --map {value}=CATEGORY "
                f"(mapped now: {', '.join(self.ids) or 'nothing'}); nothing was changed"
            )
        return ImportRejected(
            f"{line}: unknown category {value!r}; known categories: {', '.join(self.ids)} "
            "(or map supplier values with --map VALUE=CATEGORY); nothing was changed"
        )


def _no_category() -> ImportRejected:
    return ImportRejected(
        "say which category the entries are in: --category NAME, --category-column HEADER "
        "for CSV, or --map VALUE=CATEGORY for a supplier format; nothing was changed"
    )


def _category_of(
    item: ParsedEntry | PdqEntry, default_category: int | None, categories: _Categories
) -> int:
    if item.category is None:
        if default_category is None:
            raise _no_category()
        return default_category
    category_id = categories.get(item.category)
    if category_id is None:
        raise categories.refusal(f"line {item.line}", item.category)
    return category_id


def _refuse_invalid(
    chunks: Iterator[_Block], report: ImportReport | RemovalReport, skip_invalid: bool
) -> Iterator[_Block]:
    yield from chunks
    # Raising inside the store's staging step discards everything staged so far.
    if report.invalid and not skip_invalid:
        raise _refusal(report)


def remove_file(
    store: Store,
    digester: Digester,
    list_name: str,
    path: Path,
    *,
    actor: str,
    fmt: str = "auto",
    skip_invalid: bool = False,
) -> RemovalReport:
    """Remove from ``list_name`` every hash listed in ``path`` (categories are ignored)."""
    hash_list = find_list(store, list_name)
    report = RemovalReport(list_name, str(path))
    with _open(path) as stream:
        entries: Iterable[_Item]
        if fmt == "pdq":
            entries = parse_pdq(stream)
        elif fmt == "vpdq":
            entries = parse_vpdq(stream)
        else:
            entries = _parse(stream, fmt, None, None)
        blocks = _refuse_invalid(_removal_blocks(entries, digester, report), report, skip_invalid)
        outcome = store.remove_entries(hash_list.list_id, blocks, source=path.name, actor=actor)
    report.batch_id, report.removed, report.not_found = (
        outcome.batch_id,
        outcome.removed,
        outcome.not_found,
    )
    return report


def _removal_blocks(
    items: Iterable[_Item],
    digester: Digester,
    report: RemovalReport,
) -> Iterator[bytes]:
    pending: list[bytes] = []
    for item in items:
        if isinstance(item, LineError):
            _note_error(report, item)
        elif isinstance(item, Skipped | Deletion | PdqDeletion):
            continue
        elif isinstance(item, PdqEntry):
            pending.append(digester.pdq(item.bits))
        elif isinstance(item, VideoEntry):
            pending.append(digester.vpdq(item.frames))
        elif isinstance(item, EntryRun):
            yield b"".join(digester.digest_many(item.algorithm, item.raws()))
        else:
            pending.append(digester.digest(item.algorithm, item.raw))
            if len(pending) >= CHUNK:
                yield b"".join(pending)
                pending = []
    yield b"".join(pending)


def remove_hashes(
    store: Store, digester: Digester, list_name: str, hexes: Iterable[str], *, actor: str
) -> RemovalReport:
    """Remove individual hashes given in hex (the algorithm follows from the length)."""
    hash_list = find_list(store, list_name)
    report = RemovalReport(list_name, "command line")
    digests: list[bytes] = []
    for number, value in enumerate(hexes, start=1):
        algorithm = Algorithm.from_hex_length(len(value.strip()))
        try:
            if algorithm is None:
                raise InvalidHash(
                    f"{len(value.strip())} characters is not an MD5, SHA-1 or SHA-256"
                )
            digests.append(digester.digest(algorithm, parse_hex(value, algorithm)))
        except InvalidHash as exc:
            _note_error(report, LineError(number, str(exc)))
    if report.invalid:
        raise _refusal(report)
    outcome = store.remove_entries(
        hash_list.list_id, [b"".join(digests)], source="command line", actor=actor
    )
    report.batch_id, report.removed, report.not_found = (
        outcome.batch_id,
        outcome.removed,
        outcome.not_found,
    )
    return report


def import_pdq_file(
    store: Store,
    digester: Digester,
    sealer: Sealer,
    list_name: str,
    path: Path,
    *,
    actor: str,
    category: str | None,
    skip_invalid: bool = False,
    shadow: bool = False,
    videos: bool = False,
) -> ImportReport:
    """Import a plain PDQ list (`--format pdq`), or with ``videos`` a vPDQ list (`--format
    vpdq`, one video per line): each hash, or each video's frame set, becomes an entry named
    by its keyed digest, the hashes themselves stored sealed. Atomic and idempotent like
    every import."""
    started = time.monotonic()
    hash_list = find_list(store, list_name)
    if hash_list.known_good:
        raise ImportRejected(
            f"{list_name} is a known-good list: it holds exact hashes only; nothing was changed"
        )
    kind = "vPDQ" if videos else "PDQ"
    if category is None:
        raise ImportRejected(f"a {kind} list needs --category; nothing was changed")
    category_id = find_category(store, category).category_id
    report = ImportReport(list_name, str(path), shadow=shadow)
    rows: PdqRows = []
    with _open(path) as stream:
        items = parse_vpdq(stream) if videos else parse_pdq(stream)
        for item in items:
            if isinstance(item, LineError):
                _note_error(report, item)
            elif isinstance(item, Skipped):
                report.skipped[item.reason] = report.skipped.get(item.reason, 0) + 1
            elif isinstance(item, VideoEntry):
                report.entries_read += 1
                digest = digester.vpdq(item.frames)
                rows.append((category_id, digest, sealer.seal_video(digest, item.frames)))
            else:
                report.entries_read += 1
                digest = digester.pdq(item.bits)
                rows.append((category_id, digest, sealer.seal(digest, item.bits)))
    if report.invalid and not skip_invalid:
        raise _refusal(report)
    outcome = store.import_entries(
        hash_list.list_id, [], source=path.name, actor=actor, shadow=shadow, pdq=rows
    )
    report.batch_id, report.added, report.unchanged = (
        outcome.batch_id,
        outcome.added,
        outcome.unchanged,
    )
    report.seconds = round(time.monotonic() - started, 3)
    return report
