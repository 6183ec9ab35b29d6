"""vPDQ lists: one video per line, as ThreatExchange serialises a vPDQ signal — a JSON array
of `"hex,quality,timestamp"` frame strings. `hashcheck hash --video FILE --vpdq-line` writes
such a line.

A video without a frame of quality 50 or more is not imported (it could only match by
chance), and counted. Pure: reads the stream it is given.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import orjson

from hashcheck.formats.entries import LineError, Skipped, VideoEntry
from hashcheck.pdq.video import BadFeature, parse_feature, usable_frames

# A video of a few hours at one frame per second; a longer line is refused, not parsed.
MAX_FRAMES = 20_000
NO_USABLE_FRAME = "video without a frame of quality 50 or more"


def parse_vpdq(stream: BinaryIO) -> Iterator[VideoEntry | LineError | Skipped]:
    for number, raw_line in enumerate(stream, start=1):
        line = raw_line.strip()
        if number == 1 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        if not line or line.startswith(b"#"):
            continue
        try:
            document = orjson.loads(line)
        except orjson.JSONDecodeError:
            yield LineError(number, 'not a JSON array of "hex,quality,timestamp" frames')
            continue
        if not isinstance(document, list) or not document:
            yield LineError(number, "a video is a non-empty JSON array of frame strings")
            continue
        if len(document) > MAX_FRAMES:
            yield LineError(number, f"more than {MAX_FRAMES} frames in one video")
            continue
        try:
            features = [parse_feature(item) for item in document]
        except BadFeature as exc:
            yield LineError(number, str(exc))
            continue
        frames = usable_frames(features)
        if not frames:
            yield Skipped(number, NO_USABLE_FRAME)
            continue
        yield VideoEntry(number, frames, len(features))
