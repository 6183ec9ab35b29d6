"""Usage counters (checked and matched per client × list × day), kept in memory.

The request path only adds to a dict under an uncontended lock; a flusher thread drains the
counts to the store in batches and on shutdown, and puts them back if the store refuses.
A hard crash loses at most the counts of one flush interval.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

from hashcheck.node.periodic import Periodic
from hashcheck.store.interface import Store
from hashcheck.store.records import StatRow

log = logging.getLogger("hashcheck.usage")
Key = tuple[str, int, str]


class UsageCounters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Checks are counted once per request against the tuple of lists the client checks;
        # they are spread over the lists only when drained.
        self._checked: dict[tuple[str, tuple[int, ...], str], int] = {}
        self._matched: dict[Key, int] = {}
        self._day_number = -1
        self._day = ""

    def _today(self) -> str:
        now = time.time()
        number = int(now // 86400)
        if number != self._day_number:
            self._day = time.strftime("%Y-%m-%d", time.gmtime(now))
            self._day_number = number
        return self._day

    def count(
        self,
        client_id: str,
        checked_lists: tuple[int, ...],
        matched: dict[int, int] | None = None,
        hashes: int = 1,
    ) -> None:
        """Add ``hashes`` checks against each checked list, and matches per list."""
        day = self._today()
        key = (client_id, checked_lists, day)
        with self._lock:
            checked = self._checked
            checked[key] = checked.get(key, 0) + hashes
            if matched:
                counts = self._matched
                for list_id, number in matched.items():
                    cell = (client_id, list_id, day)
                    counts[cell] = counts.get(cell, 0) + number

    def drain(self) -> list[StatRow]:
        with self._lock:
            checked, self._checked = self._checked, {}
            matched, self._matched = self._matched, {}
        totals: dict[Key, list[int]] = {}
        for (client_id, lists, day), number in checked.items():
            for list_id in lists:
                totals.setdefault((client_id, list_id, day), [0, 0])[0] += number
        for key, number in matched.items():
            totals.setdefault(key, [0, 0])[1] += number
        return [StatRow(c, lst, day, cell[0], cell[1]) for (c, lst, day), cell in totals.items()]

    def restore(self, rows: Iterable[StatRow]) -> None:
        with self._lock:
            for row in rows:
                if row.checked:
                    key = (row.client_id, (row.list_id,), row.day)
                    self._checked[key] = self._checked.get(key, 0) + row.checked
                if row.matched:
                    cell = (row.client_id, row.list_id, row.day)
                    self._matched[cell] = self._matched.get(cell, 0) + row.matched


class UsageFlusher:
    def __init__(self, counters: UsageCounters, store: Store, interval: float = 5.0) -> None:
        self._counters = counters
        self._store = store
        # A failed flush keeps the counts in memory; they go out with the next one.
        self._loop = Periodic(
            "hashcheck-usage",
            interval,
            self.flush,
            log=log,
            what="flush usage statistics",
            first_at_once=False,
        )
        self._flush_lock = threading.Lock()

    def flush(self) -> int:
        """Write the counts so far; returns the number of rows written."""
        with self._flush_lock:
            rows = self._counters.drain()
            if not rows:
                return 0
            try:
                self._store.add_stats(rows)
            except Exception:
                self._counters.restore(rows)
                raise
            return len(rows)

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        """Stop the thread and flush what is left."""
        self._loop.stop()
        self.flush()
