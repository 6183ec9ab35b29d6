"""Items: a supplier's correction, a deletion, a dispute or a rollback acts on the whole file.

End to end through the importer and a real node (SQLite and PostgreSQL), and on the store's
contract where a supplier id is needed.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hashcheck.admin import importing
from hashcheck.admin.errors import ImportRejected
from hashcheck.hashes.algorithms import Algorithm
from hashcheck.hashes.keyed import Digester
from hashcheck.store.errors import Conflict
from hashcheck.store.interface import NOT_IMPORTED, REMOVE, StageRow, Store
from hashcheck.store.records import Sighting
from hashcheck.store.schema import DISPUTED_LIST
from tests.http_client import call
from tests.support import Deployment, ServerThread, make_deployment, serve, within_deadline


def md5(seed: str) -> str:
    return hashlib.md5(seed.encode(), usedforsecurity=False).hexdigest()


def sha1(seed: str) -> str:
    return hashlib.sha1(seed.encode(), usedforsecurity=False).hexdigest()


@pytest.fixture
def deployment(store_url: str, tmp_path: Path) -> Deployment:
    return make_deployment(store_url, tmp_path)


@pytest.fixture
def server(deployment: Deployment) -> Iterator[ServerThread]:
    yield from serve(deployment, poll_interval=0.05)


def csv_delivery(path: Path, rows: list[tuple[str, str]]) -> Path:
    """A CSV of files: each row one file's MD5 and SHA-1 and its category."""
    lines = ["md5,sha1,category", *(f"{md5(s)},{sha1(s)},{c}" for s, c in rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def deliver(deployment: Deployment, path: Path, **options: object) -> importing.ImportReport:
    store = deployment.store()
    try:
        return importing.import_file(
            store,
            Digester(deployment.key),
            "police",
            path,
            actor="test",
            category_column="category",
            **options,  # type: ignore[arg-type]
        )
    finally:
        store.close()


def matches(server: ServerThread, deployment: Deployment, seed: str) -> list[tuple[str, int]]:
    """(category, item) of every match of the file's MD5 and of its SHA-1."""
    status, body, _ = call(
        server.base,
        "/v2/check",
        {
            "hashes": [
                {"algorithm": "md5", "hash": md5(seed)},
                {"algorithm": "sha1", "hash": sha1(seed)},
            ]
        },
        auth=(deployment.client_id, deployment.secret),
    )
    assert status == 200, body
    return [(m["category"], m["item"]) for r in body["results"] for m in r["matches"]]


def test_a_recategorised_file_moves_with_all_its_hashes(
    server: ServerThread, deployment: Deployment, tmp_path: Path
) -> None:
    # The demo client checks `baseline` only: a file first delivered as `illegal` is not its.
    first = deliver(
        deployment, csv_delivery(tmp_path / "a.csv", [("f1", "illegal"), ("f2", "illegal")])
    )
    assert (first.records_read, first.added, first.hashes_added) == (2, 2, 4)
    server.app.node.follower.refresh()
    assert matches(server, deployment, "f1") == []
    second = deliver(
        deployment, csv_delivery(tmp_path / "b.csv", [("f1", "baseline"), ("f2", "illegal")])
    )
    assert (second.added, second.changed, second.unchanged, second.hashes_added) == (0, 1, 1, 0)
    (change,) = second.recategorised
    assert (change["before"], change["after"]) == ("illegal", "baseline")
    seconds = within_deadline(lambda: len(matches(server, deployment, "f1")), 2, deadline=1.0)
    assert seconds < 1.0
    (md5_match, sha1_match) = matches(server, deployment, "f1")
    assert md5_match == sha1_match and md5_match[0] == "baseline"  # one item, both hashes
    assert matches(server, deployment, "f2") == []
    store = deployment.store()
    try:
        (record,) = [
            a for a in store.audit_log(action="list.import") if a.detail.find('"changed": 1') >= 0
        ]
        detail = json.loads(record.detail)
        assert detail["recategorised"][0]["before"]["value"] == "illegal"
        assert detail["recategorised"][0]["after"]["value"] == "baseline"
        # The audit names the list and the categories, not only their numbers.
        assert record.subject == "police"
        assert detail["recategorised"][0]["before"]["category"] == "illegal"
        assert detail["recategorised"][0]["after"]["category"] == "baseline"
        history = store.item_history(md5_match[1])
        assert [(h.change, h.after_value) for h in history] == [("recategorised", "baseline")]
    finally:
        store.close()


def test_a_value_that_is_not_imported_takes_the_file_off_with_retractions(
    server: ServerThread, deployment: Deployment, tmp_path: Path
) -> None:
    deliver(
        deployment,
        csv_delivery(tmp_path / "a.csv", [("f1", "c1"), ("f2", "c1")]),
        category_map={"c1": "baseline", "c0": "not-imported"},
    )
    server.app.node.follower.refresh()
    assert len(matches(server, deployment, "f1")) == 2
    server.app.node.flusher.flush()  # the node records that acme was answered this match
    report = deliver(
        deployment,
        csv_delivery(tmp_path / "b.csv", [("f1", "c0"), ("f2", "c1"), ("f3", "c0")]),
        category_map={"c1": "baseline", "c0": "not-imported"},
    )
    assert (report.changed, report.removed, report.unchanged) == (1, 1, 1)
    assert report.skipped == {"not imported (supplier value c0)": 1}
    assert report.records_read == report.added + report.changed + report.unchanged + 1
    within_deadline(lambda: matches(server, deployment, "f1"), [], deadline=1.0)
    status, feed, _ = call(
        server.base, "/v2/retractions?since=0", None, auth=(deployment.client_id, deployment.secret)
    )
    assert status == 200 and [r["reason"] for r in feed["retractions"]] == ["removed"]


def test_a_complete_delivery_removes_what_it_lacks_and_refuses_a_truncated_one(
    deployment: Deployment, tmp_path: Path
) -> None:
    rows = [(f"f{n}", "baseline") for n in range(40)]
    deliver(deployment, csv_delivery(tmp_path / "a.csv", rows))
    store = deployment.store()
    version = store.version()
    store.close()
    with pytest.raises(Conflict, match="more than the 5%"):
        deliver(deployment, csv_delivery(tmp_path / "b.csv", rows[:30]), replace=True)
    store = deployment.store()
    assert store.version() == version and store.entry_count() == 80  # nothing changed
    store.close()
    report = deliver(deployment, csv_delivery(tmp_path / "c.csv", rows[:38]), replace=True)
    assert (report.unchanged, report.removed, report.replaced) == (38, 2, 2)
    confirmed = deliver(
        deployment, csv_delivery(tmp_path / "d.csv", rows[:10]), replace=True, confirm_removals=True
    )
    assert confirmed.removed == 28
    store = deployment.store()
    assert store.entry_count() == 20
    store.close()


def test_unknown_value_is_refused_naming_the_line(deployment: Deployment, tmp_path: Path) -> None:
    with pytest.raises(ImportRejected, match="line 3: unknown category 'cartoons'"):
        deliver(
            deployment, csv_delivery(tmp_path / "a.csv", [("f1", "baseline"), ("f2", "cartoons")])
        )


# -- on the store's contract, with supplier ids -------------------------------------------


def digest(store_key: Digester, seed: str, algorithm: Algorithm = Algorithm.MD5) -> bytes:
    raw = bytes.fromhex(md5(seed) if algorithm is Algorithm.MD5 else sha1(seed))
    return store_key.digest(algorithm, raw)


def record(
    number: int, category: int, digests: list[bytes], ref: str | None, value: str | None
) -> StageRow:
    return (number, category, len(digests), b"".join(digests), ref, value, 0)


@pytest.fixture
def keyed(deployment: Deployment) -> Digester:
    return Digester(deployment.key)


def category_id(store: Store, name: str) -> int:
    return next(c.category_id for c in store.categories() if c.name == name)


def file_of(keyed: Digester, seed: str) -> list[bytes]:
    return [digest(keyed, seed), digest(keyed, seed, Algorithm.SHA1)]


def test_supplier_ids_reclassify_delete_and_roll_back(store: Store, keyed: Digester) -> None:
    store.add_list("ncmec", "NCMEC", "", actor="t")
    list_id = next(h.list_id for h in store.lists() if h.name == "ncmec")
    a1, a2 = category_id(store, "baseline"), category_id(store, "illegal")
    first = store.import_records(
        list_id,
        [
            [
                record(0, a1, file_of(keyed, "x"), "42/x", "ncmec:A1"),
                record(1, a1, file_of(keyed, "y"), "42/y", "ncmec:A1"),
            ]
        ],
        source="f1",
        actor="t",
    )
    assert (first.added, first.hashes_added) == (2, 4)
    (item_x,) = store.find_items(ref="42/x")
    assert len(item_x.hashes) == 2
    # A1 -> A2 for x, by id alone: the same item, both hashes recategorised.
    second = store.import_records(
        list_id,
        [[record(0, a2, [file_of(keyed, "x")[0]], "42/x", "ncmec:A2")]],
        source="f2",
        actor="t",
    )
    assert (second.changed, second.unchanged, second.added) == (1, 0, 0)
    changes = store.changes_since(0, 0)
    categories = set(changes.added.category_ids[changes.added.item_ids == item_x.item_id].tolist())
    assert categories == {a2}
    assert store.item(item_x.item_id).value == "ncmec:A2"
    # Rolling the reclassification back restores A1 on both hashes.
    store.rollback_batch(second.batch_id, actor="t")
    assert store.item(item_x.item_id).category_id == a1
    with pytest.raises(Conflict, match="rolled back already"):
        store.rollback_batch(second.batch_id, actor="t")
    # A tombstone with only an id removes the whole item.
    cursor = store.changes_since(0, 0)
    third = store.import_records(
        list_id,
        [[record(0, REMOVE, [], "42/y", None), record(1, REMOVE, [], "42/none", None)]],
        source="f3",
        actor="t",
    )
    assert (third.removed, third.not_found) == (1, 1)
    later = store.changes_since(cursor.entries_cursor, cursor.tombstones_cursor)
    assert len(later.removed_ids) == 2  # the MD5 and the SHA-1 entry
    (item_y,) = store.find_items(ref="42/y")
    assert item_y.state == "removed" and item_y.hashes == ()
    # Found again by one of its hashes (keyed on the way in).
    (by_hash,) = store.find_items(digests=[file_of(keyed, "x")[1]])
    assert by_hash.item_id == item_x.item_id


def test_not_imported_supplier_value_removes_by_id(store: Store, keyed: Digester) -> None:
    store.add_list("vic", "Project VIC", "", actor="t")
    list_id = next(h.list_id for h in store.lists() if h.name == "vic")
    c1 = category_id(store, "illegal")
    store.import_records(
        list_id, [[record(0, c1, file_of(keyed, "m"), "7", "vics:1")]], source="a", actor="t"
    )
    outcome = store.import_records(
        list_id,
        [[record(0, NOT_IMPORTED, [file_of(keyed, "m")[0]], "7", "vics:0")]],
        source="b",
        actor="t",
    )
    assert (outcome.changed, outcome.removed) == (1, 1)
    assert store.entry_count(list_id) == 0


def test_a_dispute_upheld_for_one_hash_retracts_the_whole_file(
    store: Store, keyed: Digester
) -> None:
    # The deployment's list and its client `acme` (granted baseline of every list).
    list_id = next(h.list_id for h in store.lists() if h.name == "police")
    hashes = file_of(keyed, "stock photo")
    store.import_records(
        list_id,
        [[record(0, category_id(store, "baseline"), hashes, None, None)]],
        source="a",
        actor="t",
    )
    (item,) = store.find_items(digests=hashes[:1])
    day = int(time.time() // 86400)
    store.record_matches([Sighting(item.item_id, "acme", day, int(time.time()), True)], [])
    dispute = store.open_dispute("acme", item.item_id, day, "a stock photo")
    store.resolve_dispute(dispute.dispute_id, upheld=True, comment="", actor="alice")
    assert store.entry_count(list_id) == 0  # the SHA-1 went with the MD5
    disputed = next(h for h in store.lists() if h.name == DISPUTED_LIST)
    assert store.entry_count(disputed.list_id) == 2
    (retraction,) = store.retractions("acme", 0)
    assert retraction.entry_id == item.item_id and retraction.reason == "dispute-upheld"
    (decided,) = store.audit_log(action="dispute.uphold")
    assert decided.actor == "alice"
    (batch,) = [b for b in store.batches() if b.kind == "retraction"]
    assert batch.actor == "alice"  # the operator who decided, not the client


def test_one_hash_items_of_the_same_file_merge_on_redelivery(store: Store, keyed: Digester) -> None:
    """What the schema 7 migration leaves (one-hash items) joins up when the file's record
    arrives: afterwards a correction covers both hashes."""
    list_id = next(h.list_id for h in store.lists() if h.name == "police")
    baseline, illegal = category_id(store, "baseline"), category_id(store, "illegal")
    md5_digest, sha1_digest = file_of(keyed, "old")
    store.import_entries(list_id, [(baseline, md5_digest + sha1_digest)], source="old", actor="t")
    assert len({i.item_id for i in store.find_items(digests=[md5_digest, sha1_digest])}) == 2
    merged = store.import_records(
        list_id,
        [[record(0, illegal, [md5_digest, sha1_digest], "id-1", "x")]],
        source="new",
        actor="t",
    )
    assert merged.changed == 1
    (item,) = store.find_items(digests=[md5_digest, sha1_digest])
    assert (item.ref, item.category_id, len(item.hashes)) == ("id-1", illegal, 2)


@pytest.mark.parametrize("replace", [False, True])
@pytest.mark.parametrize("ref", [None, "id-7"])
def test_a_file_delivered_again_with_a_hash_more_keeps_it_on_the_same_item(
    store: Store, keyed: Digester, replace: bool, ref: str | None
) -> None:
    """Same category, one hash more: the record counts as unchanged (category and value are),
    and its new hash joins its item, not lost by the set-wise path for unchanged records.
    With a file beside it that is delivered again as it was."""
    list_id = next(h.list_id for h in store.lists() if h.name == "police")
    baseline = category_id(store, "baseline")
    md5_digest, sha1_digest = file_of(keyed, "grown")
    other = file_of(keyed, "as it was")
    store.import_records(
        list_id,
        [[record(0, baseline, [md5_digest], ref, None), record(1, baseline, other, None, None)]],
        source="first",
        actor="t",
    )
    (before,) = store.find_items(digests=[md5_digest])
    again = store.import_records(
        list_id,
        [
            [
                record(0, baseline, [md5_digest, sha1_digest], ref, None),
                record(1, baseline, other, None, None),
            ]
        ],
        source="second",
        actor="t",
        replace=replace,
    )
    assert (again.unchanged, again.hashes_added, again.removed) == (2, 1, 0)
    (item,) = store.find_items(digests=[sha1_digest])
    assert item.item_id == before.item_id and len(item.hashes) == 2
    assert [i.item_id for i in store.find_items(digests=[md5_digest])] == [before.item_id]


def test_an_item_is_found_by_match_id_hash_and_supplier_id_on_every_face(
    server: ServerThread, deployment: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hashcheck.admin import operators
    from hashcheck.admin.operators import Actor, Role
    from hashcheck.cli.main import main

    deliver(deployment, csv_delivery(tmp_path / "a.csv", [("f1", "illegal")]))
    deliver(deployment, csv_delivery(tmp_path / "b.csv", [("f1", "baseline")]))
    server.app.node.follower.refresh()
    status, body, _ = call(
        server.base,
        "/v2/check",
        {"hashes": [{"algorithm": "sha1", "hash": sha1("f1")}]},
        auth=(deployment.client_id, deployment.secret),
    )
    assert status == 200
    (match,) = body["results"][0]["matches"]
    store = deployment.store()
    secret = operators.add(store, "vera", Role.VIEWER, actor=Actor("setup", Role.APPROVER)).secret
    store.close()
    # The admin API: by the match id the client quotes, and by the file's other hash.
    by_match = call(
        server.base, f"/admin/v1/items?q={match['match_id']}", None, auth=("vera", secret)
    )
    by_hash = call(server.base, f"/admin/v1/items?q={md5('f1')}", None, auth=("vera", secret))
    assert by_match[0] == by_hash[0] == 200
    (shown,) = by_match[1]["items"]
    assert by_hash[1]["items"] == [shown]
    assert (shown["item"], shown["list"], shown["category"]) == (
        match["item"],
        "police",
        "baseline",
    )
    assert [h["change"] for h in shown["history"]] == ["added", "recategorised"]
    assert (shown["history"][1]["before"], shown["history"][1]["after"]) == ("illegal", "baseline")
    assert len(shown["hashes"]) == 2
    text = json.dumps(shown)
    assert md5("f1") not in text and sha1("f1") not in text  # masked, never the hash
    # The CLI answers the same view.
    import contextlib
    import io

    monkeypatch.setenv("HASHCHECK_DATABASE_URL", deployment.url)
    monkeypatch.setenv("HASHCHECK_KEY_FILE", str(deployment.key_file))
    monkeypatch.setenv("HASHCHECK_ACTOR", "vera")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["items", "show", f"item:{match['item']}"])
    assert code == 0
    assert json.loads(out.getvalue()) == [shown]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["items", "show", "no-such-supplier-id"]) != 0


def test_schema_6_entries_become_one_hash_items_keeping_their_governance(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deployment from before items migrates in place: each entry an item whose id is the
    entry's, so match records, holds and disputes (which named entries) still hold."""
    import os

    from hashcheck.store import schema, sqlbase
    from hashcheck.store.open import open_store

    monkeypatch.setattr(sqlbase, "MIGRATIONS", schema.MIGRATIONS[:6])
    old = open_store(store_url)
    old.migrate()
    assert old.schema_version() == 6
    with old._tx(write=True) as cur:  # type: ignore[attr-defined]
        q = old._q  # type: ignore[attr-defined]
        q(cur, "INSERT INTO lists (name, supplier, created_at) VALUES ('old', 's', 'then')")
        q(
            cur,
            "INSERT INTO batches (list_id, kind, source, actor, committed_at, added, unchanged) "
            "VALUES (1, 'import', 'f', 'op', '2026-01-01T00:00:00+00:00', 2, 0)",
        )
        for digest in (os.urandom(16), os.urandom(16)):
            q(
                cur,
                "INSERT INTO entries (list_id, digest, category_id, batch_id) VALUES (1, ?, 1, 1)",
                (digest,),
            )
        q(
            cur,
            "INSERT INTO sightings (entry_id, client_id, day, last_seen, answered) "
            "VALUES (2, 'acme', 20000, 1, 1)",
        )
    old.close()
    monkeypatch.setattr(sqlbase, "MIGRATIONS", schema.MIGRATIONS)
    store = open_store(store_url)
    try:
        assert store.migrate() == len(schema.MIGRATIONS)
        changes = store.changes_since(0, 0)
        assert changes.added.item_ids.tolist() == changes.added.entry_ids.tolist() == [1, 2]
        item = store.item(2)
        assert (item.state, item.first_batch, len(item.hashes)) == ("active", 1, 1)
        assert store.item_matches(2) == [("acme", 20000, True)]
    finally:
        store.close()


def test_a_stored_not_imported_mapping_takes_the_file_off(
    deployment: Deployment, tmp_path: Path
) -> None:
    from hashcheck.admin import suppliers

    store = deployment.store()
    suppliers.map_value(store, "National police", "cat-1", "baseline", actor="alice")
    assert suppliers.map_value(store, "National police", "cat-0", "not-imported", actor="alice")
    assert not suppliers.map_value(store, "National police", "cat-0", "not-imported", actor="a")
    assert suppliers.show(store, "National police") == [
        ("cat-0", "not-imported"),
        ("cat-1", "baseline"),
    ]
    store.close()
    deliver(deployment, csv_delivery(tmp_path / "a.csv", [("f1", "cat-1"), ("f2", "cat-1")]))
    report = deliver(
        deployment, csv_delivery(tmp_path / "b.csv", [("f1", "cat-0"), ("f2", "cat-1")])
    )
    assert (report.changed, report.removed, report.unchanged) == (1, 1, 1)
    assert report.recategorised[0]["after"] == "not-imported"
    store = deployment.store()
    try:
        assert store.entry_count() == 2  # f2's MD5 and SHA-1 only
        (change,) = [a for a in store.audit_log(action="supplier") if '"cat-0"' in a.detail]
        assert change.actor == "alice"
    finally:
        store.close()


def test_a_shadow_delivery_may_only_add(store: Store, keyed: Digester) -> None:
    store.add_list("vic", "Project VIC", "", actor="t")
    list_id = next(h.list_id for h in store.lists() if h.name == "vic")
    illegal, baseline = category_id(store, "illegal"), category_id(store, "baseline")
    store.import_records(
        list_id, [[record(0, illegal, file_of(keyed, "x"), "m1", "vics:1")]], source="f1", actor="t"
    )
    before = store.changes_since(0, 0)
    # Recategorising, removing by id, or replacing in shadow would take the item out of the
    # answers until promotion: refused, nothing changed.
    for rows, replace in (
        ([record(0, baseline, file_of(keyed, "x"), "m1", "vics:2")], False),
        ([record(0, REMOVE, [], "m1", None)], False),
        ([record(0, illegal, file_of(keyed, "y"), "m2", "vics:1")], True),
    ):
        with pytest.raises(Conflict, match="shadow import may only add"):
            store.import_records(
                list_id, [rows], source="f2", actor="t", shadow=True, replace=replace
            )
    after = store.changes_since(0, 0)
    assert after.entries_cursor == before.entries_cursor and after.removed_ids == []
    (item,) = store.find_items(ref="m1")
    assert item.category_id == illegal and item.state == "active"
    # New items and new hashes of a known item wait in the shadow batch.
    added = store.import_records(
        list_id,
        [
            [record(0, illegal, [digest(keyed, "x", Algorithm.SHA1)], "m1", "vics:1")],
            [record(1, illegal, file_of(keyed, "z"), "m3", "vics:1")],
        ],
        source="f3",
        actor="t",
        shadow=True,
    )
    assert store.batch(added.batch_id).state == "shadow" and added.added == 1
