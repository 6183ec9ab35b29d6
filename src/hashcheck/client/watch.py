"""Watching upload folders: check the files there, then files as they arrive or change (Linux
inotify, through ctypes; no dependency). A file is checked once it is closed after writing,
moved in, or hard-linked in; new subfolders are watched as they appear, the scan's filters
apply in every folder, a folder renamed inside the tree keeps being watched under its new
name, and a file that could not be checked is tried again.

Never drops an event silently: when the kernel's event queue overflows (events were lost),
the whole tree is scanned again and this is said. Reads files and inotify events; talks to the
service through the scanner's checks.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import select
import stat
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from hashcheck.client.files import FileHashes
from hashcheck.client.results import Outcome
from hashcheck.client.scan import FileReport, Filters, Found, Hashing, check_files, scan, walk
from hashcheck.client.sync import HashcheckClient

IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE_SELF = 0x00000400
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_ISDIR = 0x40000000
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
WATCHED = IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE_SELF
_EVENT = struct.Struct("iIII")
log = logging.getLogger("hashcheck.watch")


class WatchUnavailable(OSError):
    """This system offers no inotify."""


@dataclass(frozen=True)
class Event:
    descriptor: int  # the watched folder it happened in (-1: the queue overflowed)
    name: str  # of the entry in that folder ("": the folder itself)
    mask: int
    cookie: int  # pairs a rename's MOVED_FROM with its MOVED_TO


class Inotify:
    def __init__(self) -> None:
        name = ctypes.util.find_library("c")
        if name is None:
            raise WatchUnavailable("no C library to reach inotify through")
        self._libc = ctypes.CDLL(name, use_errno=True)
        if not hasattr(self._libc, "inotify_init1"):
            raise WatchUnavailable("this system has no inotify")
        self.fd = self._libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self.fd < 0:
            raise WatchUnavailable(os.strerror(ctypes.get_errno()))
        self._folders: dict[int, Path] = {}

    def add(self, folder: Path) -> None:
        descriptor = self._libc.inotify_add_watch(
            self.fd, os.fsencode(folder), WATCHED | IN_ONLYDIR
        )
        if descriptor >= 0:
            self._folders[descriptor] = folder  # the same folder again: the same descriptor

    def moved(self, old: Path, new: Path) -> None:
        """A watched folder was renamed: it and everything below it go by the new name."""
        for descriptor, folder in list(self._folders.items()):
            if folder == old or folder.is_relative_to(old):
                self._folders[descriptor] = new / folder.relative_to(old)

    def forget(self, gone: Path) -> None:
        """A folder left the tree: stop watching it and what is below it."""
        for descriptor, folder in list(self._folders.items()):
            if folder == gone or folder.is_relative_to(gone):
                self._libc.inotify_rm_watch(self.fd, descriptor)
                del self._folders[descriptor]

    def folders(self) -> list[Path]:
        return sorted(set(self._folders.values()))

    def path(self, event: Event) -> Path | None:
        """Where the event happened, by the folder's name now (None: no longer watched)."""
        folder = self._folders.get(event.descriptor)
        if folder is None:
            return None
        return folder / event.name if event.name else folder

    def events(self, timeout: float) -> Iterator[Event]:
        """The events that arrive within ``timeout`` seconds."""
        readable, _, _ = select.select([self.fd], [], [], timeout)
        if not readable:
            return
        try:
            data = os.read(self.fd, 1 << 16)
        except BlockingIOError:
            return
        offset = 0
        while offset + _EVENT.size <= len(data):
            descriptor, mask, cookie, length = _EVENT.unpack_from(data, offset)
            raw = data[offset + _EVENT.size : offset + _EVENT.size + length]
            offset += _EVENT.size + length
            if mask & IN_Q_OVERFLOW:
                yield Event(-1, "", mask, cookie)
                continue
            if mask & IN_IGNORED:
                self._folders.pop(descriptor, None)  # its folder was deleted or unwatched
                continue
            # Named by descriptor, not by path: the folder's name is read when the event is
            # taken, after the renames before it (a rename and a write can share one read).
            yield Event(descriptor, os.fsdecode(raw.rstrip(b"\0")), mask, cookie)

    def close(self) -> None:
        os.close(self.fd)


RETRY_FIRST = 5.0  # seconds before a file that could not be checked is tried again
RETRY_MOST = 300.0
UNRESOLVED_FOR = 10.0  # seconds a written file not found where its event said is looked for


def watch(
    client: HashcheckClient,
    root: Path,
    on_report: Callable[[FileReport], None],
    stop: threading.Event,
    *,
    filters: Filters | None = None,
    hashing: Hashing | None = None,
    on_notice: Callable[[str], None] = log.warning,
    earlier: Callable[[Found], FileHashes | None] = lambda _: None,
) -> None:
    """Check every file under ``root`` — those there at the start (a full scan, once the
    watches are in place so that nothing arriving meanwhile is missed), then every file
    written, moved or linked in — until ``stop`` is set. A file that could not be checked
    (the service unreachable) is tried again, waiting longer each time."""
    wanted = filters or Filters()
    notify = Inotify()
    arrivals = Arrivals(notify, root, wanted, on_notice)
    retry: dict[Path, tuple[float, float]] = {}  # path: (when, wait after that)

    def reported(report: FileReport) -> None:
        path = Path(report.path)
        if report.outcome is Outcome.INDETERMINATE:
            _, wait = retry.get(path, (0.0, RETRY_FIRST / 2))
            wait = min(wait * 2, RETRY_MOST)
            retry[path] = (time.monotonic() + wait, wait)
        else:
            retry.pop(path, None)
        on_report(report)

    try:
        _watch_tree(notify, root)
        for report in scan(client, [root], filters=wanted, hashing=hashing, earlier=earlier):
            reported(report)
        while not stop.is_set():
            arrived = {f.path: f for f in arrivals.take(list(notify.events(0.2)))}
            now = time.monotonic()
            for path in [p for p, (when, _) in retry.items() if when <= now and p not in arrived]:
                again = _found(root, wanted, path)
                if again is None:
                    del retry[path]  # gone, or no longer wanted
                else:
                    arrived[path] = again
            if arrived:
                for report in check_files(client, list(arrived.values()), hashing):
                    reported(report)
    finally:
        notify.close()


def _watch_tree(notify: Inotify, top: Path) -> None:
    for folder, _, _ in os.walk(top):
        notify.add(Path(folder))


class Arrivals:
    """Turns inotify events into the files to check (each once), keeping the watches in step
    with the tree: folders made, renamed or moved out; and files whose event named a folder
    renamed since, looked for again under its new name."""

    def __init__(
        self, notify: Inotify, root: Path, wanted: Filters, on_notice: Callable[[str], None]
    ) -> None:
        self._notify = notify
        self._root = root
        self._wanted = wanted
        self._on_notice = on_notice
        self._unresolved: dict[Path, float] = {}  # written, not found there (yet): since when

    def take(self, events: list[Event]) -> list[Found]:
        if any(e.mask & IN_Q_OVERFLOW for e in events):
            self._on_notice(
                "the event queue overflowed (events were lost): scanning the whole watched "
                f"tree {self._root} again"
            )
            _watch_tree(self._notify, self._root)
            self._unresolved.clear()
            return [f for f in walk([self._root], self._wanted) if isinstance(f, Found)]
        files: list[Path] = list(self._unresolved)
        folders: list[Path] = []
        leaving: dict[int, Path] = {}
        for event in events:
            path = self._notify.path(event)
            if path is None:
                continue
            if event.mask & IN_ISDIR:
                if event.mask & IN_MOVED_FROM:
                    leaving[event.cookie] = path
                elif event.mask & IN_MOVED_TO and event.cookie in leaving:
                    # Renamed inside the tree: its files were checked under the old name;
                    # what this batch or an earlier one saw written there goes by the new one.
                    old = leaving.pop(event.cookie)
                    self._notify.moved(old, path)
                    files = [_renamed(f, old, path) for f in files]
                    folders = [_renamed(f, old, path) for f in folders]
                    self._unresolved = {
                        _renamed(f, old, path): t for f, t in self._unresolved.items()
                    }
                elif event.mask & (IN_CREATE | IN_MOVED_TO):
                    folders.append(path)
                continue
            if event.mask & (IN_CLOSE_WRITE | IN_MOVED_TO):
                files.append(path)
            elif event.mask & IN_CREATE and _linked(path):
                files.append(path)  # a hard link made into the tree: complete at once
        for gone in leaving.values():
            self._notify.forget(gone)  # moved out of the tree
        found: dict[Path, Found] = {}
        for folder in folders:
            # Files may land in it before its watch is in place: take those too.
            _watch_tree(self._notify, folder)
            for inside in walk([folder], Filters()):
                if isinstance(inside, Found) and _wanted(self._root, self._wanted, inside.path):
                    found[inside.path] = inside
        now = time.monotonic()
        for path in files:
            item = _found(self._root, self._wanted, path)
            if item is not None:
                found[item.path] = item
                self._unresolved.pop(path, None)
            elif not path.exists() and not path.is_symlink():
                # Its folder may have been renamed after the write; the rename's event is
                # still to come. Looked for again, for a while (then it was deleted).
                since = self._unresolved.setdefault(path, now)
                if now - since > UNRESOLVED_FOR:
                    del self._unresolved[path]
            else:
                self._unresolved.pop(path, None)  # not a wanted regular file
        return list(found.values())


def _renamed(path: Path, old: Path, new: Path) -> Path:
    return new / path.relative_to(old) if path == old or path.is_relative_to(old) else path


def _linked(path: Path) -> bool:
    try:
        status = path.lstat()
    except OSError:
        return False
    return stat.S_ISREG(status.st_mode) and status.st_nlink > 1


def _wanted(root: Path, wanted: Filters, path: Path) -> bool:
    try:
        return wanted.wanted(str(path.relative_to(root)), path.lstat())
    except (OSError, ValueError):
        return False


def _found(root: Path, wanted: Filters, path: Path) -> Found | None:
    try:
        status = path.lstat()
    except OSError:
        return None  # gone again already
    if not stat.S_ISREG(status.st_mode) or not wanted.wanted(str(path.relative_to(root)), status):
        return None
    return Found.of(path, status)
