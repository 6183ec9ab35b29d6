"""The one mapping from a service error to what each face answers: the CLI's exit code and
the admin API's HTTP status. The faces look errors up here and never decide for themselves,
so a refusal reads the same everywhere. Holds no wording: the error's own message is shown.
"""

from __future__ import annotations

import enum

from hashcheck.admin.errors import (
    AdminError,
    BadValue,
    ImportRejected,
    KeyMismatch,
    PermissionDenied,
    UnknownName,
)
from hashcheck.catalog.policy import PolicyError
from hashcheck.hashes.keyfile import KeyFileError
from hashcheck.store import errors as store


class Outcome(enum.Enum):
    """(exit code, HTTP status) of each kind of refusal."""

    USAGE = (2, 400)  # an option or parameter that is not of its kind
    NOT_FOUND = (4, 404)  # no such client, list, category, batch, item, account
    GONE = (4, 410)  # it was there, and is retracted or removed
    REJECTED = (5, 400)  # a value refused; nothing was changed
    FILE_REJECTED = (5, 422)  # an uploaded or named file refused; nothing was imported
    KEY = (6, 503)  # the list key is missing, unreadable or does not fit the database
    STORE = (7, 503)  # the database cannot be reached, or is newer than this hashcheck
    EXISTS = (8, 409)  # something of that name exists already
    CONFLICT = (9, 409)  # the change does not fit the current state
    DENIED = (12, 403)  # the acting operator's role does not allow this

    @property
    def exit_code(self) -> int:
        return self.value[0]

    @property
    def http_status(self) -> int:
        return self.value[1]


# Most specific first: the first class an error is an instance of decides.
_BY_ERROR: tuple[tuple[type[BaseException], Outcome], ...] = (
    (PermissionDenied, Outcome.DENIED),
    (UnknownName, Outcome.NOT_FOUND),
    (ImportRejected, Outcome.FILE_REJECTED),
    (BadValue, Outcome.USAGE),
    (KeyMismatch, Outcome.KEY),
    (AdminError, Outcome.REJECTED),
    (PolicyError, Outcome.REJECTED),
    (KeyFileError, Outcome.KEY),
    (store.NotFound, Outcome.NOT_FOUND),
    (store.Gone, Outcome.GONE),
    (store.AlreadyExists, Outcome.EXISTS),
    (store.Conflict, Outcome.CONFLICT),
    (store.Invalid, Outcome.REJECTED),
    (store.StoreError, Outcome.STORE),
)


def outcome_of(error: BaseException) -> Outcome | None:
    """How every face answers ``error``; None for what is no refusal (a bug)."""
    for kind, outcome in _BY_ERROR:
        if isinstance(error, kind):
            return outcome
    return None
