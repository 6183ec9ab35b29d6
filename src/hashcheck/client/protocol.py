"""The wire side shared by the sync and async clients: building requests, reading answers
strictly, and deciding what to retry. No I/O here.

Anything unexpected in an answer — a status, a missing field, a different number of results,
a body other than exactly `true`/`false` on the legacy API — makes the affected hashes
indeterminate, never clean.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from hashcheck.client.results import Match, Outcome, Result, indeterminate

HEX_LENGTHS = {"md5": 32, "sha1": 40, "sha256": 64, "pdq": 64}
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 60.0


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


def normalise(items: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """(algorithm, lower-case hex); ValueError for a malformed item (a caller's bug, raised
    before anything is sent)."""
    checked = []
    for algorithm, value in items:
        name = algorithm.lower()
        text = value.strip().lower()
        if name not in HEX_LENGTHS:
            raise ValueError(f"unknown algorithm {algorithm!r}; use {', '.join(HEX_LENGTHS)}")
        if len(text) != HEX_LENGTHS[name] or any(c not in "0123456789abcdef" for c in text):
            raise ValueError(f"{name} hash must be {HEX_LENGTHS[name]} hex characters")
        checked.append((name, text))
    return checked


def batches(items: list[tuple[str, str]], size: int) -> list[list[tuple[str, str]]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _sent_order(items: list[tuple[str, str]]) -> list[int]:
    """Positions of ``items`` in the order the compact shape sends them: by algorithm (md5,
    sha1, sha256, pdq — the service's order), each algorithm's in the caller's order."""
    rank = {name: number for number, name in enumerate(HEX_LENGTHS)}
    return sorted(range(len(items)), key=lambda position: rank[items[position][0]])


def v2_body(items: list[tuple[str, str]]) -> dict[str, Any]:
    """The compact shape with `only_matches`: the cheapest for the service to read and answer
    (a bulk scan hears only of matches, and of hashes that could not be checked)."""
    body: dict[str, Any] = {}
    for algorithm, text in items:
        body.setdefault(algorithm, []).append(text)
    body["only_matches"] = True
    return body


def read_v2_response(items: list[tuple[str, str]], status: int, content: bytes) -> list[Result]:
    try:
        document = json.loads(content)
    except ValueError:
        document = None
    return read_v2(items, status, document)


def read_v2(items: list[tuple[str, str]], status: int, document: Any) -> list[Result]:
    """Results for ``items`` from an `only_matches` answer: a hash absent from it is clean
    only when the answer says every hash of the batch was checked."""
    if status != 200:
        message = _error_message(document)
        return indeterminate(items, f"HTTP {status}: {message}")
    checked = document.get("checked") if isinstance(document, dict) else None
    results = document.get("results") if isinstance(document, dict) else None
    if checked != len(items) or isinstance(checked, bool) or not isinstance(results, list):
        return indeterminate(items, "the answer does not say every hash was checked")
    order = _sent_order(items)
    found = [Result(algorithm, text, Outcome.NO_MATCH) for algorithm, text in items]
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


def _result(item: tuple[str, str], answer: Any) -> Result:
    algorithm, text = item
    if answer["algorithm"] != algorithm or answer["hash"] != text:
        raise ValueError("results out of order")
    matched = answer["match"]
    if not isinstance(matched, bool):
        raise TypeError('"match" is not a boolean')
    if not matched:
        flag = answer.get("flag")
        if flag is not None:  # e.g. a PDQ hash of too low quality: not checked
            return Result(algorithm, text, Outcome.INDETERMINATE, reason=str(flag))
        return Result(algorithm, text, Outcome.NO_MATCH)
    matches = tuple(
        Match(
            list=m["list"],
            category=m["category"],
            severity=m["severity"],
            action=m["action"],
            kind=m["kind"],
            match_id=m["match_id"],
            distance=m.get("distance"),
            hold=m.get("hold"),
        )
        for m in answer["matches"]
    )
    if not matches:
        raise ValueError("a match without matches")
    return Result(algorithm, text, Outcome.MATCH, matches)


def read_legacy(item: tuple[str, str], status: int, body: bytes) -> Result:
    algorithm, text = item
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
