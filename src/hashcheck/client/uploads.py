"""Reading an upload as it streams in, for the upload guards: the raw body is spooled to a
temporary file (memory stays flat for any size; the app later gets the body back unchanged),
and every part of a `multipart/form-data` body — or the whole body otherwise — is hashed on
the way: MD5, SHA-1 and SHA-256, and PDQ of images when the `pdq` extra is installed.

Multipart bodies are parsed by python-multipart (the `guard` extra). A body that is not the
multipart it claims to be is refused (`MalformedUpload`), never passed on unchecked. Sends
nothing anywhere.
"""

from __future__ import annotations

import dataclasses
import hashlib
import queue
import tempfile
import threading
from dataclasses import dataclass, field
from typing import IO, Any

from hashcheck.client.files import SNIFF, FileHashes, kind
from hashcheck.client.multipart import (
    Delimiters,
    MalformedUpload,
    boundary_of,
    check_header,
    check_part,
    is_multipart,
)
from hashcheck.client.urlencoded import FormFields, is_urlencoded

SPOOL_IN_MEMORY = 1 << 20  # bytes of a body (or an image part) kept in memory before disk
PARALLEL_FROM = 1 << 15  # a part that has a piece this large gets its MD5 made on a lane
LANE_PIECES = 16  # pieces a lane may lag behind: bounds the memory it holds


@dataclass
class Part:
    """One file (or field) of the upload: its form name and file name, as sent."""

    name: str
    filename: str | None
    size: int = 0
    hashes: FileHashes | None = None


class _Lane:
    """The MD5 of one large part, made on a thread of its own while the caller makes SHA-1 and
    SHA-256: MD5 is the slowest of the three and cannot be split, and hashlib releases the GIL
    for large updates, so the two run on two cores. Pieces reach it in order."""

    def __init__(self, digest: Any) -> None:
        self._digest = digest
        self._pieces: queue.SimpleQueue[bytes | memoryview | None] = queue.SimpleQueue()
        self._room = threading.Semaphore(LANE_PIECES)
        self._thread = threading.Thread(target=self._run, name="hashcheck-md5", daemon=True)
        self._thread.start()

    def put(self, data: bytes | memoryview) -> None:
        self._room.acquire()
        self._pieces.put(data)

    def join(self) -> None:
        self._pieces.put(None)
        self._thread.join()

    def _run(self) -> None:
        while (data := self._pieces.get()) is not None:
            self._digest.update(data)
            self._room.release()


@dataclass
class _Digests:
    md5: Any = field(default_factory=lambda: hashlib.md5(usedforsecurity=False))
    sha1: Any = field(default_factory=lambda: hashlib.sha1(usedforsecurity=False))
    sha256: Any = field(default_factory=hashlib.sha256)
    lane: _Lane | None = None

    def update(self, data: bytes | memoryview) -> None:
        if self.lane is None and len(data) >= PARALLEL_FROM:
            self.lane = _Lane(self.md5)
        if self.lane is None:
            self.md5.update(data)
        else:
            self.lane.put(data)
        self.sha1.update(data)
        self.sha256.update(data)

    def stop(self) -> None:
        if self.lane is not None:
            self.lane.join()
            self.lane = None

    def hashes(self) -> FileHashes:
        self.stop()
        return FileHashes(self.md5.hexdigest(), self.sha1.hexdigest(), self.sha256.hexdigest())


@dataclass
class _Open:
    part: Part
    digests: _Digests = field(default_factory=_Digests)
    head: bytes = b""
    undecided: bool = False  # whether it is an image is not known yet
    image: IO[bytes] | None = None  # the part's bytes, kept only while it may be an image


class UploadReader:
    """Feed it the body's chunks, then `finish`; `body()` gives the raw body back."""

    def __init__(self, content_type: str | None, *, perceptual: bool = True) -> None:
        self._perceptual = perceptual
        # Closed by `close`, which the guards call whatever happens to the request.
        self._raw: IO[bytes] = tempfile.SpooledTemporaryFile(SPOOL_IN_MEMORY)  # noqa: SIM115
        self.size = 0
        self.parts: list[Part] = []
        self._open: _Open | None = None  # the multipart part or form field being read
        self._whole: _Open | None = None  # the raw body, when it is not multipart
        self._fields: FormFields | None = None
        self._images: list[tuple[Part, IO[bytes]]] = []  # image parts, PDQ still to make
        self._ended = False
        self._parser: Any = None
        self._delimiters: Delimiters | None = None
        header = content_type or ""
        if is_multipart(header):
            boundary = boundary_of(header)
            self._delimiters = Delimiters(boundary)
            self._parser = _multipart(boundary, self)
            return
        self._whole = self._opened(Part("body", None))
        if is_urlencoded(header):
            # The app reads the fields' decoded values: each is checked as well as the body.
            self._fields = FormFields(self._field, self._data, self._end)

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        self._raw.write(chunk)
        self.size += len(chunk)
        if self._whole is not None:
            self._write(self._whole, chunk)
            if self._fields is not None:
                self._fields.feed(chunk)
            return
        assert self._delimiters is not None
        try:
            self._delimiters.feed(chunk)
            if not self._ended:  # after the closing boundary: white space, checked above
                self._parser.write(chunk)
        except MalformedUpload:
            raise
        except Exception as exc:  # python-multipart's parse errors; all mean the same here
            raise MalformedUpload(f"malformed multipart body: {exc}") from None

    def finish(self) -> list[Part]:
        """Every part with its hashes (PDQ of images decoded here: slow, call it off a
        server's event loop)."""
        if self._whole is not None:
            whole, self._whole = self._whole, None
            self._closed(whole)
            if self._fields is not None:
                self._fields.finish()
        elif not self._ended:
            raise MalformedUpload("the multipart body ends before its closing boundary")
        else:
            assert self._delimiters is not None
            self._delimiters.finish()
        while self._images:
            part, image = self._images.pop()
            with image:
                image.seek(0)
                pdq, quality, skipped = _pdq(image)
            assert part.hashes is not None
            part.hashes = dataclasses.replace(
                part.hashes, pdq=pdq, pdq_quality=quality, skipped=skipped
            )
        return self.parts

    def body(self) -> IO[bytes]:
        self._raw.seek(0)
        return self._raw

    def close(self) -> None:
        self._raw.close()
        for cut_off in (self._open, self._whole):  # a disconnect, a refusal: lanes end
            if cut_off is not None:
                cut_off.digests.stop()
                if cut_off.image is not None:
                    cut_off.image.close()
        for _, image in self._images:
            image.close()

    # -- the parsers' callbacks ------------------------------------------------------------
    def _begin(self, part: Part) -> None:
        self._open = self._opened(part)

    def _field(self, name: str) -> None:
        self._begin(Part(name, None))

    def _data(self, data: bytes | memoryview) -> None:
        if self._open is not None:
            self._write(self._open, data)

    def _end(self) -> None:
        current, self._open = self._open, None
        if current is not None:
            self._closed(current)

    # -- one part ----------------------------------------------------------------------------
    def _opened(self, part: Part) -> _Open:
        opened = _Open(part)
        if self._perceptual:
            opened.undecided = True
            opened.image = tempfile.SpooledTemporaryFile(SPOOL_IN_MEMORY)  # noqa: SIM115
        return opened

    def _write(self, current: _Open, data: bytes | memoryview) -> None:
        current.part.size += len(data)
        current.digests.update(data)
        if current.undecided:
            # Kept until its first bytes say whether it is an image (PDQ needs all of it).
            current.head += bytes(data[: SNIFF - len(current.head)])
            assert current.image is not None
            current.image.write(data)
            if len(current.head) >= SNIFF:
                self._decide(current)
        elif current.image is not None:
            current.image.write(data)

    def _decide(self, current: _Open) -> None:
        current.undecided = False
        if kind(current.head, _suffix(current.part.filename)) != "image":
            assert current.image is not None
            current.image.close()
            current.image = None

    def _closed(self, current: _Open) -> None:
        if current.undecided:
            self._decide(current)
        current.part.hashes = current.digests.hashes()
        if current.image is not None:
            # Decoded in `finish`, not here: this runs inside `feed`, on a server's event loop.
            self._images.append((current.part, current.image))
        self.parts.append(current.part)


def _suffix(filename: str | None) -> str:
    if not filename or "." not in filename:
        return ""
    return "." + filename.rsplit(".", 1)[1].lower()


def _pdq(stream: IO[bytes]) -> tuple[str | None, int | None, tuple[str, ...]]:
    try:
        from hashcheck.pdq.images import NotAnImage, pdq_of_image
    except ImportError:
        return None, None, ("PDQ skipped: install hashcheck[pdq] to hash images",)
    try:
        hashed = pdq_of_image(stream)  # type: ignore[arg-type]  # a binary file object
    except NotAnImage as exc:
        return None, None, (f"PDQ skipped: {exc}",)
    return hashed.hex, hashed.quality, ()


def _multipart(boundary: bytes, reader: UploadReader) -> Any:
    try:
        from python_multipart.multipart import MultipartParser, parse_options_header
    except ImportError:  # pragma: no cover - depends on the installed extras
        raise MalformedUpload(
            "multipart uploads need python-multipart: install hashcheck[guard]"
        ) from None
    headers: dict[bytes, bytes] = {}
    seen: set[bytes] = set()
    field_name: list[bytes] = []
    field_value: list[bytes] = []

    def on_part_begin() -> None:
        headers.clear()
        seen.clear()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        field_name.append(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        field_value.append(data[start:end])

    def on_header_end() -> None:
        name, value = b"".join(field_name).lower(), b"".join(field_value)
        field_name.clear()
        field_value.clear()
        check_header(name, value, seen)
        headers[name] = value

    def on_headers_finished() -> None:
        _, disposition = parse_options_header(headers.get(b"content-disposition", b""))
        check_part(headers, b"filename" in disposition)
        name = disposition.get(b"name", b"").decode("utf-8", "replace")
        filename = disposition.get(b"filename")
        reader._begin(Part(name, None if filename is None else filename.decode("utf-8", "replace")))

    def on_part_data(data: bytes, start: int, end: int) -> None:
        reader._data(memoryview(data)[start:end])  # a view: a part's bytes are not copied

    def on_part_end() -> None:
        reader._end()

    def on_end() -> None:
        reader._ended = True

    callbacks: Any = {
        "on_part_begin": on_part_begin,
        "on_header_field": on_header_field,
        "on_header_value": on_header_value,
        "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished,
        "on_part_data": on_part_data,
        "on_part_end": on_part_end,
        "on_end": on_end,
    }
    try:
        return MultipartParser(boundary, callbacks, max_header_count=16)
    except Exception as exc:  # its own refusals of a boundary
        raise MalformedUpload(f"malformed multipart body: {exc}") from None
