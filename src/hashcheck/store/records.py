"""Plain records that cross the store boundary, beside the catalog types of the index."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hashcheck.catalog.model import Category, Client, HashList


@dataclass(frozen=True)
class CatalogRecords:
    lists: list[HashList]
    categories: list[Category]
    clients: list[Client]
    version: int


@dataclass(frozen=True)
class EntryRows:
    """Entries column-wise: packed 16-byte digests and parallel id, list, category columns."""

    digests: bytes
    entry_ids: npt.NDArray[np.int64]
    list_ids: npt.NDArray[np.int64]
    category_ids: npt.NDArray[np.int64]

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


@dataclass(frozen=True)
class BatchRecord:
    """One import, removal or rollback, as committed."""

    batch_id: int
    list_id: int
    kind: str  # import | removal | rollback
    source: str
    actor: str
    committed_at: str
    added: int  # entries added (import) or removed (removal, rollback)
    unchanged: int
    live: int  # entries of this batch still on the list


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
