"""Parsing the HTTP Basic `Authorization` header. Pure; never raises on bad input."""

from __future__ import annotations

import base64
import binascii


def parse_basic(header: bytes | None) -> tuple[str, str] | None:
    """(client id, secret) from a Basic header, or None if absent or malformed."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(b" ")
    if scheme.lower() != b"basic" or not token:
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    client_id, sep, secret = decoded.partition(":")
    if not sep or not client_id:
        return None
    return client_id, secret
