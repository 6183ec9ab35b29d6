"""The names of the list formats, importable without any parser (or its dependencies)."""

from __future__ import annotations

FORMATS = ("auto", "plain", "md5sum", "hashdeep", "csv", "icse", "vics", "ncmec")
# What an import reads besides: NSRL's RDS database, and PDQ or vPDQ lists of one hash (video)
# per line.
IMPORT_FORMATS = (*FORMATS, "nsrl-rds", "pdq", "vpdq")
