"""What a node tells a monitoring system, in Prometheus' text format (`HASHCHECK_METRICS`),
through `prometheus_client` in its multiprocess mode, so that a scrape of any worker — or of
the serve process's own listener — sums all of the node's workers.

The request path only adds to plain dicts on the event loop (`Tally`, a fraction of a
microsecond); once a second, and before each scrape, a worker moves what it counted into
the library's metrics, whose values live in memory-mapped files in the node's metrics folder
(`PROMETHEUS_MULTIPROC_DIR`, made and removed by `hashcheck serve`). Node state (index,
follower, flusher) is read, never changed; open holds, disputes and proposals are read from
the store at scrape time. Never a client id, a submitted hash or a secret in a label.
"""

from __future__ import annotations

import bisect
import logging
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hashcheck.node.runtime import Node
from hashcheck.store.interface import Store

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

log = logging.getLogger("hashcheck.metrics")

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
PATH = "/metrics"
# Seconds; a legacy check takes about a millisecond end to end, a full PDQ batch seconds.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
IMPORT_BUCKETS = (0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
PUBLISH_EVERY_S = 1.0


class Tally:
    """Requests counted on the event loop: per (endpoint, status), the latency histogram's
    buckets (their sum is the count) and the seconds. One dict: the event loop is the only
    writer, and `Metrics.publish` (on the same loop) the only reader."""

    def __init__(self) -> None:
        self.cells: dict[tuple[str, int], list[float]] = {}  # buckets..., +Inf, seconds

    def request(self, endpoint: str, status: int, seconds: float) -> None:
        cells = self.cells.get((endpoint, status))
        if cells is None:
            cells = self.cells[(endpoint, status)] = [0.0] * (len(LATENCY_BUCKETS) + 2)
        cells[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        cells[-1] += seconds

    def take(self) -> dict[tuple[str, int], list[float]]:
        taken, self.cells = self.cells, {}
        return taken


def multiprocess_dir() -> str | None:
    """The node's metrics folder when its workers share one (set before any worker starts)."""
    return os.environ.get(MULTIPROCESS_DIR) or None


class Metrics:
    def __init__(
        self, node: Node, version: str, open_store: Callable[[], Store] | None = None
    ) -> None:
        from prometheus_client import (
            CollectorRegistry,
            Counter,
            Gauge,
            Histogram,
            disable_created_metrics,
        )

        disable_created_metrics()  # type: ignore[no-untyped-call]  # a `_created` series beside every counter: noise here
        self.node = node
        self.tally = Tally()
        self._shared = multiprocess_dir()
        if self._shared is not None:
            _forget_dead_workers(self._shared)
        # Shared: values go to the folder's files and a scrape reads them all; alone: one
        # registry per app (tests run several in one process).
        own = None if self._shared is not None else CollectorRegistry()
        self.registry = own if own is not None else exposition_registry()
        if open_store is not None:
            self.registry.register(Waiting(open_store))
        live: Any = {"multiprocess_mode": "livemax"}
        self.requests = Counter(
            "hashcheck_http_requests",
            "Requests answered, by endpoint and HTTP status (429: over a budget or backing "
            "off; 401: credentials refused).",
            ["endpoint", "status"],
            registry=own,
        )
        self.latency = Histogram(
            "hashcheck_http_request_duration_seconds",
            "Time from a request's arrival to its answer, by endpoint.",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=own,
        )
        self.auth_failures = Counter(
            "hashcheck_auth_failures",
            "Requests refused for their credentials: client (check API) or operator (admin "
            "API, console).",
            ["face"],
            registry=own,
        )
        self.checked = Counter(
            "hashcheck_hashes_checked",
            "Hashes checked against each list (counted when the node's usage counts are "
            "written, every HASHCHECK_STATS_FLUSH_INTERVAL).",
            ["list"],
            registry=own,
        )
        self.matched = Counter(
            "hashcheck_hashes_matched",
            "Hashes that matched each list (as above).",
            ["list"],
            registry=own,
        )
        self.entries = Gauge(
            "hashcheck_index_entries", "Entries the node answers from.", registry=own, **live
        )
        self.version = Gauge(
            "hashcheck_index_version",
            "The catalog version the node answers from (the least of its workers).",
            registry=own,
            multiprocess_mode="livemin",
        )
        self.ready = Gauge(
            "hashcheck_ready",
            "1 when every worker has its index loaded.",
            registry=own,
            multiprocess_mode="livemin",
        )
        self.snapshot_age = Gauge(
            "hashcheck_snapshot_age_seconds",
            "Seconds since the worker last knew its index current with the store (the most "
            "of its workers): the change feed's lag is below it and the poll interval.",
            registry=own,
            **live,
        )
        self.store_failing = Gauge(
            "hashcheck_store_unreachable",
            "1 while the node's last attempt to read the store's changes failed.",
            registry=own,
            **live,
        )
        self.flush_failures = Counter(
            "hashcheck_stats_flush_failures",
            "Writes of usage counts and match records that the store refused (they are kept "
            "and tried again).",
            registry=own,
        )
        self.flush_age = Gauge(
            "hashcheck_stats_flush_age_seconds",
            "Seconds since the node's usage counts were last written to the store.",
            registry=own,
            **live,
        )
        self.imports = Counter(
            "hashcheck_imports",
            "Imports and removals received by this node's admin API, and imports landed in "
            "its console, by outcome: done, refused (4xx), failed (5xx).",
            ["kind", "outcome"],
            registry=own,
        )
        self.import_seconds = Histogram(
            "hashcheck_import_duration_seconds",
            "How long imports and removals received by this node took (the admin API's with "
            "their upload, the console's landing of an upload it holds).",
            ["kind"],
            buckets=IMPORT_BUCKETS,
            registry=own,
        )
        Gauge(
            "hashcheck_build_info",
            "1, labelled with the hashcheck version the node runs.",
            ["version"],
            registry=own,
            **live,
        ).labels(version).set(1)
        self._started = time.monotonic()
        self._failures_seen = 0
        self._usage_seen: dict[tuple[int, str], int] = {}
        self.publish()

    def imported(self, kind: str, status: int, seconds: float) -> None:
        outcome = "done" if status < 400 else "refused" if status < 500 else "failed"
        self.imports.labels(kind, outcome).inc()
        self.import_seconds.labels(kind).observe(seconds)

    def publish(self) -> None:
        """Move what the request path counted, and the node's state, into the metrics."""
        latency: dict[str, list[float]] = {}
        for (endpoint, status), cells in self.tally.take().items():
            number = sum(cells[:-1])
            self.requests.labels(endpoint, str(status)).inc(number)
            if status == 401:
                face = "operator" if endpoint.startswith(("/admin/", "/console")) else "client"
                self.auth_failures.labels(face).inc(number)
            merged = latency.setdefault(endpoint, [0.0] * len(cells))
            for i, value in enumerate(cells):
                merged[i] += value
        for endpoint, cells in latency.items():
            _add_to_histogram(self.latency.labels(endpoint), cells)
        node = self.node
        snapshot = node.follower.snapshot
        now = time.time()
        if snapshot is not None:
            self.entries.set(len(snapshot.exact))
            self.version.set(snapshot.catalog.version)
            self._usage(snapshot.catalog.lists)
        if node.follower.last_success:
            self.snapshot_age.set(max(0.0, now - node.follower.last_success))
        self.store_failing.set(1 if node.follower.last_error else 0)
        flusher = node.flusher
        failures = flusher.failures_total
        if failures > self._failures_seen:
            self.flush_failures.inc(failures - self._failures_seen)
            self._failures_seen = failures
        flushed = flusher.last_flushed or node.started_at
        self.flush_age.set(max(0.0, now - flushed))
        # Last: a scrape from another thread (the serve process's own listener, with one
        # worker) that reads ready 1 reads the index's figures of the same publish.
        self.ready.set(0 if snapshot is None else 1)

    def _usage(self, lists: Mapping[int, Any]) -> None:
        """Hashes checked and matched per list: the flusher's running totals, as deltas."""
        for (list_id, kind), total in self.node.flusher.totals_by_list().items():
            seen = self._usage_seen.get((list_id, kind), 0)
            if total > seen:
                hash_list = lists.get(list_id)
                name = hash_list.name if hash_list is not None else f"#{list_id}"
                counter = self.checked if kind == "checked" else self.matched
                counter.labels(name).inc(total - seen)
                self._usage_seen[(list_id, kind)] = total

    def exposition(self) -> tuple[bytes, str]:
        """The text a scrape gets (off the event loop: it reads files and the store)."""
        return render(self.registry)

    def close(self) -> None:
        """A worker that stops takes its live gauges with it."""
        if self._shared is not None:
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(os.getpid(), self._shared)  # type: ignore[no-untyped-call]


def _add_to_histogram(child: Any, cells: list[float]) -> None:
    """Add counted observations to a histogram child in bulk. prometheus_client has no
    public call for it (observe() takes one value); its per-bucket values are what observe()
    adds to, and tests/test_metrics.py holds the sums to what was observed."""
    for bucket, number in zip(child._buckets, cells[:-1], strict=True):
        if number:
            bucket.inc(number)
    child._sum.inc(cells[-1])


def exposition_registry() -> CollectorRegistry:
    """A registry that reads every worker's files in the metrics folder."""
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry()
    registry.register(_WorkersFiles())
    return registry


class _WorkersFiles:
    """prometheus_client's multiprocess collector, without the files still being made: a
    worker opens its file empty and sizes it the next moment, and a scrape that read it in
    between failed (a 500, seen as a worker started). An empty file holds no counts."""

    def __init__(self) -> None:
        from prometheus_client import multiprocess

        folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
        self._inner = multiprocess.MultiProcessCollector(None, folder)  # type: ignore[no-untyped-call]
        self._folder = Path(folder)

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        files = []
        for path in self._folder.glob("*.db"):
            try:
                if path.stat().st_size > 0:
                    files.append(str(path))
            except FileNotFoundError:
                continue  # a stopped worker's live gauges, removed meanwhile
        return iter(self._inner.merge(files, accumulate=True))  # type: ignore[no-untyped-call]


def render(registry: CollectorRegistry) -> tuple[bytes, str]:
    from prometheus_client import generate_latest
    from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

    # Names are plain ASCII (underscores), so the text is the 0.0.4 format every Prometheus
    # since 2.0 reads; said as such.
    return generate_latest(registry), CONTENT_TYPE_PLAIN_0_0_4


class Waiting:
    """Open holds, disputes and proposals, read from the store when scraped (the same for
    every worker: one store)."""

    def __init__(self, open_store: Callable[[], Store]) -> None:
        self._open_store = open_store

    def describe(self) -> list[Any]:
        return []  # read at scrape time only, never when registered

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        try:
            store = self._open_store()
            try:
                waiting = store.waiting()
            finally:
                store.close()
        except Exception as exc:  # the store is away: the other metrics still answer
            log.warning("metrics: cannot read open holds and disputes: %s", exc)
            return
        for name, what in (
            ("holds", "Items on hold (the prevalence alarm or an operator), not yet released."),
            ("disputes", "Clients' disputes of matches not yet decided."),
            ("proposals", "Changes waiting for a second operator."),
        ):
            family = GaugeMetricFamily(f"hashcheck_{name}_open", what)
            family.add_metric([], waiting.get(name, 0))
            yield family


_WORKER_FILE = re.compile(r"^gauge_live\w+_(\d+)\.db$")


def _forget_dead_workers(folder: str) -> None:
    """Live gauges of workers that died without stopping (killed): gone once another worker
    starts, as if they had stopped."""
    from prometheus_client import multiprocess

    for path in Path(folder).glob("gauge_live*_*.db"):
        found = _WORKER_FILE.match(path.name)
        if found is None:
            continue
        pid = int(found.group(1))
        if pid != os.getpid() and not alive(pid):
            multiprocess.mark_process_dead(pid, folder)  # type: ignore[no-untyped-call]


def alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a worker, or a `serve` that made a metrics folder)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
