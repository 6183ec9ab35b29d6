"""Usage counters (checked and matched per client × list × day) and match records (which
client matched which entry on which day; shadow would-be matches), kept in memory.

The request path only adds to dicts under an uncontended lock; a flusher thread drains them
to the store in batches and on shutdown, and puts them back if the store refuses. A hard
crash loses at most one flush interval. Submitted hashes are never part of any of it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence

from hashcheck.node.periodic import Periodic
from hashcheck.store.interface import Store
from hashcheck.store.records import NODE_REPORT_EVERY_S, NodeStatus, ShadowRow, Sighting, StatRow

log = logging.getLogger("hashcheck.usage")
# How often a node process tells the store how it is (the console's overview shows it).
REPORT_EVERY_S = NODE_REPORT_EVERY_S
Key = tuple[str, int, str]


class UsageCounters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Checks are counted once per request against the tuple of lists the client checks;
        # they are spread over the lists only when drained.
        self._checked: dict[tuple[str, tuple[int, ...], str], int] = {}
        self._matched: dict[Key, int] = {}
        # (entry id, client id, day number) -> [last seen, answered]
        self._sightings: dict[tuple[int, str, int], list[int]] = {}
        self._shadow: dict[tuple[str, int, str], int] = {}
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
        *,
        entries: Sequence[int] = (),
        shadowed: Sequence[tuple[int, int]] = (),
        answered: bool = True,
    ) -> None:
        """Add ``hashes`` checks against each checked list and matches per list; record the
        entries the client matched (``answered``: it was told so) and shadow would-be matches
        ((entry id, batch id) pairs)."""
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
            if entries or shadowed:
                self._observe(client_id, day, entries, shadowed, answered)

    def _observe(
        self,
        client_id: str,
        day: str,
        entries: Sequence[int],
        shadowed: Sequence[tuple[int, int]],
        answered: bool,
    ) -> None:
        stamp = int(time.time())
        day_number = self._day_number
        sightings = self._sightings
        for entry_id in entries:
            # [last seen, answered, first seen]
            cell = sightings.setdefault((entry_id, client_id, day_number), [stamp, 0, stamp])
            cell[0] = stamp
            cell[1] |= answered
        for entry_id, batch_id in shadowed:
            sightings.setdefault((entry_id, client_id, day_number), [stamp, 0, stamp])[0] = stamp
            key = (client_id, batch_id, day)
            self._shadow[key] = self._shadow.get(key, 0) + 1

    def drain_matches(self) -> tuple[list[Sighting], list[ShadowRow]]:
        with self._lock:
            sightings, self._sightings = self._sightings, {}
            shadow, self._shadow = self._shadow, {}
        return (
            [
                Sighting(e, c, d, cell[0], bool(cell[1]), cell[2])
                for (e, c, d), cell in sightings.items()
            ],
            [ShadowRow(c, b, day, n) for (c, b, day), n in shadow.items()],
        )

    def restore_matches(self, sightings: Iterable[Sighting], shadow: Iterable[ShadowRow]) -> None:
        with self._lock:
            for s in sightings:
                first = s.first_seen or s.last_seen
                cell = self._sightings.setdefault(
                    (s.entry_id, s.client_id, s.day), [s.last_seen, 0, first]
                )
                cell[0] = max(cell[0], s.last_seen)
                cell[1] |= int(s.answered)
                cell[2] = min(cell[2], first)
            for row in shadow:
                key = (row.client_id, row.batch_id, row.day)
                self._shadow[key] = self._shadow.get(key, 0) + row.matched

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
    def __init__(
        self,
        counters: UsageCounters,
        store: Store,
        interval: float = 5.0,
        report: Callable[[], NodeStatus] | None = None,
    ) -> None:
        self._counters = counters
        self._store = store
        self._report = report
        self._reported_at = 0.0
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
        # Flushes that failed in a row: /readyz says degraded while it is above 0, never
        # silently (the counts are kept and tried again, but the statistics, the prevalence
        # alarm and the retraction feeds wait for them).
        self.failures = 0
        self.failures_total = 0
        self.last_flushed = 0.0  # time.time() of the last flush the store took; 0: none yet
        # Hashes checked and matched per list since the start, as written (for metrics).
        self._totals: dict[tuple[int, str], int] = {}
        self._totals_lock = threading.Lock()

    def flush(self) -> int:
        """Write the counts and match records so far; returns the number of rows written."""
        try:
            written = self._flush()
        except Exception:
            self.failures += 1
            self.failures_total += 1
            log.warning("usage flush failed %d time(s) in a row; tried again", self.failures)
            raise
        self.failures = 0
        self.last_flushed = time.time()
        return written

    def totals_by_list(self) -> dict[tuple[int, str], int]:
        """(list id, "checked" or "matched") -> hashes written to the store since the start."""
        with self._totals_lock:
            return dict(self._totals)

    def _add_totals(self, rows: list[StatRow]) -> None:
        with self._totals_lock:
            totals = self._totals
            for row in rows:
                for kind, number in (("checked", row.checked), ("matched", row.matched)):
                    if number:
                        totals[(row.list_id, kind)] = totals.get((row.list_id, kind), 0) + number

    def _flush(self) -> int:
        with self._flush_lock:
            rows = self._counters.drain()
            sightings, shadow = self._counters.drain_matches()
            if rows:
                try:
                    self._store.add_stats(rows)
                except Exception:
                    self._counters.restore(rows)
                    self._counters.restore_matches(sightings, shadow)
                    raise
                self._add_totals(rows)
            if sightings or shadow:
                try:
                    placed = self._store.record_matches(sightings, shadow)
                except Exception:
                    self._counters.restore_matches(sightings, shadow)
                    raise
                for hold in placed:
                    log.warning(
                        "prevalence alarm: entry %d of list %d put on hold: %s",
                        hold.entry_id,
                        hold.list_id,
                        hold.reason,
                    )
            self._report_status()
            return len(rows) + len(sightings) + len(shadow)

    def _report_status(self) -> None:
        """Say how the node is, every `REPORT_EVERY_S` (not every flush: each report is a
        write); a refused report is logged and tried again at the next flush."""
        if self._report is None or time.monotonic() - self._reported_at < REPORT_EVERY_S:
            return
        try:
            self._store.report_node(self._report())
            self._reported_at = time.monotonic()
        except Exception as exc:
            log.warning("could not report this node's status to the store: %s", exc)

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        """Stop the thread and flush what is left."""
        self._loop.stop()
        self.flush()
