"""Importing list files and removing entries: parse, validate, key, and hand to the store.

Streams: memory does not grow with the file. Atomic: the store commits all or nothing, and a
file with invalid lines is refused (unless skipping is allowed) before anything is visible.
Bounded (`admin.bounds`): an import past its deadline, its unpacked size or the temporary
disk's reserve stops, and changes nothing.
"""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, TypeVar

from hashcheck.admin.bounds import Deadline, ImportBounds
from hashcheck.admin.digesting import PARALLEL_FROM_BYTES, RunDigester
from hashcheck.admin.errors import ImportRejected
from hashcheck.admin.names import find_category, find_list
from hashcheck.admin.nsrl import MAGIC, looks_like_rds, parse_rds
from hashcheck.admin.records import (
    NOT_IMPORTED_NAME,
    SHOWN_ERRORS,
    Categories,
    Item,
    RecordBuilder,
    Tally,
)
from hashcheck.admin.sources import Source, SourceError, as_file, open_source
from hashcheck.catalog.model import HashList
from hashcheck.catalog.policy import Policy, PolicyError
from hashcheck.formats.entries import (
    Deletion,
    EntryRun,
    FormatError,
    ItemDeletion,
    LineError,
    PdqDeletion,
    PdqEntry,
    Skipped,
    VideoEntry,
)
from hashcheck.formats.names import FORMATS, IMPORT_FORMATS
from hashcheck.formats.parsers import detect_format, parse
from hashcheck.formats.pdqlist import parse_pdq
from hashcheck.formats.vpdqlist import parse_vpdq
from hashcheck.hashes.algorithms import Algorithm, InvalidHash, parse_hex
from hashcheck.hashes.keyed import Digester
from hashcheck.hashes.sealing import Sealer
from hashcheck.store.interface import NOT_IMPORTED, Store
from hashcheck.store.records import ImportOutcome
from hashcheck.store.schema import KNOWN_GOOD

_Block = TypeVar("_Block")
CHUNK = 50_000
Progress = Callable[[int, int], None]  # (bytes done, bytes in all)
# The formats an import reads, for the faces that offer a choice (the console's form).
READABLE_FORMATS: tuple[str, ...] = IMPORT_FORMATS
REMOVAL_FORMATS: tuple[str, ...] = (*FORMATS, "pdq", "vpdq")


@dataclass
class ImportReport:
    """An import's summary, in items (records) unless it says hashes:
    records_read = added + changed + unchanged + skipped + invalid."""

    list_name: str
    source: str
    batch_id: int = 0
    records_read: int = 0
    added: int = 0
    changed: int = 0  # recategorised, or taken off by a value that is not imported
    unchanged: int = 0  # delivered again as they are
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> records
    invalid: int = 0
    errors: list[str] = field(default_factory=list)
    removed: int = 0  # items off the list: deletions, not-imported values, --replace
    replaced: int = 0  # of removed: not in a --replace delivery
    deletions_read: int = 0
    not_found: int = 0  # deletion records naming nothing on the list
    hashes_added: int = 0
    empty_file_dropped: int = 0  # hashes
    known_good_collisions: int = 0  # digests also on a list of the other kind
    recategorised: list[dict[str, object]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    shadow: bool = False  # landed in shadow mode: counted, not answered, until promoted
    replace: bool = False
    dry_run: bool = False  # what the import would do; nothing was changed (batch_id 0)

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())


@dataclass
class RemovalReport:
    list_name: str
    source: str
    batch_id: int = 0
    removed: int = 0  # items, with all their hashes
    not_found: int = 0  # hashes on no item of the list
    invalid: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def _note_error(report: RemovalReport, error: LineError) -> None:
    report.invalid += 1
    if len(report.errors) < SHOWN_ERRORS:
        report.errors.append(str(error))


def _refusal(report: ImportReport | RemovalReport | Tally) -> ImportRejected:
    more = report.invalid - len(report.errors)
    listing = "\n  ".join(report.errors) + (f"\n  ... and {more} more" if more > 0 else "")
    source = getattr(report, "source", "the file")
    return ImportRejected(
        f"{report.invalid} invalid record(s) in {source}; nothing was changed "
        f"(use --skip-invalid to import the valid ones):\n  {listing}"
    )


def _progress_reader(
    stream: BinaryIO, progress: Progress | None, deadline: Deadline
) -> Callable[[], None]:
    """Progress in bytes of the original file (a gzip's compressed bytes, say); the deadline
    is looked at on every tick (one chunk of records)."""

    def tick() -> None:
        deadline.check()
        if progress is not None and isinstance(stream, Source):
            progress(stream.bytes_read(), stream.size)

    return tick


def _pairs(option: str, shape: str, specs: Sequence[str]) -> dict[str, str] | None:
    pairs: dict[str, str] = {}
    for spec in specs:
        key, sep, value = spec.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ImportRejected(f"{option} takes {shape}, got {spec!r}")
        pairs[key.strip()] = value.strip()
    return pairs or None


def category_map(option: str, specs: Sequence[str]) -> dict[str, str] | None:
    """``VALUE=CATEGORY`` options (a supplier's value to a category, or `not-imported`)."""
    return _pairs(option, "VALUE=CATEGORY", specs)


def column_map(option: str, specs: Sequence[str]) -> dict[str, str] | None:
    """``ALGORITHM=HEADER`` options: which CSV column holds which hash."""
    columns = _pairs(option, "ALGORITHM=HEADER", specs)
    return None if columns is None else {k.lower(): v for k, v in columns.items()}


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
    replace: bool = False,
    confirm_removals: bool = False,
    dry_run: bool = False,
    source: str | None = None,
    bounds: ImportBounds | None = None,
) -> ImportReport:
    """Import ``path`` (a file, or hex hashes given one by one) into ``list_name``; the batch
    records ``source`` as where it came from (default: the file's name).

    Every supplier record is an item: a known one (same supplier id, or holding one of its
    hashes) is updated — recategorised, extended, or taken off the list by a value that is
    not imported — and a new one added. With ``replace`` the file is the supplier's complete
    list: items it lacks leave, but more than 5% only with ``confirm_removals``.

    Perceptual hashes (NCMEC `<pdq>`, a CSV `pdq` column, `--format pdq|vpdq`) are sealed
    with ``sealer``; without one, a file holding them is refused.

    A ``shadow`` import lands as a batch whose would-be matches are counted per client but
    not answered until it is promoted (or rolled back). A ``dry_run`` reads, checks and
    resolves everything as the import would, reports it, and changes nothing.

    Every entry gets ``category``, or the supplier's value for it (a CSV column, the VICS
    `Category`, the ICSE `Baseline` flag) translated by the list supplier's stored map and
    ``category_map`` (which wins); without any map such a value must itself name a category.
    A value the map lacks fails the import.

    ``bounds`` (default: `ImportBounds()`) limit the time, unpacked bytes and temporary disk
    the import may take; past one it raises `ImportLimit` and nothing is changed.
    """
    started = time.monotonic()
    bounds = bounds or ImportBounds()
    deadline = bounds.deadline()
    hash_list, categories, default_category = check_options(
        store,
        list_name,
        fmt=fmt,
        category=category,
        category_column=category_column,
        category_map=category_map,
    )
    named = source
    source = source or (path.name if isinstance(path, Path) else "command line")
    report = ImportReport(
        list_name,
        named or (str(path) if isinstance(path, Path) else source),
        shadow=shadow,
        replace=replace,
        dry_run=dry_run,
    )
    opened = (
        _open(path, bounds, deadline)
        if isinstance(path, Path)
        else io.BytesIO("\n".join(path).encode())
    )
    size = _size(path) if isinstance(path, Path) else 0
    tally = Tally()
    with opened as stream, RunDigester(digester, parallel=size >= PARALLEL_FROM_BYTES) as runs:
        tick = _progress_reader(stream, progress, deadline)
        detected = _detect(stream, fmt)
        items = _parse(stream, detected, columns, category_column, bounds, deadline)
        builder = RecordBuilder(
            digester,
            runs,
            tally,
            default_category,
            categories,
            sealer=None if hash_list.known_good else sealer,
            tick=tick,
            chunk_records=chunk_size,
            unit=_UNITS.get(detected, "line"),
        )
        checked = _refuse_invalid(builder.chunks(items), tally, skip_invalid)
        outcome = store.import_records(
            hash_list.list_id,
            checked,
            source=source,
            actor=actor,
            shadow=shadow,
            sealed=builder.sealed,
            replace=replace,
            max_removed_share=None if confirm_removals else _replace_share(store),
            dry_run=dry_run,
        )
    _fill_report(report, tally, outcome, store)
    if dry_run:
        report.batch_id = 0  # none was kept
    report.warnings = _category_warnings(store, hash_list, outcome)
    report.seconds = round(time.monotonic() - started, 3)
    return report


def check_options(
    store: Store,
    list_name: str,
    *,
    fmt: str = "auto",
    category: str | None = None,
    category_column: str | None = None,
    category_map: Mapping[str, str] | None = None,
) -> tuple[HashList, Categories, int | None]:
    """Everything about an import that can be refused without its file (the faces ask
    before they read an upload): the list, its categories as this import maps them, and the
    category id every entry gets (None: the file says)."""
    if fmt not in READABLE_FORMATS:
        raise ImportRejected(
            f"unknown format {fmt!r}; use one of {', '.join(READABLE_FORMATS)}; nothing was changed"
        )
    hash_list = find_list(store, list_name)
    categories = _supplier_categories(store, hash_list.supplier, category_map)
    if hash_list.known_good:
        # A known-good list holds one kind of entry, whatever the file says.
        if category not in (None, KNOWN_GOOD) or category_column or category_map:
            raise ImportRejected(
                f"{list_name} is a known-good list: its entries are all {KNOWN_GOOD!r}; "
                "give no category; nothing was changed"
            )
        if fmt in ("pdq", "vpdq"):
            raise ImportRejected(
                f"{list_name} is a known-good list: it holds exact hashes only; nothing was changed"
            )
        category = KNOWN_GOOD
        categories = Categories({}, mapped=True)
    elif category == KNOWN_GOOD:
        raise ImportRejected(
            f"{KNOWN_GOOD!r} is for known-good lists, and {list_name} is not one; "
            "nothing was changed"
        )
    if fmt in ("pdq", "vpdq") and category is None:
        kind = "vPDQ" if fmt == "vpdq" else "PDQ"
        raise ImportRejected(f"a {kind} list needs --category; nothing was changed")
    default = None if category is None else find_category(store, category).category_id
    return hash_list, categories, default


# What a format's errors count in, when not lines.
_UNITS = {"vics": "item", "ncmec": "record"}


def _detect(stream: BinaryIO, fmt: str) -> str:
    if fmt != "auto":
        return fmt
    try:
        if looks_like_rds(stream.read(len(MAGIC))):
            return "nsrl-rds"
        stream.seek(0)
        return detect_format(stream)
    except FormatError as exc:
        raise ImportRejected(f"{stream.name}: {exc}; nothing was changed") from None


def _replace_share(store: Store) -> float:
    """The share of a list a replacing delivery may take off unconfirmed (policy)."""
    try:
        return Policy.parse(store.policies()).replace_max_removed_percent / 100
    except PolicyError:
        return Policy.parse({}).replace_max_removed_percent / 100


def _fill_report(report: ImportReport, tally: Tally, outcome: ImportOutcome, store: Store) -> None:
    names = {c.category_id: c.name for c in store.categories()}
    report.batch_id = outcome.batch_id
    report.records_read = tally.records_read
    report.added, report.changed, report.unchanged = (
        outcome.added,
        outcome.changed,
        outcome.unchanged,
    )
    skipped = dict(tally.skipped)
    for reason, count in outcome.skipped.items():
        skipped[reason] = skipped.get(reason, 0) + count
    report.skipped = skipped
    report.invalid, report.errors = tally.invalid, tally.errors
    report.removed, report.replaced = outcome.removed, outcome.replaced
    report.deletions_read, report.not_found = tally.deletions_read, outcome.not_found
    report.hashes_added = outcome.hashes_added
    report.empty_file_dropped = tally.empty_file_dropped
    report.known_good_collisions = outcome.known_good_collisions
    report.recategorised = [
        {
            "item": r.item_id,
            "ref": r.ref,
            "before": names.get(r.before, str(r.before)),
            "after": NOT_IMPORTED_NAME if r.after is None else names.get(r.after, str(r.after)),
            "before_value": r.before_value,
            "after_value": r.after_value,
        }
        for r in outcome.recategorised
    ]


def _category_warnings(store: Store, hash_list: HashList, outcome: ImportOutcome) -> list[str]:
    """An import that no client will ever be answered from must say so."""
    if not outcome.category_ids or hash_list.known_good:
        return []
    categories = {c.category_id: c for c in store.categories()}
    warnings = []
    if not hash_list.enabled:
        warnings.append(f"list {hash_list.name} is disabled: nothing on it is answered")
    clients = [c for c in store.clients() if c.enabled]
    for category_id in outcome.category_ids:
        category = categories[category_id]
        if not category.enabled:
            warnings.append(f"category {category.name} is disabled: its entries are not answered")
        granted = any(
            g.list_id in (None, hash_list.list_id) and g.category_id in (None, category_id)
            for client in clients
            for g in client.grants
        )
        if not granted:
            warnings.append(
                f"no client is granted {hash_list.name} x {category.name}: nobody checks it"
            )
    return warnings


@contextlib.contextmanager
def _open(path: Path, bounds: ImportBounds, deadline: Deadline) -> Iterator[BinaryIO]:
    """The file as UTF-8 bytes, unpacked and transcoded as it is read (`admin.sources`)."""
    try:
        with open_source(path, bounds, deadline) as source:
            yield source
    except SourceError as exc:
        raise ImportRejected(f"{exc}; nothing was changed") from None


def _parse(
    stream: BinaryIO,
    fmt: str,
    columns: Mapping[str, str] | None,
    category_column: str | None,
    bounds: ImportBounds,
    deadline: Deadline,
) -> Iterator[Item]:
    try:
        if fmt == "nsrl-rds":
            if not isinstance(stream, Source):
                raise FormatError("an NSRL RDS database is imported from a file")
            # Closed however the import ends: the database connection with it.
            with (
                as_file(stream, bounds) as database,
                contextlib.closing(parse_rds(database, bounds, deadline)) as rows,
            ):
                yield from rows
            return
        stream.seek(0)
        if fmt == "pdq":
            yield from parse_pdq(stream)
        elif fmt == "vpdq":
            yield from parse_vpdq(stream)
        else:
            yield from parse(stream, fmt, columns=columns, category_column=category_column)
    except (FormatError, InvalidHash) as exc:
        raise ImportRejected(f"{stream.name}: {exc}; nothing was changed") from None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _supplier_categories(
    store: Store, supplier: str, category_map: Mapping[str, str] | None
) -> Categories:
    """The list supplier's stored map, overridden value by value by this import's map."""
    known = {c.name: c.category_id for c in store.categories()}
    mapped = store.category_map(supplier)
    for value, name in (category_map or {}).items():
        mapped[value] = (
            NOT_IMPORTED if name == NOT_IMPORTED_NAME else find_category(store, name).category_id
        )
    if not mapped:
        return Categories(known, mapped=False)
    return Categories(mapped, mapped=True, known=tuple(known))


def _refuse_invalid(
    chunks: Iterator[_Block], report: RemovalReport | Tally, skip_invalid: bool
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
    bounds: ImportBounds | None = None,
) -> RemovalReport:
    """Remove from ``list_name`` every hash listed in ``path`` (categories are ignored),
    within ``bounds`` as an import is."""
    hash_list = find_list(store, list_name)
    report = RemovalReport(list_name, str(path))
    bounds = bounds or ImportBounds()
    deadline = bounds.deadline()
    with _open(path, bounds, deadline) as stream:
        entries: Iterable[Item]
        if fmt == "pdq":
            entries = parse_pdq(stream)
        elif fmt == "vpdq":
            entries = parse_vpdq(stream)
        else:
            entries = _parse(stream, fmt, None, None, bounds, deadline)
        blocks = _refuse_invalid(_removal_blocks(entries, digester, report), report, skip_invalid)
        outcome = store.remove_entries(hash_list.list_id, blocks, source=path.name, actor=actor)
    report.batch_id, report.removed, report.not_found = (
        outcome.batch_id,
        outcome.removed,
        outcome.not_found,
    )
    return report


def _removal_blocks(
    items: Iterable[Item],
    digester: Digester,
    report: RemovalReport,
) -> Iterator[bytes]:
    pending: list[bytes] = []
    for item in items:
        if isinstance(item, LineError):
            _note_error(report, item)
        elif isinstance(item, Skipped | Deletion | PdqDeletion | ItemDeletion):
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
    replace: bool = False,
    confirm_removals: bool = False,
) -> ImportReport:
    """Import a plain PDQ list (`--format pdq`), or with ``videos`` a vPDQ list (`--format
    vpdq`, one video per line): each hash, or each video's frame set, becomes an item named
    by its keyed digest, the hashes themselves stored sealed."""
    return import_file(
        store,
        digester,
        list_name,
        path,
        actor=actor,
        fmt="vpdq" if videos else "pdq",
        category=category,
        skip_invalid=skip_invalid,
        shadow=shadow,
        sealer=sealer,
        replace=replace,
        confirm_removals=confirm_removals,
    )
