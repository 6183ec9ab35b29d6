"""The OpenAPI 3.1 document of the operator API, served at GET /admin/v1/openapi.json.

Built from the route table, so that every route is documented with the role it needs.
"""

from __future__ import annotations

import re
from typing import Any

from hashcheck.api.adminroutes import NUMERIC_PARAMETERS, ROUTES
from hashcheck.api.openapi import ERROR_SCHEMA

_ERRORS = {
    "400": "malformed request, or a value the operation refuses",
    "401": "missing or wrong operator credentials",
    "403": "the operator's role does not allow this, or the account is disabled",
    "404": "no such client, list, category, batch, dispute or proposal",
    "409": "does not fit the current state (exists already, decided already, own proposal)",
    "503": "the store cannot be reached",
}
_IMPORT_QUERY = ("format", "category", "category_column", "shadow", "skip_invalid")
_REMOVAL_QUERY = ("format", "skip_invalid")


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
    responses: dict[str, Any] = {
        "200": {"description": "done", "content": {"application/json": {"schema": {}}}},
        **{status: _error(text) for status, text in _ERRORS.items()},
    }
    if route.method == "POST" and route.summary.startswith(("Add", "Create", "Import")):
        responses["201"] = {"description": "created", "content": {"application/json": {}}}
    if "202" in route.summary or "proposal" in route.summary:
        responses["202"] = {"description": "a proposal waits for a second operator"}
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
            "schemas": {"Error": ERROR_SCHEMA},
        },
        "paths": paths,
    }
