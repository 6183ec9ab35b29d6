"""The API's errors and their two renderings: plain text on the legacy paths, JSON on v2.

    ApiError                 status, code, message, extra headers
    ├── BadRequest           400: malformed hash or body
    ├── Unauthorized         401: missing or wrong credentials (with a Basic challenge)
    ├── Forbidden            403: the client is disabled
    ├── NotFound             404: unknown path or algorithm
    ├── MethodNotAllowed     405
    ├── Conflict             409: does not fit the current state
    ├── Gone                 410: a match that was retracted already
    ├── Rejected             422: an uploaded list file failed validation; nothing changed
    ├── PayloadTooLarge      413
    └── NotReady             503: no snapshot loaded yet

No error body is ever exactly `true` or `false`: legacy clients read only the body.
"""

from __future__ import annotations

import msgspec
from msgspec import UNSET, Struct, UnsetType


class ItemProblem(Struct, kw_only=True):
    """What is wrong with one item of a batch, by its position."""

    index: int
    message: str


class ErrorDetail(Struct, kw_only=True):
    code: str
    message: str
    details: list[ItemProblem] | UnsetType = UNSET


class ErrorBody(Struct, kw_only=True):
    """Every JSON error answer: `{"error": {"code", "message", "details"?}}`."""

    error: ErrorDetail


class ApiError(Exception):
    status = 500
    code = "internal"

    def __init__(
        self,
        message: str,
        *,
        headers: list[tuple[bytes, bytes]] | None = None,
        details: list[ItemProblem] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or []
        self.details = details

    def text_body(self) -> bytes:
        return f"error: {self.message}\n".encode()

    def json_body(self) -> bytes:
        details = UNSET if self.details is None else self.details
        detail = ErrorDetail(code=self.code, message=self.message, details=details)
        return msgspec.json.encode(ErrorBody(error=detail))


class BadRequest(ApiError):
    status = 400
    code = "bad_request"


class InvalidHashes(BadRequest):
    code = "invalid_hash"


class Unauthorized(ApiError):
    status = 401
    code = "unauthorized"

    def __init__(self, message: str) -> None:
        super().__init__(message, headers=[(b"www-authenticate", b'Basic realm="hashcheck"')])


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class NotFound(ApiError):
    status = 404
    code = "not_found"


class MethodNotAllowed(ApiError):
    status = 405
    code = "method_not_allowed"

    def __init__(self, allowed: str) -> None:
        super().__init__(f"use {allowed}", headers=[(b"allow", allowed.encode())])


class Conflict(ApiError):
    status = 409
    code = "conflict"


class Gone(ApiError):
    status = 410
    code = "gone"


class Rejected(ApiError):
    status = 422
    code = "rejected"


class PayloadTooLarge(ApiError):
    status = 413
    code = "payload_too_large"


class TooManyRequests(ApiError):
    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, headers=[(b"retry-after", str(retry_after).encode())])


class NotReady(ApiError):
    status = 503
    code = "not_ready"

    def __init__(self, message: str) -> None:
        super().__init__(message, headers=[(b"retry-after", b"1")])
