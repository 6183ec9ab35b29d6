"""Reading the dates and times operators give (`--since`, `?since=`) into the text the store
compares them with, refusing anything that is not one.

Owns the accepted forms and their normal form; the CLI and the admin API both go through
these, so that a malformed value is an error on both faces instead of a filter that quietly
matches nothing (or everything). Knows nothing of the store.
"""

from __future__ import annotations

import datetime as dt

from hashcheck.admin.errors import BadValue


def day(text: str, what: str = "since") -> str:
    """A calendar day, `YYYY-MM-DD` (statistics are kept per UTC day)."""
    try:
        return dt.date.fromisoformat(text.strip()).isoformat()
    except ValueError:
        raise BadValue(f"{what} must be a date, YYYY-MM-DD (got {text!r})") from None


def moment(text: str, what: str = "since") -> str:
    """A day (`YYYY-MM-DD`) or an ISO time, in the form the audit trail writes its times:
    UTC to the second (`2026-11-01T10:00:00+00:00`). A time without a zone is UTC."""
    stripped = text.strip()
    if len(stripped) == len("YYYY-MM-DD"):
        return day(stripped, what)
    try:
        parsed = dt.datetime.fromisoformat(stripped)
    except ValueError:
        raise BadValue(
            f"{what} must be a date (YYYY-MM-DD) or an ISO time "
            f"(YYYY-MM-DDTHH:MM[:SS][+HH:MM], UTC if no zone) (got {text!r})"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC).isoformat(timespec="seconds")
