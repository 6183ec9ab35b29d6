"""Line-oriented lists: plain hex digests, and checksum tool output — GNU `md5sum` and kin,
their `--tag`/BSD/OpenSSL forms, `md5deep -z` sizes, PowerShell's `Get-FileHash` table.
Consecutive lines naming one path are one record (a file's MD5 and SHA-1 lines).
Pure: reads the stream it is given.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from typing import BinaryIO

from hashcheck.formats.entries import EntryRun, FormatError, LineError, ParsedEntry
from hashcheck.hashes.algorithms import Algorithm

_HEXDIGITS = frozenset(b"0123456789abcdefABCDEF")
_BY_LENGTH = {a.hex_length: a for a in Algorithm}
_BLOCK_BYTES = 1 << 20
# Algorithm names as checksum tools and PowerShell write them; the lists hold these three.
ALGORITHM_NAMES = {
    "md5": Algorithm.MD5,
    "sha1": Algorithm.SHA1,
    "sha256": Algorithm.SHA256,
    "sha2256": Algorithm.SHA256,  # OpenSSL 3: `SHA2-256(<path>)= <hex>`
}
# Named by the tools but not listable: a line with one is refused by name, not as garbage.
OTHER_ALGORITHMS = frozenset(
    {"sha224", "sha384", "sha512", "sha512224", "sha512256", "sha3224", "sha3256", "sha3384"}
    | {"sha2224", "sha2384", "sha2512"}
    | {"sha3512", "blake2b", "blake2s", "blake3", "ripemd160", "mactripledes", "tiger"}
    | {"whirlpool", "crc32", "sm3", "md4", "md2"}
)
_TAGGED = re.compile(rb"([A-Za-z][A-Za-z0-9-]*) ?\((.*)\) ?= ?([0-9A-Za-z]+)")
_POWERSHELL_HEADER = re.compile(rb"Algorithm\s+Hash\s+Path\s*")
_RULE = re.compile(rb"-{3,}(\s+-{3,})*\s*")
Item = ParsedEntry | EntryRun | LineError


def algorithm_key(name: str) -> str:
    """`SHA-256`, `sha_256`, `SHA256` -> `sha256`: how every format's names are compared."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def binary_refusal(number: int, data: bytes) -> FormatError:
    """NUL bytes: a binary file, or UTF-16 text that was not transcoded (say which)."""
    sample = data[:4096].rstrip(b"\r\n")
    even, odd = sample[0::2], sample[1::2]
    zeros = sorted((even.count(0) / max(len(even), 1), odd.count(0) / max(len(odd), 1)))
    if zeros[0] <= 0.1 and zeros[1] >= 0.8:  # zero high bytes, non-zero low bytes
        return FormatError(
            f"line {number}: NUL bytes; this looks like UTF-16 text: import the file itself "
            "(hashcheck transcodes UTF-16), or save it as UTF-8"
        )
    return FormatError(f"line {number}: NUL byte; this looks like a binary file, not a list")


def numbered_lines(stream: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """Numbered lines without line endings; strips a UTF-8 BOM and refuses binary data."""
    for number, line in enumerate(stream, start=1):
        if number == 1 and line.startswith(codecs.BOM_UTF8):
            line = line[len(codecs.BOM_UTF8) :]
        if b"\x00" in line:
            raise binary_refusal(number, line)
        yield number, line.rstrip(b"\r\n")


def hex_entry(
    number: int, token: bytes, expected: Algorithm | None = None
) -> ParsedEntry | LineError:
    algorithm = expected or _BY_LENGTH.get(len(token))
    if algorithm is None:
        return LineError(
            number, f"{len(token)} characters is not an MD5 (32), SHA-1 (40) or SHA-256 (64)"
        )
    if len(token) != algorithm.hex_length:
        return LineError(
            number,
            f"{algorithm.value} must be {algorithm.hex_length} hex characters, got {len(token)}",
        )
    if not _HEXDIGITS.issuperset(token):
        return LineError(number, f"{algorithm.value} is not a hex string")
    return ParsedEntry(number, algorithm, bytes.fromhex(token.decode("ascii")))


def parse_plain(stream: BinaryIO) -> Iterator[Item]:
    """One hex digest per line; `#` comments and blank lines are skipped.

    Reads blocks of whole lines; a block of equally long valid hex lines becomes one
    `EntryRun`, anything else is parsed line by line with precise errors.
    """
    number = 0
    while block := _whole_lines(stream):
        if number == 0 and block.startswith(codecs.BOM_UTF8):
            block = block[len(codecs.BOM_UTF8) :]
        start = number + 1
        run = _uniform_run(start, block)
        if run is not None:
            number += run.count
            yield run
            continue
        lines = block.split(b"\n")
        if not lines[-1]:
            lines.pop()
        number += len(lines)
        tokens = [line.strip() for line in lines]
        run = as_run(start, tokens)
        if run is not None:
            yield run
            continue
        for offset, token in enumerate(tokens):
            if b"\x00" in token:
                raise binary_refusal(start + offset, token)
            if not token or token.startswith(b"#"):
                continue
            yield hex_entry(start + offset, token)


def _whole_lines(stream: BinaryIO) -> bytes:
    block = stream.read(_BLOCK_BYTES)
    if block and not block.endswith(b"\n"):
        block += stream.readline()
    return block


def _uniform_run(start: int, block: bytes) -> EntryRun | None:
    """The block as one run when it is nothing but lines of one length of hex, each ended by
    LF or CRLF (what every tool writes): checked and decoded without splitting it up."""
    width = block.find(b"\n") + 1
    if width < 2:
        return None
    ending = b"\r\n" if block[width - 2 : width] == b"\r\n" else b"\n"
    length = width - len(ending)
    algorithm = _BY_LENGTH.get(length)
    count = len(block) // width
    if algorithm is None or count * width != len(block):
        return None
    for offset, char in enumerate(ending, start=length):
        if block[offset::width] != bytes([char]) * count:
            return None
    text = block.replace(ending, b"")
    if len(text) != count * length:  # a stray line ending inside a line
        return None
    try:
        packed = bytes.fromhex(text.decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        return None
    # fromhex skips whitespace; a short result means a line was not pure hex.
    if len(packed) * 2 != len(text):
        return None
    return EntryRun(start, algorithm, packed, count)


def as_run(start: int, tokens: list[bytes]) -> EntryRun | None:
    """The block as one run when every token is valid hex of one length."""
    lengths = set(map(len, tokens))
    if len(lengths) != 1:
        return None
    algorithm = _BY_LENGTH.get(lengths.pop())
    if algorithm is None:
        return None
    try:
        packed = bytes.fromhex(b"".join(tokens).decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        return None
    # fromhex skips whitespace inside a token; a short result means a token was not pure hex.
    if len(packed) * 2 != algorithm.hex_length * len(tokens):
        return None
    return EntryRun(start, algorithm, packed, len(tokens))


def looks_like_checksum_line(line: bytes) -> bool:
    """A line in one of the checksum forms (for format detection)."""
    if _TAGGED.fullmatch(line) or _POWERSHELL_HEADER.fullmatch(line):
        return True
    fields = line.split(None, 2)
    if len(fields) >= 2 and fields[0].isdigit() and _is_hex(fields[1]):  # md5deep -z
        return len(fields[0]) not in _BY_LENGTH
    return len(fields) >= 2 and _is_hex(fields[0].lstrip(b"\\"))


def _is_hex(token: bytes) -> bool:
    return len(token) in _BY_LENGTH and _HEXDIGITS.issuperset(token)


def parse_md5sum(stream: BinaryIO) -> Iterator[Item]:
    """Checksum tool output in any of the forms the module names, mixed freely; a bare hex
    digest on a line of its own is taken too. Blocks of plain `<hex>  <path>` lines of one
    algorithm become `EntryRun`s, as in plain lists."""
    number = 0
    record = 0
    previous_path: bytes | None = None
    algorithms: set[Algorithm | None] = set()
    while lines := stream.readlines(_BLOCK_BYTES):
        if number == 0 and lines[0].startswith(codecs.BOM_UTF8):
            lines[0] = lines[0][len(codecs.BOM_UTF8) :]
        start = number + 1
        number += len(lines)
        run = _first_tokens_run(start, lines)
        if run is not None:
            previous_path = None
            yield run
            continue
        for offset, raw in enumerate(lines):
            if b"\x00" in raw:
                raise binary_refusal(start + offset, raw)
            line = raw.strip()
            if not line or line.startswith(b"#"):
                continue
            if _POWERSHELL_HEADER.fullmatch(line) or _RULE.fullmatch(line):
                continue
            algorithm, token, path, error = _checksum_fields(line)
            if error:
                previous_path = None
                yield LineError(start + offset, error)
                continue
            entry = hex_entry(start + offset, token, algorithm)
            kind = entry.algorithm if isinstance(entry, ParsedEntry) else None
            # The MD5 and SHA-1 lines of one file, one after the other, are one record.
            if path is None or path != previous_path or kind in algorithms:
                record = start + offset
                algorithms = set()
            previous_path = path
            algorithms.add(kind)
            if isinstance(entry, ParsedEntry):
                yield ParsedEntry(record, entry.algorithm, entry.raw)
            elif isinstance(entry, LineError):
                # Under the record's number, so that the whole record is invalid.
                where = "" if record == start + offset else f" (line {start + offset})"
                yield LineError(record, entry.message + where)


def _first_tokens_run(start: int, lines: list[bytes]) -> EntryRun | None:
    """The block as one run when every line is `<hex> <path>` with hex of one length."""
    tokens = []
    for line in lines:
        first = line.split(None, 1)[:1]
        if not first:
            return None
        tokens.append(first[0].lstrip(b"\\"))
    return as_run(start, tokens)


def _checksum_fields(line: bytes) -> tuple[Algorithm | None, bytes, bytes | None, str]:
    """(algorithm if named, hex token, path, error) of one checksum line."""
    tagged = _TAGGED.fullmatch(line)
    if tagged:
        name, path, token = tagged.groups()
        algorithm, error = _named(name, tagged=True)
        return algorithm, token, path, error
    fields = line.split(None, 2)
    if len(fields) == 1:
        return None, fields[0].lstrip(b"\\"), None, ""
    if fields[0].isdigit() and len(fields[0]) not in _BY_LENGTH and len(fields) == 3:
        return None, fields[1], fields[2], ""  # md5deep -z: the size comes first
    if not _HEXDIGITS.issuperset(fields[0].lstrip(b"\\")) and len(fields) == 3:
        algorithm, error = _named(fields[0])  # PowerShell: SHA256  <HEX>  <path>
        return algorithm, fields[1], fields[2], error
    # GNU: `\` before the digest marks an escaped path; `*` before the path, binary mode.
    path = line.split(None, 1)[1].lstrip(b"*")
    return None, fields[0].lstrip(b"\\"), path, ""


def _named(name: bytes, *, tagged: bool = False) -> tuple[Algorithm | None, str]:
    """The algorithm a line names; in the tagged form whatever is named is an algorithm."""
    key = algorithm_key(name.decode("ascii", "replace"))
    algorithm = ALGORITHM_NAMES.get(key)
    if algorithm is not None:
        return algorithm, ""
    text = name.decode("ascii", "replace")[:20]
    if tagged or key in OTHER_ALGORITHMS:
        return None, f"{text} hashes cannot be listed (only MD5, SHA-1 and SHA-256)"
    return None, f"expected '<hex>  <path>' or '<ALGORITHM> (<path>) = <hex>', got {text!r}"
