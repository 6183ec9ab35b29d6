"""`hashcheck serve`: run the HTTP service under uvicorn, in one or more worker processes;
with metrics on, the folder their counts meet in (and, when configured, the metrics
listener of its own), removed when it stops."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hashcheck.cli import demo
from hashcheck.config import Settings, SettingsError


def serve(settings: Settings, *, with_demo: bool) -> None:
    if with_demo:
        settings = demo.demo_settings(settings)
        demo.prepare(settings)
    try:
        with _metrics(settings):
            _serve(settings, with_demo=with_demo)
    except _Stopped:
        # Cleaned up; now end as the signal would have ended the process (systemd reads a
        # death by SIGTERM as a clean stop).
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.raise_signal(signal.SIGTERM)


class _Stopped(BaseException):
    """SIGTERM, raised again by uvicorn once it has stopped its workers."""


def _stopped(signum: int, frame: object) -> None:
    raise _Stopped


@contextlib.contextmanager
def _metrics(settings: Settings) -> Iterator[None]:
    if not settings.metrics:
        yield
        return
    import importlib.util

    from hashcheck.api import metrics

    if importlib.util.find_spec("prometheus_client") is None:  # said here, not by each worker
        raise ModuleNotFoundError(name="prometheus_client")
    _remove_orphans(metrics.alive)
    # Made before any worker imports prometheus_client: it picks its mode on import. Named
    # by this process, so that a later start removes it if this one is killed.
    folder = tempfile.mkdtemp(prefix=f"{_FOLDER}{os.getpid()}-")
    os.environ[metrics.MULTIPROCESS_DIR] = folder
    # uvicorn stops on SIGTERM and then raises it again: without a handler of ours the
    # process would end there, before the folder is removed.
    previous = signal.signal(signal.SIGTERM, _stopped)
    listener = None
    try:
        if settings.metrics_listen:
            listener = _listen(settings, metrics)
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        if listener is not None:
            listener.shutdown()
            listener.server_close()
        shutil.rmtree(folder, ignore_errors=True)
        os.environ.pop(metrics.MULTIPROCESS_DIR, None)


_FOLDER = "hashcheck-metrics-"


def _remove_orphans(alive: Callable[[int], bool]) -> None:
    """Metrics folders of `serve` processes that were killed (SIGKILL: no clean-up ran)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{_FOLDER}*-*"):
        pid = folder.name.removeprefix(_FOLDER).split("-", 1)[0]
        if pid.isascii() and pid.isdigit() and not alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _listen(settings: Settings, metrics: Any) -> Any:
    """prometheus_client's own HTTP server, on a thread of this process, reading every
    worker's counts (and the store's open holds and disputes)."""
    from prometheus_client import start_http_server

    from hashcheck.store.open import open_store

    host, _, port = settings.metrics_listen.rpartition(":")
    registry = metrics.exposition_registry()
    registry.register(metrics.Waiting(lambda: open_store(settings.database_url, create=False)))
    try:
        server, _ = start_http_server(int(port), host.strip("[]"), registry=registry)
    except OSError as exc:
        raise SettingsError(
            f"HASHCHECK_METRICS_LISTEN={settings.metrics_listen}: cannot listen there: "
            f"{exc.strerror}"
        ) from None
    return server


def _serve(settings: Settings, *, with_demo: bool) -> None:
    import uvicorn

    from hashcheck.api.edge import EdgeHttpProtocol
    from hashcheck.service import build_node

    # Fail here, with a clear message, rather than inside a worker process.
    build_node(settings).store.close()
    os.environ.update(settings.as_env())
    if with_demo:
        print(demo.instructions(f"http://{settings.host}:{settings.port}"), flush=True)
    uvicorn.run(
        "hashcheck.service:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        limit_concurrency=settings.max_connections,
        proxy_headers=True,
        forwarded_allow_ips=settings.trusted_proxies,
        loop="uvloop",
        # A response leaves in one write, so that a node dying mid-answer never hands the
        # balancer a head without a body (which nginx could no longer retry elsewhere).
        http=EdgeHttpProtocol,
        ws="none",  # nothing here speaks WebSocket; upgrades are refused (api/edge.py)
        lifespan="on",
        access_log=settings.access_log,
        log_level=settings.log_level,
        server_header=False,
        timeout_graceful_shutdown=10,
    )
