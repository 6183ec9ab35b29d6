"""A node's moving parts wired together: follower, usage counters and flusher, credential cache.

Starts and stops them; a graceful stop also takes the worker out of the node's shared-memory
PDQ folder (`node.pdqshare`), which the last worker out removes.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable
from pathlib import Path

from hashcheck.auth.cache import CredentialCache
from hashcheck.hashes.keyed import Digester, ListKey, derived_key
from hashcheck.hashes.matchid import MatchIds
from hashcheck.hashes.sealing import Sealer
from hashcheck.node import heap
from hashcheck.node.follower import Follower
from hashcheck.node.indexfile import IndexFiles
from hashcheck.node.pdqshare import PdqShare, share_folder
from hashcheck.node.usage import UsageCounters, UsageFlusher
from hashcheck.store.interface import Store
from hashcheck.store.records import NodeStatus

log = logging.getLogger("hashcheck.node")


class Node:
    def __init__(
        self,
        store: Store,
        key: ListKey,
        *,
        poll_interval: float = 0.25,
        stats_flush_interval: float = 5.0,
        store_factory: Callable[[], Store] | None = None,
        index_dir: Path | None = None,
        settle_heap: bool = False,
    ) -> None:
        """``settle_heap``: keep the heap as first loaded out of garbage collection
        (`node.heap`): only in a process that serves and hosts nothing else."""
        self.store = store
        # Opens a further connection to the same store, for work that must not wait behind
        # (or hold up) the follower's: the operator API. None: this node has none.
        self.store_factory = store_factory
        self.digester = Digester(key)
        self.match_ids = MatchIds(key)
        self.console_key = derived_key(key, b"console sessions")
        self.submission_pepper = derived_key(key, b"submission pins")
        self.proof_key = derived_key(key, b"submission proofs")
        files = share = None
        if index_dir is not None:
            identity = _identity(store, key)
            files = IndexFiles(index_dir, identity)
            folder = share_folder(identity, index_dir)
            share = None if folder is None else PdqShare(folder)
        # Where this node's workers share their PDQ index in memory; None: nowhere.
        self.pdq_share = share
        self.sealer = Sealer(key)
        self.follower = Follower(
            store,
            poll_interval,
            files,
            self.sealer,
            share,
            on_first_load=heap.settle_heap if settle_heap else None,
        )
        self.counters = UsageCounters()
        self.flusher = UsageFlusher(self.counters, store, stats_flush_interval, self.status)
        self.credentials = CredentialCache()
        self.started_at = time.time()

    def status(self) -> NodeStatus:
        """How this node process is: what the console's overview shows of it."""
        snapshot = self.follower.snapshot
        current = self.follower.last_success
        return NodeStatus(
            node=f"{socket.gethostname()}:{os.getpid()}",
            started_at=_iso(self.started_at),
            seen_at=_iso(time.time()),
            ready=self.follower.ready.is_set(),
            version=-1 if snapshot is None else snapshot.catalog.version,
            entries=0 if snapshot is None else len(snapshot.exact),
            current_at=None if not current else _iso(current),
        )

    def start(self) -> None:
        if self.pdq_share is not None:
            try:
                self.pdq_share.join_if_present()
            except OSError as exc:  # the follower says so again, and keeps its own copy
                log.warning("cannot use the shared-memory folder: %s", exc)
        self.follower.start()
        self.flusher.start()

    def stop(self) -> None:
        self.follower.stop()
        if self.pdq_share is not None:
            try:
                self.pdq_share.leave()
            except OSError as exc:
                log.error("PDQ hashes may remain in %s: %s", self.pdq_share.folder, exc)  # noqa: TRY400 - a traceback would add nothing
        try:
            self.flusher.stop()
        except Exception as exc:  # shutting down: say what is lost rather than crash
            log.error("usage counts since the last flush are lost; the store refused them: %s", exc)  # noqa: TRY400 - a traceback would add nothing
        finally:
            self.store.close()


def _iso(moment: float) -> str:
    return dt.datetime.fromtimestamp(moment, dt.UTC).isoformat(timespec="seconds")


def _identity(store: Store, key: ListKey) -> str:
    """Names the store and the key that index files were built from: files of another
    database, or of the same database under another key, are never mapped."""
    instance = store.ensure_meta("instance", secrets.token_hex(16))
    return f"{instance}/{key.key_id}/{key.self_test_value()[:16]}"
