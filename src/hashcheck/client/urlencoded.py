"""The fields of an `application/x-www-form-urlencoded` body, for the upload guards: the app
behind the guard reads each field's value percent-decoded (`+` a space), so a listed file sent
as a form value (`photo=%68ashcheck...`) is checked by the bytes the app will get. Fields are
split on `&` only, as Python's `parse_qsl`, Werkzeug and Django do; a value is decoded as it
streams (an escape cut by a chunk's end waits for its rest), so memory stays flat.

Decodes only; hashing is the caller's (callbacks begin, data, end per field).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote_to_bytes

NAME_KEPT = 256  # characters of a field's name kept for messages


def is_urlencoded(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/x-www-form-urlencoded"


class FormFields:
    def __init__(
        self,
        begin: Callable[[str], None],
        data: Callable[[bytes], None],
        end: Callable[[], None],
    ) -> None:
        self._begin = begin
        self._data = data
        self._end = end
        self._name = b""
        self._in_value = False
        self._carry = b""  # the start of a percent escape cut off by a chunk's end

    def feed(self, chunk: bytes) -> None:
        at = 0
        while at < len(chunk):
            amp = chunk.find(b"&", at)
            stop = len(chunk) if amp == -1 else amp
            self._piece(chunk[at:stop])
            if amp == -1:
                break
            self._field_ends()
            at = amp + 1

    def finish(self) -> None:
        self._field_ends()

    def _piece(self, piece: bytes) -> None:
        if not self._in_value:
            equals = piece.find(b"=")
            if equals == -1:
                self._name = (self._name + piece)[:NAME_KEPT]
                return
            self._name = (self._name + piece[:equals])[:NAME_KEPT]
            self._in_value = True
            self._begin(_decoded(self._name).decode("utf-8", "replace"))
            piece = piece[equals + 1 :]
        piece = self._carry + piece
        cut = piece.find(b"%", max(0, len(piece) - 2))
        if cut != -1:
            self._carry, piece = piece[cut:], piece[:cut]
        else:
            self._carry = b""
        if piece:
            self._data(_decoded(piece))

    def _field_ends(self) -> None:
        if self._in_value:
            if self._carry:
                self._data(_decoded(self._carry))  # not an escape after all: kept as it is
            self._end()
        self._name, self._in_value, self._carry = b"", False, b""


def _decoded(raw: bytes) -> bytes:
    return unquote_to_bytes(raw.replace(b"+", b" "))
