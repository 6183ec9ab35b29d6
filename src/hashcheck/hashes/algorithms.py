"""The exact hash algorithms hashcheck knows, and strict parsing of their hex form.

Pure: no I/O. Parsing is the one place that decides what a valid hash looks like.
"""

from __future__ import annotations

import enum
import re


class Algorithm(enum.Enum):
    """An exact (cryptographic) file hash algorithm."""

    MD5 = "md5"
    SHA1 = "sha1"
    SHA256 = "sha256"

    @property
    def hex_length(self) -> int:
        return _HEX_LENGTH[self]

    @property
    def tag(self) -> bytes:
        """Domain-separation prefix for keyed digests: name and a NUL."""
        return _TAGS[self]

    @classmethod
    def from_name(cls, name: str) -> Algorithm:
        try:
            return cls(name.lower())
        except ValueError:
            known = ", ".join(a.value for a in cls)
            raise InvalidHash(f"unknown algorithm {name!r}; known: {known}") from None

    @classmethod
    def from_hex_length(cls, length: int) -> Algorithm | None:
        return _BY_LENGTH.get(length)


_HEX_LENGTH = {Algorithm.MD5: 32, Algorithm.SHA1: 40, Algorithm.SHA256: 64}
_BY_LENGTH = {v: k for k, v in _HEX_LENGTH.items()}
_TAGS = {a: a.value.encode() + b"\x00" for a in Algorithm}

# Hashes of the empty file: they match every empty upload, so they never belong on a list.
EMPTY_FILE: dict[Algorithm, bytes] = {
    Algorithm.MD5: bytes.fromhex("d41d8cd98f00b204e9800998ecf8427e"),
    Algorithm.SHA1: bytes.fromhex("da39a3ee5e6b4b0d3255bfef95601890afd80709"),
    Algorithm.SHA256: bytes.fromhex(
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    ),
}

# The same, as one set, for filtering raw digests of any algorithm.
EMPTY_FILE_DIGESTS = frozenset(EMPTY_FILE.values())

_HEX = re.compile(rb"[0-9a-fA-F]*")


class InvalidHash(ValueError):
    """A submitted or listed value is not a valid hash of the expected kind."""


def parse_hex(value: bytes | str, algorithm: Algorithm) -> bytes:
    """Return the raw digest for hex ``value``; surrounding whitespace and upper case are fine.

    Raises InvalidHash with a message safe to show the sender (it never echoes the value).
    """
    raw = value.encode("ascii", "replace") if isinstance(value, str) else value
    raw = raw.strip(b" \t\r\n")
    if not raw:
        raise InvalidHash("empty hash")
    if len(raw) != algorithm.hex_length:
        raise InvalidHash(
            f"{algorithm.value} hash must be {algorithm.hex_length} hex characters, got {len(raw)}"
        )
    if not _HEX.fullmatch(raw):
        raise InvalidHash(f"{algorithm.value} hash must contain only hex characters 0-9, a-f")
    return bytes.fromhex(raw.decode("ascii"))
