"""A client's side of governance: dispute a match by its match id, read the dispute, and
follow the retraction feed (`GET /v2/retractions?since=<cursor>`).

These calls read and write the store (off the lookup path, in a worker thread). A match id is
accepted only from the client it was issued to; no submitted hash is involved anywhere.
"""

from __future__ import annotations

from urllib.parse import parse_qs

import msgspec

from hashcheck.api.errors import BadRequest, Gone, NotFound
from hashcheck.api.v2models import Dispute, DisputeRequest, Note, Retraction, Retractions
from hashcheck.catalog.numbers import whole_number
from hashcheck.hashes.matchid import MatchIds
from hashcheck.index.snapshot import Snapshot
from hashcheck.store.errors import Gone as StoreGone
from hashcheck.store.errors import NotFound as StoreNotFound
from hashcheck.store.interface import Store
from hashcheck.store.records import DisputeRecord

MAX_BODY = 8192
FEED_LIMIT = 1000


_REQUEST = msgspec.json.Decoder(DisputeRequest)


def parse_dispute(body: bytes) -> tuple[str, str]:
    """(match id, reason) from `{"match_id": "...", "reason": "..."}`."""
    try:
        request = _REQUEST.decode(body)
    except msgspec.ValidationError as exc:
        raise BadRequest(f'{exc} (give {{"match_id": ..., "reason": ...}})') from None
    except msgspec.DecodeError:
        raise BadRequest("body is not valid JSON") from None
    return request.match_id, request.reason.strip()


def open_dispute(
    store: Store, match_ids: MatchIds, client_id: str, match_id: str, reason: str
) -> DisputeRecord:
    ref = match_ids.read(match_id, client_id)
    if ref is None:
        raise BadRequest("not a match id issued to this client")
    try:
        return store.open_dispute(client_id, ref.item_id, ref.day_number, reason)
    except StoreGone as exc:
        raise Gone(str(exc)) from None
    except StoreNotFound:
        raise NotFound("no such match") from None


def own_dispute(store: Store, client_id: str, text_id: str) -> DisputeRecord:
    dispute_id = whole_number(text_id)
    if dispute_id is None:
        raise NotFound("no such dispute")
    try:
        record = store.dispute(dispute_id)
    except StoreNotFound:
        raise NotFound("no such dispute") from None
    if record.client_id != client_id:
        raise NotFound("no such dispute")  # another client's dispute does not exist for you
    return record


def dispute_body(record: DisputeRecord, match_ids: MatchIds, snapshot: Snapshot) -> bytes:
    hash_list = snapshot.catalog.lists.get(record.list_id)
    answer = Dispute(
        dispute_id=record.dispute_id,
        match_id=match_ids.issue(record.entry_id, record.day, record.client_id),
        list_name=hash_list.name if hash_list else None,
        reason=record.reason,
        state=record.state,
        opened_at=record.opened_at,
        decided_at=record.decided_at,
        # Operator notes are written for the client: the decision's reason and comments.
        notes=[Note(at=n.at, text=n.text) for n in record.notes],
    )
    return msgspec.json.encode(answer)


def feed_query(query_string: bytes) -> tuple[int, int]:
    """(since, limit) from `?since=<cursor>&limit=<n>`."""
    try:
        fields = parse_qs(query_string.decode("ascii"), strict_parsing=bool(query_string))
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("malformed query string") from None
    unknown = set(fields) - {"since", "limit"}
    if unknown:
        raise BadRequest(f"unknown query parameter {sorted(unknown)[0]!r}; use since and limit")
    since = _number(fields, "since", 0, 0, 2**62)
    limit = _number(fields, "limit", FEED_LIMIT, 1, FEED_LIMIT)
    return since, limit


def _number(fields: dict[str, list[str]], name: str, default: int, low: int, high: int) -> int:
    values = fields.get(name)
    if not values:
        return default
    value = whole_number(values[0], low=low, high=high) if len(values) == 1 else None
    if value is None:
        raise BadRequest(f"{name} must be a whole number from {low} to {high}")
    return value


def feed_body(
    store: Store, match_ids: MatchIds, snapshot: Snapshot, client_id: str, since: int, limit: int
) -> bytes:
    records = store.retractions(client_id, since, limit)
    lists = snapshot.catalog.lists
    items = [
        Retraction(
            cursor=r.seq,
            match_id=match_ids.issue(r.entry_id, r.day, client_id),
            item=r.entry_id,
            list_name=lists[r.list_id].name if r.list_id in lists else None,
            reason=r.reason,
            retracted_at=r.at,
        )
        for r in records
    ]
    page = Retractions(
        retractions=items, next=records[-1].seq if records else since, more=len(records) == limit
    )
    return msgspec.json.encode(page)
