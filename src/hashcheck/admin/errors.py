"""The operator-facing error hierarchy.

    AdminError            an operator request that cannot be carried out as given
    ├── UnknownName       a client, list or category name that does not exist
    ├── ImportRejected    a file that fails validation; nothing was imported
    ├── BadValue          an option or parameter that is not of its kind (a date that is not)
    ├── KeyMismatch       the list key does not belong to this database
    └── PermissionDenied  the acting operator may not do this

Messages are written for the operator and never contain a hash value from a list.
"""

from __future__ import annotations


class AdminError(Exception):
    pass


class UnknownName(AdminError):
    pass


class ImportRejected(AdminError):
    pass


class BadValue(AdminError):
    pass


class KeyMismatch(AdminError):
    pass


class PermissionDenied(AdminError):
    """The acting operator's role does not allow the request, or the name is no account."""
