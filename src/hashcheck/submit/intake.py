"""A self-submission as it arrives: strict checks of each file's hashes, the automatic screen
against what the node's index knows, and the keyed (and sealed) form the store keeps.

The screen, per file: a hash on a known-good list (NSRL, `disputed`, CMS files) makes the
whole file known-good, and none of its hashes is stored; a hash on another list, or on one
the prevalence alarm holds, is noted for the reviewer. Raises `Refused` with a message for
the submitter; never logs or keeps a submitted hash in clear. Pure apart from the snapshot it
is given: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from hashcheck.api.v2models import SubmissionRequest, SubmittedHashes
from hashcheck.hashes.algorithms import EMPTY_FILE_DIGESTS, Algorithm, InvalidHash, parse_hex
from hashcheck.hashes.keyed import Digester
from hashcheck.hashes.sealing import Sealer
from hashcheck.index.snapshot import Snapshot
from hashcheck.pdq.algorithm import MIN_QUALITY
from hashcheck.pdq.algorithm import parse_hex as parse_pdq
from hashcheck.pdq.video import BadFeature, parse_feature, usable_frames
from hashcheck.store.records import SubmittedFile


class Refused(ValueError):
    """The submission cannot be taken as sent; the message says which file and why."""


@dataclass(frozen=True)
class Screened:
    files: tuple[SubmittedFile, ...]
    hashes: int


def screen(
    request: SubmissionRequest, digester: Digester, sealer: Sealer, snapshot: Snapshot
) -> Screened:
    seen: dict[bytes, int] = {}
    files = []
    total = 0
    for number, submitted in enumerate(request.files):
        hashes = _keyed(number, submitted, digester, sealer)
        for _, digest, _ in hashes:
            if digest in seen:
                raise Refused(
                    f"files[{number}] has a hash of files[{seen[digest]}]: send each file once"
                )
            seen[digest] = number
        files.append(SubmittedFile(number, hashes, _finding(hashes, snapshot)))
        total += len(hashes)
    return Screened(tuple(files), total)


def _keyed(
    number: int, submitted: SubmittedHashes, digester: Digester, sealer: Sealer
) -> tuple[tuple[str, bytes, bytes | None], ...]:
    where = f"files[{number}]"
    hashes: list[tuple[str, bytes, bytes | None]] = []
    for algorithm, text in (
        (Algorithm.MD5, submitted.md5),
        (Algorithm.SHA1, submitted.sha1),
        (Algorithm.SHA256, submitted.sha256),
    ):
        try:
            raw = parse_hex(text, algorithm)
        except InvalidHash as exc:
            raise Refused(f"{where}.{algorithm.value}: {exc}") from None
        if raw in EMPTY_FILE_DIGESTS:
            raise Refused(f"{where} is an empty file: there is nothing to submit")
        hashes.append((algorithm.value, digester.digest(algorithm, raw), None))
    if isinstance(submitted.pdq, str):
        try:
            bits = parse_pdq(submitted.pdq)
        except ValueError as exc:
            raise Refused(f"{where}.pdq: {exc}") from None
        quality = submitted.pdq_quality
        if not isinstance(quality, int):
            raise Refused(f"{where}.pdq_quality is missing: give the PDQ hash's quality")
        if quality < MIN_QUALITY:
            raise Refused(
                f"{where}.pdq has quality {quality}, below {MIN_QUALITY}: too flat or small an "
                "image to match on; leave the PDQ hash out"
            )
        digest = digester.pdq(bits)
        hashes.append(("pdq", digest, sealer.seal(digest, bits)))
    elif isinstance(submitted.pdq_quality, int):
        raise Refused(f"{where}.pdq_quality is given without a pdq hash")
    if isinstance(submitted.frames, list):
        try:
            features = [parse_feature(frame) for frame in submitted.frames]
        except BadFeature as exc:
            raise Refused(f"{where}.frames: {exc}") from None
        frames = usable_frames(features)
        if frames:  # a video of only flat frames still has its exact hashes
            digest = digester.vpdq(frames)
            hashes.append(("vpdq", digest, sealer.seal_video(digest, frames)))
    return tuple(hashes)


def _finding(hashes: tuple[tuple[str, bytes, bytes | None], ...], snapshot: Snapshot) -> str:
    catalog = snapshot.catalog
    known_good: set[str] = set()
    elsewhere: set[str] = set()
    for _, digest, sealed in hashes:
        if sealed is not None:
            continue  # perceptual: known-good lists hold exact hashes only
        for item_id, slot_index in snapshot.exact.lookup(digest):
            slot = catalog.slots[slot_index]
            hash_list = catalog.lists.get(slot.list_id)
            if hash_list is None:
                continue
            if slot_index in catalog.known_good_slots:
                known_good.add(hash_list.name)
            elif not hash_list.explicit_grant:
                held = catalog.holds.get(item_id)
                elsewhere.add(f"{hash_list.name} (on hold: {held})" if held else hash_list.name)
    if known_good:
        return "known-good: " + ", ".join(sorted(known_good))
    if elsewhere:
        return "also on: " + ", ".join(sorted(elsewhere))
    return ""
