"""Every JSON answer the suite's own requests receive, checked against the OpenAPI document
the same server serves: the status must be one the operation documents, and the body must
fit that status's schema. `tests.http_client.call` runs it on each answer, so a route that
answers an undocumented status or shape fails the test that made the request.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request
from typing import Any

from jsonschema import Draft202012Validator

V2 = "/v2/openapi.json"
ADMIN = "/admin/v1/openapi.json"

_documents: dict[tuple[str, str], dict[str, Any]] = {}
_lock = threading.Lock()


class ContractBroken(AssertionError):
    """An answer that its served document does not allow."""


def document(base: str, which: str) -> dict[str, Any] | None:
    """The served document (fetched once per server address); None if it is not served."""
    with _lock:
        if (base, which) not in _documents:
            try:
                with urllib.request.urlopen(base + which, timeout=30) as response:  # noqa: S310
                    _documents[(base, which)] = json.loads(response.read())
            except urllib.error.HTTPError:
                return None
        return _documents[(base, which)]


def forget(base: str) -> None:
    """Drop the cached documents of ``base`` (a server stopped; its port may be reused)."""
    with _lock:
        for key in [key for key in _documents if key[0] == base]:
            del _documents[key]


def _operations(spec: dict[str, Any], path: str) -> dict[str, Any] | None:
    """The path item whose template matches ``path``, literal segments preferred."""
    best: tuple[int, dict[str, Any]] | None = None
    for template, item in spec["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            holes = template.count("{")
            if best is None or holes < best[0]:
                best = (holes, item)
    return None if best is None else best[1]


def check(base: str, method: str, path: str, status: int, body: Any) -> None:
    """Raise ContractBroken unless ``body`` (parsed JSON) is what ``method path`` may answer
    with ``status`` according to the server's own document."""
    path = path.split("?", 1)[0]
    if path in (V2, ADMIN):
        return  # the documents themselves: checked by the OpenAPI validator tests
    spec = document(base, ADMIN) if path.startswith("/admin/v1/") else None
    spec = spec or document(base, V2)
    if spec is None:
        raise ContractBroken(f"{base} serves no OpenAPI document")
    item = _operations(spec, path)
    if item is None:
        _fits(spec, {"$ref": "#/components/schemas/ErrorBody"}, body, f"{method} {path}")
        if status != 404:
            raise ContractBroken(f"{method} {path}: undocumented path answered {status}")
        return
    operation = item.get(method.lower())
    if operation is None:
        _fits(spec, {"$ref": "#/components/schemas/ErrorBody"}, body, f"{method} {path}")
        if status != 405:
            raise ContractBroken(f"{method} {path}: undocumented method answered {status}")
        return
    answer = operation["responses"].get(str(status))
    if answer is None:
        raise ContractBroken(
            f"{method} {path} answered {status}, which its operation does not document "
            f"(it documents {', '.join(operation['responses'])}): {str(body)[:300]}"
        )
    schema = answer.get("content", {}).get("application/json", {}).get("schema")
    if schema is None:
        raise ContractBroken(f"{method} {path} {status}: a JSON body where none is documented")
    _fits(spec, schema, body, f"{method} {path} {status}")


def _fits(spec: dict[str, Any], schema: dict[str, Any], body: Any, what: str) -> None:
    # The document is the root, so that "#/components/schemas/..." resolves inside it.
    root = {**schema, "components": spec["components"]}
    problems = sorted(Draft202012Validator(root).iter_errors(body), key=str)
    if problems:
        first = problems[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(top)"
        raise ContractBroken(f"{what}: the answer breaks its schema at {where}: {first.message}")
