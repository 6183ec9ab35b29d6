"""POST /v2/check: a batch of exact hashes in, per hash every granted match out.

Each match names list, category, severity, action hint and a match id; the answer carries the
index version. The batch is refused whole if any item is malformed (no partial answers).
"""

from __future__ import annotations

import time
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
_ALGORITHMS = {a.value: a for a in Algorithm}
_HEX = frozenset("0123456789abcdefABCDEF")


def parse_request(body: bytes, max_batch: int) -> list[tuple[Algorithm, str, bytes]]:
    """(algorithm, hex as sent, raw digest) per item; raises with every bad item's index."""
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
    parsed: list[tuple[Algorithm, str, bytes]] = []
    errors: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        problem = None
        if not isinstance(item, dict):
            problem = 'must be an object {"algorithm": ..., "hash": ...}'
        else:
            algorithm = _ALGORITHMS.get(item.get("algorithm"))  # type: ignore[arg-type]
            value = item.get("hash")
            if algorithm is None:
                problem = f"algorithm must be one of {', '.join(_ALGORITHMS)}"
            elif not isinstance(value, str):
                problem = '"hash" must be a string'
            else:
                text = value.strip()
                if len(text) != algorithm.hex_length or not _HEX.issuperset(text):
                    problem = (
                        f"{algorithm.value} hash must be {algorithm.hex_length} hex characters"
                    )
                else:
                    parsed.append((algorithm, text.lower(), bytes.fromhex(text)))
        if problem is not None:
            errors.append({"index": index, "message": problem})
    if errors:
        raise InvalidHashes(
            f"{len(errors)} invalid item(s); nothing was checked",
            details=errors[:SHOWN_ITEM_ERRORS],
        )
    return parsed


def check(
    snapshot: Snapshot,
    view: ClientView,
    items: list[tuple[Algorithm, str, bytes]],
    digester: Digester,
    match_ids: MatchIds,
) -> tuple[bytes, dict[int, int]]:
    """The JSON answer and the number of matches per list (for usage statistics)."""
    keyed = {a: digester.for_algorithm(a) for a in Algorithm}
    digests = [keyed[algorithm](raw) for algorithm, _, raw in items]
    hits_per_item = snapshot.exact.lookup_many(digests)
    day = int(time.time() // 86400)
    client_id = view.client.client_id
    matched_lists: dict[int, int] = {}
    results: list[dict[str, Any]] = []
    append = results.append
    for (algorithm, text, _), hits in zip(items, hits_per_item, strict=True):
        matches = snapshot.visible(view, hits) if hits else None
        if not matches:
            append({"algorithm": algorithm.value, "hash": text, "match": False, "matches": []})
            continue
        for list_id in {m.list_id for m in matches}:
            matched_lists[list_id] = matched_lists.get(list_id, 0) + 1
        append(
            {
                "algorithm": algorithm.value,
                "hash": text,
                "match": True,
                "matches": [
                    {
                        "list": m.list_name,
                        "category": m.category,
                        "severity": m.severity,
                        "action": m.action.value,
                        "kind": "exact",
                        "match_id": match_ids.issue(m.entry_id, day, client_id),
                    }
                    for m in matches
                ],
            }
        )
    body = orjson.dumps({"version": snapshot.version, "results": results})
    return body, matched_lists
