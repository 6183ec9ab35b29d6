"""Follows the store's change feed and publishes a new immutable snapshot after each change.

Runs off the request path. Applies changes incrementally (no full rebuild after the first
load); compacts the index delta in this thread when it grows. The perceptual index is rebuilt
(and shared with the node's other workers) only when its layers of recent changes pass
`PDQ_LAYER_ENTRIES` or are `PDQ_FOLD_AFTER` seconds old: rebuilt on every change, a stream of
small additions (self-submissions) cost the node's checks milliseconds of interpreter time
several times a second. Keeps serving the last good snapshot when the store is unreachable.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from hashcheck.catalog.model import Catalog, Slot
from hashcheck.catalog.policy import Policy, PolicyError
from hashcheck.hashes.sealing import Sealer
from hashcheck.index.exact import EntryBlock, ExactIndex
from hashcheck.index.perceptual import PdqEntries, Perceptual
from hashcheck.index.snapshot import Snapshot
from hashcheck.node.allocator import give_back_freed_memory
from hashcheck.node.indexfile import Generation, IndexFiles
from hashcheck.node.pdqshare import PdqShare
from hashcheck.node.periodic import Periodic
from hashcheck.store.interface import Store
from hashcheck.store.records import Changes, EntryRows

log = logging.getLogger("hashcheck.follower")
TRIM_EVERY = 5.0  # seconds
PDQ_LAYER_ENTRIES = 4096  # added or removed perceptual entries kept beside the built state
PDQ_FOLD_AFTER = 2.0  # seconds: the longest a change stays in a layer


class Follower:
    def __init__(
        self,
        store: Store,
        poll_interval: float = 0.25,
        files: IndexFiles | None = None,
        sealer: Sealer | None = None,
        pdq_share: PdqShare | None = None,
        on_first_load: Callable[[], None] | None = None,
    ) -> None:
        """``on_first_load``: called once, after the first snapshot is published and before
        the node says it is ready."""
        self._refreshing = threading.Lock()
        self._on_first_load = on_first_load
        self._store = store
        self._files = files
        # Perceptual hashes, opened: entry id -> its PDQ hash or video frame hashes, and its
        # slot. Without a sealer there are none.
        self._sealer = sealer
        self._pdq_items: dict[int, Perceptual] = {}
        self._pdq_cursor = 0
        self._pdq = PdqEntries.empty()
        # The last built (shared) perceptual state, the entry ids it holds by position, and
        # the layers over it: entries added since, and positions of its entries removed since.
        self._pdq_built = PdqEntries.empty()
        self._pdq_built_ids = np.empty(0, dtype=np.int64)
        self._pdq_added: dict[int, Perceptual] = {}
        self._pdq_removed: set[int] = set()
        self._pdq_layered_at: float | None = None  # when the oldest layered change came
        self._pdq_share = pdq_share
        self._snapshot: Snapshot | None = None
        self._slot_of: dict[tuple[int, int, int], int] = {}  # Slot fields -> slot index
        self._slots: list[Slot] = []
        self._seen_version = -1
        self._untrimmed = False  # a snapshot was replaced since memory was last handed back
        self._trimmed_at = -TRIM_EVERY
        self.last_success: float = 0.0
        self.generation = 0  # of the index files mapped; 0: none
        self.ready = threading.Event()
        # On failure the node keeps answering from its last snapshot.
        self._loop = Periodic(
            "hashcheck-follower",
            poll_interval,
            self.refresh,
            log=log,
            what="follow the store",
            wake=store.wait_for_change,
        )

    @property
    def snapshot(self) -> Snapshot | None:
        return self._snapshot

    def refresh(self) -> bool:
        """Apply whatever changed since the last call; True if a new snapshot was published.

        One refresh at a time: a second caller (a test, an operator tool) waits, so that a
        refresh that read older changes can never publish after one that read newer ones."""
        with self._refreshing:
            return self._refresh()

    def _refresh(self) -> bool:
        version = self._store.version()
        current = self._snapshot
        if current is not None and version == self._seen_version:
            self.last_success = time.time()
            if self._fold_pdq_if_due():
                self._snapshot = replace(current, pdq=self._pdq)
            self._trim_if_due()
            return False
        if current is not None:
            base: ExactIndex | None = current.exact
            cursors = (current.entries_cursor, current.tombstones_cursor)
        elif self._files is not None:
            generation = self._first_generation(version)
            base, cursors = generation.exact, _cursors(generation)
        else:
            base, cursors = None, (0, 0)
        changes = self._store.changes_since(*cursors, pdq_cursor=self._pdq_cursor)
        exact = self._apply(base, changes)
        # The change is answered first; merging a large delta into new base arrays (O(n))
        # comes after, so a big correction takes effect as fast as a small one.
        self._publish(exact, changes)
        if exact.delta_size > ExactIndex.COMPACT_AFTER:
            if self._files is None:
                exact = exact.compacted()
            else:
                generation = self._rebase(exact, changes)
                changes = self._store.changes_since(
                    *_cursors(generation), pdq_cursor=self._pdq_cursor
                )
                exact = self._apply(generation.exact, changes)
            self._publish(exact, changes)
        self._untrimmed = True
        self._trim_if_due()
        return True

    def _trim_if_due(self) -> None:
        # A trim holds the allocator's locks for a few milliseconds under load: after the
        # snapshot it frees, at most once every TRIM_EVERY seconds, however often changes come.
        now = time.monotonic()
        if self._untrimmed and now - self._trimmed_at >= TRIM_EVERY:
            give_back_freed_memory()
            self._untrimmed, self._trimmed_at = False, now

    def _publish(self, exact: ExactIndex, changes: Changes) -> None:
        self._follow_pdq(exact, changes)
        records = changes.catalog
        catalog = Catalog.build(
            records.lists,
            records.categories,
            records.clients,
            self._slots,
            records.version,
            shadow_batches=records.shadow_batches,
            holds=records.holds,
            policy=self._policy(records.policy),
        )
        self._snapshot = Snapshot(
            exact, catalog, changes.entries_cursor, changes.tombstones_cursor, self._pdq
        )
        self._seen_version = records.version
        self.last_success = time.time()
        if not self.ready.is_set():
            if self._on_first_load is not None:
                self._on_first_load()
            log.info(
                "ready: %d entries, index version %d, index files generation %d",
                len(exact),
                records.version,
                self.generation,
            )
            self.ready.set()

    def _follow_pdq(self, exact: ExactIndex, changes: Changes) -> None:
        """Open the hashes of new perceptual entries (images and videos) and drop removed
        ones: into the layers over the built state, or a new built state when they are due."""
        changed = False
        for entry_id in changes.removed_ids:
            if self._pdq_items.pop(entry_id, None) is None:
                continue
            changed = True
            if self._pdq_added.pop(entry_id, None) is None:
                position = int(np.searchsorted(self._pdq_built_ids, entry_id))
                self._pdq_removed.add(position)
        if changes.pdq and self._sealer is not None:
            for entry_id, digest, sealed, item_id in changes.pdq:
                if entry_id in self._pdq_items:
                    continue  # an entry's hashes never change
                slot = next((s for i, s in exact.lookup(digest) if i == item_id), None)
                if slot is None:
                    continue  # not in this snapshot (removed meanwhile)
                hashes, video = self._sealer.open_perceptual(digest, sealed)
                opened = Perceptual(hashes, slot, video, item_id)
                self._pdq_items[entry_id] = self._pdq_added[entry_id] = opened
                changed = True
        self._pdq_cursor = max(self._pdq_cursor, changes.entries_cursor)
        if not changed:
            return
        if self._pdq_layered_at is None:
            self._pdq_layered_at = time.monotonic()
        if not self._fold_pdq_if_due(first=self._snapshot is None):
            recent = PdqEntries.build(self._pdq_added) if self._pdq_added else None
            self._pdq = self._pdq_built.with_layers(recent, frozenset(self._pdq_removed))

    def _fold_pdq_if_due(self, *, first: bool = False) -> bool:
        """Build a new perceptual state from every entry if the layers are due; True if so.
        The first load is built at once."""
        since = self._pdq_layered_at
        if since is None:
            return False
        large = max(len(self._pdq_added), len(self._pdq_removed)) > PDQ_LAYER_ENTRIES
        if not (first or large or time.monotonic() - since >= PDQ_FOLD_AFTER):
            return False
        self._pdq_built = self._pdq = self._pdq_index()
        self._pdq_built_ids = np.fromiter(
            sorted(self._pdq_items), dtype=np.int64, count=len(self._pdq_items)
        )
        self._pdq_added.clear()
        self._pdq_removed.clear()
        self._pdq_layered_at = None
        return True

    def _pdq_index(self) -> PdqEntries:
        """One copy for all the node's workers when shared memory is available."""
        if self._pdq_share is not None:
            try:
                return self._pdq_share.shared(self._pdq_items)
            except OSError as exc:
                log.warning("PDQ index not shared (%s); this worker keeps its own copy", exc)
        return PdqEntries.build(self._pdq_items)

    def _apply(self, base: ExactIndex | None, changes: Changes) -> ExactIndex:
        block = self._block(changes.added, changes.catalog.shadow_batches)
        if base is None:
            return ExactIndex.build(block)
        if len(block) == 0 and not changes.removed_ids:
            return base
        return base.with_changes(block, changes.removed_ids)

    def _adopt(self, generation: Generation) -> Generation:
        """Take the generation's slot table as ours (its index refers to it)."""
        self._slots = list(generation.slots)
        self._slot_of = {
            (s.list_id, s.category_id, s.batch_id): i for i, s in enumerate(self._slots)
        }
        self.generation = generation.number
        return generation

    def _first_generation(self, version: int) -> Generation:
        """Map the node's newest index files, or build them from the store (one process of
        the node does; the others wait for it and map the result)."""
        assert self._files is not None
        with self._files.locked():
            found = self._files.latest(version)
            if found is not None:
                log.info("mapped index files generation %d", found.number)
                return self._adopt(found)
            changes = self._store.changes_since(0, 0)
            built = self._apply(None, changes)
            written = self._files.write(
                built,
                tuple(self._slots),
                changes.entries_cursor,
                changes.tombstones_cursor,
                changes.catalog.version,
            )
            log.info("built index files generation %d (%d entries)", written.number, len(built))
            return self._adopt(written)

    def _rebase(self, exact: ExactIndex, changes: Changes) -> Generation:
        """Compact into new index files, unless another process of the node already wrote
        a generation at least as new as what this one has applied; map that."""
        assert self._files is not None
        version = changes.catalog.version
        with self._files.locked():
            newest = self._files.latest(version)
            if newest is not None and _cursors(newest) >= (
                changes.entries_cursor,
                changes.tombstones_cursor,
            ):
                return self._adopt(newest)
            written = self._files.write(
                exact.compacted(),
                tuple(self._slots),
                changes.entries_cursor,
                changes.tombstones_cursor,
                version,
            )
            return self._adopt(written)

    def _policy(self, stored: dict[str, str]) -> Policy:
        try:
            return Policy.parse(stored)
        except PolicyError as exc:
            # The store validates on write; a value only a newer hashcheck knows lands here.
            log.error("stored policy not understood (%s); using the defaults", exc)  # noqa: TRY400
            return Policy.parse({})

    def _block(self, rows: EntryRows, shadow_batches: frozenset[int]) -> EntryBlock:
        if len(rows) == 0:
            return EntryBlock.empty()
        # Entries of shadow-mode batches get slots of their own (keyed by batch), so that
        # promoting the batch is a catalog change, not an index change. Shadow batch ids are
        # ranked into the low 16 bits of the key.
        shadow_ids = np.fromiter(sorted(shadow_batches), dtype=np.int64, count=len(shadow_batches))
        rank = np.zeros(len(rows), dtype=np.int64)
        if len(shadow_ids):
            position = np.searchsorted(shadow_ids, rows.batch_ids)
            position = np.minimum(position, len(shadow_ids) - 1)
            hit = shadow_ids[position] == rows.batch_ids
            rank[hit] = position[hit] + 1
        keys = (rows.list_ids << 40) | (rows.category_ids << 16) | rank
        # Rows come in id order, a delivery's in one long run of one key: the distinct keys
        # of the runs, not a sort of every row (at 100M rows a sort took seconds).
        starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
        unique, run_inverse = np.unique(keys[starts], return_inverse=True)
        lengths = np.diff(np.append(starts, len(keys)))
        mapping = np.empty(len(unique), dtype=np.uint16)
        for position_in_unique, key in enumerate(unique.tolist()):
            batch_rank = key & 0xFFFF
            fields = (
                key >> 40,
                (key >> 16) & 0xFFFFFF,
                int(shadow_ids[batch_rank - 1]) if batch_rank else 0,
            )
            slot = self._slot_of.get(fields)
            if slot is None:
                slot = len(self._slots)
                if slot > np.iinfo(np.uint16).max:
                    raise OverflowError("more than 65,536 list x category x shadow-batch slots")
                self._slots.append(Slot(*fields))
                self._slot_of[fields] = slot
            mapping[position_in_unique] = slot
        slots = np.repeat(mapping[run_inverse.reshape(-1)], lengths)
        return EntryBlock(rows.digests, rows.entry_ids, slots, rows.item_ids)

    @property
    def last_error(self) -> str | None:
        """Why the last poll of the store failed; None while it works."""
        return self._loop.last_error

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()


def _cursors(generation: Generation) -> tuple[int, int]:
    return generation.entries_cursor, generation.tombstones_cursor
