"""Versioned schema migrations, written once for both SQL dialects.

`{pk}` is an auto-increment integer key and `{blob}` a byte column; each dialect fills them in.
Migrations only ever get appended.
"""

from __future__ import annotations

MIGRATIONS: list[list[str]] = [
    # 1: the core service
    [
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE categories (
            id {pk}, name TEXT NOT NULL UNIQUE, severity TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '')""",
        """CREATE TABLE lists (
            id {pk}, name TEXT NOT NULL UNIQUE, supplier TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL)""",
        """CREATE TABLE clients (
            id TEXT PRIMARY KEY, name TEXT NOT NULL, enabled INTEGER NOT NULL,
            secret_hash TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)""",
        """CREATE TABLE grants (
            client_id TEXT NOT NULL REFERENCES clients(id),
            list_id BIGINT REFERENCES lists(id),
            category_id BIGINT REFERENCES categories(id))""",
        """CREATE UNIQUE INDEX grants_unique
            ON grants (client_id, COALESCE(list_id, 0), COALESCE(category_id, 0))""",
        """CREATE TABLE batches (
            id {pk}, list_id BIGINT NOT NULL REFERENCES lists(id), kind TEXT NOT NULL,
            source TEXT NOT NULL, actor TEXT NOT NULL, committed_at TEXT NOT NULL,
            added BIGINT NOT NULL, unchanged BIGINT NOT NULL)""",
        """CREATE TABLE entries (
            id {pk}, list_id BIGINT NOT NULL, digest {blob} NOT NULL,
            category_id BIGINT NOT NULL, batch_id BIGINT NOT NULL,
            UNIQUE (list_id, digest))""",
        """CREATE TABLE tombstones (
            seq {pk}, entry_id BIGINT NOT NULL, list_id BIGINT NOT NULL,
            batch_id BIGINT NOT NULL)""",
        """CREATE TABLE stats (
            client_id TEXT NOT NULL, list_id BIGINT NOT NULL, day TEXT NOT NULL,
            checked BIGINT NOT NULL, matched BIGINT NOT NULL,
            PRIMARY KEY (client_id, list_id, day))""",
        """CREATE TABLE audit (
            id {pk}, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
            subject TEXT NOT NULL, detail TEXT NOT NULL)""",
        "INSERT INTO meta (key, value) VALUES ('version', '1')",
        """INSERT INTO categories (name, severity, description) VALUES
            ('baseline', 'severe', 'Illegal in every country (Interpol baseline)'),
            ('illegal', 'severe', 'Illegal under the operator''s law'),
            ('related', 'sensitive', 'Related material: same series, not itself illegal'),
            ('other', 'informational', 'Anything else a supplier delivers; never on by default')""",
    ],
    # 2: each supplier's map from its own category values to hashcheck categories
    [
        """CREATE TABLE category_maps (
            supplier TEXT NOT NULL, value TEXT NOT NULL,
            category_id BIGINT NOT NULL REFERENCES categories(id),
            PRIMARY KEY (supplier, value))""",
    ],
    # 3: known-good lists (an allowlist: their hashes never match) and their category
    [
        "ALTER TABLE lists ADD COLUMN known_good INTEGER NOT NULL DEFAULT 0",
        """INSERT INTO categories (name, severity, description) VALUES
            ('known-good', 'informational', 'Entries of known-good lists (NSRL, CMS files)')""",
    ],
]

STANDARD_CATEGORIES = ("baseline", "illegal", "related", "other", "known-good")
KNOWN_GOOD = "known-good"
