"""Scanning stored files: walk the roots (folders or single files), hash each file once (in
parallel: exact hashes, PDQ of images, vPDQ of videos), check the hashes in batches, and say
per file: match, no match, or could not be checked.

Never follows a symbolic link out of the given roots; skips devices, sockets and FIFOs;
reports what it cannot read. A file is clean only if every one of its hashes came back
"no match" (`verdicts`). Reads files and talks to the service through `HashcheckClient`;
nothing else.
"""

from __future__ import annotations

import fnmatch
import functools
import os
import stat
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from hashcheck.client.files import FileHashes, hash_file
from hashcheck.client.queries import Query
from hashcheck.client.results import Match, Outcome, items_of, match_ids_of
from hashcheck.client.sync import HashcheckClient
from hashcheck.client.verdicts import verdict

OUTSIDE = "a symbolic link out of the scanned roots: not followed (scan where it points)"


@dataclass(frozen=True)
class Filters:
    include: Sequence[str] = ()  # globs on the path relative to its root; empty: everything
    exclude: Sequence[str] = ()
    min_size: int = 0
    max_size: int | None = None
    since: float | None = None  # modification time, Unix seconds

    def wanted(self, relative: str, status: os.stat_result) -> bool:
        if self.include and not any(fnmatch.fnmatch(relative, g) for g in self.include):
            return False
        if any(fnmatch.fnmatch(relative, g) for g in self.exclude):
            return False
        if status.st_size < self.min_size:
            return False
        if self.max_size is not None and status.st_size > self.max_size:
            return False
        return self.since is None or status.st_mtime >= self.since


@dataclass(frozen=True)
class Hashing:
    """What to make of each file besides its exact hashes."""

    perceptual: bool = True  # PDQ of images (the `pdq` extra) and vPDQ of videos
    videos: bool = True  # vPDQ needs FFmpeg's programs; without them it is skipped, said so


class Found(NamedTuple):
    """A regular file to scan, as the walk saw it."""

    path: Path
    size: int
    mtime_ns: int
    inode: int = 0
    ctime_ns: int = 0  # set by every write and by setting the times back: no one can forge it

    @classmethod
    def of(cls, path: Path, status: os.stat_result) -> Found:
        return cls(path, status.st_size, status.st_mtime_ns, status.st_ino, status.st_ctime_ns)


@dataclass
class FileReport:
    path: str
    outcome: Outcome
    size: int = 0
    hashes: dict[str, Any] = field(default_factory=dict)
    matches: list[Match] = field(default_factory=list)
    reason: str | None = None
    notes: list[str] = field(default_factory=list)  # what of a checked file was not checked
    mtime_ns: int = 0
    inode: int = 0
    ctime_ns: int = 0
    earlier: bool = False  # hashed in an earlier run (the state file), answered now
    made: FileHashes | None = None  # every hash of the file, for the state file

    @property
    def match_ids(self) -> list[str]:
        return list(match_ids_of(self.matches))

    @property
    def items(self) -> list[int]:
        return list(items_of(self.matches))

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "outcome": self.outcome.value,
            "size": self.size,
            **self.hashes,
            "matches": [m.__dict__ for m in self.matches],
            "match_ids": self.match_ids,
            "items": self.items,
            "reason": self.reason,
            "notes": self.notes,
            "earlier": self.earlier,
        }


def walk(roots: Sequence[Path], filters: Filters) -> Iterator[Found | FileReport]:
    """Every regular file to scan, and a report for what cannot be read. A root may be a
    folder (walked; filters on the path below it) or a file (filters on its name)."""
    resolved = [root.resolve() for root in roots]
    for root in roots:
        try:
            status = root.stat()
        except OSError as exc:
            yield FileReport(str(root), Outcome.INDETERMINATE, reason=f"unreadable: {exc.strerror}")
            continue
        if stat.S_ISREG(status.st_mode):
            if filters.wanted(root.name, status):
                yield Found.of(root, status)
            continue
        yield from _walk_folder(root, resolved, filters)


def _walk_folder(
    root: Path, resolved: list[Path], filters: Filters
) -> Iterator[Found | FileReport]:
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            yield FileReport(
                str(folder), Outcome.INDETERMINATE, reason=f"unreadable: {exc.strerror}"
            )
            continue
        for entry in entries:
            path = Path(entry.path)
            try:
                status = entry.stat(follow_symlinks=False)
                if stat.S_ISLNK(status.st_mode):
                    target = path.resolve()
                    if not any(target.is_relative_to(r) for r in resolved):
                        # Never followed, but said (unless filtered out: its target's size
                        # and time count): a web server may serve what it points to.
                        if _outside_wanted(path, root, filters):
                            yield FileReport(str(path), Outcome.INDETERMINATE, reason=OUTSIDE)
                        continue
                    status = target.stat()
                    if stat.S_ISDIR(status.st_mode):
                        continue  # its target is walked as part of its root
            except OSError as exc:
                yield FileReport(
                    str(path), Outcome.INDETERMINATE, reason=f"unreadable: {exc.strerror}"
                )
                continue
            except RuntimeError:  # Path.resolve on a loop of links (Python 3.11, 3.12)
                yield FileReport(str(path), Outcome.INDETERMINATE, reason="a loop of links")
                continue
            if stat.S_ISDIR(status.st_mode):
                stack.append(path)
            elif stat.S_ISREG(status.st_mode) and filters.wanted(
                str(path.relative_to(root)), status
            ):
                yield Found.of(path, status)
            # devices, sockets and FIFOs are skipped: reading them could block or mislead


def _outside_wanted(link: Path, root: Path, filters: Filters) -> bool:
    try:
        return filters.wanted(str(link.relative_to(root)), link.stat())
    except OSError:
        return True  # a dangling link, or one it cannot stat: said


def hash_many(
    files: list[Path], workers: int | None = None, hashing: Hashing | None = None
) -> Iterator[FileHashes | str]:
    """The hashes of many files, in order (or the reason a file could not be read), spread
    over worker processes in chunks: per-file Python work would otherwise hold one core."""
    count = workers or os.cpu_count() or 2
    work = functools.partial(_hashes_or_reason, hashing=hashing or Hashing())
    with ProcessPoolExecutor(max_workers=count, initializer=_worker_start) as pool:
        yield from pool.map(work, files, chunksize=_chunk(len(files), count))


def _worker_start() -> None:
    """Each worker process is one core's work: numpy's own BLAS threads (PDQ's matrix
    products) would only contend with the other workers, and on a busy machine a small
    product then waits milliseconds for threads to wake."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # a client-only install: no numpy either
        return
    threadpool_limits(1, user_api="blas")


def _chunk(files: int, workers: int) -> int:
    """Files per task: large enough to amortise the hand-over, small enough that a few big
    files still spread over every worker."""
    return max(1, min(256, files // (workers * 4)))


def _hashes_or_reason(path: Path, hashing: Hashing) -> FileHashes | str:
    try:
        return hash_file(path, perceptual=hashing.perceptual, videos=hashing.videos)
    except OSError as exc:
        return f"unreadable: {exc.strerror or exc}"


def scan(
    client: HashcheckClient,
    roots: Sequence[Path],
    *,
    filters: Filters | None = None,
    hashing: Hashing | None = None,
    earlier: Callable[[Found], FileHashes | None] = lambda _: None,
    batch_files: int = 1000,
    workers: int | None = None,
) -> Iterator[FileReport]:
    """One report per file (and per unreadable entry), in batches as they are checked. Files
    are hashed in worker processes (one read each), batches checked as they fill. A file
    ``earlier`` has hashes for (the state file of an earlier run, the file unchanged) is not
    read again, but asked again like every other: lists change between runs. Raises
    `CredentialsRefused` at the first batch the service refuses: nothing more can be
    checked."""
    count = workers or os.cpu_count() or 2
    work = functools.partial(_hashes_or_reason, hashing=hashing or Hashing())
    with ProcessPoolExecutor(max_workers=count, initializer=_worker_start) as pool:

        def checked(batch: list[tuple[Found, FileHashes | None]]) -> Iterator[FileReport]:
            unread = [f.path for f, known in batch if known is None]
            read = iter(pool.map(work, unread, chunksize=_chunk(len(unread), count)))
            made = [next(read) if known is None else known for _, known in batch]
            for report, (_, known) in zip(
                _check(client, [f for f, _ in batch], made), batch, strict=True
            ):
                report.earlier = known is not None
                yield report

        batch: list[tuple[Found, FileHashes | None]] = []
        for item in walk(roots, filters or Filters()):
            if isinstance(item, FileReport):
                yield item
                continue
            batch.append((item, earlier(item)))
            if len(batch) >= batch_files:
                yield from checked(batch)
                batch = []
        if batch:
            yield from checked(batch)


def check_files(
    client: HashcheckClient, files: list[Found], hashing: Hashing | None = None
) -> Iterator[FileReport]:
    """Hash (in this process) and check a given set of files: watch mode's few files."""
    chosen = hashing or Hashing()
    return _check(client, files, [_hashes_or_reason(f.path, chosen) for f in files])


def _check(
    client: HashcheckClient, files: list[Found], hashed: list[FileHashes | str]
) -> Iterator[FileReport]:
    queries: list[Query] = []
    spans: list[tuple[int, int]] = []
    for made in hashed:
        asked = made.queries() if isinstance(made, FileHashes) else []
        spans.append((len(queries), len(queries) + len(asked)))
        queries.extend(asked)
    results = client.check(queries) if queries else []
    for found, made, (start, end) in zip(files, hashed, spans, strict=True):
        report = FileReport(str(found.path), Outcome.INDETERMINATE, found.size)
        report.mtime_ns, report.inode, report.ctime_ns = found.mtime_ns, found.inode, found.ctime_ns
        if isinstance(made, str):
            report.reason = made
        else:
            report.hashes = made.as_dict()
            report.made = made
            decided = verdict(results[start:end], made)
            report.outcome = decided.outcome
            report.matches = list(decided.matches)
            report.reason = decided.reason
            report.notes = list(decided.notes)
        yield report
