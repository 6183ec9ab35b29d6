"""The upload reader on its own: every part's MD5, SHA-1 and SHA-256 are those of its bytes
however the body is cut into pieces (small pieces hashed in place, large ones with MD5 on a
lane thread of its own), and a reader closed mid-part leaves no thread behind."""

from __future__ import annotations

import hashlib
import os
import threading
from urllib.parse import quote_plus

import pytest

from hashcheck.client.multipart import MalformedUpload
from hashcheck.client.uploads import PARALLEL_FROM, UploadReader

BOUNDARY = "b0undary"


def form(parts: dict[str, bytes]) -> bytes:
    body = b""
    for name, data in parts.items():
        body += (
            (
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; '
                f'filename="{name}.bin"\r\n\r\n'
            ).encode()
            + data
            + b"\r\n"
        )
    return body + f"--{BOUNDARY}--\r\n".encode()


def cut(body: bytes, sizes: list[int]) -> list[bytes]:
    """``body`` in pieces of ``sizes``, in turn."""
    pieces: list[bytes] = []
    at = 0
    while at < len(body):
        size = sizes[len(pieces) % len(sizes)]
        pieces.append(body[at : at + size])
        at += size
    return pieces


def lanes() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "hashcheck-md5"]


@pytest.mark.parametrize(
    "sizes",
    [[1 << 20], [PARALLEL_FROM - 1], [PARALLEL_FROM], [3, PARALLEL_FROM * 5, 17, 1 << 18]],
    ids=["1MiB", "below-lane", "at-lane", "mixed"],
)
def test_every_part_hashes_as_its_bytes_however_the_body_is_cut(sizes: list[int]) -> None:
    parts = {
        "big": os.urandom(3 << 20),
        "small": b"a few bytes",
        "empty": b"",
        "medium": os.urandom(PARALLEL_FROM * 3 + 5),
    }
    reader = UploadReader(f"multipart/form-data; boundary={BOUNDARY}", perceptual=False)
    try:
        for piece in cut(form(parts), sizes):
            reader.feed(piece)
        read = reader.finish()
    finally:
        reader.close()
    assert [p.name for p in read] == list(parts)
    for part in read:
        data = parts[part.name]
        assert part.size == len(data)
        assert part.hashes is not None
        assert part.hashes.md5 == hashlib.md5(data, usedforsecurity=False).hexdigest()
        assert part.hashes.sha1 == hashlib.sha1(data, usedforsecurity=False).hexdigest()
        assert part.hashes.sha256 == hashlib.sha256(data).hexdigest()
    assert not lanes()


def test_a_raw_body_hashes_as_its_bytes() -> None:
    data = os.urandom(2 << 20)
    reader = UploadReader("application/octet-stream")
    try:
        for piece in cut(data, [PARALLEL_FROM * 2, 5]):
            reader.feed(piece)
        (part,) = reader.finish()
        assert reader.body().read() == data
    finally:
        reader.close()
    assert part.hashes is not None
    assert part.hashes.md5 == hashlib.md5(data, usedforsecurity=False).hexdigest()


def test_a_reader_closed_mid_part_ends_its_lane() -> None:
    """A client that disconnects, or a body refused as too large, mid-way through a part."""
    reader = UploadReader(f"multipart/form-data; boundary={BOUNDARY}")
    reader.feed(form({"big": os.urandom(4 << 20)})[: 2 << 20])
    assert lanes()  # the large part's MD5 is being made beside
    reader.close()
    assert not lanes()


def test_a_body_cut_off_is_refused_and_its_lane_ended() -> None:
    reader = UploadReader(f"multipart/form-data; boundary={BOUNDARY}")
    try:
        reader.feed(form({"big": os.urandom(1 << 20)})[:-40])
        with pytest.raises(MalformedUpload, match="ends before"):
            reader.finish()
    finally:
        reader.close()
    assert not lanes()


@pytest.mark.parametrize("size", [1, 2, 7])
def test_misplaced_delimiters_are_found_however_the_body_is_cut(size: int) -> None:
    from tests.test_upload_guard_frameworks import AMBIGUOUS, UNSENDABLE

    for case, (parameters, body) in {**AMBIGUOUS, **UNSENDABLE}.items():
        with pytest.raises(MalformedUpload):
            reader = UploadReader(f"multipart/form-data; {parameters}")
            try:
                for piece in cut(body, [size]):
                    reader.feed(piece)
                reader.finish()
            finally:
                reader.close()
            pytest.fail(f"{case} was read")
    inside = form({"a": b"--" + BOUNDARY.encode() + b"x in the content, no delimiter"})
    with pytest.raises(MalformedUpload, match="no delimiter"):
        reader = UploadReader(f"multipart/form-data; boundary={BOUNDARY}")
        try:
            for piece in cut(inside, [size]):
                reader.feed(piece)
        finally:
            reader.close()


@pytest.mark.parametrize("size", [1, 2, 3, 1000])
def test_form_values_are_hashed_decoded_however_the_body_is_cut(size: int) -> None:
    values = {
        "a": b"plain",
        "b": b"with spaces & 100% odd \xff bytes",
        "c": b"",
        "d": os.urandom(5000),
    }
    body = "&".join(f"{name}={quote_plus(value)}" for name, value in values.items())
    body += "&lone&e=%zz%4"  # a field without a value; escapes that are none
    reader = UploadReader("application/x-www-form-urlencoded; charset=utf-8")
    try:
        for piece in cut(body.encode(), [size]):
            reader.feed(piece)
        read = reader.finish()
    finally:
        reader.close()
    found = {part.name: part.hashes.md5 for part in read if part.hashes is not None}
    expected = {**values, "e": b"%zz%4", "body": body.encode()}
    assert found == {
        name: hashlib.md5(v, usedforsecurity=False).hexdigest() for name, v in expected.items()
    }
