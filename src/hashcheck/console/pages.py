"""What each console page shows and what each form does: one call of the operator service
(`admin`) per page or form, its answer put in the shape a template renders. Runs in a worker
thread (the store is read here); knows nothing of HTTP, cookies or HTML.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from hashcheck.admin import (
    audit,
    disputes,
    governance,
    items,
    lists,
    submissions,
    takedown,
    takedownhtml,
)
from hashcheck.admin import batches as admin_batches
from hashcheck.admin import clients as admin_clients
from hashcheck.admin import operators as accounts
from hashcheck.admin import stats as usage
from hashcheck.admin.clients import describe_grant
from hashcheck.admin.errors import AdminError
from hashcheck.admin.operators import Actor, Role
from hashcheck.catalog.numbers import whole_number
from hashcheck.catalog.policy import Policy
from hashcheck.console import charts
from hashcheck.hashes.keyed import Digester
from hashcheck.hashes.matchid import MatchIds
from hashcheck.store.interface import Store
from hashcheck.store.records import NODE_REPORT_EVERY_S, AuditRecord

AUDIT_SHOWN = 200
# A node that has not reported for three report periods is shown as silent; after a day, not.
NODE_SILENT_S = 3 * NODE_REPORT_EVERY_S
NODE_FORGOTTEN_S = 86_400
STATS_SHOWN = 200
CHART_DAYS = 90  # the statistics page's charts
OVERVIEW_DAYS = 30  # the overview's
BATCHES_SHOWN = 50


def overview(store: Store, actor: Actor, query: dict[str, str]) -> dict[str, Any]:
    actor.require(Role.VIEWER, "reading the overview")
    today = dt.datetime.now(dt.UTC).date()
    since = (today - dt.timedelta(days=OVERVIEW_DAYS - 1)).isoformat()
    return {
        "nodes": node_states(store, time.time()),
        "lists": lists.listing(store),
        "charts": charts.checks_and_matches(usage.days(store, since=since), since),
        "chart_days": OVERVIEW_DAYS,
        **dict(store.waiting()),
    }


def node_states(store: Store, now: float) -> list[dict[str, Any]]:
    """Each node process that reported within a day: whether it answers, from which catalog
    version against the store's, and how long ago it last knew itself current."""
    version = store.version()
    shown = []
    for status in store.nodes():
        seen = now - _moment(status.seen_at)
        if seen > NODE_FORGOTTEN_S:
            continue
        current = None if status.current_at is None else now - _moment(status.current_at)
        if seen > NODE_SILENT_S:
            state = "silent: no report for a while (stopped, or cut off from the store)"
        elif not status.ready:
            state = "starting"
        elif status.version < version:
            state = "ready, catching up"
        else:
            state = "ready"
        shown.append(
            {
                "status": status,
                "state": state,
                "seen_s": round(seen),
                "current_s": None if current is None else round(current),
                "behind": max(version - status.version, 0),
            }
        )
    return shown


def _moment(iso: str) -> float:
    return dt.datetime.fromisoformat(iso).timestamp()


def proposals(store: Store, actor: Actor, query: dict[str, str]) -> dict[str, Any]:
    return {"proposals": governance.proposals(store, state="open", actor=actor)}


def decisions(store: Store, actor: Actor, query: dict[str, str]) -> dict[str, Any]:
    """Open holds and disputes, each dispute with its item's story beside it."""
    names = {h.list_id: h.name for h in store.lists()}
    held = [disputes.hold_dict(h, names) for h in disputes.holds(store, state="open", actor=actor)]
    found = []
    for record in disputes.listing(store, state="open", actor=actor):
        shown = disputes.dispute_dict(record, names)
        try:
            shown["story"] = items.view(store, store.item(record.entry_id))
        except LookupError:
            shown["story"] = None
        found.append(shown)
    return {"holds": held, "disputes": found}


def batches(store: Store, actor: Actor, query: dict[str, str]) -> dict[str, Any]:
    """The newest batches, names for numbers, shadow ones with their would-be matches."""
    found = admin_batches.listing(store, actor=actor, limit=BATCHES_SHOWN, shadows=True)
    return {"batches": found}


def item_lookup(
    store: Store, actor: Actor, query: dict[str, str], digester: Digester, match_ids: MatchIds
) -> dict[str, Any]:
    """Items by number, match id, pasted hash (keyed here, never kept) or supplier's id."""
    asked = query.get("q", "").strip()
    if not asked:
        return {"q": "", "found": None}
    found = items.find(store, digester, match_ids, asked, actor=actor)
    # The hash asked for is not echoed back into the page (nor into its address bar's
    # history beyond this answer): only the number of what it found.
    return {
        "q": "" if _looks_like_hash(asked) else asked,
        "found": [items.view(store, i) for i in found],
    }


def audit_page(store: Store, actor: Actor, query: dict[str, str]) -> dict[str, Any]:
    filters = _filters(query, ("actor", "action", "since"))
    records = _audit_records(store, actor, filters, AUDIT_SHOWN)
    return {"filters": filters, "records": records, "shown": AUDIT_SHOWN}


def audit_csv(store: Store, actor: Actor, query: dict[str, str]) -> bytes:
    """The filtered trail as CSV (every matching record, newest first)."""
    filters = _filters(query, ("actor", "action", "since"))
    return _csv(
        ("at", "actor", "action", "subject", "detail"),
        (
            (r.at, r.actor, r.action, _safe_cell(r.subject), _safe_cell(r.detail))
            for r in _audit_records(store, actor, filters, 1_000_000)
        ),
    )


def statistics(store: Store, actor: Actor, query: dict[str, str]) -> dict[str, Any]:
    """Checked and matched per day (charts and a table, summed in the database), and the
    newest rows per client, list and day; the CSV export has every row."""
    filters = _filters(query, ("client", "list", "since"))
    actor.require(Role.VIEWER, "reading statistics")
    client, list_name, since = _stat_filter(filters)
    days = usage.days(store, client=client, list_name=list_name, since=since)[-CHART_DAYS:]
    lines = usage.read(store, client=client, list_name=list_name, since=since, newest=STATS_SHOWN)
    return {
        "filters": filters,
        "lines": lines,
        "days": days,
        "charts": charts.checks_and_matches(days),
    }


def statistics_csv(store: Store, actor: Actor, query: dict[str, str]) -> bytes:
    filters = _filters(query, ("client", "list", "since"))
    return _csv(
        ("day", "client", "list", "checked", "matched"),
        (
            (line.day, _safe_cell(line.client), _safe_cell(line.list), line.checked, line.matched)
            for line in _stat_lines(store, actor, filters)
        ),
    )


def _filters(query: dict[str, str], names: tuple[str, ...]) -> dict[str, str]:
    return {name: query.get(name, "").strip() for name in names}


def _audit_records(
    store: Store, actor: Actor, filters: dict[str, str], limit: int
) -> list[AuditRecord]:
    actor.require(Role.VIEWER, "reading the audit trail")
    return audit.read(
        store,
        limit,
        actor=filters["actor"] or None,
        action=filters["action"] or None,
        since=filters["since"] or None,
    )


def _stat_lines(store: Store, actor: Actor, filters: dict[str, str]) -> list[usage.StatLine]:
    actor.require(Role.VIEWER, "reading statistics")
    client, list_name, since = _stat_filter(filters)
    return usage.read(store, client=client, list_name=list_name, since=since)


def _stat_filter(filters: dict[str, str]) -> tuple[str | None, str | None, str | None]:
    """(client, list, since) of a statistics filter; empty fields filter nothing."""
    return filters["client"] or None, filters["list"] or None, filters["since"] or None


def _csv(header: tuple[str, ...], rows: Iterable[tuple[object, ...]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def operators_page(store: Store, actor: Actor, query: dict[str, str]) -> dict[str, Any]:
    actor.require(Role.VIEWER, "reading operator accounts")
    return {"accounts": [accounts.account_dict(a) for a in store.operators()]}


def decide_proposal(store: Store, actor: Actor, key: str, form: dict[str, str]) -> str:
    number = int(key)
    verb = form.get("verdict", "")
    if verb not in ("approve", "reject"):
        raise AdminError("choose approve or reject")
    record = governance.decide(store, number, approve=verb == "approve", actor=actor)
    return f"Proposal {record.proposal_id} {record.state}."


def promote_batch(store: Store, actor: Actor, key: str, form: dict[str, str]) -> str:
    return governance.promote(store, int(key), actor=actor).message


def rollback_batch(store: Store, actor: Actor, key: str, form: dict[str, str]) -> str:
    number = int(key)
    outcome = governance.rollback(store, number, actor=actor)
    return (
        f"Batch {number} rolled back (batch {outcome.batch_id}): {outcome.removed} items "
        "taken off, every node answers it within a second."
    )


def release_hold(store: Store, actor: Actor, key: str, form: dict[str, str]) -> str:
    number = int(key)
    disputes.release(store, number, actor=actor)
    return f"Item {number} released from hold: it answers normally again."


def decide_dispute(store: Store, actor: Actor, key: str, form: dict[str, str]) -> str:
    number = int(key)
    verdict = form.get("verdict", "")
    if verdict not in ("uphold", "reject"):
        raise AdminError("choose uphold or reject")
    record = disputes.resolve(
        store,
        number,
        upheld=verdict == "uphold",
        comment_text=form.get("reason", ""),
        actor=actor,
    )
    if record.state == "upheld":
        return (
            f"Dispute {record.dispute_id} upheld: item {record.entry_id} is off its list with "
            "every hash, and its clients are told."
        )
    return f"Dispute {record.dispute_id} rejected: the match stands."


def submission_queue(store: Store, actor: Actor, query: dict[str, str]) -> dict[str, Any]:
    """Self-submitted cases of one state (received: the review queue), each shown whole."""
    state = query.get("state", "received")
    chosen = None if state == "all" else state
    found = submissions.queue(store, state=chosen, actor=actor)
    return {
        "cases": [submissions.case_dict(store, c) for c in found],
        "state": state,
        "states": (*submissions.STATES, "all"),
    }


def decide_submission(store: Store, actor: Actor, key: str, form: dict[str, str]) -> str:
    verdict = form.get("verdict", "")
    reason = form.get("reason", "")
    if verdict == "activate":
        chosen = [whole_number(v) for k, v in form.items() if k.startswith("leave-")]
        leave_out = [item for item in chosen if item is not None]
        if len(leave_out) != len(chosen):
            raise AdminError("an item to leave out is named by its number")
        record = submissions.activate(store, key, reason=reason, leave_out=leave_out, actor=actor)
        kept = sum(1 for f in record.files if f.item_state == "active")
        return (
            f"Case {record.case_number} activated: {kept} item(s) answer remove to the clients "
            "granted the self-submitted list."
        )
    if verdict == "reject":
        record = submissions.reject(store, key, reason=reason, actor=actor)
        return f"Case {record.case_number} rejected: its items left the list."
    raise AdminError("choose activate or reject")


@dataclass(frozen=True)
class Shown:
    """A form's answer to show at once on the page, never carried in an address."""

    message: str
    secret: str = ""
    client_id: str = ""


def clients(store: Store, actor: Actor, query: dict[str, str]) -> dict[str, Any]:
    """Clients with what they can match, and each one's grants as a lists x categories
    matrix: which cells it has, and which would need a second operator to grant."""
    rules = governance.policy(store)
    all_lists = store.lists()
    categories = store.categories()
    shown = []
    for line in admin_clients.listing(store, actor=actor):
        client = line.client
        granted = {(g.list_id, g.category_id) for g in client.grants}
        shown.append(
            {
                "client": client,
                "reach": line.reach,
                "grants": line.grants,
                "every": [
                    {
                        "category": c,
                        "has": (None, c.category_id) in granted or (None, None) in granted,
                    }
                    for c in categories
                ],
                "matrix": [
                    {
                        "list": h,
                        "cells": [
                            {
                                "category": c,
                                "has": bool(
                                    granted
                                    & {
                                        (h.list_id, c.category_id),
                                        (None, c.category_id),
                                        (h.list_id, None),
                                        (None, None),
                                    }
                                ),
                                "direct": (h.list_id, c.category_id) in granted,
                                "two": rules.needs_two(c.severity),
                            }
                            for c in categories
                        ],
                    }
                    for h in all_lists
                    if not h.known_good
                ],
            }
        )
    deadline = Policy.parse(store.policies()).takedown_deadline_hours
    return {"clients": shown, "categories": categories, "policy_deadline": deadline}


def add_client(store: Store, actor: Actor, key: str, form: dict[str, str]) -> Shown:
    name = form.get("name", "").strip()
    if not name:
        raise AdminError("give the client a name (the hosting provider's)")
    issued = admin_clients.add_client(store, name, actor=actor.name)
    return Shown(
        f"Client {issued.client_id} ({name}) added; it checks the baseline category of every "
        "list. Give it the secret below now: it is shown only once.",
        issued.secret,
        issued.client_id,
    )


def switch_client(store: Store, actor: Actor, key: str, form: dict[str, str]) -> str:
    enabled = form["path"].endswith("/enable")
    store.set_client_enabled(key, enabled, actor=actor.name)
    if enabled:
        return f"Client {key} enabled: its checks are answered again."
    return f"Client {key} disabled: every node refuses its requests within a second."


def rotate_client(store: Store, actor: Actor, key: str, form: dict[str, str]) -> Shown:
    issued = admin_clients.rotate_secret(store, key, actor=actor.name)
    return Shown(
        f"Client {key} has a new secret; the old one stops working within a second. "
        "Give it the new one now: it is shown only once.",
        issued.secret,
        key,
    )


def set_budgets(store: Store, actor: Actor, key: str, form: dict[str, str]) -> str:
    """Both budgets as the form shows them: a number (0: no limit), or blank for the node's."""
    done = admin_clients.set_budgets(
        store,
        key,
        requests_per_second=_budget(form.get("requests_per_second", ""), "requests per second"),
        work_per_second=_budget(form.get("work_per_second", ""), "work per second"),
        actor=actor,
    )
    if not done.changed:
        return f"The budgets of {key} were so already."
    return f"The budgets of {key} are set; every node applies them within a second."


def takedown_page(store: Store, actor: Actor, query: dict[str, str]) -> dict[str, Any]:
    """A month's takedown report (default: this month) as tables and bars; the same as
    `hashcheck report takedown`, which also writes it as a printable HTML file."""
    month = query.get("month") or time.strftime("%Y-%m", time.gmtime())
    publishable = query.get("publishable") == "on"
    try:
        found = takedown.report(store, month, publishable=publishable, actor=actor)
    except AdminError as exc:
        return {"month": month[:7], "report": None, "publishable": publishable, "error": str(exc)}
    rows = [("all clients", found["overall"])]
    clients = [(str(c["client"]), c) for c in found["clients"]]
    return {
        "month": month,
        "publishable": publishable,
        "report": found,
        "figures": takedownhtml.figures_table(rows + clients),
        "bars": takedownhtml.bars(rows + clients),
        "notices": takedownhtml.notices_table(rows + clients),
    }


def notices_page(store: Store, actor: Actor, query: dict[str, str]) -> dict[str, Any]:
    """Notices of one state (default: live), with the clients an operator may issue one to."""
    state = query.get("state") or "live"
    try:
        takedown.notice_states(state)
    except AdminError:
        state = "live"  # an address typed by hand: the default list, not an error page
    found = takedown.notices(store, state=state, actor=actor)
    now = time.time()
    shown = [
        {
            **takedown.notice_dict(n),
            "overdue": n.state in ("open", "acknowledged") and n.deadline_at < now,
        }
        for n in reversed(found)
    ]
    clients = [c.client_id for c in store.clients()]
    return {"notices": shown, "state": state, "clients": clients}


def issue_notice(store: Store, actor: Actor, key: str, form: dict[str, str]) -> str:
    item = whole_number(form.get("item", "").strip(), low=1)
    if item is None:
        raise AdminError("item: the item's number (a whole number)")
    done = takedown.issue_notice(
        store,
        form.get("client_id", ""),
        item,
        url=form.get("url", "").strip() or None,
        actor=actor,
    )
    shown = takedown.notice_dict(done.notice)
    if not done.new:
        return (
            f"{shown['client_id']} has notice {shown['notice_id']} about item {shown['item']} "
            f"already, due {shown['deadline']}: nothing new issued."
        )
    return f"Notice {shown['notice_id']} to {shown['client_id']}: act by {shown['deadline']}."


def withdraw_notice(store: Store, actor: Actor, key: str, form: dict[str, str]) -> str:
    notice = takedown.withdraw_notice(store, int(key), actor=actor)
    return f"Notice {notice.notice_id} to {notice.client_id} withdrawn."


def set_deadline(store: Store, actor: Actor, key: str, form: dict[str, str]) -> str:
    """The client's takedown deadline as the form shows it: hours, or blank for the policy's."""
    text = form.get("hours", "").strip()
    hours = None if not text else whole_number(text)
    if text and hours is None:
        raise AdminError("hours: a whole number of hours, or blank for the policy's")
    done = takedown.set_deadline(store, key, hours, actor=actor)
    whose = "the policy's" if done.agreed is None else "its agreement's"
    if not done.changed:
        return f"The takedown deadline of {key} was so already: {done.hours} hours ({whose})."
    return f"{key} now has {done.hours} hours to act on a hit or notice ({whose})."


def _budget(text: str, what: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    value = whole_number(text)
    if value is None:
        raise AdminError(f"{what}: a whole number (0 for no limit), or blank for the node's")
    return value


def change_grant(store: Store, actor: Actor, key: str, form: dict[str, str]) -> str:
    given = admin_clients.resolve_grant(
        store, form.get("list") or None, form.get("category") or None
    )
    text = describe_grant(store, given)
    if form.get("verb") == "revoke":
        if governance.revoke(store, key, given, actor=actor):
            return f"{key} no longer checks {text}."
        return f"{key} did not check {text}; nothing changed."
    return governance.grant(store, key, given, actor=actor).message


def _looks_like_hash(text: str) -> bool:
    return len(text) in (32, 40, 64) and all(c in "0123456789abcdefABCDEF" for c in text)


def _safe_cell(text: str) -> str:
    # A cell a spreadsheet would run as a formula is quoted (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
