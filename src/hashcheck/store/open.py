"""Opening a store from a database URL: `sqlite:///path` or `postgresql://...`.

Owns the choice of backend and whether a missing SQLite file may be created; knows nothing
of schemas or keys. Only `hashcheck init` (and the demo set-up) create a database: any other
command or a node given a path that does not exist must stop, not start on an empty one.
"""

from __future__ import annotations

from pathlib import Path

from hashcheck.store.errors import NoDatabase, Unavailable
from hashcheck.store.interface import Store


def open_store(url: str, *, create: bool = True) -> Store:
    """The store at ``url``. With ``create=False`` an SQLite file that does not exist is
    refused (NoDatabase) instead of created empty; a PostgreSQL database always exists or
    fails to connect, so the flag does not apply to it."""
    if url.startswith("sqlite:///"):
        from hashcheck.store.sqlite import SqliteStore

        path = Path(url.removeprefix("sqlite:///"))
        if not create and not path.exists():
            raise NoDatabase(
                f"no database at {path}: run `hashcheck init` to create it, or check "
                "HASHCHECK_DATABASE_URL (or --database-url)"
            )
        return SqliteStore(path)
    if url.startswith(("postgresql://", "postgres://")):
        try:
            from hashcheck.store.postgres import PostgresStore
        except ImportError:
            raise Unavailable(
                "PostgreSQL support is not installed: pip install 'hashcheck[postgres]'"
            ) from None
        return PostgresStore(url)
    raise Unavailable(
        f"unsupported database URL {url.split(':', 1)[0]!r}: use sqlite:///PATH or postgresql://..."
    )
