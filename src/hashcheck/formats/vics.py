"""Project VIC / VICS hash sets (OData JSON 1.x and 2.0), read as a stream.

Root key `odata.metadata` (1.x) or `@odata.context` (2.0, ending `/$metadata#Media`); case
exports (`#Cases`) are refused. Each media item yields its MD5 and SHA-1 with the supplier
category `vics:<Category>`; category 0 (known, non-pertinent) is never imported as abuse
material and is reported as skipped. Pure: reads a stream, no storage.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

import ijson

from hashcheck.formats.entries import FormatError, LineError, ParsedEntry, Skipped
from hashcheck.hashes.algorithms import Algorithm, InvalidHash, parse_hex

_CONTEXT_KEYS = ("odata.metadata", "@odata.context")


def looks_like_vics(head: bytes) -> bool:
    start = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    return start.startswith(b"{") and any(key.encode() in head for key in _CONTEXT_KEYS)


def _rewind(stream: BinaryIO) -> None:
    """Back to the start of the JSON text, past a UTF-8 byte order mark."""
    stream.seek(0)
    if stream.read(3) != b"\xef\xbb\xbf":
        stream.seek(0)


def parse_vics(stream: BinaryIO) -> Iterator[ParsedEntry | LineError | Skipped]:
    """Checks the OData context first (it precedes `value` in real exports), then streams
    the media items in a second pass over the file."""
    _rewind(stream)
    context: str | None = None
    item = 0
    try:
        for prefix, event, value in ijson.parse(stream, use_float=True):
            if prefix in _CONTEXT_KEYS and event == "string":
                context = value
                if "#Cases" in value:
                    raise FormatError("this is a VICS case export (#Cases), not a hash set")
            elif prefix == "value" and event == "start_array":
                if context is None:
                    raise FormatError(
                        'not a VICS hash set: no "odata.metadata" or "@odata.context" before "value"'
                    )
                break
        else:
            raise FormatError('not a VICS hash set: no "value" list')
        _rewind(stream)
        for media in ijson.items(stream, "value.item", use_float=True):
            item += 1
            yield from _media(item, media)
    except ijson.JSONError as exc:
        raise FormatError(f"malformed JSON after item {item}: {exc}") from None


def _media(item: int, media: Any) -> Iterator[ParsedEntry | LineError | Skipped]:
    if not isinstance(media, dict):
        yield LineError(item, "media item is not an object", "item")
        return
    category = media.get("Category")
    if isinstance(category, float) and category.is_integer():
        category = int(category)
    if isinstance(category, str) and category.strip().isdigit():
        category = int(category.strip())
    if not isinstance(category, int) or isinstance(category, bool):
        yield LineError(item, f"Category must be a number, got {str(category)[:20]!r}", "item")
        return
    if category == 0:
        yield Skipped(item, "VICS category 0 (known, non-pertinent)")
        return
    found = False
    for key, algorithm in (("MD5", Algorithm.MD5), ("SHA1", Algorithm.SHA1)):
        value = media.get(key)
        if value in (None, ""):
            continue
        if not isinstance(value, str):
            yield LineError(item, f"{key} must be a string", "item")
            found = True
            continue
        try:
            raw = parse_hex(value, algorithm)
        except InvalidHash as exc:
            yield LineError(item, str(exc), "item")
            found = True
            continue
        yield ParsedEntry(item, algorithm, raw, f"vics:{category}")
        found = True
    if not found:
        yield LineError(item, "neither MD5 nor SHA1", "item")
