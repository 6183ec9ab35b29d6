"""Plain lists, checksum tool output, hashdeep and CSV: every shape real files come in, the
malformed ones, and the record contract (every record yields something countable)."""

from __future__ import annotations

import hashlib
import io

import pytest

from hashcheck.formats.entries import EntryRun, FormatError, LineError, ParsedEntry, Skipped
from hashcheck.formats.parsers import Item, detect_format, parse
from hashcheck.hashes.algorithms import Algorithm


def md5(text: str = "a") -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def sha1(text: str = "a") -> str:
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


def sha256(text: str = "a") -> str:
    return hashlib.sha256(text.encode()).hexdigest()


MD5, SHA1, SHA256 = md5(), sha1(), sha256()


def run(data: bytes, fmt: str = "auto", **options: object) -> list[Item]:
    return list(parse(io.BytesIO(data), fmt, **options))  # type: ignore[arg-type]


def flat(items: list[Item]) -> list[tuple[int, Algorithm, str]]:
    """(record line, algorithm, hex) of every hash, runs spelt out one line each."""
    out = []
    for item in items:
        if isinstance(item, EntryRun):
            out += [
                (item.first_line + i, item.algorithm, r.hex()) for i, r in enumerate(item.raws())
            ]
        elif isinstance(item, ParsedEntry):
            out.append((item.line, item.algorithm, item.raw.hex()))
    return out


def entries(items: list[Item]) -> list[tuple[Algorithm, str]]:
    return [(algorithm, value) for _, algorithm, value in flat(items)]


def errors(items: list[Item]) -> list[tuple[int, str]]:
    return [(i.line, i.message) for i in items if isinstance(i, LineError)]


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


def test_plain_list_of_one_length_is_read_in_runs() -> None:
    data = "".join(f"{md5(str(i))}\n" for i in range(1000)).encode()
    items = run(data)
    assert all(isinstance(i, EntryRun) for i in items)
    assert sum(i.count for i in items if isinstance(i, EntryRun)) == 1000


@pytest.mark.parametrize("ending", [b"\n", b"\r\n"])
def test_plain_blocks_read_whole_give_what_lines_give(ending: bytes) -> None:
    good = [md5(str(i)) for i in range(6)]
    cases = {
        "uniform": (good, list(range(1, 7)), []),
        "upper case": ([h.upper() for h in good], list(range(1, 7)), []),
        "a space inside": (
            [*good[:2], good[2][:10] + " " + good[2][11:], *good[3:]],
            [1, 2, 4, 5, 6],
            [3],
        ),
        "a comment as long": ([*good[:3], "#" + "x" * 31, *good[3:]], [1, 2, 3, 5, 6, 7], []),
        "mixed lengths": ([*good[:3], sha1("m"), *good[3:]], [1, 2, 3, 4, 5, 6, 7], []),
        "a stray CR": (
            [*good[:3], good[3][:16] + "\r" + good[3][17:], *good[4:]],
            [1, 2, 3, 5, 6],
            [4],
        ),
    }
    for name, (lines, numbers, bad) in cases.items():
        data = b"".join(line.encode() + ending for line in lines)
        items = run(data, "plain")
        assert [line for line, _, _ in flat(items)] == numbers, name
        assert [line for line, _ in errors(items)] == bad, name
        values = [v for _, _, v in flat(items)]
        assert values == [line.lower() for n, line in enumerate(lines, 1) if n in numbers], name


def test_plain_list_reports_bad_lines_with_numbers() -> None:
    items = run(f"{MD5}\nxyz\n{MD5[:-1]}\n{MD5[:-1]}g\n".encode(), "plain")
    assert [line for line, _ in errors(items)] == [2, 3, 4]
    assert "not a hex string" in errors(items)[2][1]


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
    # A bare digest is unambiguous: taken, not refused.
    assert entries(run(f"{MD5}\n{SHA1}  x\n".encode(), "md5sum")) == [
        (Algorithm.MD5, MD5),
        (Algorithm.SHA1, SHA1),
    ]


def test_md5sum_tolerates_non_utf8_paths() -> None:
    data = MD5.encode() + b"  caf\xe9.jpg\n" + SHA1.encode() + b"  caf\xe9.jpg\n"
    assert entries(run(data, "md5sum")) == [(Algorithm.MD5, MD5), (Algorithm.SHA1, SHA1)]


def test_md5sum_of_one_algorithm_is_read_in_runs() -> None:
    data = "".join(f"{sha256(str(i))}  dir/file {i}.jpg\n" for i in range(500)).encode()
    items = run(data)
    assert all(isinstance(i, EntryRun) for i in items)
    assert len(flat(items)) == 500


def test_tagged_bsd_lines_mixed_with_gnu_lines() -> None:
    data = (
        f"SHA256 (photos/a (1).jpg) = {SHA256}\n"
        f"MD5 (b.jpg) = {md5('b').upper()}\n"
        f"SHA1 (c.jpg)= {sha1('c')}\n"  # BSD `shasum` leaves out a space on some systems
        f"{md5('d')}  d.jpg\n"
        f"SHA2-256(e.jpg)= {sha256('e')}\n"  # OpenSSL 3's `openssl dgst -sha256`
    ).encode()
    assert detect_format(io.BytesIO(data)) == "md5sum"
    assert flat(run(data)) == [
        (1, Algorithm.SHA256, SHA256),
        (2, Algorithm.MD5, md5("b")),
        (3, Algorithm.SHA1, sha1("c")),
        (4, Algorithm.MD5, md5("d")),
        (5, Algorithm.SHA256, sha256("e")),
    ]
    refused = run(
        f"SHA512 (a.jpg) = {'ab' * 64}\nBLAKE2b-256 (x) = 00\nCRC32  00ff00ff  y\n".encode(),
        "md5sum",
    )
    assert errors(refused) == [
        (1, "SHA512 hashes cannot be listed (only MD5, SHA-1 and SHA-256)"),
        (2, "BLAKE2b-256 hashes cannot be listed (only MD5, SHA-1 and SHA-256)"),
        (3, "CRC32 hashes cannot be listed (only MD5, SHA-1 and SHA-256)"),
    ]


def test_lines_of_one_file_are_one_record() -> None:
    """`md5sum` and `sha1sum` output interleaved, or `--tag` lines per algorithm: the hashes
    of one path, one after the other, are one record (they share its line)."""
    data = (
        f"MD5 (a.jpg) = {md5('a')}\nSHA1 (a.jpg) = {sha1('a')}\n"
        f"{md5('b')}  b.jpg\n{sha1('b')}  b.jpg\n{md5('b2')}  b.jpg\n"
    ).encode()
    assert [(line, a.value) for line, a, _ in flat(run(data))] == [
        (1, "md5"),
        (1, "sha1"),
        (3, "md5"),
        (3, "sha1"),
        (5, "md5"),  # a second MD5 for the same path is another file
    ]
    bad = run(f"{md5('c')}  c.jpg\n{sha1('c')[:-1]}  c.jpg\n".encode(), "md5sum")
    assert errors(bad) == [
        (1, "39 characters is not an MD5 (32), SHA-1 (40) or SHA-256 (64) (line 2)")
    ]


def test_md5deep_size_column() -> None:
    data = f"2835  {MD5}  /evidence/a.jpg\n0  {sha1('b')}  /evidence/b c.jpg\n".encode()
    assert detect_format(io.BytesIO(data)) == "md5sum"
    assert entries(run(data)) == [(Algorithm.MD5, MD5), (Algorithm.SHA1, sha1("b"))]


def test_powershell_get_filehash_table() -> None:
    """`Get-FileHash * > hashes.txt` in Windows PowerShell 5.1 (a UTF-16 file: see sources)."""
    data = (
        "\r\n"
        "Algorithm       Hash                                                                   Path\r\n"
        "---------       ----                                                                   ----\r\n"
        f"SHA256          {SHA256.upper()}       C:\\Users\\x\\a b.jpg\r\n"
        f"MD5             {md5('b').upper()}                                       C:\\b.jpg\r\n"
        "\r\n\r\n"
    ).encode()
    assert detect_format(io.BytesIO(data)) == "md5sum"
    assert entries(run(data)) == [(Algorithm.SHA256, SHA256), (Algorithm.MD5, md5("b"))]


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
    assert flat(items) == [
        (5, Algorithm.MD5, MD5),
        (5, Algorithm.SHA256, SHA256),
        (6, Algorithm.SHA256, SHA256),
    ]
    assert [line for line, _ in errors(items)] == [6]  # so line 6 is invalid as a whole


def test_hashdeep_column_vocabulary() -> None:
    """hashdeep -c md5,sha1,sha256,tiger,whirlpool, and the `sha-1`/`sha-256` spellings."""
    tiger, whirlpool = "ab" * 24, "cd" * 64
    data = (
        "%%%% HASHDEEP-1.0\n"
        "%%%% size,md5,SHA-1,sha-256,tiger,whirlpool,filename\n"
        "# a comment of one hash sign\n"
        f"10,{MD5},{SHA1},{SHA256},{tiger},{whirlpool},C:\\a.jpg\n"
        f"20,,,,{tiger},{whirlpool},C:\\only-tiger.jpg\n"
        f"30,{'*' * 32},{'*' * 40},{'*' * 64},{'*' * 48},{'*' * 128},C:\\huge.iso\n"
        f"40,{md5('p')},{sha1('p')},{sha256('p')},{tiger},{whirlpool},/big.iso offset 0-1048575\n"
    ).encode()
    items = run(data)
    assert flat(items) == [
        (4, Algorithm.MD5, MD5),
        (4, Algorithm.SHA1, SHA1),
        (4, Algorithm.SHA256, SHA256),
    ]
    assert [(s.line, s.reason) for s in items if isinstance(s, Skipped)] == [
        (5, "row without any hash"),
        (6, "hashdeep left the file unhashed (over its size limit)"),
        (7, "piecewise hash (of part of a file, hashdeep -p)"),
    ]


def test_hashdeep_with_one_algorithm_twice() -> None:
    data = f"%%%% HASHDEEP-1.0\n%%%% size,sha1,SHA-1,filename\n1,{SHA1},{SHA1.upper()},a\n"
    assert flat(run(data.encode())) == [(3, Algorithm.SHA1, SHA1)]


def test_hashdeep_refusals() -> None:
    with pytest.raises(FormatError, match="HASHDEEP"):
        run(f"1,{MD5},x\n".encode(), "hashdeep")
    with pytest.raises(FormatError, match=r"line 2: unknown hashdeep column 'crc32'"):
        run(b"%%%% HASHDEEP-1.0\n%%%% size,md5,crc32,filename\n", "hashdeep")
    with pytest.raises(FormatError, match=r"line 2: the hashdeep header names no md5"):
        run(b"%%%% HASHDEEP-1.0\n%%%% size,tiger,filename\n", "hashdeep")


def test_csv_with_header_mapping_and_category_column() -> None:
    data = f"Id;MD5 Hash;SHA1;Cat\n1;{MD5};{SHA1};baseline\n2;;{SHA1};other\n".encode()
    items = run(data, "csv", columns={"md5": "md5 hash", "sha1": "SHA1"}, category_column="cat")
    parsed = [(i.line, i.algorithm, i.category) for i in items if isinstance(i, ParsedEntry)]
    assert parsed == [
        (2, Algorithm.MD5, "baseline"),
        (2, Algorithm.SHA1, "baseline"),
        (3, Algorithm.SHA1, "other"),
    ]


def test_csv_finds_columns_by_their_many_names() -> None:
    data = f'"File";"SHA-256";"MD5 Hash";"PhotoDNA"\n"a.jpg";"{SHA256}";"{MD5}";"AAAA"\n'.encode()
    assert detect_format(io.BytesIO(data)) == "csv"
    assert entries(run(data)) == [(Algorithm.SHA256, SHA256), (Algorithm.MD5, MD5)]
    with pytest.raises(FormatError, match=r"line 1: CSV header has two md5 columns"):
        run(f"md5,MD5 Hash\n{MD5},{MD5}\n".encode(), "csv")


@pytest.mark.parametrize("name", ["md5", "MD5", "SHA256", "sha-1", "Hash"])
def test_csv_of_one_hash_column(name: str) -> None:
    value = {"md5": MD5, "sha256": SHA256, "sha-1": SHA1, "hash": SHA1}[name.lower()]
    data = f"{name}\r\n{value.upper()}\r\n{value}\r\n".encode()
    assert detect_format(io.BytesIO(data)) == "csv"
    assert [v for _, v in entries(run(data))] == [value, value]


def test_powershell_export_csv_of_get_filehash() -> None:
    """`Get-FileHash * | Export-Csv hashes.csv`: a #TYPE line, quoted fields, and the
    algorithm in each row."""
    data = (
        "#TYPE Microsoft.PowerShell.Commands.FileHashInfo\r\n"
        '"Algorithm","Hash","Path"\r\n'
        f'"SHA256","{SHA256.upper()}","C:\\x.jpg"\r\n'
        f'"MD5","{MD5.upper()}","C:\\y, z.jpg"\r\n'
        f'"SHA512","{"AB" * 64}","C:\\w.jpg"\r\n'
        '"SHA1","","C:\\locked.jpg"\r\n'
    ).encode()
    assert detect_format(io.BytesIO(data)) == "csv"
    items = run(data)
    assert flat(items) == [(3, Algorithm.SHA256, SHA256), (4, Algorithm.MD5, MD5)]
    assert errors(items) == [
        (5, "algorithm 'SHA512' cannot be listed (only MD5, SHA-1 and SHA-256)")
    ]
    assert [(s.line, s.reason) for s in items if isinstance(s, Skipped)] == [
        (6, "row without any hash")
    ]


def test_csv_rows_count_once_each() -> None:
    """A row without any hash is skipped (counted); a short row missing only unused columns
    is fine; the generic `hash` column goes by length."""
    data = f"md5,sha1,name,size\n,,empty.jpg,0\n;;;\n{MD5},{SHA1},a.jpg,1\n{MD5},,b\n".encode()
    items = run(data, "csv")
    assert flat(items) == [
        (4, Algorithm.MD5, MD5),
        (4, Algorithm.SHA1, SHA1),
        (5, Algorithm.MD5, MD5),
    ]
    assert [i.line for i in items if isinstance(i, Skipped)] == [2]
    assert errors(items) == [(3, "expected 4 fields, got 1")]
    generic = run(f"Hash\n{MD5}\n{SHA256}\n\n,\n".encode())
    assert entries(generic) == [(Algorithm.MD5, MD5), (Algorithm.SHA256, SHA256)]
    assert [i.line for i in generic if isinstance(i, Skipped)] == [5]


def test_excel_sep_line_names_the_delimiter() -> None:
    data = f"sep=;\r\nMD5;Name, with comma\r\n{MD5};a, b.jpg\r\n".encode()
    assert detect_format(io.BytesIO(data)) == "csv"
    assert flat(run(data)) == [(3, Algorithm.MD5, MD5)]


def test_csv_without_a_header() -> None:
    data = f"{MD5},a.jpg,12\n{SHA1},b.jpg,13\nname,,\n".encode()
    assert detect_format(io.BytesIO(data)) == "csv"
    items = run(data)
    assert flat(items) == [(1, Algorithm.MD5, MD5), (2, Algorithm.SHA1, SHA1)]
    assert [line for line, _ in errors(items)] == [3]


def test_csv_reports_rows_missing_a_hash_column() -> None:
    data = f"name,md5\na,{MD5}\nb\n".encode()
    assert detect_format(io.BytesIO(data)) == "csv"
    items = run(data)
    assert flat(items) == [(2, Algorithm.MD5, MD5)]
    assert errors(items) == [(3, "expected 2 fields, got 1")]


def test_csv_refusals() -> None:
    with pytest.raises(FormatError, match=r"line 1: CSV header names no md5, sha1, sha256"):
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


def test_utf16_given_straight_to_a_parser_is_named() -> None:
    with pytest.raises(FormatError, match="line 1: NUL bytes; this looks like UTF-16"):
        run(f"{MD5}\r\n".encode("utf-16-le"))


def test_json_and_xml_that_no_parser_reads_are_refused_by_name() -> None:
    with pytest.raises(FormatError, match="not a Project VIC hash set"):
        run(b'{\n  "value": []\n}\n')
    with pytest.raises(FormatError, match="--format vpdq"):
        run(b'[["' + b"0" * 64 + b',100,0.0"]]\n')
    with pytest.raises(FormatError, match="not NCMEC hash-sharing XML"):
        run(b'<?xml version="1.0"?>\n<hashes/>\n')


@pytest.mark.parametrize(
    "data",
    [
        f"{MD5}\nnot a hash\n\n# comment\n{SHA1}\n",
        f"{MD5}  a\nSHA256 (b) = {SHA256}\nMD5 (c) = {MD5}\n7  {SHA1}  d\nbroken line here\n",
        f"%%%% HASHDEEP-1.0\n%%%% size,md5,sha1,filename\n1,{MD5},{SHA1},a\n2,,,b\n3,x,,c\n",
        f"md5;sha1;pdq\n{MD5};{MD5};\n;;\n;;{SHA256}\n;;xyz\n",
    ],
)
def test_every_record_yields_something_countable(data: str) -> None:
    """The importer counts records by distinct lines: each data line must show up."""
    text = data.encode()
    lines = {
        number
        for number, line in enumerate(data.splitlines(), start=1)
        if line.strip() and not line.startswith(("#", "%%%%", "md5;"))
    }
    items = run(text)
    seen = {i.line for i in items if not isinstance(i, EntryRun)}
    seen |= {i.first_line + n for i in items if isinstance(i, EntryRun) for n in range(i.count)}
    assert seen == lines
