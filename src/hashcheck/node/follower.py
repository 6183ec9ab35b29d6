"""Follows the store's change feed and publishes a new immutable snapshot after each change.

Runs off the request path. Applies changes incrementally (no full rebuild after the first
load); compacts the index delta in this thread when it grows. Keeps serving the last good
snapshot when the store is unreachable.
"""

from __future__ import annotations

import logging
import threading
import time

import numpy as np

from hashcheck.catalog.model import Catalog, Slot
from hashcheck.index.exact import EntryBlock, ExactIndex
from hashcheck.index.snapshot import Snapshot
from hashcheck.node.periodic import Periodic
from hashcheck.store.interface import Store
from hashcheck.store.records import EntryRows

log = logging.getLogger("hashcheck.follower")


class Follower:
    def __init__(self, store: Store, poll_interval: float = 0.25) -> None:
        self._store = store
        self._snapshot: Snapshot | None = None
        self._slot_of: dict[int, int] = {}  # (list_id << 32 | category_id) -> slot index
        self._slots: list[Slot] = []
        self._seen_version = -1
        self.last_success: float = 0.0
        self.ready = threading.Event()
        # On failure the node keeps answering from its last snapshot.
        self._loop = Periodic(
            "hashcheck-follower", poll_interval, self.refresh, log=log, what="follow the store"
        )

    @property
    def snapshot(self) -> Snapshot | None:
        return self._snapshot

    def refresh(self) -> bool:
        """Apply whatever changed since the last call; True if a new snapshot was published."""
        version = self._store.version()
        current = self._snapshot
        if current is not None and version == self._seen_version:
            self.last_success = time.time()
            return False
        entries_cursor = current.entries_cursor if current else 0
        tombstones_cursor = current.tombstones_cursor if current else 0
        changes = self._store.changes_since(entries_cursor, tombstones_cursor)
        block = self._block(changes.added)
        if current is None:
            exact = ExactIndex.build(block)
        else:
            exact = current.exact.with_changes(block, changes.removed_ids)
            if exact.delta_size > ExactIndex.COMPACT_AFTER:
                exact = exact.compacted()
        records = changes.catalog
        catalog = Catalog.build(
            records.lists, records.categories, records.clients, self._slots, records.version
        )
        self._snapshot = Snapshot(exact, catalog, changes.entries_cursor, changes.tombstones_cursor)
        self._seen_version = records.version
        self.last_success = time.time()
        self.ready.set()
        return True

    def _block(self, rows: EntryRows) -> EntryBlock:
        if len(rows) == 0:
            return EntryBlock.empty()
        pairs = (rows.list_ids << 32) | rows.category_ids
        unique, inverse = np.unique(pairs, return_inverse=True)
        mapping = np.empty(len(unique), dtype=np.uint16)
        for position, pair in enumerate(unique.tolist()):
            slot = self._slot_of.get(pair)
            if slot is None:
                slot = len(self._slots)
                self._slots.append(Slot(pair >> 32, pair & 0xFFFFFFFF))
                self._slot_of[pair] = slot
            mapping[position] = slot
        return EntryBlock(rows.digests, rows.entry_ids, mapping[inverse.reshape(-1)])

    @property
    def last_error(self) -> str | None:
        """Why the last poll of the store failed; None while it works."""
        return self._loop.last_error

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()
