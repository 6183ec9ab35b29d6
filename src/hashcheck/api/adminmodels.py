"""The operator API's bodies, declared once: requests are decoded into these models, every
answer is converted to its route's declared model before it is sent (an answer that does not
fit is a bug, never sent), and /admin/v1/openapi.json's schemas are generated from them.

Owns shapes only: what a value means and whether it is allowed is `admin`'s. Records the
service returns as they are (audit lines, proposals, statistics, import reports) are their own
models; the rest are declared here.
"""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import UNSET, Meta, Struct, UnsetType, field

from hashcheck.admin.clients import MOST_REQUESTS_PER_SECOND, MOST_WORK_PER_SECOND
from hashcheck.api.v2models import one_of
from hashcheck.catalog.policy import MAX_DEADLINE_HOURS

# A name or text that is not blank (surrounding blanks are dropped by the route).
Text = Annotated[str, Meta(pattern=r"\S")]
RoleName = Annotated[str, one_of("viewer", "operator", "approver")]  # in answers
RoleChoice = Literal["viewer", "operator", "approver"]  # in requests: checked on decoding


class Request(Struct, kw_only=True, forbid_unknown_fields=True):
    """A request body: a field the route does not read is refused, not ignored (a misspelt
    option would otherwise do the default silently)."""


class NoBody(Request):
    """Routes that read no body accept none, or an empty object."""


class NewClient(Request):
    name: Text
    client_id: Annotated[Text, Meta(description="chosen id; one is made up if absent")] | None = (
        None
    )
    default_grant: Annotated[
        bool, Meta(description="false: no grant (the baseline of every list otherwise)")
    ] = True


class GrantBody(Request):
    list_name: Annotated[str | None, Meta(description="a list, or null for every list")] = field(
        name="list"
    )
    category: Annotated[str | None, Meta(description="a category, or null for every one")]


class NewList(Request):
    name: Text
    supplier: Text
    description: str = ""
    known_good: bool = False


class Threshold(Request):
    value: Annotated[int, Meta(ge=0, le=31)]


class SupplierCategory(Request):
    category: Annotated[Text, Meta(description="a category, or not-imported")]


class Comment(Request):
    text: Text


class Decision(Request):
    reason: Annotated[Text, Meta(description="why: shown to the client with the decision")]


class CaseDecision(Request):
    reason: Annotated[str, Meta(max_length=2000, description="why (kept with the case)")] = ""
    leave_out: Annotated[
        list[Annotated[int, Meta(ge=1)]],
        Meta(max_length=100, description="activation only: items of the case to let go"),
    ] = []


class PublicName(Request):
    name: Annotated[
        str | None,
        Meta(description="the name the client agreed to be listed under; null: not listed"),
    ]


class Deadline(Request):
    hours: Annotated[int, Meta(ge=1, le=MAX_DEADLINE_HOURS, description="the hours to act")] | None


class PolicyValue(Request):
    value: Text


class NewOperator(Request):
    name: Text
    role: RoleChoice


class RoleBody(Request):
    role: RoleChoice


class Answer(Struct, kw_only=True, forbid_unknown_fields=True):
    """An answer: a field the model does not declare is a bug, refused before it is sent."""


class Whoami(Answer):
    name: str
    role: RoleName


class Reach(Answer):
    """Whether a client can match anything now: every answer about a client carries it, since a
    client that can match nothing gets `false` for every check, which looks like "clean"."""

    can_match: Annotated[
        bool,
        Meta(
            description="false: no grant reaches an enabled list and category, so every check "
            "this client sends answers false"
        ),
    ]
    checks_lists: Annotated[list[str], Meta(description="the lists its checks are answered from")]
    warning: Annotated[str | None, Meta(description="why it can match nothing")]


RequestsPerSecond = (
    Annotated[
        int,
        Meta(
            ge=0,
            le=MOST_REQUESTS_PER_SECOND,
            description="requests per second on each node; 0: no limit; null: the node's setting",
        ),
    ]
    | None
)
WorkPerSecond = (
    Annotated[
        int,
        Meta(
            ge=0,
            le=MOST_WORK_PER_SECOND,
            description="exact-hash lookups per second on each node (a PDQ hash or video frame "
            "costs 1,000); 0: no limit; null: the node's setting",
        ),
    ]
    | None
)


class Client(Reach):
    client_id: str
    name: str
    enabled: bool
    grants: list[str]
    requests_per_second: RequestsPerSecond
    work_per_second: WorkPerSecond
    takedown_deadline_hours: Annotated[
        int | None, Meta(description="its agreement's hours to act on a hit; null: the policy's")
    ]


class Budgets(Request):
    """Either budget left out stays as it is."""

    requests_per_second: RequestsPerSecond | UnsetType = UNSET
    work_per_second: WorkPerSecond | UnsetType = UNSET


class ClientBudgets(Answer):
    client_id: str
    requests_per_second: RequestsPerSecond
    work_per_second: WorkPerSecond
    changed: Annotated[bool, Meta(description="false: they were so already")]


class IssuedClient(Reach):
    client_id: str
    secret: Annotated[str, Meta(description="shown this once")]


class ClientState(Reach):
    client_id: str
    enabled: bool


class ClientSecret(Answer):
    client_id: str
    secret: Annotated[str, Meta(description="shown this once")]


class Change(Answer):
    """A change carried out (applied), or the proposal that waits for a second operator."""

    applied: bool
    message: str
    proposal: Annotated[int | None, Meta(description="the proposal waiting, if not applied")]


class GrantChange(Change):
    """A grant made or proposed; the client's reach when the client exists already."""

    can_match: bool | UnsetType = UNSET
    checks_lists: list[str] | UnsetType = UNSET
    warning: str | UnsetType | None = UNSET


class Revoked(Reach):
    revoked: Annotated[bool, Meta(description="false: there was no such grant")]


class HashList(Answer):
    name: str
    kind: Annotated[str, one_of("hashes", "known-good")]
    supplier: str
    enabled: bool
    entries: int
    pdq_threshold: int
    description: str
    known_good: bool


class NewListAnswer(Answer):
    name: str
    supplier: str


class Disabled(Answer):
    changed: Annotated[bool, Meta(description="false: it was off already")]
    clients_matching_nothing: Annotated[
        list[str], Meta(description="enabled clients that can match nothing now")
    ]


class Category(Answer):
    name: str
    severity: Annotated[str, one_of("severe", "sensitive", "informational")]
    enabled: bool
    two_person: Annotated[bool, Meta(description="enabling it needs a second operator")]
    description: str


class Collision(Answer):
    list_name: str = field(name="list")
    category: str
    item: int
    batch: int
    known_good_list: str


class SupplierValue(Answer):
    value: str
    category: str


class Mapped(Answer):
    supplier: str
    value: str
    category: str
    changed: bool


class Unmapped(Answer):
    supplier: str
    value: str
    changed: bool


class Batch(Answer):
    batch_id: int
    list_id: int
    kind: Annotated[str, one_of("import", "removal", "rollback", "retraction")]
    source: str
    actor: str
    committed_at: str
    added: int
    unchanged: int
    live: Annotated[int, Meta(description="entries (hashes) of this batch still on the list")]
    state: Annotated[str, one_of("shadow", "active", "rolled-back")]
    shadow: bool
    category_ids: list[int]
    changed: int
    removed: int
    list_name: str = field(name="list")
    categories: list[str]


class BatchShown(Batch):
    """A batch with its shadow would-be matches, per client and in all."""

    batch: int
    would_be_matches: int
    clients: int
    per_client: dict[str, int]


class RolledBack(Answer):
    rollback_batch: int
    removed: int


class Hold(Answer):
    item: int
    list_name: str = field(name="list")
    list_id: int
    state: Annotated[str, one_of("open", "released")]
    clients: Annotated[int, Meta(description="distinct clients that matched it when placed")]
    since: str
    decided_by: str | None
    reason: str


class CaseFile(Answer):
    file: Annotated[int, Meta(description="position of the file in the submission, from 0")]
    item: Annotated[int | None, Meta(description="the item it became; null: nothing stored")]
    hashes: list[str]
    item_state: Annotated[str, one_of("held", "active", "removed", "none")]
    left_out: bool
    other_cases: Annotated[int, Meta(description="other live cases holding the same item")]
    matched_clients: Annotated[int, Meta(description="clients answered a match on the item")]
    flags: list[str]


class Case(Answer):
    case: str
    state: Annotated[str, one_of("received", "active", "rejected", "withdrawn")]
    received: Annotated[str, Meta(description="the hour it arrived (UTC)")]
    decided_by: str | None
    decided_at: str | None
    reason: str
    flagged: bool
    files: list[CaseFile]


class ClientDeadline(Answer):
    client_id: str
    agreed_hours: Annotated[int | None, Meta(description="the client's own; null: the policy's")]
    hours: Annotated[int, Meta(description="what applies")]
    changed: bool


class Listed(Answer):
    client_id: str
    public_name: str | None
    changed: bool


class Released(Answer):
    item: int
    state: Annotated[str, one_of("released")]


class DisputeNote(Answer):
    at: str
    actor: str
    text: str


class Dispute(Answer):
    dispute: int
    client: str
    item: int
    list_name: str = field(name="list")
    list_id: int
    reason: str
    state: Annotated[str, one_of("open", "upheld", "rejected")]
    opened_at: str
    decided_by: str | None
    decided_at: str | None
    notes: list[DisputeNote]


class NoticeBody(Request):
    client_id: Annotated[str, Meta(min_length=1, max_length=200)]
    item: Annotated[int, Meta(ge=1, le=2**63 - 1)]
    url: Annotated[str, Meta(max_length=2000, description="where it was found")] | None = None


class Notice(Answer):
    notice_id: int
    client_id: str
    item: int
    url: str | None
    issued_at: str
    deadline: str
    issued_by: Annotated[str, Meta(description="an operator, or rule:remove-matches")]
    state: Annotated[str, one_of("open", "acknowledged", "removed", "withdrawn")]
    acknowledged_at: str | None
    closed_at: str | None


class IssuedNotice(Notice):
    new: Annotated[bool, Meta(description="false: the client's live notice, issued earlier")]


class Delivery(Answer):
    at: str
    batch: int


class MaskedHash(Answer):
    kind: str
    keyed: Annotated[str, Meta(description="the start of the keyed digest (never the hash)")]


class ItemChange(Answer):
    at: str
    batch: int
    change: Annotated[
        str, one_of("added", "recategorised", "removed", "merged", "restored", "rolled-back")
    ]
    before: str | None
    after: str | None
    before_value: str | None
    after_value: str | None


class ItemMatches(Answer):
    client: str
    client_name: str
    day: str
    answered: Annotated[bool, Meta(description="false: a shadow would-be match")]


class ItemHold(Answer):
    state: str
    since: str
    clients: int
    reason: str


class ItemDispute(Answer):
    dispute: int
    client: str
    client_name: str
    state: str
    reason: str
    opened_at: str


class Item(Answer):
    item: int
    list_name: str = field(name="list")
    ref: Annotated[str | None, Meta(description="the supplier's id for the file")]
    category: str | None
    supplier_value: str | None
    state: Annotated[str, one_of("active", "removed", "merged", "rolled-back")]
    merged_into: int | None
    first_delivered: Delivery
    last_delivered: Delivery
    hashes: list[MaskedHash]
    history: list[ItemChange]
    matches: list[ItemMatches]
    holds: list[ItemHold]
    disputes: list[ItemDispute]


class Items(Answer):
    items: list[Item]


class Setting(Answer):
    name: str
    value: str
    default: str
    help: str


class Operator(Answer):
    name: str
    role: RoleName
    enabled: bool
    created_by: Annotated[str | None, Meta(description="None: made at set-up")]


class NewOperatorAnswer(Change):
    name: str
    role: RoleName
    secret: Annotated[str, Meta(description="shown this once")]


class OperatorSecret(Answer):
    name: str
    secret: Annotated[str, Meta(description="shown this once")]
