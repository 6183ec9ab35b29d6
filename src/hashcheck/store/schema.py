"""Versioned schema migrations, written once for both SQL dialects.

`{pk}` is an auto-increment integer key, `{key}` an integer key given explicitly, and `{blob}` a
byte column; each dialect fills them in.
A statement `@append-only TABLE` asks the dialect for triggers that refuse UPDATE and DELETE on
TABLE. Migrations only ever get appended.
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
    # 4: governance: shadow batches, enabling, holds, match records, retractions, disputes,
    # proposals (two-person rule) and operator accounts
    [
        "ALTER TABLE batches ADD COLUMN shadow INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE batches ADD COLUMN state TEXT NOT NULL DEFAULT 'active'",
        "ALTER TABLE batches ADD COLUMN categories TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE lists ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1",
        "ALTER TABLE categories ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1",
        # Categories below the severe class start switched off, unless a deployment already
        # granted them to someone (then switching them off now would surprise its clients).
        """UPDATE categories SET enabled = 0 WHERE name IN ('related', 'other')
            AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.category_id = categories.id)""",
        "CREATE INDEX tombstones_entry ON tombstones (entry_id)",
        """CREATE TABLE sightings (
            entry_id BIGINT NOT NULL, client_id TEXT NOT NULL, day BIGINT NOT NULL,
            last_seen BIGINT NOT NULL, answered INTEGER NOT NULL,
            PRIMARY KEY (entry_id, client_id, day))""",
        """CREATE TABLE shadow_stats (
            client_id TEXT NOT NULL, batch_id BIGINT NOT NULL, day TEXT NOT NULL,
            matched BIGINT NOT NULL, PRIMARY KEY (client_id, batch_id, day))""",
        """CREATE TABLE holds (
            entry_id BIGINT PRIMARY KEY, list_id BIGINT NOT NULL, reason TEXT NOT NULL,
            state TEXT NOT NULL, created_at TEXT NOT NULL, clients BIGINT NOT NULL,
            decided_by TEXT, decided_at TEXT)""",
        """CREATE TABLE retractions (
            seq {pk}, client_id TEXT NOT NULL, entry_id BIGINT NOT NULL, day BIGINT NOT NULL,
            list_id BIGINT NOT NULL, reason TEXT NOT NULL, at TEXT NOT NULL)""",
        "CREATE UNIQUE INDEX retractions_once ON retractions (client_id, entry_id, day)",
        "CREATE INDEX retractions_feed ON retractions (client_id, seq)",
        """CREATE TABLE disputes (
            id {pk}, client_id TEXT NOT NULL, entry_id BIGINT NOT NULL,
            list_id BIGINT NOT NULL, day BIGINT NOT NULL, reason TEXT NOT NULL,
            state TEXT NOT NULL, opened_at TEXT NOT NULL, decided_by TEXT, decided_at TEXT)""",
        """CREATE TABLE dispute_notes (
            id {pk}, dispute_id BIGINT NOT NULL REFERENCES disputes(id), at TEXT NOT NULL,
            actor TEXT NOT NULL, text TEXT NOT NULL)""",
        """CREATE TABLE proposals (
            id {pk}, action TEXT NOT NULL, subject TEXT NOT NULL, detail TEXT NOT NULL,
            state TEXT NOT NULL, proposed_by TEXT NOT NULL, proposed_at TEXT NOT NULL,
            decided_by TEXT, decided_at TEXT)""",
        """CREATE TABLE operators (
            name TEXT PRIMARY KEY, role TEXT NOT NULL, enabled INTEGER NOT NULL,
            secret_hash TEXT NOT NULL, created_at TEXT NOT NULL)""",
    ],
    # 5: the audit trail is append-only in the database itself, not only by convention
    ["@append-only audit"],
    # 6: perceptual (PDQ) entries: an ordinary entry (keyed digest of the hash, for dedupe,
    # removal, batches and retractions) plus the hash itself, sealed; and each list's threshold
    [
        """CREATE TABLE pdq_sealed (
            entry_id BIGINT PRIMARY KEY, sealed {blob} NOT NULL)""",
        "ALTER TABLE lists ADD COLUMN pdq_threshold INTEGER NOT NULL DEFAULT 31",
    ],
    # 7: items. Every entry belongs to an item (one file: its hashes, the supplier's id for
    # it, one category); corrections, removals and governance act on the item. Existing
    # entries become one-hash items whose id is the entry's id, so the entry ids that
    # sightings, holds, retractions, disputes and match ids hold stay valid as item ids
    # (those tables' `entry_id` columns name items from here on).
    [
        """CREATE TABLE items (
            id BIGINT PRIMARY KEY, list_id BIGINT NOT NULL, ref TEXT,
            category_id BIGINT NOT NULL, value TEXT, state TEXT NOT NULL,
            merged_into BIGINT, first_batch BIGINT NOT NULL, last_batch BIGINT NOT NULL,
            first_at TEXT NOT NULL, last_at TEXT NOT NULL)""",
        "CREATE UNIQUE INDEX items_ref ON items (list_id, ref)",
        "CREATE INDEX items_list ON items (list_id, state)",
        "ALTER TABLE entries ADD COLUMN item_id BIGINT NOT NULL DEFAULT 0",
        "UPDATE entries SET item_id = id",
        """INSERT INTO items (id, list_id, ref, category_id, value, state, merged_into,
            first_batch, last_batch, first_at, last_at)
            SELECT e.id, e.list_id, NULL, e.category_id, NULL, 'active', NULL, e.batch_id,
            e.batch_id, b.committed_at, b.committed_at
            FROM entries e JOIN batches b ON b.id = e.batch_id""",
        "CREATE INDEX entries_item ON entries (item_id)",
        "ALTER TABLE tombstones ADD COLUMN item_id BIGINT NOT NULL DEFAULT 0",
        "UPDATE tombstones SET item_id = entry_id",
        "CREATE INDEX tombstones_item ON tombstones (item_id)",
        """CREATE TABLE item_history (
            id {pk}, item_id BIGINT NOT NULL, batch_id BIGINT NOT NULL, at TEXT NOT NULL,
            change TEXT NOT NULL, before_category BIGINT, after_category BIGINT,
            before_value TEXT, after_value TEXT)""",
        "CREATE INDEX item_history_item ON item_history (item_id)",
        "CREATE INDEX item_history_batch ON item_history (batch_id)",
        "ALTER TABLE batches ADD COLUMN changed BIGINT NOT NULL DEFAULT 0",
        "ALTER TABLE batches ADD COLUMN removed BIGINT NOT NULL DEFAULT 0",
    ],
    # 8: supplier values the operator maps to "not imported" (not abuse material): an item
    # delivered with one leaves the list
    [
        """CREATE TABLE category_not_imported (
            supplier TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (supplier, value))""",
    ],
    # 9: items made cheaper to write, for large first deliveries: the id is the row key
    # (SQLite keeps one tree instead of two), the delivery times are the batches' own, and
    # only items with a supplier id are in the supplier-id index
    [
        """CREATE TABLE items_v9 (
            id {key}, list_id BIGINT NOT NULL, ref TEXT,
            category_id BIGINT NOT NULL, value TEXT, state TEXT NOT NULL,
            merged_into BIGINT, first_batch BIGINT NOT NULL, last_batch BIGINT NOT NULL)""",
        """INSERT INTO items_v9 (id, list_id, ref, category_id, value, state, merged_into,
            first_batch, last_batch)
            SELECT id, list_id, ref, category_id, value, state, merged_into, first_batch,
            last_batch FROM items ORDER BY id""",
        "DROP TABLE items",
        "ALTER TABLE items_v9 RENAME TO items",
        "CREATE UNIQUE INDEX items_ref ON items (list_id, ref) WHERE ref IS NOT NULL",
        "CREATE INDEX items_list ON items (list_id, state)",
    ],
    # 10: a plain first delivery (bare hashes, no supplier ids or values) writes no item rows:
    # its items are ids first_item..last_item, each the one entry holding that item id, in the
    # entry's category and batch. They are written as rows (`sqlitems._write_runs`) before
    # anything changes an item of the list; `all_items` reads both kinds.
    [
        """CREATE TABLE item_runs (
            list_id BIGINT NOT NULL, first_item BIGINT NOT NULL, last_item BIGINT NOT NULL,
            batch_id BIGINT NOT NULL)""",
        """CREATE VIEW all_items AS
            SELECT id, list_id, ref, category_id, value, state, merged_into, first_batch,
            last_batch FROM items
            UNION ALL
            SELECT e.item_id, e.list_id, NULL, e.category_id, NULL, 'active', NULL,
            e.batch_id, e.batch_id FROM item_runs r JOIN entries e
            ON e.item_id BETWEEN r.first_item AND r.last_item AND e.list_id = r.list_id""",
    ],
    # 11: who created each operator account (NULL: made before any account existed), so that
    # an account and its creator never approve each other's proposals
    [
        "ALTER TABLE operators ADD COLUMN created_by TEXT",
    ],
    # 12: each node process says how it is (the console's overview): ready, the catalog
    # version its index answers from, its entries, and when it last knew itself current
    [
        """CREATE TABLE node_status (
            node TEXT PRIMARY KEY, started_at TEXT NOT NULL, seen_at TEXT NOT NULL,
            ready INTEGER NOT NULL, version BIGINT NOT NULL, entries BIGINT NOT NULL,
            current_at TEXT)""",
    ],
    # 13: statistics read by day (the console's charts, a period's newest rows) without a
    # scan of every client's and list's rows
    [
        "CREATE INDEX stats_by_day ON stats (day)",
    ],
    # 14: each list's number of entries, kept by every statement that adds or deletes entries
    # (`sqlbase._sized`): counting a list of 10M rows takes half a second, a page needs it now
    [
        "CREATE TABLE list_sizes (list_id BIGINT PRIMARY KEY, entries BIGINT NOT NULL)",
        "INSERT INTO list_sizes (list_id, entries) "
        "SELECT list_id, COUNT(*) FROM entries GROUP BY list_id",
    ],
    # 15: the operator's budgets for a client on each node (NULL: the node's settings)
    [
        "ALTER TABLE clients ADD COLUMN requests_per_second BIGINT",
        "ALTER TABLE clients ADD COLUMN work_per_second BIGINT",
    ],
    # 16: self-submission. A list a wildcard grant does not cover (it is granted by name
    # only); cases (a number, a slow hash of the PIN, no personal data) and which items each
    # case's files are; and a public name for clients that agree to be listed as
    # participating platforms
    [
        "ALTER TABLE lists ADD COLUMN explicit_grant INTEGER NOT NULL DEFAULT 0",
        """CREATE TABLE submissions (
            id {pk}, case_number TEXT NOT NULL UNIQUE, pin_hash TEXT NOT NULL,
            nonce TEXT NOT NULL UNIQUE, state TEXT NOT NULL, received_at TEXT NOT NULL,
            decided_by TEXT, decided_at TEXT, reason TEXT NOT NULL DEFAULT '')""",
        "CREATE INDEX submissions_state ON submissions (state, id)",
        """CREATE TABLE submission_items (
            case_id BIGINT NOT NULL REFERENCES submissions(id), file_no BIGINT NOT NULL,
            item_id BIGINT, algorithms TEXT NOT NULL, finding TEXT NOT NULL,
            left_out INTEGER NOT NULL DEFAULT 0)""",
        "CREATE INDEX submission_items_case ON submission_items (case_id)",
        "CREATE INDEX submission_items_item ON submission_items (item_id)",
        "ALTER TABLE clients ADD COLUMN public_name TEXT",
    ],
    # 17: takedown timing. When a client first matched an item on a day (the clock of a hit);
    # what clients say they did about their hits, once per match and action; the operator's
    # notices to clients; and a client's own deadline where an agreement says so (NULL: the
    # policy's)
    [
        "ALTER TABLE sightings ADD COLUMN first_seen BIGINT NOT NULL DEFAULT 0",
        "UPDATE sightings SET first_seen = last_seen",
        "CREATE INDEX sightings_client ON sightings (client_id, day)",
        """CREATE TABLE actions (
            id {pk}, client_id TEXT NOT NULL, item_id BIGINT NOT NULL, day BIGINT NOT NULL,
            action TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '', acted_at BIGINT NOT NULL,
            recorded_at BIGINT NOT NULL, notice_id BIGINT)""",
        "CREATE UNIQUE INDEX actions_once ON actions (client_id, item_id, day, action)",
        "CREATE INDEX actions_time ON actions (acted_at)",
        # The report reads a client's actions about an item from the index alone.
        "CREATE INDEX actions_timing ON actions (client_id, item_id, day, action, acted_at)",
        """CREATE TABLE notices (
            id {pk}, client_id TEXT NOT NULL, item_id BIGINT NOT NULL, url TEXT,
            issued_at BIGINT NOT NULL, deadline_at BIGINT NOT NULL, issued_by TEXT NOT NULL,
            state TEXT NOT NULL, acknowledged_at BIGINT, closed_at BIGINT)""",
        "CREATE INDEX notices_client ON notices (client_id, state, id)",
        "CREATE INDEX notices_time ON notices (issued_at)",
        "ALTER TABLE clients ADD COLUMN takedown_deadline_hours BIGINT",
        # An item's category from the index alone (the report asks it of every hit): the
        # item index gains the category; rebuilt once, minutes at 100M entries.
        "CREATE INDEX entries_item_category ON entries (item_id, category_id)",
        "DROP INDEX entries_item",
        # Each client's answered matches of an item per month (the month's first day): the
        # monthly report reads these, a fifth of the day records, kept beside them.
        """CREATE TABLE hit_months (
            month BIGINT NOT NULL, client_id TEXT NOT NULL, item_id BIGINT NOT NULL,
            first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL,
            PRIMARY KEY (month, client_id, item_id))""",
        """INSERT INTO hit_months (month, client_id, item_id, first_seen, last_seen)
            SELECT {month}, client_id, entry_id, MIN(first_seen), MAX(last_seen)
            FROM sightings WHERE answered = 1 GROUP BY {month}, client_id, entry_id""",
    ],
    # 18: a self-submitted case's lookup counts the platforms that took its items down.
    ["CREATE INDEX actions_item ON actions (item_id, action, client_id)"],
]

STANDARD_CATEGORIES = ("baseline", "illegal", "related", "other", "known-good")
KNOWN_GOOD = "known-good"
# The known-good list that upheld disputes add their hashes to (created when first needed).
DISPUTED_LIST = "disputed"
# Self-submission (created when the first case arrives): the list, and the categories of its
# items while they wait for review (answered `review`) and once the operator activated them.
SELF_SUBMITTED_LIST = "self-submitted"
HELD_CATEGORY = "self-submitted-held"
ACTIVE_CATEGORY = "self-submitted"
