"""The OpenAPI 3.1 document served at GET /v2/openapi.json."""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "index": {"type": "integer"},
                            "message": {"type": "string"},
                        },
                    },
                },
            },
        }
    },
}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _json(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}


def _legacy(path_doc: str, test: bool) -> dict[str, Any]:
    return {
        "post": {
            "summary": path_doc,
            "description": (
                "Legacy wire protocol. The body is the bare hex hash (any Content-Type), a "
                '`hash=<hex>` form field, or JSON `{"hash": "<hex>"}`. The answer body is '
                "exactly `true` or `false`; errors are plain text and never either word."
                + (" Test endpoint: only the documented value answers `true`." if test else "")
            ),
            "security": [{"basic": []}],
            "requestBody": {
                "required": True,
                "content": {"text/plain": {"schema": {"type": "string"}}},
            },
            "responses": {
                "200": {
                    "description": "`true` or `false`",
                    "content": {"text/plain": {"schema": {"enum": ["true", "false"]}}},
                },
                "400": {"description": "malformed hash"},
                "401": {"description": "missing or wrong credentials"},
                "403": {"description": "client disabled"},
                "404": {"description": "unknown algorithm"},
                "413": {"description": "body too large"},
                "503": {"description": "index not loaded yet"},
            },
        }
    }


def document(max_batch: int) -> dict[str, Any]:
    legacy = {
        f"/v1{'/test' if test else ''}/check/{algorithm}": _legacy(
            f"{'Test: ' if test else ''}check one {algorithm.upper()} hash", test
        )
        for test in (False, True)
        for algorithm in ("md5", "sha1")
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "hashcheck",
            "version": "2",
            "description": "Check file hashes against lists of known material. Only hashes travel.",
        },
        "components": {
            "securitySchemes": {"basic": {"type": "http", "scheme": "basic"}},
            "schemas": {
                "Error": ERROR_SCHEMA,
                "CheckRequest": {
                    "type": "object",
                    "description": (
                        'Either "hashes" (one object per hash) or lists under "md5", "sha1", '
                        '"sha256" (taken in that order), not both.'
                    ),
                    "properties": {
                        **{
                            name: {
                                "type": "array",
                                "items": {"type": "string", "pattern": "^[0-9a-fA-F]+$"},
                            }
                            for name in ("md5", "sha1", "sha256", "pdq")
                        },
                        "only_matches": {
                            "type": "boolean",
                            "description": "Answer only for the hashes that matched.",
                        },
                        "hashes": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": max_batch,
                            "items": {
                                "type": "object",
                                "required": ["algorithm"],
                                "description": "hash for md5, sha1, sha256, pdq; frames for "
                                "vpdq (a video)",
                                "properties": {
                                    "algorithm": {"enum": ["md5", "sha1", "sha256", "pdq", "vpdq"]},
                                    "hash": {"type": "string", "pattern": "^[0-9a-fA-F]+$"},
                                    "frames": {
                                        "type": "array",
                                        "minItems": 1,
                                        "items": {"type": "string"},
                                        "description": 'vpdq only: "hex,quality,timestamp" '
                                        "per frame (each counts against the batch limit)",
                                    },
                                    "quality": {
                                        "type": "integer",
                                        "minimum": 0,
                                        "maximum": 100,
                                        "description": "pdq only: below 50 it is not matched",
                                    },
                                },
                            },
                        },
                    },
                },
                "Match": {
                    "type": "object",
                    "required": [
                        "list",
                        "category",
                        "severity",
                        "action",
                        "kind",
                        "item",
                        "match_id",
                    ],
                    "properties": {
                        "list": {"type": "string"},
                        "category": {"type": "string"},
                        "severity": {"enum": ["severe", "sensitive", "informational"]},
                        "action": {"enum": ["remove", "review"]},
                        "kind": {"enum": ["exact", "pdq", "vpdq"]},
                        "item": {
                            "type": "integer",
                            "description": "the list item (one file's hashes) that matched",
                        },
                        "match_id": {"type": "string"},
                        "distance": {
                            "type": "integer",
                            "description": "pdq only: Hamming distance to the list entry",
                        },
                        "target_percent": {
                            "type": "number",
                            "description": "vpdq only: share of the stored video's frames matched",
                        },
                        "query_percent": {
                            "type": "number",
                            "description": "vpdq only: share of the query's frames matched",
                        },
                        "hold": {
                            "type": "string",
                            "description": "Present while the entry is on hold: why (action "
                            "is then review)",
                        },
                    },
                },
                "DisputeRequest": {
                    "type": "object",
                    "required": ["match_id", "reason"],
                    "properties": {
                        "match_id": {"type": "string"},
                        "reason": {"type": "string", "minLength": 1, "maxLength": 2000},
                    },
                },
                "Dispute": {
                    "type": "object",
                    "required": ["dispute_id", "match_id", "state", "reason", "opened_at"],
                    "properties": {
                        "dispute_id": {"type": "integer"},
                        "match_id": {"type": "string"},
                        "list": {"type": ["string", "null"]},
                        "reason": {"type": "string"},
                        "state": {"enum": ["open", "upheld", "rejected"]},
                        "opened_at": {"type": "string"},
                        "decided_at": {"type": ["string", "null"]},
                        "notes": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "at": {"type": "string"},
                                    "text": {"type": "string"},
                                },
                            },
                        },
                    },
                },
                "Retractions": {
                    "type": "object",
                    "required": ["retractions", "next", "more"],
                    "properties": {
                        "retractions": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["cursor", "match_id", "reason", "retracted_at"],
                                "properties": {
                                    "cursor": {"type": "integer"},
                                    "match_id": {"type": "string"},
                                    "list": {"type": ["string", "null"]},
                                    "reason": {
                                        "enum": ["removed", "rolled-back", "dispute-upheld"]
                                    },
                                    "retracted_at": {"type": "string"},
                                },
                            },
                        },
                        "next": {"type": "integer", "description": "The cursor for `since`"},
                        "more": {"type": "boolean", "description": "Another page is waiting"},
                    },
                },
                "CheckResponse": {
                    "type": "object",
                    "required": ["version", "checked", "results"],
                    "properties": {
                        "version": {"type": "integer"},
                        "checked": {"type": "integer"},
                        "results": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["algorithm", "match", "matches"],
                                "properties": {
                                    "index": {
                                        "type": "integer",
                                        "description": "Position in the request (only_matches)",
                                    },
                                    "algorithm": {"type": "string"},
                                    "hash": {
                                        "type": "string",
                                        "description": "every kind but vpdq",
                                    },
                                    "frames": {
                                        "type": "integer",
                                        "description": "vpdq: frames given",
                                    },
                                    "usable_frames": {
                                        "type": "integer",
                                        "description": "vpdq: distinct frames of quality 50+",
                                    },
                                    "match": {"type": "boolean"},
                                    "flag": {
                                        "type": "string",
                                        "description": "why a hash or video was not checked "
                                        "(low quality)",
                                    },
                                    "matches": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/Match"},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
        "paths": {
            **legacy,
            "/v2/check": {
                "post": {
                    "summary": "Check a batch of hashes",
                    "security": [{"basic": []}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/CheckRequest"}
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "One result per submitted hash, in order",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/CheckResponse"}
                                }
                            },
                        },
                        "400": _error("malformed request or hash"),
                        "401": _error("missing or wrong credentials"),
                        "403": _error("client disabled"),
                        "413": _error("body too large"),
                        "503": _error("index not loaded yet"),
                    },
                }
            },
            "/v2/disputes": {
                "post": {
                    "summary": "Dispute a match by its match id",
                    "security": [{"basic": []}],
                    "requestBody": {"required": True, "content": _json("DisputeRequest")},
                    "responses": {
                        "201": {"description": "The dispute (open)", "content": _json("Dispute")},
                        "400": _error("malformed body, or not a match id issued to this client"),
                        "401": _error("missing or wrong credentials"),
                        "404": _error("no such match"),
                        "410": _error("the match was retracted already"),
                        "503": _error("index not loaded yet, or the store is unreachable"),
                    },
                }
            },
            "/v2/disputes/{dispute_id}": {
                "get": {
                    "summary": "One of this client's disputes, with the operator's notes",
                    "security": [{"basic": []}],
                    "parameters": [
                        {
                            "name": "dispute_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer"},
                        }
                    ],
                    "responses": {
                        "200": {"description": "The dispute", "content": _json("Dispute")},
                        "404": _error("no such dispute of this client"),
                    },
                }
            },
            "/v2/retractions": {
                "get": {
                    "summary": "Matches this client was answered whose entries were removed",
                    "security": [{"basic": []}],
                    "parameters": [
                        {
                            "name": "since",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 0},
                            "description": "The `next` of the previous page (0 at first)",
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
                        },
                    ],
                    "responses": {
                        "200": {"description": "Oldest first", "content": _json("Retractions")},
                        "400": _error("malformed query"),
                    },
                }
            },
            "/healthz": {
                "get": {"summary": "Liveness", "responses": {"200": {"description": "alive"}}}
            },
            "/readyz": {
                "get": {
                    "summary": "Readiness, with index version, entry count and age",
                    "responses": {
                        "200": {"description": "serving"},
                        "503": {"description": "no index loaded yet"},
                    },
                }
            },
        },
    }
