"""PDQ and vPDQ list files: the text forms ThreatExchange and hashcheck write, headers,
pretty-printed and whole-document vPDQ JSON, and errors that say where."""

from __future__ import annotations

import hashlib
import io
import json

import pytest

from hashcheck.formats.entries import FormatError, LineError, PdqEntry, Skipped, VideoEntry
from hashcheck.formats.pdqlist import parse_pdq
from hashcheck.formats.vpdqlist import parse_vpdq


def pdq(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def pdq_items(text: str) -> list[PdqEntry | LineError | Skipped]:
    return list(parse_pdq(io.BytesIO(text.encode())))


def frames(seed: str, count: int = 3, quality: int = 100) -> list[str]:
    return [f"{pdq(f'{seed}{i}')},{quality},{i}.000" for i in range(count)]


def video_items(data: bytes) -> list[VideoEntry | LineError | Skipped]:
    return list(parse_vpdq(io.BytesIO(data)))


def test_a_pdq_lists_first_line_is_data_unless_it_is_a_header() -> None:
    items = pdq_items(f"{pdq('a')}\n{pdq('b')}\n")
    assert [e.bits.hex() for e in items if isinstance(e, PdqEntry)] == [pdq("a"), pdq("b")]
    for header in ("pdq", "hash,quality", "PDQ Hash;Quality", "# made by hand\nhash"):
        items = pdq_items(f"{header}\n{pdq('a')},90\n")
        assert [(e.line, e.quality) for e in items if isinstance(e, PdqEntry)] == [
            (header.count("\n") + 2, 90)
        ]
    # Not a header name: checked as data, and refused as such.
    assert [(e.line, e.message) for e in pdq_items("hashes of 2024\n") if isinstance(e, LineError)]


def test_threatexchange_signal_lines() -> None:
    """`threatexchange hash photo *.jpg` prints `pdq <hash>` per photo."""
    items = pdq_items(f"pdq {pdq('a')}\npdq {pdq('b')}\nmd5 {'ab' * 16}\n")
    assert [(e.line, e.bits.hex()) for e in items if isinstance(e, PdqEntry)] == [
        (1, pdq("a")),
        (2, pdq("b")),
    ]
    assert [(e.line, e.message) for e in items if isinstance(e, LineError)] == [
        (3, "'md5' is not a PDQ hash, nor ThreatExchange's 'pdq <hash>'")
    ]


def test_pdq_quality_and_errors() -> None:
    items = pdq_items(f"{pdq('a')} 40\n{pdq('b')};101\n{pdq('c')[:-2]}\n")
    assert [(s.line, s.reason) for s in items if isinstance(s, Skipped)] == [
        (1, "PDQ quality below 50")
    ]
    assert [(e.line, e.message) for e in items if isinstance(e, LineError)] == [
        (2, "quality must be a whole number from 0 to 100"),
        (3, "a PDQ hash is 64 hex characters"),
    ]


def test_vpdq_one_video_per_line() -> None:
    data = "\n".join(["# two videos", json.dumps(frames("a")), json.dumps(frames("b", 2))])
    items = video_items(data.encode())
    assert [(v.line, v.frames_read) for v in items if isinstance(v, VideoEntry)] == [(2, 3), (3, 2)]


def test_vpdq_pretty_printed_videos() -> None:
    pretty = json.dumps(frames("a", 4), indent=2) + "\n" + json.dumps(frames("b", 2), indent=4)
    data = f"{json.dumps(frames('c'))}\n{pretty}\n".encode()
    items = video_items(data)
    assert [(v.line, v.frames_read) for v in items if isinstance(v, VideoEntry)] == [
        (1, 3),
        (2, 4),
        (8, 2),
    ]
    low = json.dumps(frames("d", quality=10), indent=1)
    bad = json.dumps([*frames("e", 1), "nonsense"], indent=1)
    items = video_items(f"{low}\n{bad}\n[\n".encode())
    assert [(s.line, s.reason) for s in items if isinstance(s, Skipped)] == [
        (1, "video without a frame of quality 50 or more")
    ]
    assert [str(e) for e in items if isinstance(e, LineError)] == [
        'line 6: a frame is "hex,quality,timestamp"',
        "line 10: the video's JSON array is not closed (a truncated file?)",
    ]


def test_vpdq_json_document_of_videos_says_item() -> None:
    document = json.dumps([frames("a"), frames("b", 5), [], frames("c", quality=0)], indent=2)
    items = video_items(b"\xef\xbb\xbf# exported\n" + document.encode())
    assert [(v.line, v.frames_read) for v in items if isinstance(v, VideoEntry)] == [(1, 3), (2, 5)]
    assert [str(e) for e in items if isinstance(e, LineError)] == [
        "item 3: a video is a non-empty JSON array of frame strings"
    ]
    assert [s.line for s in items if isinstance(s, Skipped)] == [4]
    with pytest.raises(FormatError, match="malformed JSON after item 1"):
        video_items(json.dumps([frames("a"), frames("b")]).encode()[:-30])
