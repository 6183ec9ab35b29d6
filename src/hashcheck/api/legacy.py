"""The legacy wire protocol: POST /v1/check/{md5,sha1} and /v1/test/check/{md5,sha1}.

The answer body is exactly `true` or `false`, nothing else; every failure is an `ApiError`
whose body is neither. The submitted hash is never logged or kept.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

import orjson

from hashcheck.api.errors import BadRequest, NotFound
from hashcheck.hashes.algorithms import Algorithm, InvalidHash, parse_hex

MAX_BODY = 4096
TRUE = b"true"
FALSE = b"false"

# The documented test values: the only positives of the test endpoints.
TEST_POSITIVES = {
    Algorithm.MD5: bytes.fromhex("258228aed7b04862fb4f41da4cde67e5"),
    Algorithm.SHA1: bytes.fromhex("41247e2022c2f4264816f6e3eeef1acee14b6af8"),
}


def route(path: str) -> tuple[Algorithm, bool] | None:
    """(algorithm, is test endpoint) for a legacy path, None if it is not one."""
    known = ROUTES.get(path)
    if known is not None:
        return known
    if path.startswith("/v1/check/"):
        name, test = path[len("/v1/check/") :], False
    elif path.startswith("/v1/test/check/"):
        name, test = path[len("/v1/test/check/") :], True
    else:
        return None
    try:
        algorithm = Algorithm(name)
    except ValueError:
        algorithms = ", ".join(a.value for a in Algorithm)
        raise NotFound(f"unknown algorithm {name[:40]!r}; use {algorithms}") from None
    if test and algorithm not in TEST_POSITIVES:
        raise NotFound(f"no test endpoint for {algorithm.value}; use md5 or sha1")
    return algorithm, test


ROUTES: dict[str, tuple[Algorithm, bool]] = {
    **{f"/v1/check/{a.value}": (a, False) for a in Algorithm},
    **{f"/v1/test/check/{a.value}": (a, True) for a in TEST_POSITIVES},
}


def submitted_hash(body: bytes, algorithm: Algorithm) -> bytes:
    """The raw digest from a legacy body: bare hex, `hash=<hex>`, or JSON {"hash": "<hex>"}."""
    text = body.strip()
    if len(text) == algorithm.hex_length:
        # The common case, bare hex, without a regular expression: fromhex refuses non-hex
        # and skips inner whitespace, which the length check then catches.
        try:
            raw = bytes.fromhex(text.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            raw = b""
        if len(raw) * 2 == len(text):
            return raw
    if text.startswith(b"{") or text.startswith(b"["):
        try:
            document = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise BadRequest("body looks like JSON but is not valid JSON") from None
        value = document.get("hash") if isinstance(document, dict) else None
        if not isinstance(value, str):
            raise BadRequest('JSON body must be an object with a "hash" string')
        text = value.encode("utf-8")
    elif b"=" in text:
        try:
            fields = parse_qsl(text.decode("ascii"), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            raise BadRequest("form body is malformed") from None
        values = [value for name, value in fields if name == "hash"]
        if len(values) != 1:
            raise BadRequest('form body must have exactly one "hash" field')
        # Percent-decoding may have made any character (%C3%A9, %FF): hex or refused below.
        text = values[0].encode("utf-8", "replace")
    try:
        return parse_hex(text, algorithm)
    except InvalidHash as exc:
        raise BadRequest(f"invalid hash: {exc}") from None
