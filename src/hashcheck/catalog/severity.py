"""Severity classes of categories: how bad a match is. Pure values."""

from __future__ import annotations

import enum


class Severity(enum.Enum):
    """How bad a match on a category is; decides the action hint on exact matches."""

    SEVERE = "severe"
    SENSITIVE = "sensitive"
    INFORMATIONAL = "informational"
