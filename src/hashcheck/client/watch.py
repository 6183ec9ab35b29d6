"""Watching upload folders: check files as they arrive or change (Linux inotify, through
ctypes; no dependency). A file is checked once it is closed after writing, or moved in;
new subfolders are watched as they appear.

Reads files and inotify events; talks to the service through the scanner's checks.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import select
import struct
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from hashcheck.client.scan import FileReport, Filters, check_files
from hashcheck.client.sync import HashcheckClient

IN_CLOSE_WRITE = 0x00000008
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_ISDIR = 0x40000000
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
_EVENT = struct.Struct("iIII")


class WatchUnavailable(OSError):
    """This system offers no inotify."""


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
        mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE
        descriptor = self._libc.inotify_add_watch(self.fd, os.fsencode(folder), mask)
        if descriptor >= 0:
            self._folders[descriptor] = folder

    def events(self, timeout: float) -> Iterator[tuple[Path, int]]:
        """(path, mask) of the events that arrive within ``timeout`` seconds."""
        readable, _, _ = select.select([self.fd], [], [], timeout)
        if not readable:
            return
        try:
            data = os.read(self.fd, 1 << 16)
        except BlockingIOError:
            return
        offset = 0
        while offset + _EVENT.size <= len(data):
            descriptor, mask, _, length = _EVENT.unpack_from(data, offset)
            raw = data[offset + _EVENT.size : offset + _EVENT.size + length]
            offset += _EVENT.size + length
            folder = self._folders.get(descriptor)
            if folder is not None:
                yield folder / os.fsdecode(raw.rstrip(b"\0")), mask

    def close(self) -> None:
        os.close(self.fd)


def watch(
    client: HashcheckClient,
    root: Path,
    on_report: Callable[[FileReport], None],
    stop: threading.Event,
    *,
    filters: Filters | None = None,
) -> None:
    """Check every file written or moved under ``root`` until ``stop`` is set."""
    notify = Inotify()
    try:
        for folder, _, _ in os.walk(root):
            notify.add(Path(folder))
        wanted = filters or Filters()
        while not stop.is_set():
            arrived: list[tuple[Path, int]] = []
            for path, mask in notify.events(0.2):
                if mask & IN_ISDIR:
                    if mask & (IN_CREATE | IN_MOVED_TO):
                        # Files may land in it before its watch is in place: take those too.
                        for folder, _, names in os.walk(path):
                            notify.add(Path(folder))
                            for name in names:
                                found = Path(folder) / name
                                if found.is_file() and not found.is_symlink():
                                    arrived.append((found, found.stat().st_size))
                    continue
                if not mask & (IN_CLOSE_WRITE | IN_MOVED_TO):
                    continue
                try:
                    status = path.lstat()
                except OSError:
                    continue  # gone again already
                if (
                    path.is_file()
                    and not path.is_symlink()
                    and wanted.wanted(str(path.relative_to(root)), status)
                ):
                    arrived.append((path, status.st_size))
            if arrived:
                for report in check_files(client, arrived):
                    on_report(report)
    finally:
        notify.close()
