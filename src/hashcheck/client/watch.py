"""Watching upload folders: check files as they arrive or change (Linux inotify, through
ctypes; no dependency). A file is checked once it is closed after writing, or moved in; new
subfolders are watched as they appear, the scan's filters apply in every folder, and a folder
renamed inside the tree keeps being watched under its new name.

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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from hashcheck.client.scan import FileReport, Filters, Found, Hashing, check_files, walk
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
    path: Path  # the folder itself for events about it (overflow: the root)
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
                yield Event(Path(), mask, cookie)
                continue
            folder = self._folders.get(descriptor)
            if mask & IN_IGNORED:
                self._folders.pop(descriptor, None)  # its folder was deleted or unwatched
                continue
            if folder is not None:
                name = os.fsdecode(raw.rstrip(b"\0"))
                yield Event(folder / name if name else folder, mask, cookie)

    def close(self) -> None:
        os.close(self.fd)


def watch(
    client: HashcheckClient,
    root: Path,
    on_report: Callable[[FileReport], None],
    stop: threading.Event,
    *,
    filters: Filters | None = None,
    hashing: Hashing | None = None,
    on_notice: Callable[[str], None] = log.warning,
) -> None:
    """Check every file written or moved under ``root`` until ``stop`` is set."""
    wanted = filters or Filters()
    notify = Inotify()
    try:
        _watch_tree(notify, root)
        while not stop.is_set():
            arrived = _arrived(notify, root, wanted, list(notify.events(0.2)), on_notice)
            if arrived:
                for report in check_files(client, arrived, hashing):
                    on_report(report)
    finally:
        notify.close()


def _watch_tree(notify: Inotify, top: Path) -> None:
    for folder, _, _ in os.walk(top):
        notify.add(Path(folder))


def _arrived(
    notify: Inotify,
    root: Path,
    wanted: Filters,
    events: list[Event],
    on_notice: Callable[[str], None],
) -> list[Found]:
    """The files these events bring to check (each once), keeping the watches in step."""
    if any(e.mask & IN_Q_OVERFLOW for e in events):
        on_notice(
            "the event queue overflowed (events were lost): scanning the whole watched "
            f"tree {root} again"
        )
        _watch_tree(notify, root)
        return [f for f in walk([root], wanted) if isinstance(f, Found)]
    leaving = {e.cookie: e.path for e in events if e.mask & IN_MOVED_FROM and e.mask & IN_ISDIR}
    found: dict[Path, Found] = {}
    for event in events:
        if event.mask & IN_ISDIR:
            if event.mask & IN_MOVED_TO and event.cookie in leaving:
                notify.moved(leaving.pop(event.cookie), event.path)
                continue  # renamed inside the tree: its files were checked under the old name
            if event.mask & (IN_CREATE | IN_MOVED_TO):
                # Files may land in it before its watch is in place: take those too.
                _watch_tree(notify, event.path)
                for inside in walk([event.path], Filters()):
                    if isinstance(inside, Found) and _wanted(root, wanted, inside.path):
                        found[inside.path] = inside
            continue
        if event.mask & (IN_CLOSE_WRITE | IN_MOVED_TO):
            item = _found(root, wanted, event.path)
            if item is not None:
                found[item.path] = item
    for gone in leaving.values():
        notify.forget(gone)  # moved out of the tree
    return list(found.values())


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
