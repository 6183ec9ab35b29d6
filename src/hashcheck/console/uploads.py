"""Reading a `multipart/form-data` form with one file in it (the console's list upload): the
file streamed to disk as it arrives, the text fields kept, everything bounded.

Owns the parsing only (with python-multipart): what the fields mean, and whether the sender
may send them, is the console's. Never holds the file in memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from hashcheck.api.errors import BadRequest, PayloadTooLarge
from hashcheck.api.http import ClientGone, Receive

FILE_FIELD = "file"
MAX_FIELDS = 32
MAX_FIELD_BYTES = 4096


class UploadRefused(BadRequest):
    """The form is not one this reader takes; nothing of it is kept."""


@dataclass
class Received:
    fields: dict[str, str] = field(default_factory=dict)
    filename: str = ""  # as the browser named it: for display only, never a path
    size: int = 0  # bytes of the file


@dataclass
class _Part:
    headers: dict[str, str] = field(default_factory=dict)
    name: str = ""
    filename: str | None = None
    text: bytearray = field(default_factory=bytearray)


def boundary_of(content_type: bytes | None) -> bytes | None:
    """The boundary of a `multipart/form-data` content type; None for any other type."""
    kind, options = parse_options_header(content_type or b"")
    if kind != b"multipart/form-data":
        return None
    boundary = options.get(b"boundary")
    return boundary or None


async def receive_upload(
    receive: Receive,
    boundary: bytes,
    target: Path,
    limit: int,
    declared: int | None,
    before_file: Callable[[dict[str, str]], Awaitable[None]] | None = None,
) -> Received:
    """Stream the form into ``target`` (its one file part) and return the rest; refuse a
    form with no file, two files, a field after the file, more than ``limit`` bytes, or
    malformed parts. ``before_file`` sees the fields before a byte of the file is kept: what
    it raises refuses the form unread (the console's form puts its file last)."""
    if declared is not None and declared > limit:
        raise PayloadTooLarge(f"the upload is larger than {limit:,} bytes")
    received = Received()
    pending: list[bytes] = []  # file data parsed from the last chunk, written off the loop
    current = _Part()
    header_name = bytearray()
    header_value = bytearray()
    problems: list[str] = []
    ended: list[bool] = []  # the closing boundary was read
    checked = before_file is None

    def on_part_begin() -> None:
        nonlocal current
        current = _Part()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_name.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        current.headers[header_name.decode("latin-1").lower()] = header_value.decode("latin-1")
        header_name.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        disposition, options = parse_options_header(current.headers.get("content-disposition"))
        if disposition != b"form-data" or b"name" not in options:
            problems.append("a part of the form has no name")
            return
        current.name = options[b"name"].decode("utf-8", "replace")
        if b"filename" in options:
            current.filename = options[b"filename"].decode("utf-8", "replace")
            if current.name != FILE_FIELD or received.filename:
                problems.append("the form carries one file, in its file field")
            else:
                received.filename = Path(current.filename.replace("\\", "/")).name[:200] or "upload"
        elif received.filename:
            problems.append("the form's fields come before its file")
        elif len(received.fields) >= MAX_FIELDS:
            problems.append("the form has too many fields")

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if current.filename is not None:
            pending.append(data[start:end])
            received.size += end - start
        else:
            current.text.extend(data[start:end])
            if len(current.text) > MAX_FIELD_BYTES:
                problems.append(f"the form field {current.name!r} is too long")

    def on_part_end() -> None:
        if current.filename is None and current.name and not problems:
            try:
                received.fields[current.name] = current.text.decode("utf-8")
            except UnicodeDecodeError:
                problems.append("the form was not sent as UTF-8")

    def on_end() -> None:
        ended.append(True)

    parser = MultipartParser(
        boundary,
        {
            "on_end": on_end,
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    total = 0
    with target.open("wb") as out:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > limit:
                raise PayloadTooLarge(f"the upload is larger than {limit:,} bytes")
            try:
                parser.write(chunk)
            except MultipartParseError:
                raise UploadRefused("the form's upload is malformed; nothing was kept") from None
            if problems:
                raise UploadRefused(f"{problems[0]}; nothing was kept")
            if not checked and received.filename and before_file is not None:
                checked = True
                await before_file(dict(received.fields))
            if pending:
                data = b"".join(pending)
                pending.clear()
                await asyncio.to_thread(out.write, data)
            if not message.get("more_body", False):
                break
    try:
        parser.finalize()
    except MultipartParseError:
        ended.clear()
    if not ended:
        raise UploadRefused("the form's upload ended early; nothing was kept")
    if not received.filename:
        raise UploadRefused("choose a file to upload")
    return received
