"""POST /v2/check: a batch of exact hashes in, per hash every granted match out.

Each match names list, category, severity, action hint and a match id; the answer carries the
index version. The batch is refused whole if any item is malformed (no partial answers).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import msgspec
import numpy as np
from msgspec import UNSET, UnsetType

from hashcheck.api.budgets import PERCEPTUAL_COST
from hashcheck.api.errors import ApiError, BadRequest, InvalidHashes, ItemProblem
from hashcheck.api.perceptual import pdq_matches, video_matches
from hashcheck.api.v2models import CheckRequest, CheckResponse, HashItem, Result
from hashcheck.api.v2models import Match as MatchAnswer
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


_REQUEST = msgspec.json.Decoder(CheckRequest)
_COMPACT = ("md5", "sha1", "sha256", "pdq")


class _Loose(msgspec.Struct, kw_only=True):
    """A request's outline with its items left undecoded: read only to name every bad item."""

    hashes: list[msgspec.Raw] | UnsetType = UNSET
    md5: list[msgspec.Raw] | UnsetType = UNSET
    sha1: list[msgspec.Raw] | UnsetType = UNSET
    sha256: list[msgspec.Raw] | UnsetType = UNSET
    pdq: list[msgspec.Raw] | UnsetType = UNSET
    only_matches: bool = False


_LOOSE = msgspec.json.Decoder(_Loose)
_ITEM = msgspec.json.Decoder(HashItem)
_TEXT = msgspec.json.Decoder(str)
_ANSWER = msgspec.json.Encoder()


def parse_request(body: bytes, max_batch: int) -> Batch:
    """The batch in ``body``; raises with every bad item's index if any item is malformed.

    Two shapes (`api.v2models.CheckRequest`): ``{"hashes": [{"algorithm": "md5", "hash":
    "..."}, ...]}``, or the compact ``{"md5": ["...", ...], "sha1": [...], "sha256": [...]}``
    (answered in that order).
    """
    try:
        request = _REQUEST.decode(body)
    except msgspec.ValidationError as exc:
        raise _item_errors(body, exc) from None
    except msgspec.DecodeError:
        raise BadRequest("body is not valid JSON") from None
    compact = [name for name in _COMPACT if getattr(request, name) is not UNSET]
    qualities: dict[int, int] = {}
    videos: dict[int, VideoQuery] = {}
    if request.hashes is not UNSET:
        if compact:
            raise BadRequest('give either "hashes" or lists under "md5", "sha1", "sha256"')
        items = request.hashes
        _count(len(items), max_batch)
        names: list[str] = [item.algorithm for item in items]
        texts: list[Any] = [item.hash for item in items]
        qualities, videos = _extras(items, max_batch)
    elif compact:
        names, texts = [], []
        for name in compact:
            values = getattr(request, name)
            names.extend([name] * len(values))
            texts.extend(values)
        _count(len(texts), max_batch)
    else:
        raise BadRequest('give "hashes" (a list of objects) or lists under "md5", "sha1", "sha256"')
    batch = _validated(names, texts, request.only_matches)
    batch.qualities.update(qualities)
    batch.videos.update(videos)
    return batch


def _item_errors(body: bytes, error: msgspec.ValidationError) -> ApiError:
    """Every item the model refused, by index; or the one error of the document's outline."""
    try:
        outline = _LOOSE.decode(body)
    except msgspec.DecodeError as whole:
        return BadRequest(str(whole))
    # The items the model takes are checked as hashes too: the answer lists every bad item.
    problems: list[ItemProblem] = []
    if outline.hashes is not UNSET:
        for index, raw in enumerate(outline.hashes):
            try:
                item = _ITEM.decode(raw)
            except msgspec.ValidationError as bad:
                problems.append(ItemProblem(index=index, message=str(bad)))
                continue
            problem = _misplaced(item) or _check_item(item.algorithm, item.hash)[0]
            if problem is not None:
                problems.append(ItemProblem(index=index, message=problem))
    position = 0
    for name in _COMPACT:
        values = getattr(outline, name)
        for raw in () if values is UNSET else values:
            try:
                problem, _ = _check_item(name, _TEXT.decode(raw))
            except msgspec.ValidationError:
                problem = f"a {name} hash is a string"
            if problem is not None:
                problems.append(ItemProblem(index=position, message=problem))
            position += 1
    return _invalid(problems) if problems else BadRequest(str(error))


def _misplaced(item: HashItem) -> str | None:
    """What is wrong with an item's fields for its algorithm, if anything."""
    if item.algorithm == VPDQ:
        if item.hash is not UNSET:
            return 'a vpdq item gives "frames", not "hash"'
        if item.frames is UNSET:
            return '"frames" must be a non-empty list of "hex,quality,timestamp" strings'
    elif item.frames is not UNSET:
        return '"frames" belong to vpdq items only'
    if item.quality is not UNSET and item.algorithm != PDQ:
        return '"quality" belongs to pdq hashes only'
    return None


def _extras(items: list[HashItem], max_batch: int) -> tuple[dict[int, int], dict[int, VideoQuery]]:
    """The PDQ qualities and the videos, by position; a video counts as its frames."""
    qualities: dict[int, int] = {}
    videos: dict[int, VideoQuery] = {}
    problems: list[ItemProblem] = []
    special = [
        index
        for index, item in enumerate(items)
        if item.algorithm == VPDQ or item.quality is not UNSET or item.frames is not UNSET
    ]
    for index in special:
        item = items[index]
        problem = _misplaced(item)
        if problem is None and item.algorithm == VPDQ:
            assert item.frames is not UNSET  # `_misplaced` saw to it
            try:
                videos[index] = parse_video(item.frames)
            except ValueError as exc:
                problem = str(exc)
        if problem is None and item.quality is not UNSET:
            qualities[index] = item.quality
        if problem is not None:
            problems.append(ItemProblem(index=index, message=problem))
    if problems:
        raise _invalid(problems)
    if videos:
        _count(len(items) - len(videos) + sum(v.given for v in videos.values()), max_batch)
    return qualities, videos


def _count(count: int, max_batch: int) -> None:
    if count == 0:
        raise BadRequest("no hashes given")
    if count > max_batch:
        raise BadRequest(f"{count} hashes in one request; the limit is {max_batch}")


def _validated(names: list[Any], texts: list[Any], only_matches: bool) -> Batch:
    fast = _uniform(names, texts, only_matches)
    if fast is not None:
        return fast
    raws: list[bytes] = []
    clean: list[str] = []
    errors: list[ItemProblem] = []
    for index, (name, value) in enumerate(zip(names, texts, strict=True)):
        problem, text = _check_item(name, value)
        if problem is not None:
            errors.append(ItemProblem(index=index, message=problem))
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


def _check_item(name: str, value: object) -> tuple[str | None, str]:
    """(problem, lower-case hex) for one item; its algorithm is one the model knows."""
    if name == VPDQ:
        return None, ""
    if value is UNSET:
        return f'a {name} item gives "hash"', ""
    assert isinstance(value, str)  # the model's type
    text = value.strip()
    length = _HEX_LENGTHS[name]
    if len(text) != length or not _HEX.issuperset(text):
        return f"{name} hash must be {length} hex characters", ""
    return None, text.lower()


def _invalid(errors: list[ItemProblem]) -> InvalidHashes:
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


def cost(batch: Batch) -> int:
    """What answering it costs, in exact lookups (`api.budgets`): a PDQ hash or a video's
    frame searches the perceptual index."""
    frames = sum(len(video.frames) // 32 for video in batch.videos.values())
    images = sum(1 for name in batch.algorithms if name == PDQ)
    exact = len(batch) - images - len(batch.videos)
    return exact + PERCEPTUAL_COST * (images + frames)


def is_perceptual(batch: Batch) -> bool:
    """Whether answering it means searching the perceptual index: work of milliseconds per
    hash, where an exact hash is a microsecond's."""
    return not _PERCEPTUAL.isdisjoint(batch.algorithms)


def perceptual_queries(batch: Batch) -> bytes:
    """The PDQ hashes a batch searches the perceptual index for, packed: its images' (those
    of usable quality) and its videos' usable frames, as `check` will search them."""
    parts: list[bytes] = []
    for position, name in enumerate(batch.algorithms):
        if name == PDQ:
            quality = batch.qualities.get(position)
            if quality is None or quality >= MIN_PDQ_QUALITY:
                parts.append(batch.raws[position])
        elif name == VPDQ:
            parts.append(batch.videos[position].frames)
    return b"".join(parts)


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
    results: list[Result] = (
        []
        if batch.only_matches
        else [
            Result(algorithm=name, hash=text, match=False, matches=())
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
                _match(m, match_ids.issue(m.item_id, day, client_id), VPDQ, **shares(c))
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
                _match(m, match_ids.issue(m.item_id, day, client_id), PDQ, distance=d)
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
        result.match = True
        result.matches = tuple(answers)
    body = _ANSWER.encode(
        CheckResponse(version=snapshot.version, checked=len(batch), results=results)
    )
    return Outcome(body, matched_lists, matched_entries, shadowed)


def _flag(batch: Batch, results: list[Result], position: int, reason: str) -> None:
    """Say why an item was not checked; under only_matches too, where an absent item would
    read as "checked, no match"."""
    if batch.only_matches:
        results.append(_listed(batch, position))
        results[-1].flag = reason
    else:
        results[position].flag = reason


def _listed(batch: Batch, position: int) -> Result:
    """An item's result under only_matches, where results name their position."""
    video = batch.videos.get(position)
    if video is not None:
        result = _video_result(video)
        result.index = position
        return result
    return Result(
        index=position,
        algorithm=batch.algorithms[position],
        hash=batch.texts[position],
        match=False,
        matches=(),
    )


def _video_result(video: VideoQuery) -> Result:
    """A video's result names its frames, not a hash: how many came, how many count."""
    return Result(
        algorithm=VPDQ,
        frames=video.given,
        usable_frames=len(video.frames) // HASH_BYTES,
        match=False,
        matches=(),
    )


def _match(match: Match, match_id: str, kind: str = "exact", **extra: Any) -> MatchAnswer:
    return MatchAnswer(
        list_name=match.list_name,
        category=match.category,
        severity=match.severity,
        action=match.action.value,
        kind=kind,
        item=match.item_id,
        match_id=match_id,
        hold=UNSET if match.hold is None else match.hold,
        **extra,
    )
