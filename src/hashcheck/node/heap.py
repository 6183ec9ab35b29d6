"""Keeping the serving process's garbage collector off the checks: its heap as loaded is
moved out of the collector's reach once, before the node says it is ready.

A full collection walks every tracked object: in a worker beside self-submissions (the
follower keeping each new entry's opened hashes) one took 33.5 ms on the event loop's
thread, a stall that every check waiting in it paid. What a worker holds at its first load
(the app, the libraries, the first snapshot) lives as long as the process, so the collector
need never walk it again (`gc.freeze`). Owns nothing else; only `hashcheck serve`'s worker
calls it, never a process that hosts other things (a test run).
"""

from __future__ import annotations

import gc
import logging
import time

log = logging.getLogger("hashcheck.heap")


def settle_heap() -> None:
    """Collect what is garbage now, then keep everything left out of later collections."""
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    log.debug(
        "heap settled: %d objects kept out of collection (%.1f ms)",
        gc.get_freeze_count(),
        (time.perf_counter() - started) * 1000,
    )
