"""Bounds of one import (issue 14): a zip bomb stops at the unpacked bound, a low temporary
disk is refused, an over-long line is refused by its number, an import past its deadline is
stopped, and an upload's options are checked before its body is read. Each through the CLI
(a real store, exit code and message, no traceback) and the admin API (a real server); after
each the list is as it was and no temporary file is left."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import sqlite3
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from hashcheck.admin import importing, operators
from hashcheck.admin.bounds import MIB, ImportBounds
from hashcheck.admin.operators import Actor, Role
from hashcheck.cli.exitcodes import ExitCode
from hashcheck.cli.main import main
from hashcheck.formats.bounded import Bounded, bounded_lines
from hashcheck.formats.entries import FormatError
from hashcheck.formats.parsers import parse
from hashcheck.formats.pdqlist import parse_pdq
from hashcheck.formats.vics import parse_vics
from hashcheck.hashes.keyed import Digester
from tests.support import Deployment, basic, make_deployment, serve


def md5(n: int) -> str:
    return hashlib.md5(str(n).encode(), usedforsecurity=False).hexdigest()


def zip_bomb(path: Path, unpacked: int) -> Path:
    """One list member of ``unpacked`` bytes of one line repeated: a ratio of hundreds."""
    line = (md5(1) + "\n").encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("list.txt", line * (unpacked // len(line)))
    return path


def never_ending_rds(path: Path) -> Path:
    """A view whose CTE refers to itself (recursive without the word) and yields no row."""
    with contextlib.closing(sqlite3.connect(path)) as rds, rds:
        rds.execute("CREATE TABLE FILE (sha256 TEXT, sha1 TEXT, md5 TEXT)")
        rds.execute(
            "CREATE VIEW DISTINCT_HASH AS WITH n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
            "SELECT printf('%064x', i) AS sha256 FROM n WHERE i < 0"
        )
    return path


def long_line(path: Path) -> Path:
    path.write_bytes("".join(md5(n) + "\n" for n in range(3)).encode() + b"a" * (2 * MIB) + b"\n")
    return path


@pytest.fixture
def temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temporary folder every import writes to: checked empty after each refusal."""
    folder = tmp_path / "temporary"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def deployed(tmp_path: Path) -> Deployment:
    """A list with one entry on it, and a known-good list."""
    made = make_deployment(f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path)
    store = made.store()
    try:
        importing.import_file(
            store, Digester(made.key), "police", [md5(0)], actor="t", category="baseline"
        )
        store.add_list("nsrl", "NIST", "", actor="t", known_good=True)
    finally:
        store.close()
    return made


# -- the CLI ------------------------------------------------------------------------------
@pytest.fixture
def cli(deployed: Deployment, monkeypatch: pytest.MonkeyPatch, temporary: Path) -> Deployment:
    made = deployed
    monkeypatch.setenv("HASHCHECK_DATABASE_URL", made.url)
    monkeypatch.setenv("HASHCHECK_KEY_FILE", str(made.key_file))
    monkeypatch.setenv("HASHCHECK_ACTOR", "alice")
    return made


def run(*args: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exit_:
            code = int(exit_.code or 0)
    return code, err.getvalue()


def state(deployment: Deployment) -> tuple[Any, ...]:
    store = deployment.store()
    try:
        return store.version(), store.entry_count(), len(store.batches(None, 100))
    finally:
        store.close()


@pytest.mark.parametrize(
    ("setting", "value", "make", "list_name", "says"),
    [
        (
            "HASHCHECK_IMPORT_MAX_UNPACKED_MB",
            "1",
            lambda folder: zip_bomb(folder / "bomb.zip", 8 * MIB),
            "police",
            "unpacks to more than 1 MiB",
        ),
        (
            "HASHCHECK_IMPORT_TEMP_RESERVE_MB",
            str(1 << 30),  # a pebibyte: more than any test machine has free
            lambda folder: (
                folder.joinpath("list.gz").write_bytes(gzip.compress(b"x\n"))
                and (folder / "list.gz")
            ),
            "police",
            "HASHCHECK_IMPORT_TEMP_RESERVE_MB",
        ),
        (
            "HASHCHECK_IMPORT_MAX_SECONDS",
            "0.2",
            lambda folder: never_ending_rds(folder / "rds.db"),
            "nsrl",
            "longer than 0.2 s",
        ),
        (
            "HASHCHECK_ACTOR",
            "alice",
            lambda folder: long_line(folder / "long.txt"),
            "police",
            "line 4",
        ),
    ],
    ids=["zip-bomb", "temp-reserve", "deadline", "long-line"],
)
def test_the_cli_stops_at_each_bound_and_changes_nothing(
    cli: Deployment,
    tmp_path: Path,
    temporary: Path,
    monkeypatch: pytest.MonkeyPatch,
    setting: str,
    value: str,
    make: Any,
    list_name: str,
    says: str,
) -> None:
    monkeypatch.setenv(setting, value)
    source = make(tmp_path)
    before = state(cli)
    code, err = run(
        "import",
        list_name,
        str(source),
        *(["--category", "baseline"] if list_name == "police" else []),
    )
    assert code == ExitCode.REJECTED, err
    assert says in err and "nothing was changed" in err
    assert "Traceback" not in err
    assert state(cli) == before
    assert list(temporary.iterdir()) == []


def test_a_bounded_import_still_imports_what_fits(cli: Deployment, tmp_path: Path) -> None:
    """The bounds are bounds, not refusals: the same kinds of file within them import."""
    small = zip_bomb(tmp_path / "small.zip", 64 * 1024)
    code, err = run("import", "police", str(small), "--category", "baseline")
    assert code == ExitCode.OK, err


# -- the admin API ------------------------------------------------------------------------
@pytest.fixture
def operator(deployed: Deployment) -> dict[str, str]:
    store = deployed.store()
    try:
        made = operators.add(store, "olga", Role.OPERATOR, actor=Actor("setup", Role.APPROVER))
    finally:
        store.close()
    return {"Authorization": basic("olga", made.secret)}


@pytest.mark.parametrize(
    ("bounds", "make", "query", "says"),
    [
        (
            {"max_unpacked": MIB},
            lambda folder: zip_bomb(folder / "bomb.zip", 8 * MIB),
            "police/imports?category=baseline",
            "unpacks to more than 1 MiB",
        ),
        (
            {"reserve": 1 << 50},
            lambda folder: folder.joinpath("x.txt").write_text(md5(5)) and folder / "x.txt",
            "police/imports?category=baseline",
            "temporary disk",
        ),
        (
            {"max_seconds": 0.2},
            lambda folder: never_ending_rds(folder / "rds.db"),
            "nsrl/imports",
            "longer than 0.2 s",
        ),
        (
            {},
            lambda folder: long_line(folder / "long.txt"),
            "police/imports?category=baseline",
            "line 4",
        ),
        ({}, lambda folder: long_line(folder / "long.txt"), "police/removals", "line 4"),
    ],
    ids=["zip-bomb", "temp-reserve", "deadline", "long-line", "long-line-removal"],
)
def test_the_admin_api_stops_at_each_bound_and_changes_nothing(
    deployed: Deployment,
    operator: dict[str, str],
    tmp_path: Path,
    temporary: Path,
    bounds: dict[str, Any],
    make: Any,
    query: str,
    says: str,
) -> None:
    body = make(tmp_path).read_bytes()
    before = state(deployed)
    # The composition root sets them from HASHCHECK_IMPORT_*; the test sets small ones.
    for server in serve(deployed, import_bounds=ImportBounds(**bounds)):
        answer = httpx.post(
            f"{server.base}/admin/v1/lists/{query}", content=body, headers=operator, timeout=30
        )
    assert answer.status_code == 422, answer.text
    message = answer.json()["error"]["message"]
    assert says in message, message
    assert str(temporary) not in answer.text and str(tmp_path) not in answer.text, message
    assert state(deployed) == before
    assert list(temporary.iterdir()) == []


# -- the console's form: its options before its file (the reader: test_console_imports) ----
def test_the_console_refuses_the_options_an_import_would(deployed: Deployment) -> None:
    from hashcheck.admin.errors import AdminError
    from hashcheck.console.imports import check

    store = deployed.store()
    olga = Actor("olga", Role.OPERATOR)
    try:
        check(store, olga, {"list": "police", "category": "baseline"})
        for fields, says in (
            ({"list": "nonesuch"}, "nonesuch"),
            ({"list": "nsrl", "category": "baseline"}, "known-good list"),
            ({"list": "police", "format": "pdq"}, "needs --category"),
            ({"list": "police", "map": "1"}, "VALUE=CATEGORY"),
        ):
            with pytest.raises(AdminError, match=says):
                check(store, olga, fields)
    finally:
        store.close()


# -- the parsers' own bounds ----------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["plain", "md5sum", "hashdeep", "csv", "icse", "pdq"])
def test_a_line_longer_than_its_bound_is_refused_by_number(fmt: str) -> None:
    first = {
        "plain": md5(1),
        "md5sum": md5(1) + "  a.txt",
        "hashdeep": "%%%% HASHDEEP-1.0\n%%%% size,md5,filename",
        "csv": "md5,name",
        "icse": "MD5,SHA1,Image ID,Baseline",
        "pdq": "f" * 64,
    }[fmt]
    data = (first + "\n").encode() + b"x" * (MIB + 1) + b"\n"
    number = first.count("\n") + 2
    stream = io.BytesIO(data)
    with pytest.raises(FormatError, match=f"line {number} is longer than 1,048,576 bytes"):
        list(parse_pdq(stream) if fmt == "pdq" else parse(stream, fmt))


def test_lines_up_to_the_bound_are_read_whatever_the_reads() -> None:
    lines = [b"a" * 10, b"b" * 20, b"c" * 20, b""]
    text = b"\n".join(lines)
    assert bounded_lines(io.BytesIO(text), 20).read() == text
    with pytest.raises(FormatError, match="line 2 is longer than 19"):
        bounded_lines(io.BytesIO(text), 19).read()
    # A long line split over many small reads is counted across them.
    with pytest.raises(FormatError, match="line 3 "):
        stream = Bounded(io.BytesIO(b"ok\nok\n" + b"z" * 100), line=50)
        while stream.read(7):
            pass


def json_item(value: str) -> str:
    return '{"MD5": "' + value + '", "Category": 1}'


def test_a_record_longer_than_its_bound_is_refused_by_number() -> None:
    item = json_item(md5(1))
    document = (
        '{"odata.metadata": "x#Media", "value": ['
        + item
        + ', {"MD5": "'
        + "a" * (17 * MIB)
        + '", "Category": 1}]}'
    ).encode()
    with pytest.raises(FormatError, match="item 2 is longer than 16,777,216 bytes"):
        list(parse_vics(io.BytesIO(document)))
    stream = Bounded(io.BytesIO(b"x" * 100), record=(40, "record"))
    assert stream.read(30)
    stream.mark()
    with pytest.raises(FormatError, match="record 2 is longer than 40 bytes"):
        stream.read(50)
