"""The names of the list formats, importable without any parser (or its dependencies)."""

from __future__ import annotations

FORMATS = ("auto", "plain", "md5sum", "hashdeep", "csv", "icse", "vics", "ncmec")
