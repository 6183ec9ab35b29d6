"""Initialising a deployment and checking at start-up that the list key fits the database.

Owns the key's record in the database (its id and self-test value in meta). Never writes a
key for a database that already has one recorded: its digests were made with that key.
"""

from __future__ import annotations

from pathlib import Path

from hashcheck.admin.errors import KeyMismatch
from hashcheck.hashes.keyed import ListKey
from hashcheck.hashes.keyfile import create_key_file, read_key_file
from hashcheck.store.interface import Store

KEY_ID = "key_id"
KEY_CHECK = "key_check"


def initialise(store: Store, key_path: Path) -> tuple[ListKey, bool]:
    """Create the key (unless it exists), migrate the schema and record the key's self-test.

    Returns the key and whether it was created now. Safe to run again. Refuses (KeyMismatch)
    when the database has a key recorded and the key file is missing: a new key could never
    match the stored digests, so the file must come back from a backup.
    """
    store.migrate()
    created = not key_path.exists()
    if created:
        _refuse_if_key_recorded(
            store, key_path, "no new key was written: one would match none of its digests"
        )
    key = create_key_file(key_path) if created else read_key_file(key_path)
    if store.get_meta(KEY_CHECK) is None:
        store.set_meta(KEY_ID, key.key_id)
        store.set_meta(KEY_CHECK, key.self_test_value())
    check_key(store, key)
    return key, created


def _refuse_if_key_recorded(store: Store, key_path: Path, consequence: str) -> None:
    """The key file is missing: if the database names the key its digests were made with,
    only that key will do, so say where it has to come from."""
    recorded = store.get_meta(KEY_ID) if store.get_meta(KEY_CHECK) is not None else None
    if recorded is not None:
        raise KeyMismatch(
            f"key file {key_path} not found, and this database's digests were made with list "
            f"key {recorded!r}: restore that key file from your backup (or point "
            f"HASHCHECK_KEY_FILE / --key-file at it); {consequence}"
        )


def check_key(store: Store, key: ListKey) -> None:
    """Refuse to run with a key other than the one the stored digests were made with."""
    expected = store.get_meta(KEY_CHECK)
    if expected is None:
        raise KeyMismatch("the database has no list key recorded; run `hashcheck init` first")
    if expected != key.self_test_value():
        raise KeyMismatch(
            f"the list key {key.key_id!r} does not belong to this database (which expects key "
            f"{store.get_meta(KEY_ID)!r}); check HASHCHECK_KEY_FILE"
        )


def open_key(store: Store, key_path: Path) -> ListKey:
    if not key_path.exists():
        _refuse_if_key_recorded(store, key_path, "nothing can be checked or imported without it")
    key = read_key_file(key_path)
    check_key(store, key)
    return key
