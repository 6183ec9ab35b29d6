"""Strict reading of `multipart/form-data` for the upload guards: what the guard hashes must
be what any framework behind it could take from the same bytes. Parsers differ (Werkzeug
takes a bare LF before a delimiter, Django decodes base64 parts and reads parts after the
closing boundary, RFC 2231 `boundary*=` parameters are read by some and ignored by others), so
anything on which two well-known parsers could disagree is refused (`Ambiguous`, a
`MalformedUpload`), never passed on:

- the boundary: one `boundary` parameter, no extended (`*`) parameters, no parameter twice,
  1–70 characters that need no quoting or escaping in any parser;
- every `--boundary` in the body is a delimiter where RFC 2046 puts one: at the start or after
  CRLF, followed by CRLF or `--`; nothing but white space after the closing one;
- the Content-Type: `boundary` named once (anywhere: a second one hidden in a quoted value is
  found by Werkzeug), plain `name=value` parameters with HTTP's white space only, no
  `charset` but UTF-8 (Django and Starlette decode text fields with it); at most 1 KiB;
- part headers: no CR or LF inside a header, names that are tokens, a Content-Disposition in
  every part (a part that opens with a blank line is, to Werkzeug, a part whose headers are
  its data), no Content-Disposition, Content-Type or Content-Transfer-Encoding given twice, no
  transfer encoding but the identity ones, no text field in another charset.

Only checks; the parsing itself is python-multipart's (`uploads`).
"""

from __future__ import annotations

import re

_TCHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
# Characters every parser reads alike, bare (token characters that are also boundary
# characters) or quoted (boundary characters without the space).
_BARE = re.compile(r"[0-9A-Za-z'+_\-.]{1,70}")
_QUOTED = re.compile(r"[0-9A-Za-z'()+_,\-./:=?]{1,70}")
_BLANKS = " \t"  # the only white space HTTP has; \v, \f or a no-break space is none
MAX_CONTENT_TYPE = 1024
# `boundary=` as a parameter, in any spelling some parser takes (`boundary =`, `boundary*0=`).
_BOUNDARY_NAMED = re.compile(r"boundary[\s*0-9]*=")
UTF8_NAMES = ("utf-8", "utf8", "us-ascii", "ascii")
SINGLE_HEADERS = (b"content-disposition", b"content-type", b"content-transfer-encoding")
IDENTITY_ENCODINGS = (b"7bit", b"8bit", b"binary")


class MalformedUpload(ValueError):
    """The body cannot be read as what its Content-Type says: it is refused unchecked."""


class Ambiguous(MalformedUpload):
    """Parsers could read this body differently: it is refused like a malformed one."""


def is_multipart(content_type: str) -> bool:
    return content_type.strip().lower().startswith("multipart/form-data")


def boundary_of(content_type: str) -> bytes:
    """The boundary of a `multipart/form-data` Content-Type, read strictly (without regular
    expressions that could backtrack on a long header)."""
    if len(content_type) > MAX_CONTENT_TYPE:
        raise Ambiguous("the multipart Content-Type header is too long")
    if len(_BOUNDARY_NAMED.findall(content_type.lower())) > 1:
        # Wherever the second is (in a quoted value, after odd white space): some parser
        # reads that one.
        raise Ambiguous("the Content-Type names a boundary more than once")
    media, *pieces = content_type.split(";")
    if media.strip(_BLANKS).lower() != "multipart/form-data":
        raise Ambiguous("the multipart Content-Type header is not well formed")
    parameters: dict[str, str] = {}
    for piece in pieces:
        piece = piece.strip(_BLANKS)
        if not piece:
            continue  # a trailing ";"
        name, equals, value = piece.partition("=")
        if not equals or not _is_token(name):
            raise Ambiguous("a Content-Type parameter is not name=value")
        if "*" in name:
            raise Ambiguous(
                "extended (RFC 2231) parameters are not accepted in multipart/form-data"
            )
        if value.startswith('"'):
            inner = value[1:-1]
            if len(value) < 2 or not value.endswith('"') or '"' in inner or "\\" in inner:
                raise Ambiguous("a quoted Content-Type parameter is not well formed")
        elif not _is_token(value):
            raise Ambiguous("a Content-Type parameter is not name=value")
        if name.lower() in parameters:
            raise Ambiguous("a Content-Type parameter is given twice")
        parameters[name.lower()] = value
    charset = parameters.get("charset", "utf-8").strip('"').lower()
    if charset not in UTF8_NAMES:
        # Django and Starlette decode text fields with it: the app would get other bytes.
        raise Ambiguous("multipart bodies are accepted in UTF-8 only (charset)")
    boundary = parameters.get("boundary", "")
    if not boundary:
        raise Ambiguous("multipart body without a boundary in its Content-Type")
    quoted = boundary.startswith('"')
    bare = boundary[1:-1] if quoted else boundary
    if not (_QUOTED if quoted else _BARE).fullmatch(bare):
        raise Ambiguous("the boundary must be 1 to 70 letters, digits or ' + _ - .")
    return bare.encode("ascii")


def _is_token(text: str) -> bool:
    return bool(text) and all(c in _TCHARS for c in text)


def check_header(name: bytes, value: bytes, seen: set[bytes]) -> None:
    """One header of a part (name lower-cased), against those of the same part seen so far."""
    if b"\r" in value or b"\n" in value:
        raise Ambiguous("a part header holds a bare CR or LF")
    if not _is_token(name.decode("latin-1")):  # `Content-Disposition\t:` is read by some
        raise Ambiguous("a part header's name is not well formed")
    if name in SINGLE_HEADERS:
        if name in seen:
            raise Ambiguous(f"a part has {name.decode()} twice")
        seen.add(name)
    if name == b"content-transfer-encoding" and value.strip().lower() not in IDENTITY_ENCODINGS:
        raise Ambiguous("parts with a Content-Transfer-Encoding are not accepted")


def check_part(headers: dict[bytes, bytes], has_filename: bool) -> None:
    """A part's headers as a whole, once they are all read."""
    if b"content-disposition" not in headers:
        # Werkzeug looks for the end of the headers from the part's first byte: a part that
        # starts with a blank line has, for it, the headers this one holds as data.
        raise Ambiguous("a part without Content-Disposition")
    if not has_filename and b"charset=" in headers.get(b"content-type", b"").lower():
        charset = headers[b"content-type"].lower().split(b"charset=", 1)[1]
        if charset.split(b";", 1)[0].strip(b' \t"').decode("latin-1") not in UTF8_NAMES:
            raise Ambiguous("a text field in a charset other than UTF-8")


class Delimiters:
    """Watches the raw body as it streams for every occurrence of `--boundary`."""

    def __init__(self, boundary: bytes) -> None:
        self._dash = b"--" + boundary
        self._kept = b""  # the end of what came before: an occurrence may straddle chunks
        self._kept_at = 0  # offset in the body of _kept[0]
        self._search_from = 0  # offset in the body: occurrences before it are checked
        self._closed_at: int | None = None  # offset just past the closing delimiter
        self._last_checked = -1

    def feed(self, chunk: bytes) -> None:
        window = self._kept + chunk
        self._scan(window, final=False)

    def finish(self) -> None:
        self._scan(self._kept, final=True)
        if self._closed_at is None:
            raise Ambiguous("the multipart body ends before its closing boundary")

    def _scan(self, window: bytes, *, final: bool) -> None:
        width = len(self._dash)
        at = window.find(self._dash, max(0, self._search_from - self._kept_at))
        while at != -1 and (final or at + width + 2 <= len(window)):
            self._check(window, at)
            at = window.find(self._dash, at + 1)
        if self._closed_at is not None:
            start = max(0, self._closed_at - self._kept_at)
            if window[start:].strip(b" \t\r\n"):
                raise Ambiguous("bytes after the closing boundary")
        if at == -1:
            at = max(0, len(window) - width + 1)  # where an occurrence cut off could start
        self._search_from = max(self._kept_at + at, self._last_checked + 1)
        keep = max(0, self._search_from - self._kept_at - 2)  # and the two bytes before it
        self._kept = window[keep:]
        self._kept_at += keep

    def _check(self, window: bytes, at: int) -> None:
        offset = self._kept_at + at
        self._last_checked = offset
        if self._closed_at is not None:
            raise Ambiguous("bytes after the closing boundary")
        before = window[at - 2 : at] if at >= 2 else b""
        after = window[at + len(self._dash) : at + len(self._dash) + 2]
        if (offset != 0 and before != b"\r\n") or after not in (b"\r\n", b"--"):
            raise Ambiguous("the boundary appears where it is no delimiter")
        if after == b"--":
            self._closed_at = offset + len(self._dash) + 2
