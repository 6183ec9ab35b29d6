"""Whole numbers from outside text — path segments, query parameters, form values, operator
input, policy values: ASCII
digits only (Python's `int` and `str.isdigit` also take "²" or "٣"), at most 19 of them, and
within the range the caller names (by default what a database's 64-bit integer holds).

Parses only; each caller says in its own words what was wrong.
"""

from __future__ import annotations

MAX_STORED = 2**63 - 1  # SQLite's INTEGER and PostgreSQL's bigint


def whole_number(text: str, *, low: int = 0, high: int = MAX_STORED) -> int | None:
    """The number ``text`` spells, or None when it is not one within [low, high]."""
    if not 0 < len(text) <= 19 or not text.isascii() or not text.isdigit():
        return None
    value = int(text)
    return value if low <= value <= high else None
