"""vPDQ lists: videos as JSON arrays of `"hex,quality,timestamp"` frames (ThreatExchange's
form; `hashcheck hash --video --vpdq-line` writes it), one per line, pretty-printed, or all in
one JSON array (errors then say "item N"). Videos without a frame of quality 50 are skipped.
Pure: reads the stream it is given.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

import ijson
import orjson

from hashcheck.formats.bounded import bounded_lines, bounded_records
from hashcheck.formats.entries import FormatError, LineError, Skipped, VideoEntry
from hashcheck.pdq.video import BadFeature, parse_feature, usable_frames

# A video of a few hours at one frame per second; a longer one is refused, not parsed.
MAX_FRAMES = 20_000
NO_USABLE_FRAME = "video without a frame of quality 50 or more"
_MAX_BYTES = MAX_FRAMES * 128  # a frame string is about 80 bytes
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"')
_DOCUMENT = re.compile(rb"\s*\[\s*\[")
_SNIFF = 64 * 1024
_Item = VideoEntry | LineError | Skipped


def parse_vpdq(stream: BinaryIO) -> Iterator[_Item]:
    start = _document_start(stream)
    if start is not None:
        stream.seek(start)
        yield from _document(stream)
    else:
        yield from _lines(stream)


def _document_start(stream: BinaryIO) -> int | None:
    """Where a JSON array of videos (`[[...], ...]`) starts, past comment lines; None for
    a list of one video per line (or per pretty-printed block)."""
    if not stream.seekable():
        return None
    head = stream.read(_SNIFF)
    stream.seek(0)
    offset = 3 if head.startswith(b"\xef\xbb\xbf") else 0
    for line in head[offset:].splitlines(keepends=True):
        if line.strip() and not line.lstrip().startswith(b"#"):
            return offset if _DOCUMENT.match(head, offset) else None
        offset += len(line)
    return None


def _document(stream: BinaryIO) -> Iterator[_Item]:
    item = 0
    bounded = bounded_records(stream, "item", _MAX_BYTES + (1 << 20))
    try:
        for video in ijson.items(bounded, "item"):
            item += 1
            bounded.mark()
            yield _video(item, video, "item")
    except ijson.JSONError as exc:
        raise FormatError(
            f"malformed JSON after item {item} (a truncated or damaged file?): {exc}"
        ) from None


def _lines(stream: BinaryIO) -> Iterator[_Item]:
    block: list[bytes] = []
    size = depth = start = 0
    # A line holds one video at most (a longer one is refused below, by its size).
    for number, raw_line in enumerate(bounded_lines(stream, _MAX_BYTES + (1 << 20)), start=1):
        line = raw_line.strip()
        if number == 1 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        if not block:
            if not line or line.startswith(b"#"):
                continue
            try:
                document = orjson.loads(line)
            except orjson.JSONDecodeError:
                if not line.startswith(b"["):
                    yield LineError(number, 'not a JSON array of "hex,quality,timestamp" frames')
                    continue
            else:
                yield _video(number, document, "line")
                continue
            start, size, depth = number, 0, 0
        # A pretty-printed video: gather its lines until its brackets close.
        bare = _STRINGS.sub(b"", line)
        depth += bare.count(b"[") - bare.count(b"]")
        size += len(line)
        if size <= _MAX_BYTES:
            block.append(line)
        if depth > 0:
            continue
        yield _block(start, block, size)
        block = []
    if block:
        yield LineError(start, "the video's JSON array is not closed (a truncated file?)")


def _block(start: int, block: list[bytes], size: int) -> _Item:
    if size > _MAX_BYTES:
        return LineError(start, f"more than {MAX_FRAMES} frames in one video")
    try:
        document = orjson.loads(b"\n".join(block))
    except orjson.JSONDecodeError as exc:
        return LineError(start, f"the video's JSON array is malformed: {exc}")
    return _video(start, document, "line")


def _video(number: int, document: object, unit: str) -> _Item:
    if not isinstance(document, list) or not document:
        return LineError(number, "a video is a non-empty JSON array of frame strings", unit)
    if len(document) > MAX_FRAMES:
        return LineError(number, f"more than {MAX_FRAMES} frames in one video", unit)
    try:
        features = [parse_feature(item) for item in document]
    except BadFeature as exc:
        return LineError(number, str(exc), unit)
    frames = usable_frames(features)
    if not frames:
        return Skipped(number, NO_USABLE_FRAME)
    return VideoEntry(number, frames, len(features))
