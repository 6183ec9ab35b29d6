"""A tiny JSON-over-HTTP client for tests (stdlib only), returning status and parsed body."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from tests import contracts
from tests.support import basic


def call(
    base: str,
    path: str,
    payload: Any = None,
    *,
    auth: tuple[str, str] | None = None,
    raw: bytes | None = None,
    method: str | None = None,
) -> tuple[int, Any, dict[str, str]]:
    """(status, parsed body, headers); the answer is checked against the server's own OpenAPI
    document (`tests.contracts`) before it is returned."""
    data = raw if raw is not None else None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(base + path, data=data, method=method)  # noqa: S310
    if auth is not None:
        request.add_header("Authorization", basic(*auth))
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            status, body, headers = response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        status, body, headers = error.code, error.read(), dict(error.headers)
    document = json.loads(body)
    contracts.check(base, request.get_method(), path, status, document)
    return status, document, headers
