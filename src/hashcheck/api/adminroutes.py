"""The operator HTTP API's routes: each a thin adapter from JSON to the same `admin` functions
the CLI calls, with the role it needs. Runs in a worker thread with its own store connection.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from msgspec import UNSET

from hashcheck.admin import (
    actions,
    batches,
    categories,
    clients,
    disputes,
    governance,
    importing,
    items,
    lists,
    operators,
    reach,
    submissions,
    suppliers,
    takedown,
)
from hashcheck.admin import audit as trail
from hashcheck.admin import stats as usage
from hashcheck.admin.bounds import ImportBounds
from hashcheck.admin.change import Change
from hashcheck.admin.errors import AdminError, UnknownName
from hashcheck.admin.importing import ImportReport, RemovalReport
from hashcheck.admin.names import find_list
from hashcheck.admin.operators import Actor, Role
from hashcheck.admin.stats import StatLine
from hashcheck.api import adminmodels as models
from hashcheck.api import v2models
from hashcheck.api.errors import BadRequest
from hashcheck.catalog.model import Grant
from hashcheck.catalog.numbers import whole_number
from hashcheck.catalog.policy import SETTINGS
from hashcheck.hashes.keyed import Digester
from hashcheck.hashes.matchid import MatchIds
from hashcheck.hashes.sealing import Sealer
from hashcheck.store.interface import Store
from hashcheck.store.records import AuditRecord, ProposalRecord


@dataclass
class Request:
    """One admin call as a route sees it."""

    store: Store
    actor: Actor
    digester: Digester
    sealer: Sealer
    params: tuple[str, ...]  # path parameters, in order
    query: Mapping[str, str]
    body: Any  # the route's body model, decoded (None for GET and uploads)
    upload: Path | None = None  # the request body, saved to a file (imports)
    match_ids: MatchIds | None = None  # to read the match ids clients quote
    bounds: ImportBounds | None = None  # what one import may take (default: the defaults)


# (status, JSON-able document)
Answer = tuple[int, Any]
Handler = Callable[[Request], Answer]


@dataclass(frozen=True)
class Query:
    """A query parameter a route reads; ``choices`` empty: any value."""

    name: str
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    role: Role
    template: str  # e.g. /batches/{batch_id}/rollback (for the OpenAPI document)
    summary: str
    # What it answers: status -> the model of the body (`api.adminmodels`, a record type, or
    # a list of one). An answer of another status or shape is a bug, never sent.
    answers: Mapping[int, Any]
    body: Any = None  # the request body's model; None: no JSON body (GET, uploads)
    upload: bool = False  # the body is a file, not JSON
    # The query parameters it reads; None: the handler checks its own (uploads).
    query: tuple[Query, ...] | None = ()
    # An upload's options, checked before its body is read (up to gigabytes).
    precheck: Callable[[Request], None] | None = None


def check_query(route: Route, query: Mapping[str, str]) -> None:
    """Refuse a parameter the route does not read, or a value it does not know: a misspelt
    `?sinse=` or `?state=opne` would otherwise answer everything, or an empty list that looks
    like "nothing to do"."""
    if route.query is None:
        return
    known = {q.name: q for q in route.query}
    for name, value in query.items():
        if name not in known:
            usable = ", ".join(sorted(known)) or "none"
            raise BadRequest(f"unknown query parameter {name!r} (this route reads: {usable})")
        if known[name].choices and value not in known[name].choices:
            raise BadRequest(f"{name} must be one of {', '.join(known[name].choices)}")


def _flag(mapping: Mapping[str, Any], name: str, default: bool = False) -> bool:
    value = mapping.get(name, default)
    if isinstance(value, bool):
        return value
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no", ""):
        return False
    raise AdminError(f'"{name}" must be true or false')


MOST_ROWS = 100_000


def _limit(r: Request, default: int) -> int:
    """How many rows a listing answers: 1 to `MOST_ROWS` (0 read as one row on one route and
    as all of them on another)."""
    value = whole_number(r.query.get("limit", str(default)), low=1, high=MOST_ROWS)
    if value is None:
        raise AdminError(f"limit must be a whole number from 1 to {MOST_ROWS:,}")
    return value


def _int(text: str, what: str) -> int:
    value = whole_number(text)
    if value is None:
        raise AdminError(f"{what} must be a whole number")
    return value


def _change(change: Change) -> Answer:
    return (200 if change.applied else 202), change.as_dict()


# A change an operator may be asked to approve: 200 applied, 202 waiting as a proposal.
_CHANGED = {200: models.Change, 202: models.Change}


# -- clients -----------------------------------------------------------------------------------
def _reach(r: Request, client_id: str) -> dict[str, Any]:
    """Whether the client can match anything now (can_match, checks_lists, warning)."""
    found = reach.of_client(r.store, client_id)
    return {} if found is None else found.as_dict()


def list_clients(r: Request) -> Answer:
    return 200, [
        {
            "client_id": line.client.client_id,
            "name": line.client.name,
            "enabled": line.client.enabled,
            "grants": list(line.grants),
            "requests_per_second": line.client.requests_per_second,
            "work_per_second": line.client.work_per_second,
            "takedown_deadline_hours": line.client.takedown_deadline_hours,
            **line.reach.as_dict(),
        }
        for line in clients.listing(r.store, actor=r.actor)
    ]


def add_client(r: Request) -> Answer:
    body: models.NewClient = r.body
    issued = clients.add_client(
        r.store,
        body.name.strip(),
        actor=r.actor.name,
        client_id=None if body.client_id is None else body.client_id.strip(),
        # The conservative default grant (baseline of every list) unless told otherwise.
        grants=None if body.default_grant else [],
    )
    return 201, {
        "client_id": issued.client_id,
        "secret": issued.secret,
        **_reach(r, issued.client_id),
    }


def _client_state(enabled: bool) -> Handler:
    def handler(r: Request) -> Answer:
        r.store.set_client_enabled(r.params[0], enabled, actor=r.actor.name)
        return 200, {"client_id": r.params[0], "enabled": enabled, **_reach(r, r.params[0])}

    return handler


def rotate_client(r: Request) -> Answer:
    issued = clients.rotate_secret(r.store, r.params[0], actor=r.actor.name)
    return 200, {"client_id": issued.client_id, "secret": issued.secret}


def set_budgets(r: Request) -> Answer:
    body: models.Budgets = r.body
    keep = clients.KEEP
    return 200, clients.set_budgets(
        r.store,
        r.params[0],
        requests_per_second=keep if body.requests_per_second is UNSET else body.requests_per_second,
        work_per_second=keep if body.work_per_second is UNSET else body.work_per_second,
        actor=r.actor,
    ).as_dict()


def _grant_of(r: Request) -> Grant:
    body: models.GrantBody = r.body
    return clients.resolve_grant(r.store, body.list_name, body.category)


def grant(r: Request) -> Answer:
    status, document = _change(governance.grant(r.store, r.params[0], _grant_of(r), actor=r.actor))
    return status, {**document, **_reach(r, r.params[0])}


def revoke(r: Request) -> Answer:
    existed = governance.revoke(r.store, r.params[0], _grant_of(r), actor=r.actor)
    return 200, {"revoked": existed, **_reach(r, r.params[0])}


# -- lists, categories, imports ------------------------------------------------------------------
def list_lists(r: Request) -> Answer:
    return 200, lists.listing(r.store)


def add_list(r: Request) -> Answer:
    body: models.NewList = r.body
    created = r.store.add_list(
        body.name.strip(),
        body.supplier.strip(),
        body.description.strip(),
        actor=r.actor.name,
        known_good=body.known_good,
    )
    return 201, {"name": created.name, "supplier": created.supplier}


def enable_list(r: Request) -> Answer:
    return _change(governance.enable_list(r.store, r.params[0], actor=r.actor))


def _disabled(r: Request, changed: bool) -> Answer:
    """A list or category switched off, and which enabled clients can match nothing now."""
    return 200, {"changed": changed, "clients_matching_nothing": reach.stranded(r.store)}


def disable_list(r: Request) -> Answer:
    return _disabled(r, governance.disable_list(r.store, r.params[0], actor=r.actor))


def list_categories(r: Request) -> Answer:
    return 200, categories.listing(r.store, actor=r.actor)


def enable_category(r: Request) -> Answer:
    return _change(governance.enable_category(r.store, r.params[0], actor=r.actor))


def set_pdq_threshold(r: Request) -> Answer:
    body: models.Threshold = r.body
    return _change(governance.set_pdq_threshold(r.store, r.params[0], body.value, actor=r.actor))


def list_collisions(r: Request) -> Answer:
    limit = _limit(r, 1000)
    return 200, [
        {
            "list": c.list_name,
            "category": c.category,
            "item": c.item_id,
            "batch": c.batch_id,
            "known_good_list": c.known_good_list,
        }
        for c in r.store.known_good_collisions(max(limit, 1))
    ]


def show_supplier_map(r: Request) -> Answer:
    return 200, [
        {"value": value, "category": category}
        for value, category in suppliers.show(r.store, r.params[0])
    ]


def map_supplier_value(r: Request) -> Answer:
    body: models.SupplierCategory = r.body
    category = body.category.strip()
    changed = suppliers.map_value(r.store, r.params[0], r.params[1], category, actor=r.actor.name)
    return 200, {
        "supplier": r.params[0],
        "value": r.params[1],
        "category": category,
        "changed": changed,
    }


def unmap_supplier_value(r: Request) -> Answer:
    if not suppliers.unmap_value(r.store, r.params[0], r.params[1], actor=r.actor.name):
        raise UnknownName(f"{r.params[0]}: {r.params[1]} is not mapped")
    return 200, {"supplier": r.params[0], "value": r.params[1], "changed": True}


def disable_category(r: Request) -> Answer:
    return _disabled(r, governance.disable_category(r.store, r.params[0], actor=r.actor))


IMPORT_OPTIONS = {
    "format",
    "category",
    "category_column",
    "column",
    "map",
    "shadow",
    "skip_invalid",
    "replace",
    "confirm_removals",
    "dry_run",
}
REMOVAL_OPTIONS = {"format", "skip_invalid"}


def _listed(r: Request, name: str) -> list[str]:
    """A query option holding comma-separated KEY=VALUE pairs (the CLI's repeated option)."""
    text = r.query.get(name, "")
    return [part for part in text.split(",") if part.strip()]


_IMPORT_FLAGS = ("shadow", "skip_invalid", "replace", "confirm_removals", "dry_run")


def import_options(r: Request) -> None:
    """Everything about an import that can be refused without its file: the options, the
    format, the list, the category and how they go together."""
    unknown = set(r.query) - IMPORT_OPTIONS
    if unknown:
        raise AdminError(
            f"unknown import option {sorted(unknown)[0]!r}; use {', '.join(sorted(IMPORT_OPTIONS))}"
        )
    for flag in _IMPORT_FLAGS:
        _flag(r.query, flag)
    importing.column_map("column", _listed(r, "column"))
    importing.check_options(
        r.store,
        r.params[0],
        fmt=r.query.get("format", "auto"),
        category=r.query.get("category") or None,
        category_column=r.query.get("category_column") or None,
        category_map=importing.category_map("map", _listed(r, "map")),
    )


def removal_options(r: Request) -> None:
    unknown = set(r.query) - REMOVAL_OPTIONS
    if unknown:
        raise AdminError(
            f"unknown removal option {sorted(unknown)[0]!r}; use {', '.join(sorted(REMOVAL_OPTIONS))}"
        )
    _flag(r.query, "skip_invalid")
    if r.query.get("format", "auto") not in importing.REMOVAL_FORMATS:
        raise AdminError(
            f"unknown format {r.query['format']!r}; use one of "
            f"{', '.join(importing.REMOVAL_FORMATS)}"
        )
    find_list(r.store, r.params[0])


def import_upload(r: Request) -> Answer:
    import_options(r)
    assert r.upload is not None
    report = importing.import_file(
        r.store,
        r.digester,
        r.params[0],
        r.upload,
        actor=r.actor.name,
        fmt=r.query.get("format", "auto"),
        category=r.query.get("category"),
        columns=importing.column_map("column", _listed(r, "column")),
        category_column=r.query.get("category_column"),
        category_map=importing.category_map("map", _listed(r, "map")),
        skip_invalid=_flag(r.query, "skip_invalid"),
        shadow=_flag(r.query, "shadow"),
        sealer=r.sealer,
        replace=_flag(r.query, "replace"),
        confirm_removals=_flag(r.query, "confirm_removals"),
        dry_run=_flag(r.query, "dry_run"),
        bounds=r.bounds,
    )
    document = report.as_dict()
    document["source"] = "upload"  # the temporary file's path means nothing to the caller
    return (200 if report.dry_run else 201), document


def remove_upload(r: Request) -> Answer:
    removal_options(r)
    assert r.upload is not None
    report = importing.remove_file(
        r.store,
        r.digester,
        r.params[0],
        r.upload,
        actor=r.actor.name,
        fmt=r.query.get("format", "auto"),
        skip_invalid=_flag(r.query, "skip_invalid"),
        bounds=r.bounds,
    )
    document = report.as_dict()
    document["source"] = "upload"
    return 200, document


# -- batches, holds, disputes, proposals ---------------------------------------------------------
def list_batches(r: Request) -> Answer:
    limit = _limit(r, 100)
    found = batches.listing(r.store, actor=r.actor, list_name=r.query.get("list"), limit=limit)
    return 200, [line.as_dict() for line in found]


def show_batch(r: Request) -> Answer:
    return 200, batches.show(r.store, _int(r.params[0], "batch id"), actor=r.actor).as_dict()


def rollback_batch(r: Request) -> Answer:
    outcome = governance.rollback(r.store, _int(r.params[0], "batch id"), actor=r.actor)
    return 200, {"rollback_batch": outcome.batch_id, "removed": outcome.removed}


def promote_batch(r: Request) -> Answer:
    return _change(governance.promote(r.store, _int(r.params[0], "batch id"), actor=r.actor))


def list_holds(r: Request) -> Answer:
    found = disputes.holds(r.store, state=r.query.get("state"), actor=r.actor)
    names = _names(r.store)
    return 200, [disputes.hold_dict(h, names) for h in found]


def release_hold(r: Request) -> Answer:
    item = _int(r.params[0], "item id")
    disputes.release(r.store, item, actor=r.actor)
    return 200, {"item": item, "state": "released"}


def _names(store: Store) -> dict[int, str]:
    return {item.list_id: item.name for item in store.lists()}


def list_disputes(r: Request) -> Answer:
    found = disputes.listing(r.store, state=r.query.get("state"), actor=r.actor)
    names = _names(r.store)
    return 200, [disputes.dispute_dict(d, names) for d in found]


def issue_notice(r: Request) -> Answer:
    body: models.NoticeBody = r.body
    done = takedown.issue_notice(r.store, body.client_id, body.item, url=body.url, actor=r.actor)
    return (201 if done.new else 200), {**takedown.notice_dict(done.notice), "new": done.new}


def list_notices(r: Request) -> Answer:
    found = takedown.notices(
        r.store,
        client_id=r.query.get("client"),
        state=r.query.get("state") or "live",
        actor=r.actor,
    )
    return 200, [takedown.notice_dict(n) for n in found]


def withdraw_notice(r: Request) -> Answer:
    notice = takedown.withdraw_notice(r.store, int(r.params[0]), actor=r.actor)
    return 200, takedown.notice_dict(notice)


def takedown_report(r: Request) -> Answer:
    month = r.query.get("month")
    if not month:
        raise AdminError("give the month: ?month=YYYY-MM")
    publishable = r.query.get("publishable") == "true"
    with_names = r.query.get("with_names") == "true"
    if with_names and not publishable:
        raise AdminError("with_names goes with publishable=true")
    return 200, takedown.report(
        r.store,
        month,
        client_id=r.query.get("client"),
        publishable=publishable,
        with_names=with_names,
        actor=r.actor,
    )


def find_items(r: Request) -> Answer:
    query = r.query.get("q", "")
    found = items.find(
        r.store, r.digester, r.match_ids, query, actor=r.actor, list_name=r.query.get("list")
    )
    return 200, {"items": [items.view(r.store, item) for item in found]}


def show_dispute(r: Request) -> Answer:
    return 200, disputes.dispute_dict(
        r.store.dispute(_int(r.params[0], "dispute id")), _names(r.store)
    )


def comment_dispute(r: Request) -> Answer:
    body: models.Comment = r.body
    dispute_id = _int(r.params[0], "dispute id")
    record = disputes.comment(r.store, dispute_id, body.text.strip(), actor=r.actor)
    return 200, disputes.dispute_dict(record, _names(r.store))


def _decide_dispute(upheld: bool) -> Handler:
    def handler(r: Request) -> Answer:
        body: models.Decision = r.body
        record = disputes.resolve(
            r.store,
            _int(r.params[0], "dispute id"),
            upheld=upheld,
            comment_text=body.reason.strip(),
            actor=r.actor,
        )
        return 200, disputes.dispute_dict(record, _names(r.store))

    return handler


def list_cases(r: Request) -> Answer:
    found = submissions.queue(r.store, state=r.query.get("state", "received"), actor=r.actor)
    return 200, [submissions.case_dict(r.store, c) for c in found]


def show_case(r: Request) -> Answer:
    return 200, submissions.case_dict(
        r.store, submissions.show(r.store, r.params[0], actor=r.actor)
    )


def _decide_case(activate: bool) -> Handler:
    def handler(r: Request) -> Answer:
        body: models.CaseDecision = r.body
        if activate:
            record = submissions.activate(
                r.store, r.params[0], reason=body.reason, leave_out=body.leave_out, actor=r.actor
            )
        else:
            if body.leave_out:
                raise AdminError("leave_out is for activation; a rejection lets every file go")
            record = submissions.reject(r.store, r.params[0], reason=body.reason, actor=r.actor)
        return 200, submissions.case_dict(r.store, record)

    return handler


def set_client_deadline(r: Request) -> Answer:
    body: models.Deadline = r.body
    return 200, takedown.set_deadline(r.store, r.params[0], body.hours, actor=r.actor).as_dict()


def list_client_publicly(r: Request) -> Answer:
    body: models.PublicName = r.body
    client_id = r.params[0]
    changed = submissions.list_publicly(r.store, client_id, body.name, actor=r.actor)
    listed = next(c for c in r.store.clients() if c.client_id == client_id)
    return 200, {"client_id": client_id, "public_name": listed.public_name, "changed": changed}


def list_proposals(r: Request) -> Answer:
    found = governance.proposals(r.store, state=r.query.get("state"), actor=r.actor)
    return 200, found


def _decide_proposal(approve: bool) -> Handler:
    def handler(r: Request) -> Answer:
        record = governance.decide(
            r.store, _int(r.params[0], "proposal id"), approve=approve, actor=r.actor
        )
        return 200, record

    return handler


# -- policy, audit, statistics, operators --------------------------------------------------------
def show_policy(r: Request) -> Answer:
    stored = r.store.policies()
    return 200, [
        {
            "name": s.name,
            "value": stored.get(s.name, s.default),
            "default": s.default,
            "help": s.help,
        }
        for s in SETTINGS
    ]


def set_policy(r: Request) -> Answer:
    body: models.PolicyValue = r.body
    return _change(governance.set_policy(r.store, r.params[0], body.value.strip(), actor=r.actor))


def audit(r: Request) -> Answer:
    limit = _limit(r, 100)
    records = trail.read(
        r.store,
        max(limit, 1),
        actor=r.query.get("actor"),
        action=r.query.get("action"),
        since=r.query.get("since"),
    )
    return 200, records


def stats(r: Request) -> Answer:
    lines = usage.read(
        r.store,
        client=r.query.get("client"),
        list_name=r.query.get("list"),
        since=r.query.get("since"),
    )
    return 200, lines


def whoami(r: Request) -> Answer:
    return 200, {"name": r.actor.name, "role": r.actor.role.label}


def list_operators(r: Request) -> Answer:
    return 200, [operators.account_dict(o) for o in r.store.operators()]


def add_operator(r: Request) -> Answer:
    body: models.NewOperator = r.body
    name = body.name.strip()
    made = operators.add(r.store, name, Role.parse(body.role), actor=r.actor)
    return (201 if made.change.applied else 202), {
        "name": name,
        "role": made.role.label,
        "secret": made.secret,
        **made.change.as_dict(),
    }


def _operator_state(enabled: bool) -> Handler:
    def handler(r: Request) -> Answer:
        return _change(operators.set_enabled(r.store, r.params[0], enabled, actor=r.actor))

    return handler


def set_operator_role(r: Request) -> Answer:
    body: models.RoleBody = r.body
    return _change(operators.set_role(r.store, r.params[0], Role.parse(body.role), actor=r.actor))


def rotate_operator(r: Request) -> Answer:
    secret = operators.rotate(r.store, r.params[0], actor=r.actor)
    return 200, {"name": r.params[0], "secret": secret}


NUMERIC_PARAMETERS = {"batch_id", "dispute_id", "proposal_id", "item_id", "notice_id"}


def _route(
    method: str,
    template: str,
    handler: Handler,
    summary: str,
    answers: Mapping[int, Any],
    *,
    body: Any = models.NoBody,
    upload: bool = False,
    query: tuple[Query, ...] = (),
    precheck: Callable[[Request], None] | None = None,
) -> Route:
    """A route from a path template: `{batch_id}` and the like match digits, other
    `{name}` parameters any single path segment. Its role is its action's (`admin.actions`)."""
    role = actions.by_route(method, template)[1].role

    def group(found: re.Match[str]) -> str:
        return r"(\d{1,18})" if found.group(1) in NUMERIC_PARAMETERS else r"([^/]{1,600})"

    pattern = re.compile("^/admin/v1" + re.sub(r"\{(\w+)\}", group, template) + "$")
    return Route(
        method,
        pattern,
        handler,
        role,
        template,
        summary,
        answers,
        None if method == "GET" or upload else body,
        upload,
        None if upload else query,
        precheck,
    )


def _state(*choices: str) -> tuple[Query, ...]:
    return (Query("state", choices),)


ROUTES: tuple[Route, ...] = (
    _route("GET", "/whoami", whoami, "The calling operator and role", {200: models.Whoami}),
    _route(
        "GET", "/clients", list_clients, "Clients, status and grants", {200: list[models.Client]}
    ),
    _route(
        "POST",
        "/clients",
        add_client,
        "Add a client; its secret is shown once",
        {201: models.IssuedClient},
        body=models.NewClient,
    ),
    _route(
        "POST",
        "/clients/{client_id}/disable",
        _client_state(False),
        "Refuse a client's requests",
        {200: models.ClientState},
    ),
    _route(
        "POST",
        "/clients/{client_id}/enable",
        _client_state(True),
        "Accept a disabled client again",
        {200: models.ClientState},
    ),
    _route(
        "POST",
        "/clients/{client_id}/rotate",
        rotate_client,
        "New client secret",
        {200: models.ClientSecret},
    ),
    _route(
        "POST",
        "/clients/{client_id}/grants",
        grant,
        "Grant a list x category (202 + proposal under the two-person rule)",
        {200: models.GrantChange, 202: models.GrantChange},
        body=models.GrantBody,
    ),
    _route(
        "POST",
        "/clients/{client_id}/revoke",
        revoke,
        "Take a grant away",
        {200: models.Revoked},
        body=models.GrantBody,
    ),
    _route(
        "PUT",
        "/clients/{client_id}/budgets",
        set_budgets,
        "Set a client's own budgets on every node (null: the node's settings; left out: kept)",
        {200: models.ClientBudgets},
        body=models.Budgets,
    ),
    _route("GET", "/lists", list_lists, "Lists with entry counts", {200: list[models.HashList]}),
    _route(
        "POST",
        "/lists",
        add_list,
        "Create a list",
        {201: models.NewListAnswer},
        body=models.NewList,
    ),
    _route(
        "POST",
        "/lists/{list}/enable",
        enable_list,
        "Let a disabled list match (202 + proposal under the two-person rule)",
        _CHANGED,
    ),
    _route(
        "POST",
        "/lists/{list}/disable",
        disable_list,
        "Stop a list matching",
        {200: models.Disabled},
    ),
    _route(
        "PUT",
        "/lists/{list}/pdq-threshold",
        set_pdq_threshold,
        "Set a list's PDQ threshold, 0-31 (widening it: 202 + proposal under the two-person rule)",
        _CHANGED,
        body=models.Threshold,
    ),
    _route(
        "GET",
        "/collisions",
        list_collisions,
        "Hashes that never match because a known-good list has them too",
        {200: list[models.Collision]},
        query=(Query("limit"),),
    ),
    _route(
        "GET",
        "/suppliers/{supplier}/map",
        show_supplier_map,
        "A supplier's map",
        {200: list[models.SupplierValue]},
    ),
    _route(
        "PUT",
        "/suppliers/{supplier}/map/{value}",
        map_supplier_value,
        "Map a supplier's value onto a category (or not-imported)",
        {200: models.Mapped},
        body=models.SupplierCategory,
    ),
    _route(
        "DELETE",
        "/suppliers/{supplier}/map/{value}",
        unmap_supplier_value,
        "Forget a supplier value (404 if it was not mapped)",
        {200: models.Unmapped},
    ),
    _route(
        "POST",
        "/lists/{list}/imports",
        import_upload,
        "Import the uploaded file (atomic); options in the query (dry_run=true: 200, what it "
        "would do, nothing changed)",
        {200: ImportReport, 201: ImportReport},
        upload=True,
        precheck=import_options,
    ),
    _route(
        "POST",
        "/lists/{list}/removals",
        remove_upload,
        "Remove the hashes in the uploaded file from the list (atomic)",
        {200: RemovalReport},
        upload=True,
        precheck=removal_options,
    ),
    _route(
        "GET",
        "/categories",
        list_categories,
        "Categories, severity, status",
        {200: list[models.Category]},
    ),
    _route(
        "POST",
        "/categories/{category}/enable",
        enable_category,
        "Let a category match (202 + proposal under the two-person rule)",
        _CHANGED,
    ),
    _route(
        "POST",
        "/categories/{category}/disable",
        disable_category,
        "Stop a category matching",
        {200: models.Disabled},
    ),
    _route(
        "GET",
        "/batches",
        list_batches,
        "Batches, newest first",
        {200: list[models.Batch]},
        query=(Query("list"), Query("limit")),
    ),
    _route(
        "GET",
        "/batches/{batch_id}",
        show_batch,
        "One batch with its shadow would-be matches",
        {200: models.BatchShown},
    ),
    _route(
        "POST",
        "/batches/{batch_id}/rollback",
        rollback_batch,
        "Remove what an import added",
        {200: models.RolledBack},
    ),
    _route(
        "POST",
        "/batches/{batch_id}/promote",
        promote_batch,
        "Let a shadow batch answer (202 + proposal under the two-person rule)",
        _CHANGED,
    ),
    _route(
        "GET",
        "/holds",
        list_holds,
        "Entries on hold (prevalence alarm)",
        {200: list[models.Hold]},
        query=_state("open", "released"),
    ),
    _route(
        "POST", "/holds/{item_id}/release", release_hold, "Release a hold", {200: models.Released}
    ),
    _route(
        "GET",
        "/disputes",
        list_disputes,
        "Disputes, newest first",
        {200: list[models.Dispute]},
        query=_state("open", "upheld", "rejected"),
    ),
    _route(
        "GET",
        "/reports/takedown",
        takedown_report,
        "A month's hits and how fast clients acted on them, per client and overall",
        {200: v2models.TakedownReport},
        query=(
            Query("month"),
            Query("client"),
            Query("publishable", ("true", "false")),
            Query("with_names", ("true", "false")),
        ),
    ),
    _route(
        "POST",
        "/notices",
        issue_notice,
        "Tell a client to act on an item by its deadline (its live notice, if it has one)",
        {201: models.IssuedNotice, 200: models.IssuedNotice},
        body=models.NoticeBody,
    ),
    _route(
        "GET",
        "/notices",
        list_notices,
        "Notices, oldest first (default: live, i.e. open and acknowledged)",
        {200: list[models.Notice]},
        query=(
            Query("client"),
            Query("state", ("live", "open", "acknowledged", "removed", "withdrawn", "all")),
        ),
    ),
    _route(
        "POST",
        "/notices/{notice_id}/withdraw",
        withdraw_notice,
        "Take a live notice back",
        {200: models.Notice},
    ),
    _route(
        "GET",
        "/submissions",
        list_cases,
        "Self-submitted cases, oldest first (received: the review queue)",
        {200: list[models.Case]},
        query=_state("received", "active", "rejected", "withdrawn"),
    ),
    _route(
        "GET",
        "/submissions/{case}",
        show_case,
        "One case: its files, their items, duplicates across cases, the screen's findings",
        {200: models.Case},
    ),
    _route(
        "POST",
        "/submissions/{case}/activate",
        _decide_case(True),
        "Activate a received case: its items answer remove (but those left out)",
        {200: models.Case},
        body=models.CaseDecision,
    ),
    _route(
        "POST",
        "/submissions/{case}/reject",
        _decide_case(False),
        "Reject a case: items no other live case holds leave the list",
        {200: models.Case},
        body=models.CaseDecision,
    ),
    _route(
        "PUT",
        "/clients/{client_id}/takedown-deadline",
        set_client_deadline,
        "The hours a client has to act on a hit or notice (null: the policy's); audited",
        {200: models.ClientDeadline},
        body=models.Deadline,
    ),
    _route(
        "PUT",
        "/clients/{client_id}/public-name",
        list_client_publicly,
        "List the client as a participating platform (or, with null, no longer)",
        {200: models.Listed},
        body=models.PublicName,
    ),
    _route(
        "GET",
        "/items",
        find_items,
        "Items by number, match id, hash (keyed, never stored) or supplier id, with history",
        {200: models.Items},
        query=(Query("q"), Query("list")),
    ),
    _route(
        "GET",
        "/disputes/{dispute_id}",
        show_dispute,
        "One dispute with its notes",
        {200: models.Dispute},
    ),
    _route(
        "POST",
        "/disputes/{dispute_id}/comments",
        comment_dispute,
        "Add a note",
        {200: models.Dispute},
        body=models.Comment,
    ),
    _route(
        "POST",
        "/disputes/{dispute_id}/uphold",
        _decide_dispute(True),
        "The match was wrong: retract the entry",
        {200: models.Dispute},
        body=models.Decision,
    ),
    _route(
        "POST",
        "/disputes/{dispute_id}/reject",
        _decide_dispute(False),
        "The match stands",
        {200: models.Dispute},
        body=models.Decision,
    ),
    _route(
        "GET",
        "/proposals",
        list_proposals,
        "Proposals, newest first",
        {200: list[ProposalRecord]},
        query=_state("open", "approved", "rejected"),
    ),
    _route(
        "POST",
        "/proposals/{proposal_id}/approve",
        _decide_proposal(True),
        "Approve and carry out (never your own)",
        {200: ProposalRecord},
    ),
    _route(
        "POST",
        "/proposals/{proposal_id}/reject",
        _decide_proposal(False),
        "Turn a proposal down",
        {200: ProposalRecord},
    ),
    _route("GET", "/policy", show_policy, "The governance policy", {200: list[models.Setting]}),
    _route(
        "PUT",
        "/policy/{name}",
        set_policy,
        "Change one policy value (202 + proposal when it loosens the two-person rule)",
        _CHANGED,
        body=models.PolicyValue,
    ),
    _route(
        "GET",
        "/audit",
        audit,
        "The audit trail, newest first",
        {200: list[AuditRecord]},
        query=(Query("actor"), Query("action"), Query("since"), Query("limit")),
    ),
    _route(
        "GET",
        "/stats",
        stats,
        "Checked and matched per day, client and list",
        {200: list[StatLine]},
        query=(Query("client"), Query("list"), Query("since")),
    ),
    _route("GET", "/operators", list_operators, "Operator accounts", {200: list[models.Operator]}),
    _route(
        "POST",
        "/operators",
        add_operator,
        "Add an operator; secret shown once (202: disabled until a second approver enables it)",
        {201: models.NewOperatorAnswer, 202: models.NewOperatorAnswer},
        body=models.NewOperator,
    ),
    _route(
        "POST",
        "/operators/{name}/disable",
        _operator_state(False),
        "Lock an operator account out (immediate)",
        _CHANGED,
    ),
    _route(
        "POST",
        "/operators/{name}/enable",
        _operator_state(True),
        "Let a disabled account act again (202 + proposal under the two-person rule)",
        _CHANGED,
    ),
    _route(
        "PUT",
        "/operators/{name}/role",
        set_operator_role,
        "Change an account's role (raising it: 202 + proposal under the two-person rule)",
        _CHANGED,
        body=models.RoleBody,
    ),
    _route(
        "POST",
        "/operators/{name}/rotate",
        rotate_operator,
        "Issue a new admin API secret (another account's: approver only)",
        {200: models.OperatorSecret},
    ),
)


def match(method: str, path: str) -> tuple[Route, tuple[str, ...]] | str | None:
    """The route and its parameters; the allowed method (a string) when only the method is
    wrong; None when no route has this path."""
    allowed: list[str] = []
    for route in ROUTES:
        found = route.pattern.match(path)
        if found is None:
            continue
        if route.method == method or (method == "HEAD" and route.method == "GET"):
            # Matched on the raw path; a name's percent-escapes are decoded here.
            return route, tuple(unquote(part, errors="replace") for part in found.groups())
        allowed.append(route.method)
    return ", ".join(sorted(set(allowed))) if allowed else None
