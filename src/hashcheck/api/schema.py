"""What both OpenAPI documents share: JSON Schema components generated from the msgspec
models (so a schema is never written by hand beside the type it describes), the error answer,
and how an operation's answers are written down.

Owns the documents' building blocks only; which routes exist and what they answer is the
route tables' (`api.openapi`, `api.adminroutes`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from hashcheck.api.errors import ErrorBody

REF = "#/components/schemas/{name}"
ERROR_REF = {"$ref": REF.format(name=ErrorBody.__name__)}


def components(types: Iterable[Any]) -> tuple[dict[Any, Any], dict[str, Any]]:
    """(schema of each type, the named components they refer to), ErrorBody always among them."""
    found = [ErrorBody, *types]
    schemas, named = msgspec.json.schema_components(found, schema_hook=_any, ref_template=REF)
    return dict(zip(found, schemas, strict=True)), named


def _any(kind: type) -> dict[str, Any]:
    """`object` in a record (a proposal's detail): any JSON value."""
    if kind is object:
        return {"description": "any JSON value"}
    raise NotImplementedError


def content(schema: Mapping[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": dict(schema)}}


def error(description: str) -> dict[str, Any]:
    return {"description": description, "content": content(ERROR_REF)}


def answers(
    success: Mapping[int, tuple[str, Mapping[str, Any] | None]], errors: Mapping[int, str]
) -> dict[str, Any]:
    """An operation's ``responses``: each success status with its schema (None: no body), each
    error status with the error answer; ordered by status."""
    documented: dict[int, dict[str, Any]] = {
        status: {"description": text}
        if schema is None
        else {"description": text, "content": content(schema)}
        for status, (text, schema) in success.items()
    }
    documented.update({status: error(text) for status, text in errors.items()})
    return {str(status): documented[status] for status in sorted(documented)}
