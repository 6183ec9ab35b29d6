"""The one `Store` interface every backend implements; the contract tests run against it.

Says what is persisted and what each call guarantees; holds no SQL.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from hashcheck.catalog.model import Category, Client, Grant, HashList, Severity
from hashcheck.catalog.takedownreport import HitRow
from hashcheck.store.errors import StoreError
from hashcheck.store.records import (
    ActionRecord,
    AuditRecord,
    BatchRecord,
    Changes,
    Collision,
    DisputeRecord,
    HoldRecord,
    ImportOutcome,
    ItemChange,
    ItemRecord,
    NewAction,
    NewSubmission,
    NodeStatus,
    NoticeRecord,
    OperatorRecord,
    ProposalRecord,
    RemovalOutcome,
    RetractionRecord,
    ShadowRow,
    Sighting,
    StatRow,
    SubmissionRecord,
)

# Entries to import: a category id and the keyed digests of that category, packed (16 bytes
# each). Packing keeps per-entry Python work out of the store.
DigestBlock = tuple[int, bytes]
# The category id of a block whose digests the import removes from the list (a supplier's
# deletion records, applied in the same transaction).
REMOVE = -1
# The category id of a record whose supplier value is not abuse material (VICS 0, a value
# the operator maps to "not imported"): the item it names leaves the list.
NOT_IMPORTED = -2
# One staged record, or with `bare` a run of one-hash records: (first record number, category
# id, number of digests, packed digests, supplier id, supplier value, bare).
StageRow = tuple[int, int, int, bytes, str | None, str | None, int]


class Store(abc.ABC):
    """Durable state. Every mutating call is one transaction and bumps `version()`."""

    @abc.abstractmethod
    def migrate(self) -> int:
        """Bring the schema to the newest version; returns it. Safe to call on every start."""

    @abc.abstractmethod
    def schema_version(self) -> int: ...

    @abc.abstractmethod
    def close(self) -> None: ...

    # -- meta -----------------------------------------------------------------------------
    @abc.abstractmethod
    def get_meta(self, key: str) -> str | None: ...

    @abc.abstractmethod
    def set_meta(self, key: str, value: str) -> None: ...

    @abc.abstractmethod
    def ensure_meta(self, key: str, value: str) -> str:
        """Store ``value`` under ``key`` unless a value is there already; return the stored
        one (the first of racing callers wins, and all of them get its value)."""

    @abc.abstractmethod
    def version(self) -> int:
        """A number that grows with every committed change; cheap to read."""

    def wait_for_change(self, timeout: float) -> bool:
        """Block until a change is committed (True) or ``timeout`` passes (False). Backends
        that can be told of changes (PostgreSQL: LISTEN/NOTIFY) wake at once; the default
        just waits, and the caller polls `version()`."""
        time.sleep(timeout)
        return False

    # -- catalog ---------------------------------------------------------------------------
    @abc.abstractmethod
    def add_category(
        self, name: str, severity: Severity, description: str, *, actor: str
    ) -> Category: ...

    @abc.abstractmethod
    def categories(self) -> list[Category]: ...

    @abc.abstractmethod
    def add_list(
        self, name: str, supplier: str, description: str, *, actor: str, known_good: bool = False
    ) -> HashList: ...

    @abc.abstractmethod
    def lists(self) -> list[HashList]: ...

    @abc.abstractmethod
    def add_client(
        self, client_id: str, name: str, secret_hash: str, grants: Iterable[Grant], *, actor: str
    ) -> Client: ...

    @abc.abstractmethod
    def clients(self) -> list[Client]: ...

    @abc.abstractmethod
    def set_client_enabled(self, client_id: str, enabled: bool, *, actor: str) -> None: ...

    @abc.abstractmethod
    def set_client_secret(self, client_id: str, secret_hash: str, *, actor: str) -> None: ...

    @abc.abstractmethod
    def set_client_budgets(
        self,
        client_id: str,
        requests_per_second: int | None,
        work_per_second: int | None,
        *,
        actor: str,
    ) -> bool:
        """The client's own budgets (None: the node's); False when they were so already."""

    @abc.abstractmethod
    def set_client_public_name(self, client_id: str, name: str | None, *, actor: str) -> bool:
        """The name under which the client agreed to be listed as a participating platform
        (None: not listed); False when it was so already."""

    @abc.abstractmethod
    def set_client_deadline(self, client_id: str, hours: int | None, *, actor: str) -> bool:
        """The hours the client's agreement gives it to act on a hit or notice (None: the
        policy's `takedown-deadline-hours`); False when it was so already. Audited."""

    @abc.abstractmethod
    def add_grant(self, client_id: str, grant: Grant, *, actor: str) -> bool:
        """True if the grant is new."""

    @abc.abstractmethod
    def remove_grant(self, client_id: str, grant: Grant, *, actor: str) -> bool:
        """True if such a grant existed."""

    @abc.abstractmethod
    def category_map(self, supplier: str) -> dict[str, int]:
        """The supplier's category values and the category id each is mapped to."""

    @abc.abstractmethod
    def set_category_mapping(
        self, supplier: str, value: str, category_id: int | None, *, actor: str
    ) -> bool:
        """Map (or, with None, unmap) one supplier value; True if anything changed."""

    @abc.abstractmethod
    def set_pdq_threshold(self, list_id: int, threshold: int, *, actor: str) -> bool:
        """The Hamming distance up to which the list's PDQ entries match; True if changed."""

    @abc.abstractmethod
    def set_list_enabled(self, list_id: int, enabled: bool, *, actor: str) -> bool:
        """Switch matching on a list on or off; True if it changed."""

    @abc.abstractmethod
    def set_category_enabled(self, category_id: int, enabled: bool, *, actor: str) -> bool:
        """Switch matching on a category on or off (for every list); True if it changed."""

    @abc.abstractmethod
    def policies(self) -> dict[str, str]:
        """The stored policy values (`catalog.policy` knows names and defaults)."""

    @abc.abstractmethod
    def set_policy(self, name: str, value: str, *, actor: str) -> bool: ...

    # -- entries ---------------------------------------------------------------------------
    @abc.abstractmethod
    def import_entries(
        self,
        list_id: int,
        blocks: Iterable[DigestBlock],
        *,
        source: str,
        actor: str,
        shadow: bool = False,
        pdq: Sequence[tuple[int, bytes, bytes]] = (),
    ) -> ImportOutcome:
        """Add entries atomically: all become visible at once, or none if anything fails.
        ``pdq`` adds perceptual entries (category id, keyed digest, sealed hash) in the same
        transaction; the sequence is read only once every block has been consumed.

        Re-importing an entry that is already on the list changes nothing (idempotent).
        Blocks with category `REMOVE` remove those digests in the same transaction; a digest
        both added and removed by one import ends up removed. A ``shadow`` batch's entries
        are counted but not answered until the batch is promoted.
        """

    @abc.abstractmethod
    def import_records(
        self,
        list_id: int,
        rows: Iterable[Sequence[StageRow]],
        *,
        source: str,
        actor: str,
        shadow: bool = False,
        sealed: Mapping[bytes, bytes] | None = None,
        replace: bool = False,
        max_removed_share: float | None = None,
        dry_run: bool = False,
    ) -> ImportOutcome:
        """Import a delivery of records (items) atomically, resolving each against the items
        on the list: by supplier id, else by any of its hashes. A known item delivered with
        another category or value is recategorised (every hash at once), with a value of
        category `NOT_IMPORTED` it leaves the list (with retractions); new hashes join it.
        Deletion records (category `REMOVE`) take the item they name off. With ``replace``
        the delivery is the whole list: items it lacks leave; if more than
        ``max_removed_share`` of the list's items would leave, `Conflict` and nothing changes.
        ``sealed`` (keyed digest -> sealed perceptual hash) is read after every row has been
        consumed. A ``dry_run`` does all of it and rolls it back: the outcome says what the
        import would do, and nothing is changed (no batch, no audit, no new version)."""

    @abc.abstractmethod
    def item(self, item_id: int) -> ItemRecord: ...

    @abc.abstractmethod
    def find_items(
        self,
        *,
        list_id: int | None = None,
        ref: str | None = None,
        digests: Sequence[bytes] = (),
        limit: int = 100,
    ) -> list[ItemRecord]:
        """Items by the supplier's id, or holding one of the keyed ``digests``, on ``list_id``
        or any list."""

    @abc.abstractmethod
    def item_history(self, item_id: int) -> list[ItemChange]: ...

    @abc.abstractmethod
    def item_matches(self, item_id: int) -> list[tuple[str, int, bool]]:
        """(client id, day, answered) of the item's match records."""

    @abc.abstractmethod
    def remove_entries(
        self, list_id: int, digests: Iterable[bytes], *, source: str, actor: str
    ) -> RemovalOutcome:
        """Remove, atomically, every item holding one of the keyed digests given (packed),
        with all its hashes, leaving tombstones for the change feed."""

    @abc.abstractmethod
    def batches(self, list_id: int | None = None, limit: int = 100) -> list[BatchRecord]:
        """The newest batches first."""

    @abc.abstractmethod
    def batch(self, batch_id: int) -> BatchRecord: ...

    @abc.abstractmethod
    def rollback_batch(self, batch_id: int, *, actor: str) -> RemovalOutcome:
        """Undo an import batch item by item: items it brought onto the list leave (clients
        that were answered a match find it on the retraction feed), items it recategorised
        get their category back unless changed since. Items it removed stay removed.
        Conflict if the batch is rolled back already or is not an import."""

    @abc.abstractmethod
    def promote_batch(self, batch_id: int, *, actor: str) -> BatchRecord:
        """Let a shadow batch's entries answer; raises Conflict if it is not in shadow mode."""

    @abc.abstractmethod
    def known_good_collisions(self, limit: int = 1000) -> list[Collision]:
        """Entries that never match because their digest is also on a known-good list."""

    @abc.abstractmethod
    def entry_count(self, list_id: int | None = None) -> int: ...

    @abc.abstractmethod
    def changes_since(
        self, entries_cursor: int, tombstones_cursor: int, pdq_cursor: int | None = None
    ) -> Changes:
        """Catalog, entries added and entries removed after the cursors, in one consistent read;
        and the sealed PDQ hashes of entries after ``pdq_cursor`` (default: the entries cursor)
        that are still on a list."""

    # -- statistics and audit --------------------------------------------------------------
    @abc.abstractmethod
    def add_stats(self, rows: Iterable[StatRow]) -> None:
        """Add counts to the per client × list × day totals (adds, never overwrites)."""

    @abc.abstractmethod
    def read_stats(
        self,
        *,
        client_id: str | None = None,
        list_id: int | None = None,
        since: str | None = None,
        newest: int | None = None,
    ) -> list[StatRow]:
        """Rows per client, list and day, oldest first; with ``newest`` only the last so many."""

    @abc.abstractmethod
    def stat_days(
        self, *, client_id: str | None = None, list_id: int | None = None, since: str | None = None
    ) -> list[tuple[str, int, int]]:
        """(day, checked, matched) summed over the rows the filter keeps, oldest day first."""

    @abc.abstractmethod
    def report_node(self, status: NodeStatus) -> None:
        """Keep what a node process says about itself (one row per process, replaced)."""

    @abc.abstractmethod
    def nodes(self) -> list[NodeStatus]:
        """What the node processes last said, most recent first."""

    @abc.abstractmethod
    def audit_event(self, actor: str, action: str, subject: str, detail: Any) -> None:
        """An audit record of something that changes nothing else (a sign-in held back)."""

    @abc.abstractmethod
    def audit_log(
        self,
        limit: int = 100,
        *,
        actor: str | None = None,
        action: str | None = None,
        since: str | None = None,
    ) -> list[AuditRecord]:
        """The newest audit records first; `action` matches a prefix (`client` finds
        `client.add`, `client.disable`, ...); `since` is an ISO date or time (UTC)."""

    # -- governance ------------------------------------------------------------------------
    @abc.abstractmethod
    def record_matches(
        self, sightings: Iterable[Sighting], shadow: Iterable[ShadowRow]
    ) -> list[HoldRecord]:
        """Keep which client matched which entry on which day (never the submitted hash) and
        shadow would-be match counts; forget records past the retention policy; place the
        holds the prevalence alarm calls for, returning them."""

    @abc.abstractmethod
    def shadow_stats(self, batch_id: int | None = None) -> list[ShadowRow]: ...

    @abc.abstractmethod
    def holds(self, state: str | None = None, entry_id: int | None = None) -> list[HoldRecord]:
        """Holds, newest first; of one state, of one item."""

    @abc.abstractmethod
    def waiting(self) -> dict[str, int]:
        """How many proposals, holds and disputes are open (`proposals`, `holds`, `disputes`)."""

    @abc.abstractmethod
    def release_hold(self, entry_id: int, *, actor: str) -> None: ...

    @abc.abstractmethod
    def open_dispute(self, client_id: str, entry_id: int, day: int, reason: str) -> DisputeRecord:
        """A client's dispute of a match (idempotent while open); Gone if already retracted."""

    @abc.abstractmethod
    def dispute(self, dispute_id: int) -> DisputeRecord: ...

    @abc.abstractmethod
    def disputes(
        self,
        *,
        state: str | None = None,
        client_id: str | None = None,
        entry_id: int | None = None,
        limit: int = 1000,
    ) -> list[DisputeRecord]: ...

    @abc.abstractmethod
    def comment_dispute(self, dispute_id: int, text: str, *, actor: str) -> DisputeRecord: ...

    @abc.abstractmethod
    def resolve_dispute(
        self, dispute_id: int, *, upheld: bool, comment: str, actor: str
    ) -> DisputeRecord: ...

    @abc.abstractmethod
    def retractions(self, client_id: str, since: int, limit: int = 1000) -> list[RetractionRecord]:
        """The client's retracted matches after cursor ``since``, oldest first."""

    @abc.abstractmethod
    def propose(
        self, action: str, subject: str, detail: dict[str, Any], *, actor: str
    ) -> ProposalRecord: ...

    @abc.abstractmethod
    def proposals(self, state: str | None = None, limit: int = 1000) -> list[ProposalRecord]: ...

    @abc.abstractmethod
    def decide_proposal(self, proposal_id: int, *, approve: bool, actor: str) -> ProposalRecord:
        """Approve (carrying the change out in the same transaction) or reject; the proposer
        cannot approve."""

    @abc.abstractmethod
    def add_operator(
        self,
        name: str,
        role: str,
        secret_hash: str,
        *,
        actor: str,
        enabled: bool = True,
        created_by: str | None = None,
    ) -> None:
        """A new account; ``created_by`` the account that made it (None before any existed)."""

    @abc.abstractmethod
    def operators(self) -> list[OperatorRecord]: ...

    @abc.abstractmethod
    def update_operator(
        self,
        name: str,
        *,
        actor: str,
        enabled: bool | None = None,
        secret_hash: str | None = None,
        role: str | None = None,
    ) -> None: ...

    # -- self-submission -------------------------------------------------------------------
    @abc.abstractmethod
    def add_submission(self, submission: NewSubmission) -> SubmissionRecord:
        """Store a case with all its files' hashes as held items of the self-submitted list
        (created with the first case), or nothing: Conflict for a nonce seen before (a
        replay), AlreadyExists for a case number in use."""

    @abc.abstractmethod
    def add_submissions(self, submissions: Sequence[NewSubmission]) -> list[StoreError | None]:
        """Store several cases in one transaction, each as `add_submission` would or not at
        all: per case, None when it was stored, else why not (`Conflict`, `AlreadyExists`,
        or `Unavailable` for a case that failed). Raises only when none could be stored."""

    @abc.abstractmethod
    def submission(self, case_number: str) -> SubmissionRecord: ...

    @abc.abstractmethod
    def submissions(self, state: str | None = None, limit: int = 100) -> list[SubmissionRecord]:
        """Cases oldest first, of one state or all."""

    @abc.abstractmethod
    def decide_submission(
        self,
        case_number: str,
        *,
        activate: bool,
        reason: str,
        actor: str,
        leave_out: Iterable[int] = (),
    ) -> SubmissionRecord:
        """Activate a received case (but the items ``leave_out`` names) or reject a received
        or active one; items no live case holds leave the list, with retractions."""

    @abc.abstractmethod
    def withdraw_submission(self, case_number: str) -> SubmissionRecord:
        """The submitter withdraws the case (idempotent)."""

    # -- takedown timing -------------------------------------------------------------------
    @abc.abstractmethod
    def record_action(self, new: NewAction) -> tuple[ActionRecord, bool]:
        """Keep what a client did about a match, once per match and action: (the action
        kept, whether it is new). NotFound for a match the client never had, Gone for one
        past the match records' retention, Invalid for a time before the match."""

    @abc.abstractmethod
    def actions(
        self, client_id: str | None = None, *, since: int = 0, limit: int = 1000
    ) -> list[ActionRecord]:
        """Actions recorded at or after ``since`` (Unix time), oldest first."""

    @abc.abstractmethod
    def takedown_hits(
        self, first_day: int, last_day: int, client_id: str | None = None
    ) -> list[HitRow]:
        """Each client's hits of those days (first match of an item answered `remove`), with
        its actions about the item and the operator's latest notice about it."""

    @abc.abstractmethod
    def takedown_figures(
        self,
        first_day: int,
        last_day: int,
        client_id: str | None,
        default_hours: int,
        now: int,
    ) -> dict[str, tuple[dict[str, int], list[int]]]:
        """Per client, the month's report counts (`catalog.takedownreport.COUNTS`) and the
        seconds to action of each hit acted on, computed in the database."""

    @abc.abstractmethod
    def issue_notice(
        self, client_id: str, item_id: int, url: str | None, deadline_hours: int, *, actor: str
    ) -> tuple[NoticeRecord, bool]:
        """A notice to the client about the item, due in ``deadline_hours``; or the live
        one it has: (notice, new?). Gone for a retracted item. Audited."""

    @abc.abstractmethod
    def notice(self, notice_id: int) -> NoticeRecord: ...

    @abc.abstractmethod
    def notices(
        self,
        client_id: str | None = None,
        *,
        states: tuple[str, ...] = ("open", "acknowledged"),
        since: int = 0,
        limit: int = 1000,
    ) -> list[NoticeRecord]:
        """Notices of ``states`` issued at or after ``since`` (Unix time), oldest first."""

    @abc.abstractmethod
    def acknowledge_notice(self, client_id: str, notice_id: int) -> NoticeRecord:
        """The client read its notice; NotFound for another's, Gone for a withdrawn one."""

    @abc.abstractmethod
    def withdraw_notice(self, notice_id: int, *, actor: str) -> NoticeRecord:
        """The operator takes a live notice back; Conflict for a closed one. Audited."""
