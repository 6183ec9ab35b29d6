"""The OpenAPI 3.1 document of the operator API, served at GET /admin/v1/openapi.json.

Built from the route table, so that every route is documented with the role it needs.
"""

from __future__ import annotations

import re
from typing import Any

from hashcheck.api import schema
from hashcheck.api.adminroutes import (
    IMPORT_OPTIONS,
    NUMERIC_PARAMETERS,
    REMOVAL_OPTIONS,
    ROUTES,
    Route,
)

# What any route may answer before its own work: a body or query that does not fit, the
# sign-in, and the store.
_ALWAYS = {
    400: "malformed body or query, a value the operation refuses, a date that is not one, or a "
    "query parameter the route does not read",
    401: "missing or wrong operator credentials",
    403: "the operator's role does not allow this, or the account is disabled",
    429: "too many failed sign-ins from this source or for this account (Retry-After)",
    503: "the store cannot be reached",
}
_NOT_FOUND = "no such client, list, category, batch, item, dispute, proposal or account"
_CONFLICT = "does not fit the current state (exists already, decided already, own proposal)"
# Any other query parameter, or a value outside an enum, is refused with 400.
_QUERY_TEXT = {
    "since": "stats: the first day, YYYY-MM-DD; audit: a day or an ISO time (UTC unless it "
    "has a zone). Anything else answers 400.",
    "client": "one client id (404 if there is none)",
    "list": "one list by name (404 if there is none)",
    "limit": "at most this many (a whole number)",
}

_SUCCESS = {201: "created", 202: "a proposal waits for a second operator"}


def _errors(route: Route) -> dict[int, str]:
    """Every error status the route can answer, from what it reads and does."""
    errors = dict(_ALWAYS)
    reads = {q.name for q in route.query or ()}
    if "{" in route.template or route.body is not None or reads & {"list", "client"}:
        errors[404] = _NOT_FOUND
    if route.method != "GET":
        errors[409] = _CONFLICT
    if route.body is not None or route.upload:
        errors[413] = "body or upload too large"
    if route.upload:
        errors[422] = "the file failed validation; nothing was imported"
    return errors


def _operation(route: Route, of: dict[Any, Any]) -> dict[str, Any]:
    names = re.findall(r"\{(\w+)\}", route.template)
    parameters: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "integer"} if name in NUMERIC_PARAMETERS else {"type": "string"},
        }
        for name in names
    ]
    if route.upload:
        imports = route.template.endswith("/imports")
        options = sorted(IMPORT_OPTIONS if imports else REMOVAL_OPTIONS)
        parameters += [
            {"name": name, "in": "query", "schema": {"type": "string"}} for name in options
        ]
    for query in route.query or ():
        text: dict[str, Any] = {"type": "string"}
        if query.choices:
            text["enum"] = list(query.choices)
        parameter: dict[str, Any] = {"name": query.name, "in": "query", "schema": text}
        if query.name in _QUERY_TEXT:
            parameter["description"] = _QUERY_TEXT[query.name]
        parameters.append(parameter)
    responses = schema.answers(
        {
            status: (_SUCCESS.get(status, "done"), of[model])
            for status, model in route.answers.items()
        },
        _errors(route),
    )
    operation: dict[str, Any] = {
        "summary": route.summary,
        "description": f"Role: {route.role.label} or above.",
        "security": [{"basic": []}],
        "parameters": parameters,
        "responses": responses,
    }
    if route.upload:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/octet-stream": {"schema": {}}},
        }
    elif route.body is not None:
        operation["requestBody"] = {"content": schema.content(of[route.body])}
    return operation


def document() -> dict[str, Any]:
    types = {model for route in ROUTES for model in route.answers.values()}
    types |= {route.body for route in ROUTES if route.body is not None}
    of, named = schema.components(sorted(types, key=repr))
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        operation = _operation(route, of)
        paths.setdefault("/admin/v1" + route.template, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "hashcheck operator API",
            "version": "1",
            "description": (
                "Manage clients, lists, imports, batches, holds, disputes, proposals, policy, "
                "audit and statistics. HTTP Basic with an operator account (not a client)."
            ),
        },
        "components": {
            "securitySchemes": {"basic": {"type": "http", "scheme": "basic"}},
            "schemas": named,
        },
        "paths": paths,
    }
