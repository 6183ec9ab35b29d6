"""Errors a store raises for conditions the operator can act on."""


class StoreError(Exception):
    """Base of all store errors."""


class NotFound(StoreError):
    """A named client, list or category does not exist."""


class AlreadyExists(StoreError):
    """A client, list or category of that name exists already."""


class SchemaTooNew(StoreError):
    """The database was migrated by a newer hashcheck than this one."""


class Unavailable(StoreError):
    """The database cannot be reached or opened."""


class NoDatabase(Unavailable):
    """The URL names an SQLite file that does not exist (and creating one was not asked for)."""


class Conflict(StoreError):
    """The request does not fit the current state (e.g. promoting a batch that is not in
    shadow mode, deciding a dispute twice, approving one's own proposal)."""


class Gone(StoreError):
    """The thing referred to existed but no longer does (e.g. a retracted entry)."""


class Invalid(StoreError):
    """A value the store will not keep (a name no face could manage): nothing was changed."""
