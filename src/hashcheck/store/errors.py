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
