"""NCMEC hash-sharing XML (v2), read as a stream.

`<image>` (and `<video>`) entries yield their `<md5>` and `<sha1>` fingerprints (and `<pdq>`,
where present, as a perceptual entry) with the
supplier category `ncmec:<classification>`; `<deletedImage>` (and `<deletedVideo>`) records
yield deletions. PhotoDNA and TMK fingerprints are left out.
Tags are matched without their namespace; DTDs and entities are refused. Pure: reads a
stream, no storage.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # types and errors only; parsing goes through defusedxml
from collections.abc import Iterator
from typing import BinaryIO

import defusedxml
import defusedxml.ElementTree

from hashcheck.formats.entries import (
    Deletion,
    FormatError,
    LineError,
    ParsedEntry,
    PdqDeletion,
    PdqEntry,
)
from hashcheck.formats.pdqlist import pdq_bits
from hashcheck.hashes.algorithms import Algorithm, InvalidHash, parse_hex

_ENTRIES = {"image", "video"}
_DELETIONS = {"deletedImage", "deletedVideo"}
_ALGORITHMS = {"md5": Algorithm.MD5, "sha1": Algorithm.SHA1}


def looks_like_ncmec(head: bytes) -> bool:
    return b"<queryResult" in head


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_ncmec(
    stream: BinaryIO,
) -> Iterator[ParsedEntry | PdqEntry | Deletion | PdqDeletion | LineError]:
    item = 0
    root_seen = False
    try:
        # defusedxml: no DTDs, no entity expansion, no external references from a supplier.
        events = defusedxml.ElementTree.iterparse(stream, events=("start", "end"), forbid_dtd=True)
        for event, element in events:
            name = _local(element.tag)
            if event == "start":
                if not root_seen:
                    root_seen = True
                    if name != "queryResult":
                        raise FormatError(f"not an NCMEC hash list: root element is <{name}>")
                continue
            if name in _ENTRIES or name in _DELETIONS:
                item += 1
                yield from _record(item, name, element)
                element.clear()  # keeps memory flat on large files
    except ET.ParseError as exc:
        raise FormatError(f"malformed XML after record {item}: {exc}") from None
    except defusedxml.DefusedXmlException as exc:
        raise FormatError(f"refused XML construct in a hash list: {exc}") from None


def _record(
    item: int, name: str, element: ET.Element
) -> Iterator[ParsedEntry | PdqEntry | Deletion | PdqDeletion | LineError]:
    fingerprints: list[tuple[Algorithm, str]] = []
    perceptual: list[str] = []
    classification = ""
    for child in element.iter():
        tag = _local(child.tag)
        if tag == "classification":
            classification = (child.text or "").strip()
        elif tag in _ALGORITHMS:
            fingerprints.append((_ALGORITHMS[tag], (child.text or "").strip()))
        elif tag == "pdq":
            perceptual.append(child.text or "")
    deletion = name in _DELETIONS
    if not deletion and not classification:
        yield LineError(item, f"<{name}> without <classification>", "record")
        return
    for text in perceptual:
        try:
            bits = pdq_bits(text)
        except ValueError as exc:
            yield LineError(item, str(exc), "record")
            continue
        if deletion:
            yield PdqDeletion(item, bits)
        else:
            yield PdqEntry(item, bits, None, f"ncmec:{classification}")
    if not fingerprints:
        if deletion and not perceptual:
            yield LineError(item, f"<{name}> without an MD5, SHA-1 or PDQ", "record")
        return  # an image known only by PhotoDNA: nothing to import
    for algorithm, value in fingerprints:
        try:
            raw = parse_hex(value, algorithm)
        except InvalidHash as exc:
            yield LineError(item, str(exc), "record")
            continue
        if deletion:
            yield Deletion(item, algorithm, raw)
        else:
            yield ParsedEntry(item, algorithm, raw, f"ncmec:{classification}")
