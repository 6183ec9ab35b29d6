"""A tiny JSON-over-HTTP client for tests (stdlib only), returning status and parsed body."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

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
    data = raw if raw is not None else None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(base + path, data=data, method=method)  # noqa: S310
    if auth is not None:
        request.add_header("Authorization", basic(*auth))
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            body = response.read()
            return response.status, json.loads(body), dict(response.headers)
    except urllib.error.HTTPError as error:
        body = error.read()
        return error.code, json.loads(body), dict(error.headers)
