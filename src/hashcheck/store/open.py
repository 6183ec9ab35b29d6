"""Opening a store from a database URL: `sqlite:///path` or `postgresql://...`."""

from __future__ import annotations

from pathlib import Path

from hashcheck.store.errors import Unavailable
from hashcheck.store.interface import Store


def open_store(url: str) -> Store:
    if url.startswith("sqlite:///"):
        from hashcheck.store.sqlite import SqliteStore

        return SqliteStore(Path(url.removeprefix("sqlite:///")))
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
