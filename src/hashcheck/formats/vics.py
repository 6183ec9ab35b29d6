"""Project VIC / VICS hash sets (OData JSON 1.x and 2.0), streamed; case exports are refused.
Each media item is one record: its MD5 and SHA-1 with the category `vics:<Category>` and its
`MediaID` as ref. Category 0 comes through as `vics:0`: the importer takes such items off the
list (Project VIC's false-positive correction). Pure: reads a stream.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

import ijson

from hashcheck.formats.bounded import bounded_records
from hashcheck.formats.entries import FormatError, LineError, ParsedEntry, Skipped
from hashcheck.hashes.algorithms import Algorithm, InvalidHash, parse_hex

_CONTEXT_KEYS = ("odata.metadata", "@odata.context")
_HASH_KEYS = (("md5", Algorithm.MD5), ("sha1", Algorithm.SHA1), ("sha256", Algorithm.SHA256))
NO_HASH = "item without an MD5 or SHA-1"
ONLY_PHOTODNA = "item with only a PhotoDNA hash (not imported)"


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
        bounded = bounded_records(stream, "item")
        for media in ijson.items(bounded, "value.item", use_float=True):
            item += 1
            bounded.mark()
            yield from _media(item, media)
    except ijson.JSONError as exc:
        raise FormatError(
            f"malformed JSON after item {item} (a truncated or damaged file?): {exc}"
        ) from None


def _media(item: int, media: Any) -> Iterator[ParsedEntry | LineError | Skipped]:
    if not isinstance(media, dict):
        yield LineError(item, "media item is not an object", "item")
        return
    fields = {str(key).lower(): value for key, value in media.items()}
    category = fields.get("category")
    if isinstance(category, float) and category.is_integer():
        category = int(category)
    if isinstance(category, str) and category.strip().isdigit():
        category = int(category.strip())
    if not isinstance(category, int) or isinstance(category, bool):
        yield LineError(item, f"Category must be a number, got {str(category)[:20]!r}", "item")
        return
    ref = _ref(fields.get("mediaid"))
    found = False
    for key, algorithm in _HASH_KEYS:
        value = fields.get(key)
        if value in (None, ""):
            continue
        found = True
        if not isinstance(value, str):
            yield LineError(item, f"{key.upper()} must be a string", "item")
            continue
        try:
            raw = parse_hex(value, algorithm)
        except InvalidHash as exc:
            yield LineError(item, str(exc), "item")
            continue
        yield ParsedEntry(item, algorithm, raw, f"vics:{category}", ref)
    if not found:
        yield Skipped(item, ONLY_PHOTODNA if fields.get("photodna") else NO_HASH)


def _ref(media_id: object) -> str | None:
    """`MediaID` as text: 17, 17.0 and "17" are the same item."""
    if isinstance(media_id, float) and media_id.is_integer():
        media_id = int(media_id)
    if media_id is None or isinstance(media_id, bool):
        return None
    text = str(media_id).strip()
    return text or None
