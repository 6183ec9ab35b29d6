"""The OpenAPI 3.1 document of the operator API, served at GET /admin/v1/openapi.json.

Built from the route table, so that every route is documented with the role it needs.
"""

from __future__ import annotations

import re
from typing import Any

from hashcheck.api.adminroutes import NUMERIC_PARAMETERS, ROUTES
from hashcheck.api.openapi import ERROR_SCHEMA

_ERRORS = {
    "400": "malformed request, a value the operation refuses, a date that is not one, or a "
    "query parameter the route does not read",
    "401": "missing or wrong operator credentials",
    "403": "the operator's role does not allow this, or the account is disabled",
    "404": "no such client, list, category, batch, dispute or proposal",
    "409": "does not fit the current state (exists already, decided already, own proposal)",
    "503": "the store cannot be reached",
}
_IMPORT_QUERY = ("format", "category", "category_column", "shadow", "skip_invalid")
# Any other query parameter, or a value outside an enum, is refused with 400.
_QUERY_TEXT = {
    "since": "stats: the first day, YYYY-MM-DD; audit: a day or an ISO time (UTC unless it "
    "has a zone). Anything else answers 400.",
    "client": "one client id (404 if there is none)",
    "list": "one list by name (404 if there is none)",
    "limit": "at most this many (a whole number)",
}
_REMOVAL_QUERY = ("format", "skip_invalid")

# Whether a client can match anything now: every answer about a client carries it, since a
# client that can match nothing gets `false` for every check, which looks like "clean".
REACH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "can_match": {
            "type": "boolean",
            "description": "false: no grant reaches an enabled list and category, so every "
            "check this client sends answers false",
        },
        "checks_lists": {
            "type": "array",
            "items": {"type": "string"},
            "description": "the lists its checks are answered from now",
        },
        "warning": {"type": ["string", "null"], "description": "why it can match nothing"},
    },
    "required": ["can_match", "checks_lists", "warning"],
}
_REACH = {"$ref": "#/components/schemas/Reach"}
_CLIENT = {
    "allOf": [
        {
            "type": "object",
            "properties": {
                "client_id": {"type": "string"},
                "name": {"type": "string"},
                "enabled": {"type": "boolean"},
                "grants": {"type": "array", "items": {"type": "string"}},
            },
        },
        _REACH,
    ]
}
_DISABLED = {
    "type": "object",
    "properties": {
        "changed": {"type": "boolean"},
        "clients_matching_nothing": {
            "type": "array",
            "items": {"type": "string"},
            "description": "enabled clients that can match nothing now",
        },
    },
}
# (method, template) -> (status, schema) of the documented success answers.
_ANSWERS: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {
    ("GET", "/clients"): ("200", {"type": "array", "items": _CLIENT}),
    ("POST", "/clients"): (
        "201",
        {
            "allOf": [
                {
                    "type": "object",
                    "properties": {"client_id": {"type": "string"}, "secret": {"type": "string"}},
                },
                _REACH,
            ]
        },
    ),
    **{
        ("POST", f"/clients/{{client_id}}/{action}"): ("200", _REACH)
        for action in ("enable", "disable", "grants", "revoke")
    },
    ("POST", "/lists/{list}/disable"): ("200", _DISABLED),
    ("POST", "/categories/{category}/disable"): ("200", _DISABLED),
}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _operation(route: Any) -> dict[str, Any]:
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
        options = _IMPORT_QUERY if route.template.endswith("/imports") else _REMOVAL_QUERY
        parameters += [
            {"name": name, "in": "query", "schema": {"type": "string"}} for name in options
        ]
    for query in route.query or ():
        schema: dict[str, Any] = {"type": "string"}
        if query.choices:
            schema["enum"] = list(query.choices)
        parameter: dict[str, Any] = {"name": query.name, "in": "query", "schema": schema}
        if query.name in _QUERY_TEXT:
            parameter["description"] = _QUERY_TEXT[query.name]
        parameters.append(parameter)
    responses: dict[str, Any] = {
        "200": {"description": "done", "content": {"application/json": {"schema": {}}}},
        **{status: _error(text) for status, text in _ERRORS.items()},
    }
    if route.method == "POST" and route.summary.startswith(("Add", "Create", "Import")):
        responses["201"] = {"description": "created", "content": {"application/json": {}}}
    if "202" in route.summary or "proposal" in route.summary:
        responses["202"] = {"description": "a proposal waits for a second operator"}
    answer = _ANSWERS.get((route.method, route.template))
    if answer is not None:
        status, schema = answer
        responses[status] = {
            "description": responses.get(status, {}).get("description", "done"),
            "content": {"application/json": {"schema": schema}},
        }
    if route.upload:
        responses["413"] = _error("upload too large")
        responses["422"] = _error("the file failed validation; nothing was imported")
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
    elif route.method in ("POST", "PUT"):
        operation["requestBody"] = {"content": {"application/json": {"schema": {"type": "object"}}}}
    return operation


def document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault("/admin/v1" + route.template, {})[route.method.lower()] = _operation(route)
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
            "schemas": {"Error": ERROR_SCHEMA, "Reach": REACH_SCHEMA},
        },
        "paths": paths,
    }
