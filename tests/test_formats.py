"""Supplier file parsers: every shape the issue names, and the malformed ones."""

from __future__ import annotations

import hashlib
import io

import pytest

from hashcheck.formats.entries import FormatError, LineError, ParsedEntry
from hashcheck.formats.parsers import detect_format, parse
from hashcheck.hashes.algorithms import Algorithm

MD5 = hashlib.md5(b"a", usedforsecurity=False).hexdigest()
SHA1 = hashlib.sha1(b"a", usedforsecurity=False).hexdigest()
SHA256 = hashlib.sha256(b"a").hexdigest()


def run(data: bytes, fmt: str = "auto", **options: object) -> list[ParsedEntry | LineError]:
    return list(parse(io.BytesIO(data), fmt, **options))  # type: ignore[arg-type]


def entries(items: list[ParsedEntry | LineError]) -> list[tuple[Algorithm, str]]:
    return [(i.algorithm, i.raw.hex()) for i in items if isinstance(i, ParsedEntry)]


def test_plain_list_with_comments_case_bom_crlf_and_truncated_last_line() -> None:
    data = (
        b"\xef\xbb\xbf# supplier export\r\n"
        + MD5.upper().encode()
        + b"\r\n\r\n"
        + SHA1.encode()
        + b"\r\n"
        + SHA256.encode()  # no final newline
    )
    assert detect_format(io.BytesIO(data)) == "plain"
    assert entries(run(data)) == [
        (Algorithm.MD5, MD5),
        (Algorithm.SHA1, SHA1),
        (Algorithm.SHA256, SHA256),
    ]


def test_plain_list_reports_bad_lines_with_numbers() -> None:
    items = run(f"{MD5}\nxyz\n{MD5[:-1]}\n{MD5[:-1]}g\n".encode(), "plain")
    errors = [i for i in items if isinstance(i, LineError)]
    assert [e.line for e in errors] == [2, 3, 4]
    assert "not a hex string" in errors[2].message


def test_md5sum_and_sha1sum_output() -> None:
    data = (
        f"{MD5}  photos/a b.jpg\n{SHA1} *binary.bin\n".encode()
        + b"\\"
        + MD5.encode()
        + b"  weird\\nname\n"
    )
    assert detect_format(io.BytesIO(data)) == "md5sum"
    assert entries(run(data)) == [
        (Algorithm.MD5, MD5),
        (Algorithm.SHA1, SHA1),
        (Algorithm.MD5, MD5),
    ]
    bad = run(f"{MD5}\n".encode(), "md5sum")
    assert isinstance(bad[0], LineError)


def test_md5sum_tolerates_non_utf8_paths() -> None:
    data = MD5.encode() + b"  caf\xe9.jpg\n"
    assert entries(run(data, "md5sum")) == [(Algorithm.MD5, MD5)]


def test_hashdeep() -> None:
    data = (
        "%%%% HASHDEEP-1.0\n"
        "%%%% size,md5,sha256,filename\n"
        "## Invoked from: /home\n"
        "## \n"
        f"1,{MD5},{SHA256},/data/a,with,commas.jpg\n"
        f"2,{MD5[:-1]},{SHA256},/data/b.jpg\n"
    ).encode()
    assert detect_format(io.BytesIO(data)) == "hashdeep"
    items = run(data)
    assert entries(items) == [
        (Algorithm.MD5, MD5),
        (Algorithm.SHA256, SHA256),
        (Algorithm.SHA256, SHA256),
    ]
    assert [i.line for i in items if isinstance(i, LineError)] == [6]


def test_hashdeep_without_header_is_refused() -> None:
    with pytest.raises(FormatError, match="HASHDEEP"):
        run(f"1,{MD5},x\n".encode(), "hashdeep")


def test_csv_with_header_mapping_and_category_column() -> None:
    data = f"Id;MD5 Hash;SHA1;Cat\n1;{MD5};{SHA1};baseline\n2;;{SHA1};other\n".encode()
    items = run(data, "csv", columns={"md5": "md5 hash", "sha1": "SHA1"}, category_column="cat")
    parsed = [(i.algorithm, i.category) for i in items if isinstance(i, ParsedEntry)]
    assert parsed == [
        (Algorithm.MD5, "baseline"),
        (Algorithm.SHA1, "baseline"),
        (Algorithm.SHA1, "other"),
    ]


def test_csv_detects_columns_and_reports_short_rows() -> None:
    data = f"md5,name\n{MD5},a\n{MD5}\n".encode()
    assert detect_format(io.BytesIO(data)) == "csv"
    items = run(data)
    assert isinstance(items[0], ParsedEntry)
    assert isinstance(items[1], LineError) and items[1].line == 3


def test_csv_refusals() -> None:
    with pytest.raises(FormatError, match="no md5, sha1, sha256 or pdq"):
        run(b"name,size\na,1\n", "csv")
    with pytest.raises(FormatError, match="no column"):
        run(b"md5\nx\n", "csv", columns={"md5": "hash"})
    with pytest.raises(FormatError, match="no header"):
        run(b"\n", "csv")


@pytest.mark.parametrize("fmt", ["auto", "plain", "md5sum", "csv"])
def test_binary_file_is_refused(fmt: str) -> None:
    data = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
    with pytest.raises(FormatError, match="binary"):
        run(data, fmt)
