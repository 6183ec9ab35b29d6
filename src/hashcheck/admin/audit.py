"""Reading the audit trail for the operator: the one reader behind `hashcheck audit` and
`GET /admin/v1/audit`, so that both refuse a `since` that is not a date or time instead of
answering an empty (or complete) trail. Writes nothing; the store writes the trail.
"""

from __future__ import annotations

from hashcheck.admin import dates
from hashcheck.store.interface import Store
from hashcheck.store.records import AuditRecord


def read(
    store: Store,
    limit: int,
    *,
    actor: str | None = None,
    action: str | None = None,
    since: str | None = None,
) -> list[AuditRecord]:
    """The newest records first; ``since`` a day or an ISO time (UTC when it has no zone)."""
    first = None if since is None else dates.moment(since)
    return store.audit_log(limit, actor=actor, action=action, since=first)
