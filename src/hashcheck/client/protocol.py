"""The wire side shared by the sync and async clients: building requests, reading answers
strictly, and deciding what to retry. No I/O here.

Anything unexpected in an answer — a status, a missing field, a different number of results,
a body other than exactly `true`/`false` on the legacy API — makes the affected hashes
indeterminate, never clean.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from dataclasses import dataclass
from typing import Any

from hashcheck.client.queries import HEX_LENGTHS, Query
from hashcheck.client.results import Match, Outcome, Result, frames_of, indeterminate

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 60.0
# The service will not take these credentials: every later request would be refused too.
REFUSED_STATUSES = frozenset({401, 403})


class CredentialsRefused(Exception):
    """The service refused the client's credentials (401) or their use (403). Not a check
    result: nothing was checked, and nothing will be until the credentials are fixed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"the service refused the credentials (HTTP {status}): {message}")
        self.status = status


@dataclass(frozen=True)
class Policy:
    """Retries with exponential backoff and full jitter, honouring Retry-After."""

    retries: int = 3
    backoff: float = 0.5
    cap: float = 10.0

    def delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after is not None:
            try:
                return min(max(float(retry_after), 0.0), MAX_RETRY_AFTER)
            except ValueError:
                pass  # an HTTP date or nonsense: fall back to backoff
        return random.uniform(0, min(self.cap, self.backoff * 2**attempt))  # noqa: S311 - jitter


class Retries:
    """The retry decisions of one request, without doing any I/O: after each attempt, how long
    to wait before the next one, or None when the attempt's outcome is final."""

    def __init__(self, policy: Policy) -> None:
        self._policy = policy
        self._attempt = 0
        self.reason = "no attempt"

    def answered(self, status: int, retry_after: str | None) -> float | None:
        if status not in RETRY_STATUSES:
            return None
        self.reason = f"HTTP {status} after {self._attempt + 1} attempt(s)"
        return self._next(retry_after)

    def failed(self, reason: str) -> float | None:
        self.reason = reason
        return self._next(None)

    def _next(self, retry_after: str | None) -> float | None:
        if self._attempt >= self._policy.retries:
            return None
        wait = self._policy.delay(self._attempt, retry_after)
        self._attempt += 1
        return wait


def batches(items: list[Query], size: int) -> list[list[Query]]:
    """Consecutive runs of ``items`` that each weigh at most ``size`` (a video weighs its
    frames; one heavier than ``size`` goes alone, and the service says so)."""
    runs: list[list[Query]] = []
    weight = 0
    for query in items:
        if runs and weight + query.weight <= size:
            runs[-1].append(query)
            weight += query.weight
        else:
            runs.append([query])
            weight = query.weight
    return runs


def _compact(items: list[Query]) -> bool:
    return all(q.compact for q in items)


def _sent_order(items: list[Query]) -> list[int]:
    """Positions of ``items`` in the order the compact shape sends them: by algorithm (md5,
    sha1, sha256, pdq — the service's order), each algorithm's in the caller's order."""
    rank = {name: number for number, name in enumerate(HEX_LENGTHS)}
    return sorted(range(len(items)), key=lambda position: rank[items[position].algorithm])


def v2_body(items: list[Query]) -> dict[str, Any]:
    """With `only_matches` (a bulk scan hears only of matches, and of hashes that could not be
    checked). The compact shape when it can carry every item (the cheapest for the service
    to read); one object per item when a PDQ quality or a video comes along."""
    if not _compact(items):
        return {"hashes": [q.body() for q in items], "only_matches": True}
    body: dict[str, Any] = {}
    for query in items:
        body.setdefault(query.algorithm, []).append(query.hash)
    body["only_matches"] = True
    return body


def read_v2_response(items: list[Query], status: int, content: bytes) -> list[Result]:
    return read_v2(items, status, _document(content))


def _document(content: bytes) -> Any:
    """The answer's JSON, or None when it is none (an error page, a cut-off body)."""
    try:
        return json.loads(content)
    except ValueError:
        return None


def read_v2(items: list[Query], status: int, document: Any) -> list[Result]:
    """Results for ``items`` from an `only_matches` answer: a hash absent from it is clean
    only when the answer says every hash of the batch was checked."""
    if status in REFUSED_STATUSES:
        raise CredentialsRefused(status, _error_message(document))
    if status != 200:
        message = _error_message(document)
        return indeterminate(items, f"HTTP {status}: {message}")
    checked = document.get("checked") if isinstance(document, dict) else None
    results = document.get("results") if isinstance(document, dict) else None
    if checked != len(items) or isinstance(checked, bool) or not isinstance(results, list):
        return indeterminate(items, "the answer does not say every hash was checked")
    order = _sent_order(items) if _compact(items) else list(range(len(items)))
    found = [Result(q.algorithm, q.hash, Outcome.NO_MATCH, frames=frames_of(q)) for q in items]
    seen: set[int] = set()
    try:
        for answer in results:
            index = answer["index"]
            if type(index) is not int or not 0 <= index < len(items) or index in seen:
                raise ValueError(f"result index {index!r} out of range or repeated")
            seen.add(index)
            position = order[index]
            found[position] = _result(items[position], answer)
    except (KeyError, TypeError, ValueError) as exc:
        return indeterminate(items, f"unexpected answer from the service: {exc!r}")
    return found


def _result(query: Query, answer: Any) -> Result:
    if answer["algorithm"] != query.algorithm:
        raise ValueError("results out of order")
    if query.algorithm == "vpdq":
        if answer["frames"] != len(query.frames):
            raise ValueError("results out of order")
    elif answer["hash"] != query.hash:
        raise ValueError("results out of order")
    matched = answer["match"]
    if not isinstance(matched, bool):
        raise TypeError('"match" is not a boolean')
    frames = frames_of(query)
    if not matched:
        flag = answer.get("flag")
        if flag is not None:  # e.g. a PDQ hash of too low quality: looked at, not matched
            return Result(
                query.algorithm,
                query.hash,
                Outcome.INDETERMINATE,
                reason=str(flag),
                flag=str(flag),
                frames=frames,
            )
        return Result(query.algorithm, query.hash, Outcome.NO_MATCH, frames=frames)
    matches = tuple(_match(m) for m in answer["matches"])
    if not matches:
        raise ValueError("a match without matches")
    return Result(query.algorithm, query.hash, Outcome.MATCH, matches, frames=frames)


def _match(m: Any) -> Match:
    item = m.get("item")
    if item is not None and type(item) is not int:
        raise TypeError('"item" is not a number')
    return Match(
        list=m["list"],
        category=m["category"],
        severity=m["severity"],
        action=m["action"],
        kind=m["kind"],
        match_id=m["match_id"],
        item=item,
        distance=m.get("distance"),
        hold=m.get("hold"),
        target_percent=m.get("target_percent"),
        query_percent=m.get("query_percent"),
    )


def read_legacy(item: Query, status: int, body: bytes) -> Result:
    algorithm, text = item.algorithm, item.hash
    if status in REFUSED_STATUSES:
        raise CredentialsRefused(status, body[:80].decode("utf-8", "replace").strip())
    if status == 200 and body == b"true":
        return Result(algorithm, text, Outcome.MATCH)
    if status == 200 and body == b"false":
        return Result(algorithm, text, Outcome.NO_MATCH)
    shown = body[:80].decode("utf-8", "replace").strip()
    return Result(algorithm, text, Outcome.INDETERMINATE, reason=f"HTTP {status}: {shown!r}")


def _error_message(document: Any) -> str:
    try:
        return str(document["error"]["message"])
    except (KeyError, TypeError):
        return "no error message"


class Unanswered(RuntimeError):
    """The service gave no usable answer where the caller needs one (not a check result):
    ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Dispute:
    """A dispute of a match, as the service keeps it (the operator decides it)."""

    dispute_id: int
    match_id: str
    list: str | None
    reason: str
    state: str  # open | upheld | rejected
    opened_at: str
    decided_at: str | None
    notes: tuple[tuple[str, str], ...]  # (at, text): the operator's decision and comments


def dispute_body(match_id: str, reason: str) -> dict[str, str]:
    if not match_id.strip():
        raise ValueError("say which match: its match_id from a check answer")
    if not reason.strip() or len(reason) > 2000:
        raise ValueError("a dispute needs a reason of 1-2,000 characters")
    return {"match_id": match_id.strip(), "reason": reason}


def read_dispute(status: int, content: bytes, wanted: str) -> Dispute:
    document = _answer(status, content, wanted, (200, 201))
    try:
        return Dispute(
            dispute_id=int(document["dispute_id"]),
            match_id=str(document["match_id"]),
            list=document["list"],
            reason=str(document["reason"]),
            state=str(document["state"]),
            opened_at=str(document["opened_at"]),
            decided_at=document["decided_at"],
            notes=tuple((str(n["at"]), str(n["text"])) for n in document["notes"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise Unanswered(f"{wanted}: unexpected answer from the service: {exc!r}") from None


# What a client can say it did about a match (`POST /v2/actions`).
ACTIONS = ("removed", "blocked_at_upload", "quarantined", "kept_after_review", "reported")


@dataclass(frozen=True)
class ActionReceipt:
    """An action the service kept (``repeated``: it had kept it already; the first stands)."""

    action_id: int
    match_id: str
    item: int
    action: str
    reason: str
    at: str
    recorded_at: str
    matched_at: str | None
    repeated: bool


def action_body(
    match_id: str, action: str, *, reason: str = "", at: dt.datetime | None = None
) -> dict[str, str]:
    if not match_id.strip():
        raise ValueError("say which match: its match_id from a check answer")
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {', '.join(ACTIONS)}, not {action!r}")
    if action == "kept_after_review" and not reason.strip():
        raise ValueError("kept_after_review needs a reason: why the file was kept")
    if len(reason) > 2000:
        raise ValueError("a reason has at most 2,000 characters")
    body = {"match_id": match_id.strip(), "action": action}
    if reason.strip():
        body["reason"] = reason
    if at is not None:
        if at.tzinfo is None:
            raise ValueError("give the action's time with its time zone")
        body["at"] = at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return body


def read_action(status: int, content: bytes) -> ActionReceipt:
    document = _answer(status, content, "reporting the action", (200, 201))
    try:
        return ActionReceipt(
            action_id=int(document["action_id"]),
            match_id=str(document["match_id"]),
            item=int(document["item"]),
            action=str(document["action"]),
            reason=str(document["reason"]),
            at=str(document["at"]),
            recorded_at=str(document["recorded_at"]),
            matched_at=document["matched_at"],
            repeated=bool(document["repeated"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise Unanswered(f"reporting the action: unexpected answer: {exc!r}") from None


def read_retractions(status: int, content: bytes) -> tuple[list[dict[str, Any]], int, bool]:
    """One page of the retraction feed: (retractions, next cursor, more to read)."""
    document = _answer(status, content, "the retraction feed", (200,))
    try:
        items = list(document["retractions"])
        if not all(isinstance(i, dict) and isinstance(i.get("match_id"), str) for i in items):
            raise ValueError("a retraction without its match_id")
        return items, int(document["next"]), bool(document["more"])
    except (KeyError, TypeError, ValueError) as exc:
        raise Unanswered(f"the retraction feed: unexpected answer: {exc!r}") from None


def _answer(status: int, content: bytes, wanted: str, ok: tuple[int, ...]) -> Any:
    document = _document(content)
    if status in REFUSED_STATUSES:
        raise CredentialsRefused(status, _error_message(document))
    if status not in ok:
        raise Unanswered(f"{wanted}: HTTP {status}: {_error_message(document)}", status)
    return document
