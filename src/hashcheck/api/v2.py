"""POST /v2/check: a batch of exact hashes in, per hash every granted match out.

Each match names list, category, severity, action hint and a match id; the answer carries the
index version. The batch is refused whole if any item is malformed (no partial answers).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from hashcheck.api.errors import BadRequest, InvalidHashes
from hashcheck.api.perceptual import pdq_matches, video_matches
from hashcheck.api.vpdq import VPDQ, VideoQuery, parse_video, shares
from hashcheck.catalog.model import ClientView
from hashcheck.hashes.algorithms import Algorithm
from hashcheck.hashes.keyed import HMAC_BYTES, Digester
from hashcheck.hashes.matchid import MatchIds
from hashcheck.index.exact import Hit
from hashcheck.index.snapshot import Match, Snapshot
from hashcheck.pdq.algorithm import HASH_BYTES

# Enough for 10,000 SHA-256 items with generous formatting.
BYTES_PER_ITEM = 256
SHOWN_ITEM_ERRORS = 20
PDQ = "pdq"
_HEX_LENGTHS = {**{a.value: a.hex_length for a in Algorithm}, PDQ: 64}
MIN_PDQ_QUALITY = 50
_PERCEPTUAL = frozenset((PDQ, VPDQ))
_HEX = frozenset("0123456789abcdefABCDEF")


@dataclass(frozen=True)
class Batch:
    """A validated request: parallel columns, one element per submitted hash."""

    algorithms: list[str]
    texts: list[str]  # lower-case hex, echoed in the answer
    raws: list[bytes]
    only_matches: bool = False
    qualities: dict[int, int] = field(default_factory=dict)  # PDQ items that gave one
    videos: dict[int, VideoQuery] = field(default_factory=dict)  # vpdq items

    def __len__(self) -> int:
        return len(self.raws)


def parse_request(body: bytes, max_batch: int) -> Batch:
    """The batch in ``body``; raises with every bad item's index if any item is malformed.

    Two shapes: ``{"hashes": [{"algorithm": "md5", "hash": "..."}, ...]}``, or the compact
    ``{"md5": ["...", ...], "sha1": [...], "sha256": [...]}`` (answered in that order).
    """
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadRequest("body is not valid JSON") from None
    if not isinstance(document, dict):
        raise BadRequest('body must be a JSON object: {"hashes": [...]}')
    only_matches = document.get("only_matches", False)
    if not isinstance(only_matches, bool):
        raise BadRequest('"only_matches" must be true or false')
    compact = [name for name in _HEX_LENGTHS if name in document]
    if "hashes" in document:
        if compact:
            raise BadRequest('give either "hashes" or lists under "md5", "sha1", "sha256"')
        names, texts = _object_columns(document["hashes"], max_batch)
        qualities = _qualities(document["hashes"])
        videos = _videos(document["hashes"], max_batch)
    elif compact:
        names, texts = _compact_columns(document, compact, max_batch)
        qualities, videos = {}, {}
    else:
        raise BadRequest('give "hashes" (a list of objects) or lists under "md5", "sha1", "sha256"')
    batch = _validated(names, texts, only_matches)
    batch.qualities.update(qualities)
    batch.videos.update(videos)
    return batch


def _videos(items: list[Any], max_batch: int) -> dict[int, VideoQuery]:
    """The vpdq items, by position; each counts against the limit as its frames."""
    found: dict[int, VideoQuery] = {}
    errors = []
    for index, item in enumerate(items):
        if item["algorithm"] != VPDQ:
            continue
        try:
            found[index] = parse_video(item)
        except ValueError as exc:
            errors.append({"index": index, "message": str(exc)})
    if errors:
        raise _invalid(errors)
    _count(len(items) - len(found) + sum(video.given for video in found.values()), max_batch)
    return found


def _qualities(items: list[Any]) -> dict[int, int]:
    """The optional `quality` of PDQ items (0-100), by position."""
    found: dict[int, int] = {}
    errors = []
    for index, item in enumerate(items):
        if "quality" not in item:
            continue
        quality = item["quality"]
        if item.get("algorithm") != PDQ:
            errors.append({"index": index, "message": '"quality" belongs to pdq hashes only'})
        elif not isinstance(quality, int) or isinstance(quality, bool) or not 0 <= quality <= 100:
            errors.append({"index": index, "message": '"quality" must be a whole number 0-100'})
        else:
            found[index] = quality
    if errors:
        raise _invalid(errors)
    return found


def _count(count: int, max_batch: int) -> None:
    if count == 0:
        raise BadRequest("no hashes given")
    if count > max_batch:
        raise BadRequest(f"{count} hashes in one request; the limit is {max_batch}")


def _object_columns(items: object, max_batch: int) -> tuple[list[Any], list[Any]]:
    if not isinstance(items, list):
        raise BadRequest('"hashes" must be a list of {"algorithm", "hash"} objects')
    _count(len(items), max_batch)
    try:
        names = [item["algorithm"] for item in items]
        # A video gives frames instead of a hash (`_videos` reads them).
        return names, [
            "" if name == VPDQ else item["hash"] for name, item in zip(names, items, strict=True)
        ]
    except (KeyError, TypeError):
        errors = [
            {"index": index, "message": 'must be an object {"algorithm": ..., "hash": ...}'}
            for index, item in enumerate(items)
            if not isinstance(item, dict)
            or "algorithm" not in item
            or ("hash" not in item and item["algorithm"] != VPDQ)
        ]
        raise _invalid(errors) from None


def _compact_columns(
    document: dict[str, Any], compact: list[str], max_batch: int
) -> tuple[list[Any], list[Any]]:
    names: list[str] = []
    texts: list[Any] = []
    for name in compact:
        values = document[name]
        if not isinstance(values, list):
            raise BadRequest(f'"{name}" must be a list of hex strings')
        names.extend([name] * len(values))
        texts.extend(values)
    _count(len(texts), max_batch)
    return names, texts


def _validated(names: list[Any], texts: list[Any], only_matches: bool) -> Batch:
    fast = _uniform(names, texts, only_matches)
    if fast is not None:
        return fast
    raws: list[bytes] = []
    clean: list[str] = []
    errors: list[dict[str, Any]] = []
    for index, (name, value) in enumerate(zip(names, texts, strict=True)):
        problem, text = _check_item(name, value)
        if problem is not None:
            errors.append({"index": index, "message": problem})
        else:
            clean.append(text)
            raws.append(bytes.fromhex(text))
    if errors:
        raise _invalid(errors)
    return Batch(names, clean, raws, only_matches)


def _uniform(names: list[Any], texts: list[Any], only_matches: bool) -> Batch | None:
    """The batch in a few C-level passes when every item is a well-formed hash of one
    algorithm (the usual scan); None sends it through the item-by-item checks."""
    try:
        if len(set(names)) != 1:
            return None
        length = _HEX_LENGTHS.get(names[0])
        if length is None or set(map(len, texts)) != {length}:
            return None
        joined = "".join(texts)
        packed = bytes.fromhex(joined)
    except (TypeError, ValueError):
        return None
    size = length // 2
    # fromhex skips whitespace; a short result means some text was not pure hex.
    if len(packed) != size * len(texts):
        return None
    # Cut in one numpy pass (a void dtype keeps trailing zero bytes, unlike a bytes dtype):
    # five times faster than slicing 10,000 times.
    raws: list[bytes] = np.frombuffer(packed, dtype=f"V{size}").tolist()
    lowered = joined.lower()
    if lowered != joined:
        texts = [lowered[i : i + length] for i in range(0, len(lowered), length)]
    return Batch(names, texts, raws, only_matches)


def _check_item(name: object, value: object) -> tuple[str | None, str]:
    """(problem, lower-case hex) for one item."""
    if name == VPDQ:
        return None, ""
    if not isinstance(name, str) or name not in _HEX_LENGTHS:
        return f"algorithm must be one of {', '.join([*_HEX_LENGTHS, VPDQ])}", ""
    if not isinstance(value, str):
        return '"hash" must be a string', ""
    text = value.strip()
    length = _HEX_LENGTHS[name]
    if len(text) != length or not _HEX.issuperset(text):
        return f"{name} hash must be {length} hex characters", ""
    return None, text.lower()


def _invalid(errors: list[dict[str, Any]]) -> InvalidHashes:
    return InvalidHashes(
        f"{len(errors)} invalid item(s); nothing was checked",
        details=errors[:SHOWN_ITEM_ERRORS],
    )


@dataclass
class Outcome:
    """A checked batch: the JSON answer, and what the usage counters must learn from it."""

    body: bytes
    matched_lists: dict[int, int]  # list id -> hashes that matched it
    matched_entries: list[int]  # entry ids answered as matches
    shadowed: list[tuple[int, int]]  # (entry id, batch id) of shadow would-be matches


def check(
    snapshot: Snapshot,
    view: ClientView,
    batch: Batch,
    digester: Digester,
    match_ids: MatchIds,
) -> Outcome:
    """Answer a batch: per hash every granted match, nearest information first."""
    keyed = {a.value: digester.for_algorithm(a) for a in Algorithm}
    names = batch.algorithms
    kinds = set(names)
    perceptual = kinds & _PERCEPTUAL
    if perceptual:
        exact_positions = [i for i, name in enumerate(names) if name not in _PERCEPTUAL]
        found = snapshot.exact.lookup_many(
            [keyed[names[i]](batch.raws[i]) for i in exact_positions]
        )
        hits_per_item: list[tuple[Hit, ...]] = [()] * len(batch)
        for position, hits in zip(exact_positions, found, strict=True):
            hits_per_item[position] = hits
    elif len(kinds) == 1:
        found_at = snapshot.exact.lookup_packed(
            digester.joined(Algorithm(names[0]), batch.raws), HMAC_BYTES
        )
        hits_per_item = [()] * len(batch)
        for position, hits in found_at.items():
            hits_per_item[position] = hits
    else:
        hits_per_item = snapshot.exact.lookup_many(
            [keyed[name](raw) for name, raw in zip(names, batch.raws, strict=True)]
        )
    day = int(time.time() // 86400)
    client_id = view.client.client_id
    matched_lists: dict[int, int] = {}
    matched_entries: list[int] = []
    shadowed: list[tuple[int, int]] = []
    results: list[dict[str, Any]] = (
        []
        if batch.only_matches
        else [
            {"algorithm": name, "hash": text, "match": False, "matches": []}
            for name, text in zip(names, batch.texts, strict=True)
        ]
    )
    if not batch.only_matches:
        for position, video in batch.videos.items():
            results[position] = _video_result(video)
    for position, hits in enumerate(hits_per_item):
        # Most items of a scan have no hits; perceptual items never have exact ones.
        if not hits and not (perceptual and names[position] in _PERCEPTUAL):
            continue
        if names[position] == VPDQ:
            video = batch.videos[position]
            if not video.frames:
                _flag(batch, results, position, "no frame of quality 50 or more: not matched")
                continue
            videos, would = video_matches(snapshot, view, video.frames)
            shadowed.extend(would)
            if not videos:
                continue
            answers = [
                {**_match(m, match_ids.issue(m.item_id, day, client_id), VPDQ), **shares(c)}
                for m, c in videos
            ]
            matches = [m for m, _ in videos]
        elif names[position] == PDQ:
            quality = batch.qualities.get(position)
            if quality is not None and quality < MIN_PDQ_QUALITY:
                reason = f"quality {quality} is below {MIN_PDQ_QUALITY}: not matched"
                _flag(batch, results, position, reason)
                continue
            near, would = pdq_matches(snapshot, view, batch.raws[position])
            shadowed.extend(would)
            if not near:
                continue
            answers = [
                {**_match(m, match_ids.issue(m.item_id, day, client_id), "pdq"), "distance": d}
                for m, d in near
            ]
            matches = [m for m, _ in near]
        else:
            if view.shadow_slots:
                shadowed.extend(snapshot.shadowed(view, hits))
            matches = snapshot.visible(view, hits)
            if not matches:
                continue
            answers = [_match(m, match_ids.issue(m.item_id, day, client_id)) for m in matches]
        matched_entries.extend(m.item_id for m in matches)
        for list_id in {m.list_id for m in matches}:
            matched_lists[list_id] = matched_lists.get(list_id, 0) + 1
        if batch.only_matches:
            result = _listed(batch, position)
            results.append(result)
        else:
            result = results[position]
        result["match"] = True
        result["matches"] = answers
    body = orjson.dumps({"version": snapshot.version, "checked": len(batch), "results": results})
    return Outcome(body, matched_lists, matched_entries, shadowed)


def _flag(batch: Batch, results: list[dict[str, Any]], position: int, reason: str) -> None:
    """Say why an item was not checked; under only_matches too, where an absent item would
    read as "checked, no match"."""
    if batch.only_matches:
        results.append(_listed(batch, position))
        results[-1]["flag"] = reason
    else:
        results[position]["flag"] = reason


def _listed(batch: Batch, position: int) -> dict[str, Any]:
    """An item's result under only_matches, where results name their position."""
    video = batch.videos.get(position)
    if video is not None:
        return {"index": position, **_video_result(video)}
    return {
        "index": position,
        "algorithm": batch.algorithms[position],
        "hash": batch.texts[position],
        "match": False,
        "matches": [],
    }


def _video_result(video: VideoQuery) -> dict[str, Any]:
    """A video's result names its frames, not a hash: how many came, how many count."""
    return {
        "algorithm": VPDQ,
        "frames": video.given,
        "usable_frames": len(video.frames) // HASH_BYTES,
        "match": False,
        "matches": [],
    }


def _match(match: Match, match_id: str, kind: str = "exact") -> dict[str, Any]:
    answer: dict[str, Any] = {
        "list": match.list_name,
        "category": match.category,
        "severity": match.severity,
        "action": match.action.value,
        "kind": kind,
        "item": match.item_id,
        "match_id": match_id,
    }
    if match.hold is not None:
        answer["hold"] = match.hold
    return answer
