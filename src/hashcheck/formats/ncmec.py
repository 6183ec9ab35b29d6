"""NCMEC hash-sharing XML (v2), streamed: each `<image>`/`<video>` is one record (MD5, SHA-1,
PDQ; category `ncmec:<classification>` or `ncmec:unclassified`; ref `<member id>/<id>`), each
`<deletedImage>`/`<deletedVideo>` removes its item or fingerprints. PhotoDNA, TMK, feedback
are left out; namespaces and prefixes ignored; DTDs and entities refused. Pure: no storage.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # types and errors only; parsing goes through defusedxml
from collections.abc import Iterator
from typing import BinaryIO

import defusedxml
import defusedxml.ElementTree

from hashcheck.formats.bounded import bounded_records
from hashcheck.formats.entries import (
    Deletion,
    FormatError,
    ItemDeletion,
    LineError,
    ParsedEntry,
    PdqDeletion,
    PdqEntry,
    Skipped,
)
from hashcheck.formats.pdqlist import pdq_bits
from hashcheck.hashes.algorithms import Algorithm, InvalidHash, parse_hex

UNCLASSIFIED = "unclassified"
NOT_LISTABLE = "only PhotoDNA or video (TMK) fingerprints (not imported)"
_ENTRIES = {"image", "video"}
_DELETIONS = {"deletedImage", "deletedVideo"}
_ALGORITHMS = {"md5": Algorithm.MD5, "sha1": Algorithm.SHA1}
_ROOT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?queryResult[\s>/]")
Item = ParsedEntry | PdqEntry | Deletion | PdqDeletion | ItemDeletion | LineError | Skipped


def looks_like_ncmec(head: bytes) -> bool:
    return _ROOT.search(head) is not None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_ncmec(stream: BinaryIO) -> Iterator[Item]:
    item = 0
    depth = 0
    try:
        # defusedxml: no DTDs, no entity expansion, no external references from a supplier.
        bounded = bounded_records(stream, "record")
        events = defusedxml.ElementTree.iterparse(bounded, events=("start", "end"), forbid_dtd=True)
        parents: list[ET.Element] = []
        for event, element in events:
            name = _local(element.tag)
            if event == "start":
                if depth == 0 and name != "queryResult":
                    raise FormatError(f"not an NCMEC hash list: the root element is <{name}>")
                depth += 1
                parents.append(element)
                continue
            depth -= 1
            parents.pop()
            if name in _ENTRIES or name in _DELETIONS:
                item += 1
                bounded.mark()
                yield from _record(item, name, element)
                # Keeps memory flat on large files: the record, and its place in its parent.
                element.clear()
                if parents:
                    parents[-1].clear()
    except ET.ParseError as exc:
        hint = ""
        if "junk after document element" in str(exc):
            hint = " (several XML documents in one file? import each on its own)"
        raise FormatError(f"malformed XML after record {item}: {exc}{hint}") from None
    except defusedxml.DefusedXmlException as exc:
        raise FormatError(f"refused XML construct in a hash list: {exc}") from None


def _record(item: int, name: str, element: ET.Element) -> Iterator[Item]:
    fields = _fields(element)
    ref = _ref(fields)
    where = f"<{name}>" + (f" {ref}" if ref else "")
    deletion = name in _DELETIONS
    if not fields.hashes and not fields.pdq:
        if deletion and ref is not None:
            yield ItemDeletion(item, ref)
        elif deletion:
            yield LineError(item, f"{where} names no <id> and no MD5, SHA-1 or PDQ", "record")
        else:
            yield Skipped(item, NOT_LISTABLE)
        return
    category = f"ncmec:{fields.classification or UNCLASSIFIED}"
    seen: set[bytes] = set()
    for text in fields.pdq:
        try:
            bits = pdq_bits(text)
        except ValueError as exc:
            yield LineError(item, f"{where}: {exc}", "record")
            continue
        if bits in seen:
            continue  # the same fingerprint twice in one record counts once
        seen.add(bits)
        yield (
            PdqDeletion(item, bits, ref) if deletion else PdqEntry(item, bits, None, category, ref)
        )
    for algorithm, value in fields.hashes:
        try:
            raw = parse_hex(value, algorithm)
        except InvalidHash as exc:
            yield LineError(item, f"{where}: {exc}", "record")
            continue
        if raw in seen:
            continue
        seen.add(raw)
        if deletion:
            yield Deletion(item, algorithm, raw, ref)
        else:
            yield ParsedEntry(item, algorithm, raw, category, ref)


class _Fields:
    __slots__ = ("classification", "hashes", "ident", "member", "pdq")

    def __init__(self) -> None:
        self.member: str | None = None
        self.ident: str | None = None
        self.classification = ""
        self.hashes: list[tuple[Algorithm, str]] = []
        self.pdq: list[str] = []


def _fields(element: ET.Element) -> _Fields:
    """The record's own children only: `<feedback>` holds `<member>` elements of its own."""
    fields = _Fields()
    for child in element:
        tag = _local(child.tag)
        text = (child.text or "").strip()
        if tag == "member":
            fields.member = (child.get("id") or "").strip() or None
        elif tag == "id":
            fields.ident = text or None
        elif tag == "classification":
            fields.classification = text
        elif tag == "fingerprints":
            for fingerprint in child:
                kind = _local(fingerprint.tag)
                value = (fingerprint.text or "").strip()
                if not value:
                    continue  # `<md5/>`: no fingerprint of that kind
                if kind in _ALGORITHMS:
                    fields.hashes.append((_ALGORITHMS[kind], value))
                elif kind == "pdq":
                    fields.pdq.append(value)
    return fields


def _ref(fields: _Fields) -> str | None:
    """NCMEC's ids are unique per member: `member/id`, or the id alone without a member."""
    if fields.ident is None:
        return None
    return f"{fields.member}/{fields.ident}" if fields.member else fields.ident
