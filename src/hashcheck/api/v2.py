"""POST /v2/check: a batch of exact hashes in, per hash every granted match out.

Each match names list, category, severity, action hint and a match id; the answer carries the
index version. The batch is refused whole if any item is malformed (no partial answers).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson

from hashcheck.api.errors import BadRequest, InvalidHashes
from hashcheck.catalog.model import ClientView
from hashcheck.hashes.algorithms import Algorithm
from hashcheck.hashes.keyed import Digester
from hashcheck.hashes.matchid import MatchIds
from hashcheck.index.snapshot import Snapshot

# Enough for 10,000 SHA-256 items with generous formatting.
BYTES_PER_ITEM = 256
SHOWN_ITEM_ERRORS = 20
_HEX_LENGTHS = {a.value: a.hex_length for a in Algorithm}
_HEX = frozenset("0123456789abcdefABCDEF")


@dataclass(frozen=True)
class Batch:
    """A validated request: parallel columns, one element per submitted hash."""

    algorithms: list[str]
    texts: list[str]  # lower-case hex, echoed in the answer
    raws: list[bytes]

    def __len__(self) -> int:
        return len(self.raws)


def parse_request(body: bytes, max_batch: int) -> Batch:
    """The batch in ``body``; raises with every bad item's index if any item is malformed."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadRequest("body is not valid JSON") from None
    if not isinstance(document, dict):
        raise BadRequest('body must be a JSON object: {"hashes": [...]}')
    items = document.get("hashes")
    if not isinstance(items, list):
        raise BadRequest('"hashes" must be a list of {"algorithm", "hash"} objects')
    if not items:
        raise BadRequest('"hashes" is empty')
    if len(items) > max_batch:
        raise BadRequest(f"{len(items)} hashes in one request; the limit is {max_batch}")
    algorithms: list[str] = []
    texts: list[str] = []
    raws: list[bytes] = []
    errors: list[dict[str, Any]] = []
    lengths = _HEX_LENGTHS
    fromhex = bytes.fromhex
    for index, item in enumerate(items):
        # Fast path for well-formed items; anything odd goes to `_item` for a precise message.
        try:
            name = item["algorithm"]
            text = item["hash"]
            raw = fromhex(text)
            if len(text) != lengths[name] or len(raw) * 2 != len(text):
                raise ValueError
        except (KeyError, TypeError, ValueError):
            problem, name, text, raw = _item(item)
            if problem is not None:
                errors.append({"index": index, "message": problem})
                continue
        algorithms.append(name)
        texts.append(text.lower())
        raws.append(raw)
    if errors:
        raise InvalidHashes(
            f"{len(errors)} invalid item(s); nothing was checked",
            details=errors[:SHOWN_ITEM_ERRORS],
        )
    return Batch(algorithms, texts, raws)


def _item(item: object) -> tuple[str | None, str, str, bytes]:
    """(problem, algorithm, hex, raw) for an item the fast path refused."""
    if not isinstance(item, dict):
        return 'must be an object {"algorithm": ..., "hash": ...}', "", "", b""
    name = item.get("algorithm")
    value = item.get("hash")
    if not isinstance(name, str) or name not in _HEX_LENGTHS:
        return f"algorithm must be one of {', '.join(_HEX_LENGTHS)}", "", "", b""
    if not isinstance(value, str):
        return '"hash" must be a string', "", "", b""
    text = value.strip()
    length = _HEX_LENGTHS[name]
    if len(text) != length or not _HEX.issuperset(text):
        return f"{name} hash must be {length} hex characters", "", "", b""
    return None, name, text, bytes.fromhex(text)


def check(
    snapshot: Snapshot,
    view: ClientView,
    batch: Batch,
    digester: Digester,
    match_ids: MatchIds,
) -> tuple[bytes, dict[int, int]]:
    """The JSON answer and the number of matches per list (for usage statistics)."""
    keyed = {a.value: digester.for_algorithm(a) for a in Algorithm}
    if len(set(batch.algorithms)) == 1:
        digests = list(map(keyed[batch.algorithms[0]], batch.raws))
    else:
        digests = [keyed[name](raw) for name, raw in zip(batch.algorithms, batch.raws, strict=True)]
    hits_per_item = snapshot.exact.lookup_many(digests)
    day = int(time.time() // 86400)
    client_id = view.client.client_id
    matched_lists: dict[int, int] = {}
    results: list[dict[str, Any]] = [
        {"algorithm": name, "hash": text, "match": False, "matches": []}
        for name, text in zip(batch.algorithms, batch.texts, strict=True)
    ]
    for position, hits in enumerate(hits_per_item):
        if not hits:
            continue
        matches = snapshot.visible(view, hits)
        if not matches:
            continue
        for list_id in {m.list_id for m in matches}:
            matched_lists[list_id] = matched_lists.get(list_id, 0) + 1
        result = results[position]
        result["match"] = True
        result["matches"] = [
            {
                "list": m.list_name,
                "category": m.category,
                "severity": m.severity,
                "action": m.action.value,
                "kind": "exact",
                "match_id": match_ids.issue(m.entry_id, day, client_id),
            }
            for m in matches
        ]
    body = orjson.dumps({"version": snapshot.version, "results": results})
    return body, matched_lists
