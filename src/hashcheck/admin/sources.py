"""Opening a supplier's file for the parsers: undoes gzip/bzip2/xz, a zip of one list, UTF-16/32
and CR line endings as they read, into a private temp file (seekable UTF-8, flat memory, nothing
left on disk), within the import's bounds (`admin.bounds`: unpacked bytes, the temporary disk's
reserve, the deadline). `SourceError` names the file and what to do. Knows no list format.
"""

from __future__ import annotations

import bz2
import codecs
import contextlib
import gzip
import io
import lzma
import re
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

from hashcheck.admin.bounds import Deadline, ImportBounds

_HEAD = 64 * 1024
_CHUNK = 1 << 20
_BUFFER = 1 << 20
# Left by archivers beside the real content (macOS Finder, Windows Explorer).
_ARCHIVE_LITTER = ("__MACOSX/", ".DS_Store", "Thumbs.db", "desktop.ini")
_ZIP_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
# Codec and label by byte order mark, longest first: the UTF-32LE mark begins with UTF-16LE's.
# These codecs drop the mark themselves.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32LE"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32BE"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16LE"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16BE"),
)
_XML_ENCODING = re.compile(r"""\A(\s*<\?xml[^>]*?\bencoding\s*=\s*)(["'])[^"']*\2""")
_UNSUPPORTED = (  # magic bytes, what it is, what to do
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", "unpack it and import the list inside"),
    (b"Rar!\x1a\x07", "a RAR archive", "unpack it and import the list inside"),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "an Excel 97-2003 workbook (.xls)",
        'save it as "CSV UTF-8" or "Unicode Text" and import that',
    ),
    (b"%PDF", "a PDF document", "ask the supplier for the list as text, CSV, JSON or XML"),
)


class _Reader(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...
    def close(self) -> None: ...


class SourceError(ValueError):
    """The file cannot be read as a list at all (damaged archive, several lists in one zip,
    unreadable); the message names the file and says what to do."""


class Source(io.BufferedReader):
    """The list's UTF-8 bytes, seekable. ``name`` is the original path, ``size`` its size in
    bytes and `bytes_read()` how much of it has been read (for progress); ``layers`` says
    what was undone on the way (e.g. ``("gzip", "UTF-16LE")``), empty for a plain file."""

    def __init__(
        self,
        raw: io.RawIOBase,
        name: str,
        size: int,
        position: Callable[[], int],
        layers: tuple[str, ...],
    ) -> None:
        super().__init__(raw, buffer_size=_BUFFER)
        self._source_name = name
        self.size = size
        self._position = position
        self.layers = layers

    @property
    def name(self) -> str:
        return self._source_name

    def bytes_read(self) -> int:
        """Bytes of the original file read so far, from 0 to ``size``."""
        try:
            return min(self._position(), self.size)
        except (ValueError, OSError):  # closed: everything was read or given up
            return self.size


@contextlib.contextmanager
def open_source(
    path: Path, bounds: ImportBounds | None = None, deadline: Deadline | None = None
) -> Iterator[Source]:
    """The list in ``path`` as UTF-8 bytes; raises `SourceError` when it cannot be read, on
    opening or (for a damaged compressed file) while being read, and `ImportLimit` when
    unpacking it passes ``bounds`` or ``deadline``."""
    try:
        original = io.FileIO(path, "r")
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from None
    with contextlib.ExitStack() as stack:
        stack.callback(original.close)
        yield stack.enter_context(_opened(path, original, bounds or ImportBounds(), deadline))


@contextlib.contextmanager
def as_file(source: Source, bounds: ImportBounds | None = None) -> Iterator[Path]:
    """The list as a file on disk, for readers that need a path (SQLite: an NSRL RDS
    database, which NIST ships zipped): the original file when nothing was undone, else a
    private copy removed on exit, made only if the temporary disk keeps its reserve."""
    if not source.layers:
        yield Path(source.name)
        return
    bounds = bounds or ImportBounds()
    size = source.seek(0, io.SEEK_END)  # unpacks it all, within the bounds
    bounds.check_room(size)
    with tempfile.TemporaryDirectory(prefix="hashcheck-source-", dir=bounds.folder) as folder:
        copy = Path(folder) / "list"
        source.seek(0)
        with copy.open("wb") as out:
            while chunk := source.read(_CHUNK):
                bounds.check_room(len(chunk))
                out.write(chunk)
        source.seek(0)
        yield copy


def _opened(
    path: Path, original: io.FileIO, bounds: ImportBounds, deadline: Deadline | None
) -> Source:
    size = _size(original)
    head = _read_upto(original, _HEAD, path)
    inner: _Reader = original
    layers: list[str] = []
    decompress = _decompressor(head)
    if decompress is not None:
        kind, opener = decompress
        original.seek(0)
        inner = opener(original)
        layers.append(kind)
    elif head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        original.seek(0)
        inner, member = _zip_member(path, original)
        layers.append(f"zip member {member!r}")
    if inner is not original:
        head = _read_upto(inner, _HEAD, path)
    _refuse_unsupported(path, head, inner is not original)
    codec, label = _encoding(head)
    if codec is not None:
        layers.append(label)
    text = head if codec is None else head.decode(codec, "replace").encode("utf-8", "replace")
    # Classic Mac line endings (Excel for Mac's "CSV (Macintosh)"): the parsers split on LF.
    # Binary data (an NSRL RDS SQLite database) has stray CRs too, and NUL bytes no text has.
    old_mac = b"\r" in text and b"\n" not in text and b"\x00" not in text
    if old_mac:
        layers.append("CR line endings")
    if not layers:
        original.seek(0)
        return Source(original, str(path), size, original.tell, ())
    chunks = _chunks(path, inner, head, codec)
    if old_mac:
        chunks = (chunk.replace(b"\r", b"\n") for chunk in chunks)
    spool = _Spool(chunks, inner, bounds, deadline)

    def position() -> int:
        # A zip's directory follows the data: done when the data is, not at the file's end.
        return size if spool.exhausted else original.tell()

    return Source(spool, str(path), size, position, tuple(layers))


def _size(file: io.FileIO) -> int:
    try:
        return int(file.seek(0, io.SEEK_END))
    finally:
        file.seek(0)


def _read_upto(stream: _Reader, size: int, path: Path) -> bytes:
    parts: list[bytes] = []
    left = size
    while left > 0:
        part = _guarded(path, stream.read, left)
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _decompressor(head: bytes) -> tuple[str, Callable[[_Reader], _Reader]] | None:
    if head.startswith(b"\x1f\x8b"):
        return "gzip", lambda f: gzip.GzipFile(fileobj=f, mode="rb")
    if head.startswith(b"BZh") and head[3:4].isdigit():
        return "bzip2", lambda f: bz2.BZ2File(f, "rb")
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz", lambda f: lzma.LZMAFile(f, "rb")
    return None


def _zip_member(path: Path, original: io.FileIO) -> tuple[_Reader, str]:
    """The one list in a zip archive; archiver litter (``__MACOSX/``, ``.DS_Store``) aside."""
    try:
        archive = zipfile.ZipFile(original)
    except (zipfile.BadZipFile, OSError) as exc:
        raise SourceError(
            f"{path}: not a readable zip archive ({exc}); download it again, or unpack it "
            "and import the list inside"
        ) from None
    names = {info.filename for info in archive.infolist()}
    if "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names):
        raise SourceError(
            f'{path}: an Excel workbook (.xlsx), not a list; save it as "CSV UTF-8" or '
            '"Unicode Text" and import that'
        )
    members = [info for info in archive.infolist() if not _litter(info)]
    if len(members) != 1:
        listed = ", ".join(info.filename for info in members[:5])
        more = f" and {len(members) - 5} more" if len(members) > 5 else ""
        what = "no file" if not members else f"{len(members)} files ({listed}{more})"
        raise SourceError(
            f"{path}: the zip archive holds {what}; a zip must hold exactly one list: "
            "unpack it and import each list on its own"
        )
    member = members[0]
    if member.flag_bits & 0x1:
        raise SourceError(
            f"{path}: {member.filename!r} in the zip archive is encrypted; unpack it with its "
            "password and import the list itself"
        )
    if member.compress_type not in _ZIP_METHODS:
        raise SourceError(
            f"{path}: {member.filename!r} in the zip archive is compressed with method "
            f"{member.compress_type} (Deflate64 is 9), which cannot be read; unpack it and "
            "import the list itself, or re-pack it with ordinary Deflate or gzip"
        )
    return archive.open(member), member.filename


def _litter(info: zipfile.ZipInfo) -> bool:
    base = info.filename.rstrip("/").rsplit("/", 1)[-1]
    return (
        info.is_dir()
        or info.filename.startswith(_ARCHIVE_LITTER[0])
        or base in _ARCHIVE_LITTER
        or base.startswith("._")
    )


def _refuse_unsupported(path: Path, head: bytes, unpacked: bool) -> None:
    for magic, what, todo in _UNSUPPORTED:
        if head.startswith(magic):
            raise SourceError(f"{path}: {what}, not a list; {todo}")
    if unpacked and head[257:262] == b"ustar":
        raise SourceError(f"{path}: a compressed tar archive; unpack it and import each list")
    if unpacked and (_decompressor(head) or head.startswith(b"PK\x03\x04")):
        raise SourceError(f"{path}: an archive inside an archive; unpack it and import the list")


def _encoding(head: bytes) -> tuple[str | None, str]:
    """The codec to transcode from (None: UTF-8 already) and how to name it."""
    for bom, codec, label in _BOMS:
        if head.startswith(bom):
            return codec, label
    guessed = _utf16_without_bom(head)
    label = (guessed or "").upper().replace("-LE", "LE").replace("-BE", "BE")
    return guessed, f"{label} without BOM"


def _utf16_without_bom(head: bytes) -> str | None:
    """UTF-16 text without a byte order mark, recognised by its zero bytes: text of Latin
    characters in UTF-16 has a zero in every high byte, which no UTF-8 text has, and binary
    data fails the printable check."""
    sample = head[:4096]
    sample = sample[: len(sample) // 2 * 2]
    if len(sample) < 8:
        return None
    low_zeros, high_zeros = sample[0::2].count(0), sample[1::2].count(0)
    half = len(sample) // 2
    if high_zeros >= 0.9 * half and low_zeros == 0:
        codec = "utf-16-le"
    elif low_zeros >= 0.9 * half and high_zeros == 0:
        codec = "utf-16-be"
    else:
        return None
    text = sample.decode(codec, errors="replace").rstrip("\ufffd")
    if any((not c.isprintable() and c not in "\t\r\n") or c == "\ufffd" for c in text):
        return None
    return codec


def _chunks(path: Path, inner: _Reader, head: bytes, codec: str | None) -> Iterator[bytes]:
    """UTF-8 bytes of the list, a chunk at a time, starting with the bytes already read."""
    if codec is None:
        yield head
        while chunk := _guarded(path, inner.read, _CHUNK):
            yield chunk
        return
    decoder = codecs.getincrementaldecoder(codec)(errors="replace")
    # The document is UTF-8 now; an XML declaration saying otherwise would mislead the parser.
    text = _XML_ENCODING.sub(r"\1\2UTF-8\2", decoder.decode(head), count=1)
    yield text.encode("utf-8")
    while chunk := _guarded(path, inner.read, _CHUNK):
        yield decoder.decode(chunk).encode("utf-8")
    yield decoder.decode(b"", final=True).encode("utf-8")


def _guarded(path: Path, read: Callable[[int], bytes], size: int) -> bytes:
    """A read whose failures (damaged or cut-off compressed data) say so."""
    try:
        return read(size)
    except (EOFError, zlib.error, gzip.BadGzipFile, lzma.LZMAError, zipfile.BadZipFile) as exc:
        raise SourceError(
            f"{path}: the compressed data is damaged or cut off ({exc}); download it again"
        ) from None
    except OSError as exc:  # bz2 reports damage as a plain OSError
        raise SourceError(f"{path}: cannot read it: {exc}; download it again") from None


class _Spool(io.RawIOBase):
    """A seekable view of bytes produced once, front to back: what has been produced is
    kept in an anonymous temporary file, so seeking back (detection, VICS's second pass)
    costs no second decoding. Each chunk is checked against the bounds before it is written:
    a zip bomb stops at the unpacked bound, or where the disk's reserve begins."""

    def __init__(
        self,
        chunks: Iterator[bytes],
        inner: _Reader,
        bounds: ImportBounds,
        deadline: Deadline | None,
    ) -> None:
        super().__init__()
        self._chunks: Iterator[bytes] | None = chunks
        self._inner = inner
        self._bounds = bounds
        self._deadline = deadline
        self._file = tempfile.TemporaryFile(  # noqa: SIM115
            prefix="hashcheck-source-", dir=bounds.folder, buffering=0
        )
        self._written = 0
        self._pos = 0

    @property
    def exhausted(self) -> bool:
        """Everything has been produced (and so every byte of the original read)."""
        return self._chunks is None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            self._pos = offset
        elif whence == io.SEEK_CUR:
            self._pos += offset
        elif whence == io.SEEK_END:
            while self._produce():
                pass
            self._pos = self._written + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        self._pos = max(self._pos, 0)
        return self._pos

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while self._pos + len(buffer) > self._written and self._produce():
            pass
        self._file.seek(self._pos)
        count = self._file.readinto(buffer) or 0
        self._pos += count
        return count

    def _produce(self) -> bool:
        if self._chunks is None:
            return False
        chunk = next(self._chunks, None)
        if chunk is None:
            self._chunks = None
            return False
        self._bounds.check_unpacked(self._written + len(chunk))
        self._bounds.check_room(len(chunk))
        if self._deadline is not None:
            self._deadline.check()
        self._file.seek(self._written)
        view = memoryview(chunk)
        while view:
            view = view[self._file.write(view) or 0 :]
        self._written += len(chunk)
        return True

    def close(self) -> None:
        if not self.closed:
            self._chunks = None
            self._file.close()
            self._inner.close()
        super().close()
