"""Supplier formats (Interpol ICSE CSV, Project VIC JSON, NCMEC XML): records, refs,
corrections and deletions, and explicit category maps."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest

from hashcheck.admin import importing
from hashcheck.admin.errors import ImportRejected, UnknownName
from hashcheck.formats.entries import (
    Deletion,
    EntryRun,
    FormatError,
    ItemDeletion,
    LineError,
    ParsedEntry,
    PdqDeletion,
    PdqEntry,
    Skipped,
)
from hashcheck.formats.icse import HEADER
from hashcheck.formats.parsers import Item, detect_format, parse
from hashcheck.hashes.keyed import Digester
from hashcheck.hashes.sealing import Sealer
from hashcheck.store.interface import Store
from tests.support import Deployment, make_deployment


def md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


def icse_row(name: str, baseline: str, *, sha: bool = True, image_id: str = "") -> str:
    return ";".join(
        [
            md5(name).upper(),
            sha1(name) if sha else "",
            "",
            image_id or f"id-{name}",
            "y",
            "n",
            "n",
            "S",
            "3",
            "y",
            "image",
            baseline,
        ]
    )


def vics(items: list[dict[str, object]], *, version: int = 2, bom: bool = False) -> bytes:
    key = "@odata.context" if version == 2 else "odata.metadata"
    context = "http://vics/odata/$metadata#Media" if version == 2 else "http://vics/odata/$metadata"
    text = json.dumps({key: context, "value": items}).encode()
    return (b"\xef\xbb\xbf" if bom else b"") + text


def items_of(data: bytes, fmt: str = "auto") -> list[Item]:
    return list(parse(io.BytesIO(data), fmt))


def test_icse_rows_carry_the_baseline_flag() -> None:
    data = "\n".join([HEADER, icse_row("a", "y"), icse_row("b", "False", sha=False)]).encode()
    assert detect_format(io.BytesIO(data)) == "icse"
    parsed = [i for i in items_of(data) if isinstance(i, ParsedEntry)]
    assert [(p.line, p.algorithm.value, p.category, p.ref) for p in parsed] == [
        (2, "md5", "baseline:yes", "id-a"),
        (2, "sha1", "baseline:yes", "id-a"),
        (3, "md5", "baseline:no", "id-b"),
    ]
    assert parsed[0].raw.hex() == md5("a")


def test_icse_is_recognised_by_its_columns_in_any_order_and_quoting() -> None:
    header = '"Image ID","Baseline","SHA1","MD5","PhotoDNA","Series name"'
    rows = [
        f'"9","t","{sha1("a")}","{md5("a")}","",""',
        '"10","f","","","AAAABBBB","S"',  # PhotoDNA only: nothing to list
        '"11","f","","","",""',
    ]
    data = "\r\n".join([header, *rows]).encode()
    assert detect_format(io.BytesIO(data)) == "icse"
    items = items_of(data)
    assert [(i.line, i.algorithm.value, i.ref) for i in items if isinstance(i, ParsedEntry)] == [
        (2, "md5", "9"),
        (2, "sha1", "9"),
    ]
    assert [(i.line, i.reason) for i in items if isinstance(i, Skipped)] == [
        (3, "row with only a PhotoDNA hash (not imported)"),
        (4, "row without any hash"),
    ]
    excel = f"sep=,\n{header}\n{rows[0]}\n".encode()
    assert detect_format(io.BytesIO(excel)) == "icse"
    assert [i.line for i in items_of(excel) if isinstance(i, ParsedEntry)] == [3, 3]
    # A plain CSV with md5 and sha1 columns is not taken for ICSE.
    assert detect_format(io.BytesIO(f"md5;sha1\n{md5('a')};{sha1('a')}\n".encode())) == "csv"


def test_icse_malformed_rows() -> None:
    data = "\n".join(
        [
            HEADER,
            icse_row("a", "maybe"),
            icse_row("b", "y")[:-30],
            icse_row("c", "y").replace(md5("c").upper(), "XYZ"),
        ]
    ).encode()
    errors = [i for i in items_of(data, "icse") if isinstance(i, LineError)]
    assert [e.line for e in errors] == [2, 3, 4]
    assert "Baseline must be" in errors[0].message
    with pytest.raises(FormatError, match="line 1: not an ICSE export"):
        items_of(b"MD5;SHA1\nabc;def\n", "icse")


def test_vics_1_and_2_with_bom_and_string_categories() -> None:
    media: list[dict[str, object]] = [
        {
            "MediaID": 1,
            "Category": 1,
            "MD5": md5("a").upper(),
            "SHA1": sha1("a").upper(),
            "IsPrecategorized": "false",
        },
        {"MediaID": "2", "Category": "2", "MD5": md5("b"), "IsPrecategorized": True},
        {"MediaID": 3.0, "Category": 0, "MD5": md5("wordpress logo")},
        {"Category": 1, "SHA1": None, "PhotoDNA": "AAAA"},
    ]
    for version in (1, 2):
        data = vics(media, version=version, bom=version == 2)
        assert detect_format(io.BytesIO(data)) == "vics"
        parsed = items_of(data)
        entries = [
            (p.line, p.algorithm.value, p.category, p.ref)
            for p in parsed
            if isinstance(p, ParsedEntry)
        ]
        # Category 0 is delivered like any other: the importer takes such items off the list.
        assert entries == [
            (1, "md5", "vics:1", "1"),
            (1, "sha1", "vics:1", "1"),
            (2, "md5", "vics:2", "2"),
            (3, "md5", "vics:0", "3"),
        ]
        assert [(s.line, s.reason) for s in parsed if isinstance(s, Skipped)] == [
            (4, "item with only a PhotoDNA hash (not imported)")
        ]


def test_vics_refusals() -> None:
    cases = json.dumps(
        {"@odata.context": "http://vics/odata/$metadata#Cases", "value": []}
    ).encode()
    with pytest.raises(FormatError, match="case export"):
        items_of(cases, "vics")
    with pytest.raises(FormatError, match=r"no .odata"):
        items_of(json.dumps({"value": [{"Category": 1, "MD5": md5("a")}]}).encode(), "vics")
    with pytest.raises(FormatError, match="malformed JSON"):
        items_of(vics([{"Category": 1, "MD5": md5("a")}])[:-5], "vics")
    odd: list[dict[str, object]] = [{"Category": "x", "MD5": md5("a")}, {"Category": 1, "MD5": 5}]
    bad = items_of(vics([*odd, [1]]), "vics")  # type: ignore[list-item]
    assert [(e.unit, e.line) for e in bad if isinstance(e, LineError)] == [
        ("item", 1),
        ("item", 2),
        ("item", 3),
    ]


@pytest.fixture
def deployment(sqlite_url: str, tmp_path: Path) -> Deployment:
    return make_deployment(sqlite_url, tmp_path)


@pytest.fixture
def opened(deployment: Deployment) -> Store:
    return deployment.store()


def test_import_needs_a_mapping_for_every_supplier_value(
    opened: Store, deployment: Deployment, tmp_path: Path
) -> None:
    path = tmp_path / "vics.json"
    path.write_bytes(
        vics(
            [
                {"Category": 1, "MD5": md5("a")},
                {"Category": 3, "MD5": md5("b")},
                {"Category": 0, "MD5": md5("c")},
            ]
        )
    )
    digester = Digester(deployment.key)
    with pytest.raises(ImportRejected, match="unknown category 'vics:1'"):
        importing.import_file(opened, digester, "police", path, actor="t")
    with pytest.raises(
        ImportRejected,
        match="'vics:3' has no mapping; map it with `hashcheck suppliers map SUPPLIER vics:3",
    ):
        importing.import_file(
            opened, digester, "police", path, actor="t", category_map={"vics:1": "illegal"}
        )
    with pytest.raises(UnknownName, match="unknown category 'csam'"):
        importing.import_file(
            opened, digester, "police", path, actor="t", category_map={"vics:1": "csam"}
        )
    assert opened.entry_count() == 0
    report = importing.import_file(
        opened,
        digester,
        "police",
        path,
        actor="t",
        category_map={"vics:1": "illegal", "vics:3": "related"},
    )
    assert (report.records_read, report.added, report.skipped_total) == (3, 2, 1)
    categories = {c.category_id: c.name for c in opened.categories()}
    assert sorted(
        categories[c] for c in opened.changes_since(0, 0).added.category_ids.tolist()
    ) == [
        "illegal",
        "related",
    ]


def test_vics_category_0_takes_a_delivered_item_off_the_list(
    opened: Store, deployment: Deployment, tmp_path: Path
) -> None:
    """Project VIC's false-positive correction: the same MediaID, now in category 0."""
    digester = Digester(deployment.key)
    path = tmp_path / "vics.json"
    mapping = {"vics:1": "illegal"}
    first = {"MediaID": 1, "Category": 1, "MD5": md5("a"), "SHA1": sha1("a")}
    other = {"MediaID": 2, "Category": 1, "MD5": md5("b")}
    path.write_bytes(vics([first, other]))
    report = importing.import_file(
        opened, digester, "police", path, actor="t", category_map=mapping
    )
    assert (report.added, opened.entry_count()) == (2, 3)
    path.write_bytes(vics([{**first, "Category": 0}, other]))
    report = importing.import_file(
        opened, digester, "police", path, actor="t", category_map=mapping
    )
    assert (report.records_read, report.changed, report.unchanged) == (2, 1, 1)
    assert [(r["ref"], r["after_value"]) for r in report.recategorised] == [("1", "vics:0")]
    assert opened.entry_count() == 1


def test_icse_import_through_the_cli(env_for_cli: dict[str, str], tmp_path: Path) -> None:
    from tests.test_cli import run

    run("init")
    run("lists", "add", "interpol", "--supplier", "Interpol ICSE")
    path = tmp_path / "icse.csv"
    path.write_text("\n".join([HEADER, icse_row("a", "y"), icse_row("b", "n")]) + "\n")
    code, _, err = run("import", "interpol", str(path))
    assert code == 5 and "'baseline:yes'" in err
    code, out, _ = run(
        "import",
        "interpol",
        str(path),
        "--map",
        "baseline:yes=baseline",
        "--map",
        "baseline:no=illegal",
        "--json",
    )
    assert code == 0 and json.loads(out)["added"] == 2  # items: two rows, two files


@pytest.fixture
def env_for_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "HASHCHECK_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "HASHCHECK_KEY_FILE": str(tmp_path / "cli.key"),
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def ncmec(records: str, *, prefix: str = "") -> bytes:
    root = f"{prefix}:queryResult" if prefix else "queryResult"
    declare = f"xmlns:{prefix}" if prefix else "xmlns"
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<{root} {declare}="https://hashsharing.ncmec.org/hashsharing/v2"><images>'
        f"{records}</images></{root}>"
    ).encode()


def image(name: str, classification: str = "A1", member: str = "") -> str:
    owner = f'<member id="{member}">Member {member}</member>' if member else ""
    return (
        f"<image>{owner}<timestamp>2017-10-24T15:00:00Z</timestamp><id>{name}</id>"
        f"<classification>{classification}</classification>"
        f"<fingerprints><md5>{md5(name)}</md5><sha1>{sha1(name).upper()}</sha1>"
        f"<pdna>AAAA</pdna><pdq>{sha256(name)}</pdq></fingerprints></image>"
    )


def deleted(name: str) -> str:
    return f"<deletedImage><id>{name}</id><fingerprints><md5>{md5(name)}</md5></fingerprints></deletedImage>"


def test_ncmec_entries_and_deletions() -> None:
    data = ncmec(image("a") + image("b", "B2") + deleted("old"))
    assert detect_format(io.BytesIO(data)) == "ncmec"
    parsed = items_of(data)
    entries = [
        (p.line, p.algorithm.value, p.category, p.ref) for p in parsed if isinstance(p, ParsedEntry)
    ]
    assert entries == [
        (1, "md5", "ncmec:A1", "a"),
        (1, "sha1", "ncmec:A1", "a"),
        (2, "md5", "ncmec:B2", "b"),
        (2, "sha1", "ncmec:B2", "b"),
    ]
    assert [(d.raw.hex(), d.ref) for d in parsed if isinstance(d, Deletion)] == [
        (md5("old"), "old")
    ]
    # PDQ fingerprints come as perceptual entries (PhotoDNA is left out).
    perceptual = [(p.bits.hex(), p.category) for p in parsed if isinstance(p, PdqEntry)]
    assert perceptual == [(sha256("a"), "ncmec:A1"), (sha256("b"), "ncmec:B2")]


def test_ncmec_as_the_hash_sharing_api_delivers_it() -> None:
    """Members own the ids; feedback names members of its own; videos may come without a
    classification; deletions often name only the member and id."""
    feedback = (
        '<feedback><affirmativeFeedback type="Md5"><members timestamp="2023-06-01T12:48:14Z">'
        '<member id="99">Someone else</member></members></affirmativeFeedback></feedback>'
    )
    records = (
        image("a", member="42").replace("</image>", feedback + "</image>")
        + '<deletedImage><member id="43">M</member><id>image4</id>'
        "<timestamp>2017-10-24T15:10:00Z</timestamp></deletedImage>"
        "</images><videos>"
        f'<video><member id="42">M</member><id>video1</id><fingerprints><md5>{md5("v")}</md5>'
        '<tmk-pdqf rel="self" href="/v2/entries/1/fingerprints/TMK_PDQF"/></fingerprints></video>'
        '<video><member id="42">M</member><id>video2</id><classification>A2</classification>'
        '<fingerprints><tmk-pdqf rel="self" href="/x"/></fingerprints></video>'
        '<deletedVideo><member id="42">M</member><id>video4</id></deletedVideo>'
        f'<deletedImage><member id="42">M</member><id>image5</id><fingerprints>'
        f"<pdq>{sha256('p')}</pdq></fingerprints></deletedImage>"
        "</videos><images>"
    )
    for prefix in ("", "ns2"):
        data = ncmec(records, prefix=prefix)
        assert detect_format(io.BytesIO(data)) == "ncmec"
        parsed = items_of(data)
        assert [
            (p.line, type(p).__name__, getattr(p, "category", None), getattr(p, "ref", None))
            for p in parsed
            if not isinstance(p, Skipped | LineError | EntryRun)
        ] == [
            (1, "PdqEntry", "ncmec:A1", "42/a"),
            (1, "ParsedEntry", "ncmec:A1", "42/a"),
            (1, "ParsedEntry", "ncmec:A1", "42/a"),
            (2, "ItemDeletion", None, "43/image4"),
            (3, "ParsedEntry", "ncmec:unclassified", "42/video1"),
            (5, "ItemDeletion", None, "42/video4"),
            (6, "PdqDeletion", None, "42/image5"),
        ]
        assert [(s.line, s.reason) for s in parsed if isinstance(s, Skipped)] == [
            (4, "only PhotoDNA or video (TMK) fingerprints (not imported)")
        ]
        assert not [e for e in parsed if isinstance(e, LineError)]
    assert isinstance(items_of(ncmec(records))[3], ItemDeletion)
    assert isinstance(items_of(ncmec(records))[-1], PdqDeletion)


def test_ncmec_repeated_fingerprints_count_once() -> None:
    twice = image("a").replace(
        "</fingerprints>", f"<md5>{md5('a').upper()}</md5><md5/></fingerprints>"
    )
    parsed = [p for p in items_of(ncmec(twice)) if isinstance(p, ParsedEntry)]
    assert [p.algorithm.value for p in parsed] == ["md5", "sha1"]


def test_ncmec_refusals() -> None:
    with pytest.raises(FormatError, match="malformed XML"):
        items_of(ncmec(image("a"))[:-20], "ncmec")
    with pytest.raises(FormatError, match="root element"):
        items_of(b"<other><image/></other>", "ncmec")
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE q [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'
        b"<queryResult><image><classification>&b;</classification></image></queryResult>"
    )
    with pytest.raises(FormatError, match="refused XML"):
        items_of(bomb, "ncmec")
    with pytest.raises(FormatError, match="several XML documents in one file"):
        items_of(ncmec(image("a")) + ncmec(image("b")).split(b"?>", 1)[1], "ncmec")
    bad_md5 = image("x").replace(md5("x"), "zz" * 16)
    anonymous = "<deletedVideo><timestamp>2017-10-24T15:20:00Z</timestamp></deletedVideo>"
    errors = [e for e in items_of(ncmec(bad_md5 + anonymous), "ncmec") if isinstance(e, LineError)]
    assert [str(e) for e in errors] == [
        "record 1: <image> x: md5 hash must contain only hex characters 0-9, a-f",
        "record 2: <deletedVideo> names no <id> and no MD5, SHA-1 or PDQ",
    ]


def test_ncmec_import_applies_deletions(
    opened: Store, deployment: Deployment, tmp_path: Path
) -> None:
    digester = Digester(deployment.key)
    sealer = Sealer(deployment.key)
    first = tmp_path / "first.xml"
    first.write_bytes(ncmec(image("a") + image("old")))
    mapping = {"ncmec:A1": "baseline"}
    report = importing.import_file(
        opened, digester, "police", first, actor="t", category_map=mapping, sealer=sealer
    )
    assert report.added == 2  # items, each with its MD5, SHA-1 and PDQ
    assert opened.entry_count() == 6
    update = tmp_path / "update.xml"
    update.write_bytes(ncmec(image("b") + deleted("old") + deleted("never listed")))
    report = importing.import_file(
        opened, digester, "police", update, actor="t", category_map=mapping, sealer=sealer
    )
    assert (report.added, report.deletions_read, report.removed) == (1, 2, 1)
    # The item "old" leaves with all its hashes, though the deletion named only its MD5.
    assert opened.entry_count() == 6


def test_stored_supplier_maps(env_for_cli: dict[str, str], tmp_path: Path) -> None:
    from tests.test_cli import run

    run("init")
    run("lists", "add", "interpol", "--supplier", "Interpol ICSE")
    assert run("suppliers", "map", "Nobody", "baseline:yes", "baseline")[0] == 4
    assert run("suppliers", "map", "Interpol ICSE", "baseline:yes", "cartoons")[0] == 4
    assert run("suppliers", "map", "Interpol ICSE", "baseline:yes", "baseline")[0] == 0
    assert run("suppliers", "map", "Interpol ICSE", "baseline:no", "illegal")[0] == 0
    code, out, _ = run("suppliers", "show", "Interpol ICSE", "--format", "json")
    assert json.loads(out) == [
        {"value": "baseline:no", "category": "illegal"},
        {"value": "baseline:yes", "category": "baseline"},
    ]
    path = tmp_path / "icse.csv"
    path.write_text("\n".join([HEADER, icse_row("a", "y"), icse_row("b", "n")]) + "\n")
    code, out, err = run("import", "interpol", str(path), "--json")
    assert code == 0, err
    assert json.loads(out)["added"] == 2
    assert run("suppliers", "unmap", "Interpol ICSE", "baseline:no")[0] == 0
    assert run("suppliers", "unmap", "Interpol ICSE", "baseline:no")[0] == 4
    path.write_text("\n".join([HEADER, icse_row("c", "n")]) + "\n")
    code, _, err = run("import", "interpol", str(path))
    assert code == 5 and "'baseline:no' has no mapping" in err
    code, out, _ = run("audit", "--action", "supplier", "--format", "json")
    assert [r["action"] for r in json.loads(out)] == [
        "supplier.unmap",
        "supplier.map",
        "supplier.map",
    ]


def test_upgrading_a_version_1_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A database made by the first release gains the supplier maps and keeps its data."""
    from hashcheck.store import sqlbase
    from hashcheck.store.open import open_store
    from hashcheck.store.schema import MIGRATIONS

    url = f"sqlite:///{tmp_path / 'old.db'}"
    monkeypatch.setattr(sqlbase, "MIGRATIONS", MIGRATIONS[:1])
    old = open_store(url)
    assert old.migrate() == 1
    old.close()
    import sqlite3

    with sqlite3.connect(tmp_path / "old.db") as raw:  # what the first release wrote
        raw.execute(
            "INSERT INTO lists (name, supplier, description, created_at) "
            "VALUES ('l', 'Supplier', '', '2026-01-01')"
        )
    monkeypatch.setattr(sqlbase, "MIGRATIONS", MIGRATIONS)
    new = open_store(url)
    assert new.migrate() == len(MIGRATIONS) >= 2
    assert [item.name for item in new.lists()] == ["l"]
    assert new.set_category_mapping("Supplier", "x", 1, actor="t")
    assert new.category_map("Supplier") == {"x": 1}
    new.close()
