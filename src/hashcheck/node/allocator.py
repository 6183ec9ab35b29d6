"""Handing memory the worker freed back to the kernel (glibc's `malloc_trim`).

A new snapshot leaves the old one's objects to be freed by whichever thread drops the last
reference, while the follower's thread allocated them in an arena of its own; glibc keeps
such freed pages in that arena, so a node's resident memory rose by ~20 MiB at its first
import under load and stayed there (the soak's step, issue 14). Trimming after a publish
gives them back. Owns nothing else; a no-op where the C library has no `malloc_trim`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from collections.abc import Callable

log = logging.getLogger("hashcheck.allocator")


def _trimmer() -> Callable[[], None]:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to hand back this way
        return lambda: None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int

    def give_back() -> None:
        trim(0)

    return give_back


give_back_freed_memory = _trimmer()
