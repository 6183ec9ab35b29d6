"""`POST /v2/actions`: a client says what it did about one of its matches (removed it,
blocked it at upload, quarantined it, kept it after review, reported it) and when; and the
operator's notices to it (`GET /v2/notices`, `POST /v2/notices/{id}/acknowledge`); and its
own takedown figures (`GET /v2/report?month=`), never another client's.

Kept once per match and action (a repeat answers the first record, 200); written to the store
before the answer, so an answered action is never lost (an unreachable store is a 503, and the
client sends it again). A match id is accepted only from the client it was issued to; no
submitted hash is involved anywhere.
"""

from __future__ import annotations

import datetime as dt
import time
from urllib.parse import parse_qs

import msgspec

from hashcheck.admin import takedown
from hashcheck.admin.errors import AdminError
from hashcheck.api.errors import BadRequest, Gone, NotFound
from hashcheck.api.v2models import (
    ActionAnswer,
    ActionRequest,
    Notice,
    Notices,
    TakedownReport,
)
from hashcheck.catalog.numbers import whole_number
from hashcheck.catalog.takedown import CLOCK_SKEW_SECONDS, NEEDS_REASON, ClientAction
from hashcheck.hashes.matchid import MatchIds
from hashcheck.store.errors import Gone as StoreGone
from hashcheck.store.errors import Invalid
from hashcheck.store.errors import NotFound as StoreNotFound
from hashcheck.store.interface import Store
from hashcheck.store.process import StoreProcess
from hashcheck.store.records import ActionRecord, NewAction, NoticeRecord

PATH = "/v2/actions"
MAX_BODY = 8192
_REQUEST = msgspec.json.Decoder(ActionRequest)
_NO_MATCH = "no match with this id for this client"


def parse_action(body: bytes, match_ids: MatchIds, client_id: str, now: float) -> NewAction:
    """The action a body describes, checked against everything known without the store."""
    try:
        request = _REQUEST.decode(body)
    except msgspec.ValidationError as exc:
        raise BadRequest(f'{exc} (give {{"match_id": ..., "action": ..., "at": ...}})') from None
    except msgspec.DecodeError:
        raise BadRequest("body is not valid JSON") from None
    named = [isinstance(v, str | int) for v in (request.match_id, request.item, request.notice)]
    if sum(named) != 1:
        raise BadRequest("name the match by match_id, by item or by notice, one of the three")
    day: int | None = None
    notice_id: int | None = None
    item_id = 0
    if isinstance(request.match_id, str):
        ref = match_ids.read(request.match_id, client_id)
        if ref is None:
            raise NotFound(_NO_MATCH)  # another client's id reads as none at all
        item_id, day = ref.item_id, ref.day_number
    elif isinstance(request.item, int):
        item_id = request.item
    else:
        assert isinstance(request.notice, int)
        notice_id = request.notice
    try:
        action = ClientAction(request.action)
    except ValueError:
        allowed = ", ".join(a.value for a in ClientAction)
        raise BadRequest(f"action: {request.action[:40]!r} is not one of {allowed}") from None
    reason = request.reason.strip()
    if action in NEEDS_REASON and not reason:
        raise BadRequest(f"{action.value} needs a reason: why the file was kept")
    acted_at = _time(request.at, now)
    return NewAction(client_id, item_id, day, action.value, reason, acted_at, notice_id)


async def record(store: StoreProcess, new: NewAction) -> tuple[ActionRecord, bool]:
    """Keep ``new`` through the node's store process (`store.process`): on the worker's own
    threads, each action's transaction cost the event loop several times its CPU time."""
    try:
        kept: tuple[ActionRecord, bool] = await store.call("record_action", new)
    except StoreNotFound as exc:
        raise NotFound(_NO_MATCH if new.day is not None else str(exc)) from None
    except StoreGone as exc:
        raise Gone(str(exc)) from None
    except Invalid as exc:
        raise BadRequest(str(exc)) from None
    return kept


def answer_body(kept: ActionRecord, match_ids: MatchIds, *, repeated: bool) -> bytes:
    return msgspec.json.encode(
        ActionAnswer(
            action_id=kept.action_id,
            match_id=match_ids.issue(kept.item_id, kept.day, kept.client_id),
            item=kept.item_id,
            action=kept.action,
            reason=kept.reason,
            at=takedown.iso(kept.acted_at),
            recorded_at=takedown.iso(kept.recorded_at),
            matched_at=None if kept.matched_at is None else takedown.iso(kept.matched_at),
            notice=kept.notice_id,
            repeated=repeated,
        )
    )


NOTICES_PATH = "/v2/notices"
REPORT_PATH = "/v2/report"


def report_month(query: bytes, now: float) -> str:
    """`?month=YYYY-MM`; this month when left out."""
    values = parse_qs(query.decode("latin-1"), keep_blank_values=True).get("month")
    if values is None:
        return time.strftime("%Y-%m", time.gmtime(now))
    if len(values) != 1:
        raise BadRequest("give month once")
    return values[0]


def report_body(store: Store, month: str, client_id: str) -> bytes:
    try:
        found = takedown.client_report(store, month, client_id)
    except AdminError as exc:
        raise BadRequest(str(exc)) from None
    return msgspec.json.encode(msgspec.convert(found, TakedownReport))


def notice_states(query: bytes) -> tuple[str, ...]:
    """`?state=live` (the default: open and acknowledged), `all`, or one state."""
    values = parse_qs(query.decode("latin-1"), keep_blank_values=True).get("state", ["live"])
    if len(values) != 1:
        raise BadRequest("give state once")
    try:
        return takedown.notice_states(values[0])
    except AdminError as exc:
        raise BadRequest(str(exc)) from None


def notices_body(found: list[NoticeRecord]) -> bytes:
    return msgspec.json.encode(Notices(notices=[_notice(n) for n in found]))


def notice_body(found: NoticeRecord) -> bytes:
    return msgspec.json.encode(_notice(found))


def acknowledge(store: Store, client_id: str, text_id: str) -> NoticeRecord:
    notice_id = whole_number(text_id, low=1)
    if notice_id is None:
        raise NotFound("no such notice for this client")
    try:
        return store.acknowledge_notice(client_id, notice_id)
    except StoreNotFound as exc:
        raise NotFound(str(exc)) from None
    except StoreGone as exc:
        raise Gone(str(exc)) from None


def _notice(found: NoticeRecord) -> Notice:
    # The operator's view less what is the operator's own (the client, who issued it).
    return msgspec.convert(takedown.notice_dict(found), Notice)


def _time(text: object, now: float) -> int:
    if not isinstance(text, str):
        return int(now)
    try:
        when = dt.datetime.fromisoformat(text) if text.isascii() else None
    except ValueError:
        when = None
    if when is None:
        raise BadRequest(f"at: {text[:40]!r} is not an ISO 8601 time (2026-11-30T14:05:00Z)")
    if when.tzinfo is None:
        raise BadRequest("at: give the time zone (Z for UTC, or an offset such as +01:00)")
    stamp = when.timestamp()
    if stamp > now + CLOCK_SKEW_SECONDS:
        raise BadRequest("at: the action's time is in the future")
    return int(min(stamp, now))
