"""Known-good lists: a hash on one never matches, and every collision is reported."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from hashcheck.admin import importing
from hashcheck.admin.errors import ImportRejected
from hashcheck.catalog.model import Grant
from hashcheck.hashes.algorithms import Algorithm
from hashcheck.hashes.keyed import Digester
from tests.http_client import call
from tests.support import Deployment, ServerThread, basic, legacy_post, make_deployment, serve

WORDPRESS_LOGO = hashlib.md5(b"wordpress logo", usedforsecurity=False).hexdigest()
ABUSE = hashlib.md5(b"abuse", usedforsecurity=False).hexdigest()
NSRL_HEADER = (
    '"SHA-1","MD5","CRC32","FileName","FileSize","ProductCode","OpSystemCode","SpecialCode"'
)


def nsrl_row(text: str) -> str:
    sha1 = hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest().upper()
    md5 = hashlib.md5(text.encode(), usedforsecurity=False).hexdigest().upper()
    return f'"{sha1}","{md5}","0A1B2C3D","{text}.png",2835,1,"362",""'


@pytest.fixture(params=["sqlite", "postgres"])
def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> Deployment:
    deployed = make_deployment(request.getfixturevalue(f"{request.param}_url"), tmp_path)
    store = deployed.store()
    store.add_list("nsrl", "NIST", "", actor="t", known_good=True)
    # The incident: a supplier file whose "other" category holds ordinary CMS images.
    supplier = tmp_path / "supplier.csv"
    supplier.write_text(f"md5,cat\n{ABUSE},baseline\n{WORDPRESS_LOGO},other\n")
    importing.import_file(
        store,
        Digester(deployed.key),
        "police",
        supplier,
        actor="t",
        fmt="csv",
        category_column="cat",
    )
    store.add_grant("acme", Grant(None, None), actor="t")  # even "everything" is safe
    other = next(c for c in store.categories() if c.name == "other")
    store.set_category_enabled(other.category_id, True, actor="t")  # the mistake itself
    store.close()
    return deployed


@pytest.fixture
def server(deployment: Deployment) -> Iterator[ServerThread]:
    yield from serve(deployment)


def check(server: ServerThread, deployment: Deployment, md5: str) -> bytes:
    auth = basic("acme", deployment.secret)
    return legacy_post(server.port, "/v1/check/md5", md5.encode(), auth).body


def test_known_good_hashes_never_match(
    server: ServerThread, deployment: Deployment, tmp_path: Path
) -> None:
    assert check(server, deployment, WORDPRESS_LOGO) == b"true"
    nsrl = tmp_path / "NSRLFile.txt"
    nsrl.write_bytes(
        ("\n".join([NSRL_HEADER, nsrl_row("wordpress logo"), nsrl_row("readme")]) + "\n").encode()
        + b'"0000000000000000000000000000000000000000","'
        + hashlib.md5(b"x", usedforsecurity=False).hexdigest().upper().encode()
        + b'","00","caf\xe9.txt",1,1,"1",""\n'  # NSRL is not always valid UTF-8
    )
    store = deployment.store()
    report = importing.import_file(store, Digester(deployment.key), "nsrl", nsrl, actor="t")
    # Three rows, three files, each with its SHA-1 and MD5.
    assert (report.added, report.hashes_added) == (3, 6)
    assert report.known_good_collisions == 1
    server.app.node.follower.refresh()
    assert check(server, deployment, WORDPRESS_LOGO) == b"false"
    assert check(server, deployment, ABUSE) == b"true"
    status, body, _ = call(
        server.base,
        "/v2/check",
        {"md5": [WORDPRESS_LOGO, ABUSE]},
        auth=("acme", deployment.secret),
    )
    assert status == 200
    assert [r["match"] for r in body["results"]] == [False, True]
    (collision,) = store.known_good_collisions()
    assert (collision.list_name, collision.category, collision.known_good_list) == (
        "police",
        "other",
        "nsrl",
    )
    # The collision names the item the operator can look up: the police item of the logo.
    police = next(h.list_id for h in store.lists() if h.name == "police")
    logo = Digester(deployment.key).digest(Algorithm.MD5, bytes.fromhex(WORDPRESS_LOGO))
    (item,) = store.find_items(digests=[logo], list_id=police)
    assert collision.item_id == item.item_id
    store.close()


def test_blocklist_import_reports_hashes_known_to_be_good(
    deployment: Deployment, tmp_path: Path
) -> None:
    store = deployment.store()
    digester = Digester(deployment.key)
    nsrl = tmp_path / "good.txt"
    nsrl.write_text(hashlib.md5(b"empty.gif", usedforsecurity=False).hexdigest() + "\n")
    assert importing.import_file(store, digester, "nsrl", nsrl, actor="t").added == 1
    later = tmp_path / "later.txt"
    later.write_text(nsrl.read_text() + ABUSE + "\n")
    report = importing.import_file(store, digester, "police", later, actor="t", category="baseline")
    assert (report.added, report.known_good_collisions) == (1, 1)
    with pytest.raises(ImportRejected, match="known-good list"):
        importing.import_file(store, digester, "nsrl", nsrl, actor="t", category="baseline")
    with pytest.raises(ImportRejected, match="is for known-good lists"):
        importing.import_file(store, digester, "police", nsrl, actor="t", category="known-good")
    store.close()


def test_cli_shows_kinds_and_collisions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.test_cli import run

    monkeypatch.setenv("HASHCHECK_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    monkeypatch.setenv("HASHCHECK_KEY_FILE", str(tmp_path / "list.key"))
    run("init")
    run("lists", "add", "police", "--supplier", "p")
    run("lists", "add", "cms", "--supplier", "WordPress", "--known-good")
    good = tmp_path / "good.txt"
    good.write_text(WORDPRESS_LOGO + "\n")
    run("import", "police", str(good), "--category", "other")
    code, out, _ = run("import", "cms", str(good))
    assert code == 0 and "WARNING: 1 hashes" in out
    kinds = {row["name"]: row["kind"] for row in json.loads(run("lists", "list", "--json")[1])}
    assert kinds == {"police": "hashes", "cms": "known-good"}
    code, out, _ = run("lists", "collisions", "--format", "json")
    assert [(c["list"], c["known_good_list"]) for c in json.loads(out)] == [("police", "cms")]


def make_rds(path: Path, names: list[str], *, view: bool = True) -> None:
    import sqlite3

    with sqlite3.connect(path) as rds:
        rds.execute(
            "CREATE TABLE FILE (sha256 TEXT, sha1 TEXT, md5 TEXT, crc32 TEXT, file_name TEXT, "
            "file_size INTEGER, package_id INTEGER)"
        )
        rds.executemany(
            "INSERT INTO FILE VALUES (?, ?, ?, '0', ?, 1, 1)",
            [
                (
                    hashlib.sha256(n.encode()).hexdigest().upper(),
                    hashlib.sha1(n.encode(), usedforsecurity=False).hexdigest().upper(),
                    hashlib.md5(n.encode(), usedforsecurity=False).hexdigest().upper(),
                    n,
                )
                for n in names
            ],
        )
        if view:
            rds.execute("CREATE VIEW DISTINCT_HASH AS SELECT DISTINCT sha256, sha1, md5 FROM FILE")


def test_nsrl_rds_v3_import(deployment: Deployment, tmp_path: Path) -> None:
    rds = tmp_path / "RDS_2026.09.1_modern_minimal.db"
    make_rds(rds, ["wordpress logo", "readme", "readme"])
    store = deployment.store()
    report = importing.import_file(store, Digester(deployment.key), "nsrl", rds, actor="t")
    # Two distinct files, three algorithms each; the duplicate row is one DISTINCT_HASH row.
    assert (report.records_read, report.added, report.known_good_collisions) == (6, 6, 1)
    assert rds.read_bytes().startswith(b"SQLite format 3")  # read, never written
    plain = tmp_path / "file-only.db"
    make_rds(plain, ["a"], view=False)
    assert (
        importing.import_file(store, Digester(deployment.key), "nsrl", plain, actor="t").added == 3
    )
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    with pytest.raises(ImportRejected, match="NSRL RDS"):
        importing.import_file(store, Digester(deployment.key), "nsrl", broken, actor="t")
    store.close()


def test_operator_adds_single_known_good_hashes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_cli import run

    monkeypatch.setenv("HASHCHECK_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    monkeypatch.setenv("HASHCHECK_KEY_FILE", str(tmp_path / "list.key"))
    run("init")
    run("lists", "add", "reviewed", "--supplier", "Operator", "--known-good")
    code, out, _ = run("import", "reviewed", "--hash", WORDPRESS_LOGO.upper(), "--json")
    assert (
        code == 0 and json.loads(out)["added"] == 1 and json.loads(out)["source"] == "command line"
    )
    assert run("import", "reviewed", "--hash", "nothex")[0] == 5
    assert run("import", "reviewed")[0] == 5
    assert run("import", "reviewed", str(tmp_path / "x"), "--hash", ABUSE)[0] == 5
    code, out, _ = run("audit", "--action", "list.import", "--format", "json")
    assert len(json.loads(out)) == 1


def test_hostile_rds_databases_are_refused_and_closed(
    deployment: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An uploaded RDS is SQL someone wrote: a recursive view is refused; a view that makes
    up rows is cut off at what the file could hold; a view that stalls is interrupted. Each
    ends with the database closed (its file can be removed at once) and nothing imported."""
    import sqlite3

    from hashcheck.admin import nsrl

    recursive = tmp_path / "recursive.db"
    make_rds(recursive, ["a"], view=False)
    with contextlib.closing(sqlite3.connect(recursive)) as rds, rds:
        rds.execute(
            "CREATE VIEW DISTINCT_HASH AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL "
            "SELECT i + 1 FROM n) SELECT printf('%064x', i) AS sha256 FROM n"
        )
    # Rows made up without RECURSIVE: a cross join of the table with itself, many times over.
    inflated = tmp_path / "inflated.db"
    make_rds(inflated, [str(n) for n in range(40)], view=False)
    with contextlib.closing(sqlite3.connect(inflated)) as rds, rds:
        rds.execute(
            "CREATE VIEW DISTINCT_HASH AS SELECT printf('%064x', abs(random())) AS sha256 "
            "FROM FILE a, FILE b, FILE c, FILE d"
        )
    monkeypatch.setattr(nsrl, "STALL_SECONDS", 0.5)
    stalled = tmp_path / "stalled.db"
    make_rds(stalled, [str(n) for n in range(300)], view=False)
    with contextlib.closing(sqlite3.connect(stalled)) as rds, rds:
        rds.execute(  # no row until a billion comparisons are done
            "CREATE VIEW DISTINCT_HASH AS SELECT a.sha256 FROM FILE a, FILE b, FILE c, FILE d "
            "WHERE a.sha256 = 'none' || b.sha1 || c.md5 || d.file_name"
        )
    store = deployment.store()
    before = len(store.batches())
    try:
        for database, says in (
            (recursive, "recursive view"),
            (inflated, "more rows than"),
            (stalled, "no row for"),
        ):
            with pytest.raises(ImportRejected, match=says):
                importing.import_file(store, Digester(deployment.key), "nsrl", database, actor="t")
            database.rename(database.with_suffix(".checked"))  # not held open
        assert len(store.batches()) == before  # nothing imported
    finally:
        store.close()
