"""Scanning stored files: walk the roots, hash each file once (in parallel), check the hashes
in batches, and say per file: match, no match, or could not be checked.

Never follows a symbolic link out of the given roots; skips devices, sockets and FIFOs;
reports what it cannot read. A file is clean only if every one of its hashes came back
"no match". Reads files and talks to the service through `HashcheckClient`; nothing else.
"""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hashcheck.client.files import digests
from hashcheck.client.results import Match, Outcome, Result
from hashcheck.client.sync import HashcheckClient

ALGORITHMS = ("md5", "sha1", "sha256")


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


@dataclass
class FileReport:
    path: str
    outcome: Outcome
    size: int = 0
    hashes: dict[str, str] = field(default_factory=dict)
    matches: list[Match] = field(default_factory=list)
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "outcome": self.outcome.value,
            "size": self.size,
            **self.hashes,
            "matches": [m.__dict__ for m in self.matches],
            "reason": self.reason,
        }


def walk(roots: Sequence[Path], filters: Filters) -> Iterator[tuple[Path, int] | FileReport]:
    """(file, size) for every regular file to scan, and a report for what is skipped."""
    resolved = [root.resolve() for root in roots]
    for root in roots:
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
                            continue  # a link out of the roots: never followed
                        status = target.stat()
                        if stat.S_ISDIR(status.st_mode):
                            continue  # its target is walked as part of its root
                except OSError as exc:
                    yield FileReport(
                        str(path), Outcome.INDETERMINATE, reason=f"unreadable: {exc.strerror}"
                    )
                    continue
                if stat.S_ISDIR(status.st_mode):
                    stack.append(path)
                elif stat.S_ISREG(status.st_mode):
                    relative = str(path.relative_to(root))
                    if filters.wanted(relative, status):
                        yield path, status.st_size
                # devices, sockets and FIFOs are skipped: reading them could block or mislead


def hash_many(files: list[Path], workers: int | None = None) -> Iterator[dict[str, str] | str]:
    """Digests of many files, in order (or the reason a file could not be read), spread over
    worker processes in chunks: per-file Python work would otherwise hold one core."""
    count = workers or os.cpu_count() or 2
    with ProcessPoolExecutor(max_workers=count) as pool:
        yield from pool.map(_digests_or_reason, files, chunksize=_chunk(len(files), count))


def _chunk(files: int, workers: int) -> int:
    """Files per task: large enough to amortise the hand-over, small enough that a few big
    files still spread over every worker."""
    return max(1, min(256, files // (workers * 4)))


def _digests_or_reason(path: Path) -> dict[str, str] | str:
    try:
        return digests(path)
    except OSError as exc:
        return f"unreadable: {exc.strerror}"


def _hash(item: tuple[Path, int]) -> FileReport:
    path, size = item
    try:
        return FileReport(str(path), Outcome.INDETERMINATE, size, digests(path))
    except OSError as exc:
        return FileReport(
            str(path), Outcome.INDETERMINATE, size, reason=f"unreadable: {exc.strerror}"
        )


def scan(
    client: HashcheckClient,
    roots: Sequence[Path],
    *,
    filters: Filters | None = None,
    skip: Callable[[str], bool] = lambda _: False,
    batch_files: int = 1000,
    workers: int | None = None,
) -> Iterator[FileReport]:
    """One report per file (and per unreadable entry), in batches as they are checked. Files
    are hashed in worker processes (one read each), batches checked as they fill."""
    count = workers or os.cpu_count() or 2
    with ProcessPoolExecutor(max_workers=count) as pool:
        files: list[tuple[Path, int]] = []
        for item in walk(roots, filters or Filters()):
            if isinstance(item, FileReport):
                yield item
            elif not skip(str(item[0])):
                files.append(item)
            if len(files) >= batch_files:
                yield from _check(client, _hashed(pool, count, files))
                files = []
        if files:
            yield from _check(client, _hashed(pool, count, files))


def _hashed(
    pool: ProcessPoolExecutor, workers: int, files: list[tuple[Path, int]]
) -> list[FileReport]:
    found = pool.map(
        _digests_or_reason, [path for path, _ in files], chunksize=_chunk(len(files), workers)
    )
    return [
        FileReport(str(path), Outcome.INDETERMINATE, size, hashes)
        if isinstance(hashes, dict)
        else FileReport(str(path), Outcome.INDETERMINATE, size, reason=hashes)
        for (path, size), hashes in zip(files, found, strict=True)
    ]


def check_files(client: HashcheckClient, files: list[tuple[Path, int]]) -> Iterator[FileReport]:
    """Hash (in this process) and check a given set of (file, size): watch mode's few files."""
    return _check(client, [_hash(item) for item in files])


def _check(client: HashcheckClient, reports: list[FileReport]) -> Iterator[FileReport]:
    hashed = [r for r in reports if r.hashes]
    items = [(a, r.hashes[a]) for r in hashed for a in ALGORITHMS]
    results = client.check(items) if items else []
    for number, report in enumerate(hashed):
        _decide(report, results[number * len(ALGORITHMS) : (number + 1) * len(ALGORITHMS)])
    yield from reports


def _decide(report: FileReport, results: list[Result]) -> None:
    """Match if any hash matched; clean only if every hash was answered "no match"."""
    report.matches = [m for r in results for m in r.matches]
    if any(r.outcome is Outcome.MATCH for r in results):
        report.outcome = Outcome.MATCH
    elif all(r.outcome is Outcome.NO_MATCH for r in results):
        report.outcome = Outcome.NO_MATCH
    else:
        report.outcome = Outcome.INDETERMINATE
        report.reason = next(r.reason for r in results if r.outcome is Outcome.INDETERMINATE)
