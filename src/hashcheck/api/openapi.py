"""The OpenAPI 3.1 document served at GET /v2/openapi.json: the client API's operations, with
every status each answers, and schemas generated from `api.v2models`."""

from __future__ import annotations

from typing import Any

from hashcheck.api import schema
from hashcheck.api.v2models import (
    ActionAnswer,
    ActionRequest,
    Alive,
    CheckRequest,
    CheckResponse,
    Dispute,
    DisputeRequest,
    Notice,
    Notices,
    Platforms,
    Ready,
    Retractions,
    SubmissionChallenge,
    SubmissionReceived,
    SubmissionRequest,
    SubmissionState,
    TakedownReport,
)

# Every client call authenticates first: these it may answer before anything else.
_CLIENT_ERRORS = {
    401: "missing or wrong credentials",
    403: "client disabled",
    404: "the check API is not served on this node (HASHCHECK_CHECKS off)",
    503: "index not loaded yet, or the store cannot be reached",
}


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
        # SHA-256 is this service's extension of the wire protocol, without a test endpoint.
        for algorithm in (("md5", "sha1") if test else ("md5", "sha1", "sha256"))
    }
    types = (
        CheckRequest,
        CheckResponse,
        DisputeRequest,
        Dispute,
        ActionRequest,
        ActionAnswer,
        Notice,
        Notices,
        TakedownReport,
        Retractions,
        Ready,
        Alive,
        SubmissionRequest,
        SubmissionReceived,
        SubmissionState,
        SubmissionChallenge,
        Platforms,
    )
    of, named = schema.components(types)
    # The batch limit is the node's setting, not the model's.
    named["CheckRequest"]["properties"]["hashes"].update(minItems=1, maxItems=max_batch)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "hashcheck",
            "version": "2",
            "description": "Check file hashes against lists of known material. Only hashes travel.",
        },
        "components": {
            "securitySchemes": {"basic": {"type": "http", "scheme": "basic"}},
            "schemas": named,
        },
        "paths": {
            **legacy,
            "/v2/check": {
                "post": {
                    "summary": "Check a batch of hashes",
                    "security": [{"basic": []}],
                    "requestBody": {"required": True, "content": schema.content(of[CheckRequest])},
                    "responses": schema.answers(
                        {200: ("One result per submitted hash, in order", of[CheckResponse])},
                        {
                            **_CLIENT_ERRORS,
                            400: "malformed request or hash (details name every bad item)",
                            413: "body too large",
                        },
                    ),
                }
            },
            "/v2/disputes": {
                "post": {
                    "summary": "Dispute a match by its match id",
                    "security": [{"basic": []}],
                    "requestBody": {
                        "required": True,
                        "content": schema.content(of[DisputeRequest]),
                    },
                    "responses": schema.answers(
                        {201: ("The dispute (open)", of[Dispute])},
                        {
                            **_CLIENT_ERRORS,
                            400: "malformed body, or not a match id issued to this client",
                            404: "no such match",
                            410: "the match was retracted already",
                            413: "body too large",
                        },
                    ),
                }
            },
            "/v2/actions": {
                "post": {
                    "summary": "Say what this client did about a match, and when",
                    "description": (
                        "Kept once per match and action: a repeat is answered 200 with the "
                        "first record. Kept in the store before the answer; while the store "
                        "cannot be reached the answer is 503 and nothing is kept."
                    ),
                    "security": [{"basic": []}],
                    "requestBody": {
                        "required": True,
                        "content": schema.content(of[ActionRequest]),
                    },
                    "responses": schema.answers(
                        {
                            201: ("The action, kept", of[ActionAnswer]),
                            200: ("This action on this match was kept already", of[ActionAnswer]),
                        },
                        {
                            **_CLIENT_ERRORS,
                            400: "malformed body; a time in the future, before the match or "
                            "without a time zone; kept_after_review without a reason",
                            404: "no such match or notice for this client (also another "
                            "client's match id)",
                            410: "the match is older than the match records are kept, or the "
                            "notice was withdrawn",
                            413: "body too large",
                        },
                    ),
                }
            },
            "/v2/report": {
                "get": {
                    "summary": "This client's own takedown figures for a month",
                    "security": [{"basic": []}],
                    "parameters": [
                        {
                            "name": "month",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"},
                            "description": "YYYY-MM (UTC); this month when left out",
                        }
                    ],
                    "responses": schema.answers(
                        {200: ("Its figures only (overall is its own too)", of[TakedownReport])},
                        {**_CLIENT_ERRORS, 400: "not a month"},
                    ),
                }
            },
            "/v2/notices": {
                "get": {
                    "summary": "The operator's notices to this client",
                    "description": (
                        "Act on each by its deadline and say so with POST /v2/actions "
                        '(`{"notice": ID, "action": "removed"}`): an action that takes the '
                        "item down closes the notice."
                    ),
                    "security": [{"basic": []}],
                    "parameters": [
                        {
                            "name": "state",
                            "in": "query",
                            "required": False,
                            "schema": {
                                "enum": [
                                    "live",
                                    "all",
                                    "open",
                                    "acknowledged",
                                    "removed",
                                    "withdrawn",
                                ]
                            },
                            "description": "live (default): open and acknowledged",
                        }
                    ],
                    "responses": schema.answers(
                        {200: ("Oldest first", of[Notices])},
                        {**_CLIENT_ERRORS, 400: "an unknown state"},
                    ),
                }
            },
            "/v2/notices/{notice_id}/acknowledge": {
                "post": {
                    "summary": "Say that this client read a notice",
                    "security": [{"basic": []}],
                    "parameters": [
                        {
                            "name": "notice_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer"},
                        }
                    ],
                    "responses": schema.answers(
                        {200: ("The notice, acknowledged", of[Notice])},
                        {
                            **_CLIENT_ERRORS,
                            404: "no such notice of this client",
                            410: "the operator withdrew the notice",
                        },
                    ),
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
                    "responses": schema.answers(
                        {200: ("The dispute", of[Dispute])},
                        {**_CLIENT_ERRORS, 404: "no such dispute of this client"},
                    ),
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
                    "responses": schema.answers(
                        {200: ("Oldest first", of[Retractions])},
                        {**_CLIENT_ERRORS, 400: "malformed query"},
                    ),
                }
            },
            **_submissions(of),
            "/healthz": {
                "get": {
                    "summary": "Liveness",
                    "responses": schema.answers({200: ("alive", of[Alive])}, {}),
                }
            },
            "/readyz": {
                "get": {
                    "summary": "Readiness, with index version, entry count and age",
                    "responses": {
                        "200": {"description": "serving", "content": schema.content(of[Ready])},
                        "503": {
                            "description": "no index loaded yet",
                            "content": schema.content(of[Ready]),
                        },
                    },
                }
            },
            "/v2/openapi.json": {
                "get": {
                    "summary": "This document",
                    "responses": schema.answers({200: ("OpenAPI 3.1", {"type": "object"})}, {}),
                }
            },
        },
    }


def _submissions(of: dict[Any, Any]) -> dict[str, Any]:
    """Self-submission (served where `HASHCHECK_SUBMISSIONS` is on; elsewhere 404)."""
    case = {"name": "case", "in": "path", "required": True, "schema": {"type": "string"}}
    pin = "the case number as the Basic user name, the PIN as the password"
    looked_up = {
        400: "no or malformed credentials, or another case number than the path's",
        404: "no case with this number and PIN (unknown and wrong alike), or not served here",
        429: "too many wrong PINs from here (Retry-After)",
        503: "the store cannot be reached",
    }
    return {
        "/v2/submissions": {
            "post": {
                "summary": "Submit the hashes of one's own images (no authentication)",
                "requestBody": {"required": True, "content": schema.content(of[SubmissionRequest])},
                "responses": schema.answers(
                    {201: ("The case number and the PIN, shown once", of[SubmissionReceived])},
                    {
                        400: "malformed body or hash (the message names the file)",
                        403: "this node asks for a proof of work and it was missing, wrong, "
                        "expired or used (the message says which)",
                        404: "self-submission is not served on this node",
                        409: "a replay: this nonce was received already",
                        413: "body too large",
                        429: "too many submissions from here or to this node (Retry-After)",
                        503: "the service is starting, or the store cannot be reached",
                    },
                ),
            }
        },
        "/v2/submissions/{case}": {
            "get": {
                "summary": "A case's state",
                "description": pin,
                "security": [{"basic": []}],
                "parameters": [case],
                "responses": schema.answers(
                    {200: ("The case and each file's state", of[SubmissionState])}, looked_up
                ),
            },
            "delete": {
                "summary": "Withdraw a case: its hashes leave the list",
                "description": pin,
                "security": [{"basic": []}],
                "parameters": [case],
                "responses": schema.answers(
                    {200: ("The case, withdrawn", of[SubmissionState])}, looked_up
                ),
            },
        },
        "/v2/submission-challenge": {
            "get": {
                "summary": "A challenge for a submission's proof of work (bits 0: none needed)",
                "responses": schema.answers(
                    {200: ("The challenge and its difficulty", of[SubmissionChallenge])},
                    {404: "not served here"},
                ),
            }
        },
        "/v2/platforms": {
            "get": {
                "summary": "Participating platforms that agreed to be listed",
                "responses": schema.answers(
                    {200: ("Their public names", of[Platforms])},
                    {404: "not served here", 503: "the service is starting"},
                ),
            }
        },
    }
