"""The operator's side of takedown timing: a client's own deadline where its agreement says
so, and notices to clients about items (with where the operator found them, when it knows).
One service function per operator action; every face (CLI, admin API, console) calls these.
Holds no HTTP and no SQL.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from hashcheck.admin.errors import AdminError
from hashcheck.admin.operators import Actor, Role
from hashcheck.catalog.policy import MAX_DEADLINE_HOURS, Policy
from hashcheck.catalog.takedown import deadline_hours, valid_deadline
from hashcheck.catalog.takedownreport import Figures
from hashcheck.store.errors import NotFound
from hashcheck.store.interface import Store
from hashcheck.store.records import NoticeRecord

MAX_URL = 2000
NOTICE_STATES = ("open", "acknowledged", "removed", "withdrawn")


@dataclass(frozen=True)
class ClientDeadline:
    client_id: str
    agreed: int | None  # the client's own hours; None: the policy's
    hours: int  # what applies
    changed: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "agreed_hours": self.agreed,
            "hours": self.hours,
            "changed": self.changed,
        }


def set_deadline(
    store: Store, client_id: str, hours: int | None, *, actor: Actor
) -> ClientDeadline:
    """The hours ``client_id`` has to act on a hit or notice (None: the policy's
    `takedown-deadline-hours`). Audited."""
    actor.require(Role.OPERATOR, "setting a client's takedown deadline")
    if hours is not None and not valid_deadline(hours):
        raise AdminError(f"a takedown deadline is 1 to {MAX_DEADLINE_HOURS:,} hours, got {hours:,}")
    changed = store.set_client_deadline(client_id, hours, actor=actor.name)
    return deadline_of(store, client_id, changed=changed)


def deadline_of(store: Store, client_id: str, *, changed: bool = False) -> ClientDeadline:
    client = next((c for c in store.clients() if c.client_id == client_id), None)
    if client is None:
        raise NotFound(f"no client {client_id!r}")
    policy = Policy.parse(store.policies())
    agreed = client.takedown_deadline_hours
    return ClientDeadline(client_id, agreed, deadline_hours(policy, agreed), changed)


@dataclass(frozen=True)
class IssuedNotice:
    notice: NoticeRecord
    new: bool  # False: the client's live notice about the item, issued earlier


def issue_notice(
    store: Store, client_id: str, item_id: int, *, url: str | None = None, actor: Actor
) -> IssuedNotice:
    """A notice to ``client_id`` about the item, due after the client's deadline; the live
    one it has about the item already, if any. Refused for an item no longer on its list
    (there is nothing to take down). Audited."""
    actor.require(Role.OPERATOR, "issuing a notice")
    if url is not None:
        url = _url(url)
    hours = deadline_of(store, client_id).hours
    notice, new = store.issue_notice(client_id, item_id, url, hours, actor=actor.name)
    return IssuedNotice(notice, new)


def withdraw_notice(store: Store, notice_id: int, *, actor: Actor) -> NoticeRecord:
    """Take a live notice back (issued to the wrong client, say). Audited."""
    actor.require(Role.OPERATOR, "withdrawing a notice")
    return store.withdraw_notice(notice_id, actor=actor.name)


def notices(
    store: Store, *, client_id: str | None = None, state: str = "live", actor: Actor
) -> list[NoticeRecord]:
    """Notices oldest first: `live` (open and acknowledged), `all`, or one state."""
    actor.require(Role.VIEWER, "reading notices")
    return store.notices(client_id, states=notice_states(state), limit=10_000)


def notice_states(state: str) -> tuple[str, ...]:
    """The states a choice names: `live` (open and acknowledged), `all`, or one state."""
    if state == "live":
        return NOTICE_STATES[:2]
    if state == "all":
        return NOTICE_STATES
    if state in NOTICE_STATES:
        return (state,)
    raise AdminError(f"state: live, all, or one of {', '.join(NOTICE_STATES)}; not {state[:40]!r}")


def notice_dict(notice: NoticeRecord) -> dict[str, Any]:
    return {
        "notice_id": notice.notice_id,
        "client_id": notice.client_id,
        "item": notice.item_id,
        "url": notice.url,
        "issued_at": iso(notice.issued_at),
        "deadline": iso(notice.deadline_at),
        "issued_by": notice.issued_by,
        "state": notice.state,
        "acknowledged_at": None if notice.acknowledged_at is None else iso(notice.acknowledged_at),
        "closed_at": None if notice.closed_at is None else iso(notice.closed_at),
    }


def _url(text: str) -> str:
    text = text.strip()
    try:
        parts = urlsplit(text) if text.isprintable() and len(text) <= MAX_URL else None
    except ValueError:  # a bracketed host that is no address, say
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise AdminError(f"a URL is http:// or https://, at most {MAX_URL:,} characters")
    return text


def iso(stamp: int) -> str:
    """Unix time as the faces show it: ISO 8601, UTC, to the second."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))


CLOCK = (
    "from the operator's notice where one was issued about the hit, otherwise from the "
    "client's first match of the item that month"
)


def month_days(month: str) -> tuple[int, int]:
    """The first and last day (days since 1970) of ``month`` (YYYY-MM)."""
    try:
        first = dt.date.fromisoformat(f"{month}-01") if len(month) == 7 else None
    except ValueError:
        first = None
    if first is None or not month.isascii() or month[4] != "-":
        raise AdminError(f"a month is YYYY-MM (2026-11), not {month[:20]!r}")
    following = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
    epoch = dt.date(1970, 1, 1)
    return (first - epoch).days, (following - epoch).days - 1


def report(
    store: Store,
    month: str,
    *,
    client_id: str | None = None,
    publishable: bool = False,
    with_names: bool = False,
    actor: Actor,
) -> dict[str, Any]:
    """The month's takedown figures, overall and per client. ``publishable`` leaves client
    names out (`client 1`, `client 2`, ... by hits) unless ``with_names``."""
    actor.require(Role.VIEWER, "reading the takedown report")
    first_day, last_day = month_days(month)
    return build_report(store, month, first_day, last_day, client_id, publishable, with_names)


def client_report(store: Store, month: str, client_id: str) -> dict[str, Any]:
    """What a client may see of the month: its own figures only."""
    first_day, last_day = month_days(month)
    return build_report(store, month, first_day, last_day, client_id, False, True)


def build_report(
    store: Store,
    month: str,
    first_day: int,
    last_day: int,
    client_id: str | None,
    publishable: bool,
    with_names: bool,
) -> dict[str, Any]:
    policy = Policy.parse(store.policies())
    known = {c.client_id: c for c in store.clients()}
    if client_id is not None and client_id not in known:
        raise NotFound(f"no client {client_id!r}")
    agreed = {
        c.client_id: c.takedown_deadline_hours
        for c in known.values()
        if c.takedown_deadline_hours is not None
    }
    counted = store.takedown_figures(
        first_day, last_day, client_id, policy.takedown_deadline_hours, int(time.time())
    )
    per_client = {cid: Figures.from_counts(*found) for cid, found in counted.items()}
    overall = Figures()
    for figures in per_client.values():
        overall.merged(figures)
    ordered = sorted(per_client.items(), key=lambda kv: (-kv[1].hits, kv[0]))
    clients = []
    for number, (cid, figures) in enumerate(ordered, 1):
        named = with_names or not publishable
        clients.append(
            {
                "client": cid if named else f"client {number}",
                **({"name": known[cid].name} if named and cid in known else {}),
                "deadline_hours": deadline_hours(policy, agreed.get(cid)),
                **figures.as_dict(),
            }
        )
    return {
        "month": month,
        "clock": CLOCK,
        "deadline_hours": policy.takedown_deadline_hours,
        "publishable": publishable,
        "overall": overall.as_dict(),
        "clients": clients,
    }
