"""`hashcheck serve`: run the HTTP service under uvicorn, in one or more worker processes."""

from __future__ import annotations

import os

from hashcheck.cli import demo
from hashcheck.config import Settings


def serve(settings: Settings, *, with_demo: bool) -> None:
    import uvicorn

    from hashcheck.api.edge import EdgeHttpProtocol
    from hashcheck.service import build_node

    if with_demo:
        settings = demo.demo_settings(settings)
        demo.prepare(settings)
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
