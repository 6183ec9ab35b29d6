"""The composition root: builds a node and the ASGI app from settings.

`create_app` is the factory uvicorn calls in every worker process.
"""

from __future__ import annotations

import functools
import logging
import sys
from pathlib import Path

from hashcheck import installed_version
from hashcheck.admin.bounds import ImportBounds
from hashcheck.admin.setup import open_key
from hashcheck.api.app import HashcheckApp, SubmissionLimits
from hashcheck.api.budgets import PERCEPTUAL_COST, Budgets
from hashcheck.config import Settings
from hashcheck.node.runtime import Node
from hashcheck.store.open import open_store


def build_node(settings: Settings, *, serving: bool = False) -> Node:
    """``serving``: for `hashcheck serve`'s worker process (`create_app`), which hosts
    nothing else."""
    # A node never creates its database: a wrong path must not look like an empty list.
    store = open_store(settings.database_url, create=False)
    try:
        store.migrate()
        key = open_key(store, settings.key_file)
    except Exception:
        store.close()
        raise
    return Node(
        store,
        key,
        poll_interval=settings.poll_interval,
        stats_flush_interval=settings.stats_flush_interval,
        # A partial, not a lambda: the node's store processes open the store with it too.
        store_factory=functools.partial(open_store, settings.database_url, create=False),
        index_dir=Path(settings.index_dir) if settings.index_dir else None,
        settle_heap=serving,
    )


def create_app() -> HashcheckApp:
    settings = Settings.from_env()
    # What of a perceptual batch runs on threads (`api.app`) holds the GIL; the event loop
    # waits for it up to this long (Python's default is 5 ms, a legacy check's whole budget).
    sys.setswitchinterval(0.001)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return HashcheckApp(
        build_node(settings, serving=True),
        max_batch=settings.max_batch,
        admin_max_upload=settings.admin_max_upload_mb * 1024 * 1024,
        admin_api=settings.admin_api,
        console=settings.console,
        budgets=Budgets(
            settings.client_requests_per_second,
            settings.client_work_per_second,
            largest_request=settings.max_batch * PERCEPTUAL_COST,
        ),
        metrics=settings.metrics,
        metrics_here=not settings.metrics_listen,
        version=installed_version(),
        perceptual_processes=settings.perceptual_processes,
        import_bounds=ImportBounds.of(
            settings.import_max_unpacked_mb,
            settings.import_temp_reserve_mb,
            settings.import_max_seconds,
        ),
        checks=settings.checks,
        submissions=SubmissionLimits(
            settings.submissions_per_source_per_hour,
            settings.submissions_per_second,
            settings.submissions_proof_bits,
        )
        if settings.submissions
        else None,
    )
