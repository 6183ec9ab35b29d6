"""Plain records that cross the store boundary, beside the catalog types of the index."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from hashcheck.catalog.model import Category, Client, HashList


@dataclass(frozen=True)
class CatalogRecords:
    lists: list[HashList]
    categories: list[Category]
    clients: list[Client]
    version: int
    shadow_batches: frozenset[int] = frozenset()  # imported in shadow mode, not promoted yet
    holds: dict[int, str] = field(default_factory=dict)  # entry id -> reason, open holds only
    policy: dict[str, str] = field(default_factory=dict)  # as stored; catalog.policy parses


@dataclass(frozen=True)
class EntryRows:
    """Entries column-wise: packed 16-byte digests and parallel id, list, category, batch and
    item columns."""

    digests: bytes
    entry_ids: npt.NDArray[np.int64]
    list_ids: npt.NDArray[np.int64]
    category_ids: npt.NDArray[np.int64]
    batch_ids: npt.NDArray[np.int64]
    item_ids: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.entry_ids)


@dataclass(frozen=True)
class Changes:
    """Everything committed after a cursor, read in one consistent transaction."""

    catalog: CatalogRecords
    added: EntryRows
    removed_ids: list[int]
    entries_cursor: int
    tombstones_cursor: int
    # Sealed PDQ hashes of the added entries that are perceptual: (entry id, keyed digest,
    # sealed value, item id); opened only in memory.
    pdq: list[tuple[int, bytes, bytes, int]] = field(default_factory=list)


@dataclass(frozen=True)
class BatchRecord:
    """One import, removal or rollback, as committed."""

    batch_id: int
    list_id: int
    kind: str  # import | removal | rollback | retraction
    source: str
    actor: str
    committed_at: str
    added: int  # items added (import) or removed (removal, rollback)
    unchanged: int
    live: int  # entries (hashes) of this batch still on the list
    state: str = "active"  # shadow | active | rolled-back (imports); active otherwise
    shadow: bool = False  # imported in shadow mode: true while state is shadow, and after
    category_ids: tuple[int, ...] = ()  # categories of the entries an import delivered
    changed: int = 0  # items of the list an import recategorised
    removed: int = 0  # items an import took off the list


@dataclass(frozen=True)
class Recategorisation:
    """An item a delivery moved to another category (or off the list: ``after`` None)."""

    item_id: int
    ref: str | None
    before: int  # category id
    after: int | None
    before_value: str | None
    after_value: str | None


@dataclass(frozen=True)
class ImportOutcome:
    """What an import did, counted in items (records) except where it says hashes.

    Records read = added + changed + unchanged + skipped (repeated in the file, deleted by
    the same file, or not imported and not on the list)."""

    batch_id: int
    added: int  # new items
    unchanged: int  # delivered again with the same category and value
    removed: int = 0  # items taken off the list (deletions, not-imported values, --replace)
    known_good_collisions: int = 0  # digests also on a list of the other kind
    changed: int = 0  # items recategorised (or taken off by a not-imported value)
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> records
    not_found: int = 0  # deletion records naming nothing on the list
    hashes_added: int = 0  # entries (hashes) added, to new or known items
    replaced: int = 0  # of `removed`: items a --replace delivery did not contain
    recategorised: tuple[Recategorisation, ...] = ()  # the first RECATEGORISED_SHOWN
    category_ids: tuple[int, ...] = ()  # of the hashes the batch added, ascending


RECATEGORISED_SHOWN = 100


@dataclass(frozen=True)
class ItemRecord:
    """One item: a file's hashes on one list, the supplier's id for it and its category."""

    item_id: int
    list_id: int
    ref: str | None
    category_id: int
    value: str | None  # the supplier's own category value, e.g. `vics:1`
    state: str  # active | removed | merged | rolled-back
    merged_into: int | None
    first_batch: int
    last_batch: int
    first_at: str
    last_at: str
    hashes: tuple[tuple[str, bytes], ...] = ()  # (kind, keyed digest) of its entries


@dataclass(frozen=True)
class ItemChange:
    at: str
    batch_id: int
    change: str  # added | recategorised | removed | merged | restored | rolled-back
    # (`added` is the item's first delivery, from `first_batch`; the others are stored)
    before_category: int | None
    after_category: int | None
    before_value: str | None
    after_value: str | None


@dataclass(frozen=True)
class Collision:
    """A hash that can never match because its digest is also on a known-good list: of
    which item, list, category and batch."""

    item_id: int
    list_name: str
    category: str
    batch_id: int
    known_good_list: str


@dataclass(frozen=True)
class RemovalOutcome:
    batch_id: int
    removed: int  # items (with all their hashes)
    not_found: int  # hashes given that are on no item of the list


@dataclass(frozen=True)
class StatRow:
    client_id: str
    list_id: int
    day: str  # ISO date, UTC
    checked: int
    matched: int


@dataclass(frozen=True)
class AuditRecord:
    audit_id: int
    at: str
    actor: str
    action: str
    subject: str
    detail: str


@dataclass(frozen=True)
class Sighting:
    """That a client matched a list entry on a day: the match ids it received, never the hash."""

    entry_id: int
    client_id: str
    day: int  # days since 1970-01-01, UTC (the day in the match id)
    last_seen: int  # Unix time
    answered: bool  # the client was told (False: a shadow would-be match, or held and false)
    first_seen: int = 0  # Unix time of the day's first match (0: as last_seen)


@dataclass(frozen=True)
class ShadowRow:
    """Would-be matches of a shadow batch for one client on one day."""

    client_id: str
    batch_id: int
    day: str
    matched: int


@dataclass(frozen=True)
class HoldRecord:
    entry_id: int
    list_id: int
    reason: str
    state: str  # open | released
    created_at: str
    decided_by: str | None
    clients: int  # distinct clients that matched it within the prevalence window, when placed


@dataclass(frozen=True)
class RetractionRecord:
    seq: int
    client_id: str
    entry_id: int
    day: int
    list_id: int
    reason: str  # removed | rolled-back | dispute-upheld | withdrawn | rejected (self-submitted)
    at: str


@dataclass(frozen=True)
class DisputeNote:
    at: str
    actor: str
    text: str


@dataclass(frozen=True)
class DisputeRecord:
    dispute_id: int
    client_id: str
    entry_id: int
    list_id: int
    day: int
    reason: str
    state: str  # open | upheld | rejected
    opened_at: str
    decided_by: str | None
    decided_at: str | None
    notes: tuple[DisputeNote, ...] = ()


@dataclass(frozen=True)
class ProposalRecord:
    proposal_id: int
    action: str  # category.enable | list.enable | grant.add | batch.promote | policy.set
    subject: str
    detail: dict[str, object]
    state: str  # open | approved | rejected
    proposed_by: str
    proposed_at: str
    decided_by: str | None
    decided_at: str | None


# How often a node process reports its status: the writer's promise and the readers' clock.
NODE_REPORT_EVERY_S = 30.0


@dataclass(frozen=True)
class NodeStatus:
    """How one node process last said it was."""

    node: str  # host:pid
    started_at: str
    seen_at: str  # when it said so
    ready: bool
    version: int  # the catalog version its index answers from
    entries: int
    current_at: str | None  # when it last knew it was up to date with the store


@dataclass(frozen=True)
class OperatorRecord:
    name: str
    role: str  # viewer | operator | approver
    enabled: bool
    secret_hash: str = field(repr=False)
    created_by: str | None = None  # the account that created it; None: made at set-up


@dataclass(frozen=True)
class SubmittedFile:
    """One file of a new self-submission: its hashes as (algorithm name, keyed digest,
    sealed perceptual hash or None), and what the screen found (empty: nothing). A file whose
    finding starts with `known-good` is kept as a record only: none of its hashes is stored."""

    file_no: int
    hashes: tuple[tuple[str, bytes, bytes | None], ...]
    finding: str = ""


@dataclass(frozen=True)
class NewSubmission:
    case_number: str
    pin_hash: str
    nonce: str  # the page's random id for this submission: a replay of it is refused
    received_at: str  # to the hour, on purpose (see docs/self-submission.md)
    files: tuple[SubmittedFile, ...]


@dataclass(frozen=True)
class SubmissionFileRecord:
    file_no: int
    item_id: int | None  # None: nothing stored (a known-good file)
    algorithms: str  # comma-separated, of the hashes stored under this item for the file
    finding: str
    left_out: bool  # the operator rejected this file while activating the rest
    item_state: str  # held | active | removed | none
    other_cases: int  # other cases holding the same item (duplicates across cases)
    matched_clients: int  # distinct clients answered a match on the item


@dataclass(frozen=True)
class SubmissionRecord:
    case_number: str
    pin_hash: str = field(repr=False)
    state: str = "received"  # received | active | rejected | withdrawn
    received_at: str = ""
    decided_by: str | None = None
    decided_at: str | None = None
    reason: str = ""
    files: tuple[SubmissionFileRecord, ...] = ()
    matched_clients: int = 0  # distinct clients answered a match on any of the case's items
    acted_clients: int = 0  # distinct clients that reported taking any of them down


@dataclass(frozen=True)
class NewAction:
    """What a client says it did about one of its matches (the item, on the match's day)."""

    client_id: str
    item_id: int
    day: int | None  # the match's day; None: the client's latest match of the item
    action: str  # a `catalog.takedown.ClientAction` value
    reason: str
    acted_at: int  # Unix time
    notice_id: int | None = None  # the notice acted on (its item is the match's)


@dataclass(frozen=True)
class ActionRecord:
    action_id: int
    client_id: str
    item_id: int
    day: int
    action: str
    reason: str
    acted_at: int  # Unix time, as the client said
    recorded_at: int  # Unix time, when the service kept it
    matched_at: int | None  # the day's first match, when the node's record of it has arrived
    notice_id: int | None


@dataclass(frozen=True)
class NoticeRecord:
    """The operator's notice to a client about an item: act on it by ``deadline_at``."""

    notice_id: int
    client_id: str
    item_id: int
    url: str | None
    issued_at: int  # Unix time: the clock runs from here
    deadline_at: int
    issued_by: str  # an operator, or `rule:remove-matches` for the automatic rule
    state: str  # open | acknowledged | removed | withdrawn
    acknowledged_at: int | None
    closed_at: int | None
