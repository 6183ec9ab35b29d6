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
    """Entries column-wise: packed 16-byte digests and parallel id, list, category columns."""

    digests: bytes
    entry_ids: npt.NDArray[np.int64]
    list_ids: npt.NDArray[np.int64]
    category_ids: npt.NDArray[np.int64]
    batch_ids: npt.NDArray[np.int64]

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
    # sealed value); opened only in memory.
    pdq: list[tuple[int, bytes, bytes]] = field(default_factory=list)


@dataclass(frozen=True)
class BatchRecord:
    """One import, removal or rollback, as committed."""

    batch_id: int
    list_id: int
    kind: str  # import | removal | rollback | retraction
    source: str
    actor: str
    committed_at: str
    added: int  # entries added (import) or removed (removal, rollback)
    unchanged: int
    live: int  # entries of this batch still on the list
    state: str = "active"  # shadow | active | rolled-back (imports); active otherwise
    shadow: bool = False  # imported in shadow mode (promoted or not)
    category_ids: tuple[int, ...] = ()  # categories of the entries an import delivered


@dataclass(frozen=True)
class ImportOutcome:
    batch_id: int
    added: int
    unchanged: int  # already on the list, or repeated within the import
    removed: int = 0  # by deletion records in the imported file
    known_good_collisions: int = 0  # digests also on a list of the other kind


@dataclass(frozen=True)
class Collision:
    """An entry that can never match because its digest is also on a known-good list."""

    entry_id: int
    list_name: str
    category: str
    batch_id: int
    known_good_list: str


@dataclass(frozen=True)
class RemovalOutcome:
    batch_id: int
    removed: int
    not_found: int


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
    reason: str  # removed | rolled-back | dispute-upheld
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


@dataclass(frozen=True)
class OperatorRecord:
    name: str
    role: str  # viewer | operator | approver
    enabled: bool
    secret_hash: str = field(repr=False)
