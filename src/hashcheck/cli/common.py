"""What every command handler shares: printing, opening the store, reporting a change."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

from hashcheck.admin.change import Change
from hashcheck.admin.reach import Reach
from hashcheck.cli.exitcodes import ExitCode
from hashcheck.cli.output import as_json
from hashcheck.config import Settings
from hashcheck.store.interface import Store
from hashcheck.store.open import open_store


def say(text: str) -> None:
    sys.stdout.write(text + "\n")


@contextlib.contextmanager
def opened_store(
    settings: Settings, *, migrate: bool = True, create: bool = False
) -> Iterator[Store]:
    """The configured store, migrated. Only `init` passes ``create``: every other command
    stops on a database file that does not exist rather than work on a new, empty one."""
    store = open_store(settings.database_url, create=create)
    try:
        if migrate:
            store.migrate()
        yield store
    finally:
        store.close()


def warn_reach(found: Reach | None) -> None:
    """Say so when a client can match nothing: its checks would look clean."""
    if found is not None and found.warning is not None:
        say(f"WARNING: client {found.client_id}: {found.warning}")


def report_change(change: Change, json_output: bool = False, found: Reach | None = None) -> int:
    """Print what happened to a request to switch something on; PENDING if it waits. With
    ``found``, the client the change was about: whether it can match anything now."""
    if json_output:
        say(as_json({**change.as_dict(), **({} if found is None else found.as_dict())}))
    else:
        say(change.message)
        warn_reach(found)
    return ExitCode.OK if change.applied else ExitCode.PENDING
