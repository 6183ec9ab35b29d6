"""Opening supplier files: compression, zip archives, UTF-16/32 text, and clear refusals.

Every case writes a real file into tmp_path and reads it back through `open_source`, then
(where it matters) through the parsers, as the importer does.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import json
import lzma
import re
import tempfile
import zipfile
from pathlib import Path

import pytest

from hashcheck.admin.sources import SourceError, as_file, open_source
from hashcheck.formats.entries import EntryRun, ItemDeletion, ParsedEntry
from hashcheck.formats.parsers import detect_format, parse

MD5S = [hashlib.md5(str(i).encode(), usedforsecurity=False).hexdigest() for i in range(3000)]
LIST = "".join(f"{h}\r\n" for h in MD5S)


def read_back(path: Path) -> tuple[bytes, tuple[str, ...]]:
    with open_source(path) as source:
        assert source.name == str(path)
        assert source.seekable()
        data = source.read()
        source.seek(0)
        assert source.read(64) == data[:64]  # seeking back costs nothing and works
        assert source.bytes_read() == source.size == path.stat().st_size
        return data, source.layers


def hashes_in(path: Path) -> list[str]:
    with open_source(path) as source:
        found = []
        for item in parse(source):
            if isinstance(item, EntryRun):
                found += [r.hex() for r in item.raws()]
            elif isinstance(item, ParsedEntry):
                found.append(item.raw.hex())
        return found


def test_a_plain_utf8_file_is_read_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_text(LIST)
    data, layers = read_back(path)
    assert (data, layers) == (LIST.encode(), ())


@pytest.mark.parametrize(
    ("suffix", "compress", "layer"),
    [
        ("gz", gzip.compress, "gzip"),
        ("bz2", bz2.compress, "bzip2"),
        ("xz", lzma.compress, "xz"),
    ],
)
def test_compressed_files(tmp_path: Path, suffix: str, compress: object, layer: str) -> None:
    path = tmp_path / f"list.txt.{suffix}"
    path.write_bytes(compress(LIST.encode()))  # type: ignore[operator]
    assert read_back(path) == (LIST.encode(), (layer,))
    assert hashes_in(path) == MD5S


def test_a_zip_holding_one_list_beside_archiver_litter(tmp_path: Path) -> None:
    path = tmp_path / "list.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("export/", b"")
        archive.writestr("export/hashes.txt", LIST)
        archive.writestr("__MACOSX/export/._hashes.txt", b"\x00\x05\x16\x07")
        archive.writestr("export/.DS_Store", b"\x00\x00\x00\x01Bud1")
    assert read_back(path) == (LIST.encode(), ("zip member 'export/hashes.txt'",))
    assert hashes_in(path) == MD5S


@pytest.mark.parametrize("count", [0, 2, 7])
def test_a_zip_without_exactly_one_list_is_refused(tmp_path: Path, count: int) -> None:
    path = tmp_path / "lists.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for n in range(count):
            archive.writestr(f"list{n}.txt", LIST)
    what = "no file" if count == 0 else f"{count} files (list0.txt, list1.txt"
    with pytest.raises(
        SourceError, match=re.escape(f"lists.zip: the zip archive holds {what}")
    ) as refused:
        open_source(path).__enter__()
    assert "exactly one list" in str(refused.value)
    if count == 7:
        assert "and 2 more" in str(refused.value)


def test_an_excel_workbook_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "hashes.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", "<worksheet/>")
    with pytest.raises(SourceError, match=r"an Excel workbook .* save it as \"CSV UTF-8\""):
        open_source(path).__enter__()


@pytest.mark.parametrize(
    ("codec", "bom", "layer"),
    [
        ("utf-16-le", b"\xff\xfe", "UTF-16LE"),
        ("utf-16-be", b"\xfe\xff", "UTF-16BE"),
        ("utf-32-le", b"\xff\xfe\x00\x00", "UTF-32LE"),
        ("utf-16-le", b"", "UTF-16LE without BOM"),
        ("utf-16-be", b"", "UTF-16BE without BOM"),
    ],
)
def test_utf16_and_utf32_text_is_transcoded(
    tmp_path: Path, codec: str, bom: bytes, layer: str
) -> None:
    text = "md5\tname\r\n" + "".join(f"{h}\tcafé {i}.jpg\r\n" for i, h in enumerate(MD5S))
    path = tmp_path / "unicode.txt"
    path.write_bytes(bom + text.encode(codec))
    assert read_back(path) == (text.encode("utf-8"), (layer,))
    assert hashes_in(path) == MD5S


def test_windows_powershell_redirection(tmp_path: Path) -> None:
    """`Get-FileHash * > hashes.txt` in PowerShell 5.1 writes UTF-16LE with a BOM."""
    rows = "".join(
        f"MD5             {h.upper()}       C:\\data\\{i}.jpg\r\n" for i, h in enumerate(MD5S)
    )
    table = (
        f"\r\nAlgorithm       Hash       Path\r\n---------       ----       ----\r\n{rows}\r\n\r\n"
    )
    path = tmp_path / "hashes.txt"
    path.write_bytes(b"\xff\xfe" + table.encode("utf-16-le"))
    with open_source(path) as source:
        assert detect_format(source) == "md5sum"
    assert hashes_in(path) == MD5S


def test_utf16_xml_says_utf8_once_transcoded(tmp_path: Path) -> None:
    document = (
        '<?xml version="1.0" encoding="UTF-16"?>\r\n'
        '<ns2:queryResult xmlns:ns2="https://hashsharing.ncmec.org/hashsharing/v2">'
        '<ns2:images><ns2:deletedImage><ns2:member id="7">M</ns2:member><ns2:id>é1</ns2:id>'
        "</ns2:deletedImage></ns2:images></ns2:queryResult>\r\n"
    )
    path = tmp_path / "ncmec.xml"
    path.write_bytes(document.encode("utf-16"))
    with open_source(path) as source:
        assert source.read(100).startswith(b'<?xml version="1.0" encoding="UTF-8"?>\r\n<ns2:')
        source.seek(0)
        assert list(parse(source)) == [ItemDeletion(1, "7/é1")]


def test_gzipped_utf16_vics_in_two_passes(tmp_path: Path) -> None:
    """VICS is read twice (context, then items): seeking back on a spooled file."""
    media = [{"MediaID": i, "Category": 1, "MD5": h} for i, h in enumerate(MD5S)]
    document = json.dumps({"@odata.context": "http://x/$metadata#Media", "value": media})
    path = tmp_path / "vics.json.gz"
    path.write_bytes(gzip.compress(b"\xff\xfe" + document.encode("utf-16-le")))
    assert hashes_in(path) == MD5S


def test_damaged_or_cut_off_compressed_files_are_refused(tmp_path: Path) -> None:
    data = gzip.compress(LIST.encode() * 20)
    path = tmp_path / "cut.gz"
    path.write_bytes(data[: len(data) // 2])
    with open_source(path) as source, pytest.raises(SourceError, match=r"cut.gz: .*cut off"):
        source.read()
    damaged = bytearray(data)
    damaged[len(data) // 2 : len(data) // 2 + 64] = bytes(64)
    path.write_bytes(bytes(damaged))
    with open_source(path) as source, pytest.raises(SourceError, match="download it again"):
        source.read()


def test_other_archives_and_documents_are_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "file"
    for content, what in [
        (b"7z\xbc\xaf\x27\x1c\x00\x04", "a 7-Zip archive"),
        (b"Rar!\x1a\x07\x01\x00", "a RAR archive"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "an Excel 97-2003 workbook"),
        (gzip.compress(gzip.compress(b"x")), "an archive inside an archive"),
    ]:
        path.write_bytes(content)
        with pytest.raises(SourceError, match=what):
            open_source(path).__enter__()


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"cannot read .*absent.txt"):
        open_source(tmp_path / "absent.txt").__enter__()


def test_binary_data_is_not_taken_for_utf16(tmp_path: Path) -> None:
    path = tmp_path / "image.bin"
    path.write_bytes(bytes(range(1, 256)) * 40)
    assert read_back(path)[1] == ()


def test_progress_follows_the_original_file_and_nothing_is_left_behind(tmp_path: Path) -> None:
    big = "".join(f"{h}\n" for h in MD5S) * 200  # ~20 MB of UTF-16
    path = tmp_path / "big.txt"
    path.write_bytes(b"\xff\xfe" + big.encode("utf-16-le"))
    spooled_before = set(Path(tempfile.gettempdir()).iterdir())
    with open_source(path) as source:
        seen = []
        while source.read(1 << 20):
            seen.append(source.bytes_read())
        assert seen == sorted(seen) and seen[0] < source.size // 4
        assert seen[-1] == source.size
    assert set(Path(tempfile.gettempdir()).iterdir()) <= spooled_before


def test_a_zipped_database_as_a_file_for_sqlite(tmp_path: Path) -> None:
    """NIST ships NSRL RDS v3 (SQLite) zipped; SQLite needs a path."""
    import sqlite3

    database = tmp_path / "rds.db"
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE FILE (md5 TEXT)")
        db.executemany("INSERT INTO FILE VALUES (?)", [(h,) for h in MD5S])
    db.close()
    path = tmp_path / "RDS_modern.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(database, "RDS/rds.db")
    with open_source(path) as source, as_file(source) as copy:
        assert source.read(16) == b"SQLite format 3\x00"  # rewound for its reader
        with sqlite3.connect(copy) as db:
            assert db.execute("SELECT count(*) FROM FILE").fetchone() == (3000,)
        db.close()
    assert not copy.exists()
    with open_source(database) as source, as_file(source) as same:
        assert same == database


def test_a_compressed_tar_is_refused(tmp_path: Path) -> None:
    import tarfile

    inner = tmp_path / "list.txt"
    inner.write_text(LIST)
    path = tmp_path / "lists.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        archive.add(inner, "list.txt")
    with pytest.raises(SourceError, match="a compressed tar archive; unpack it"):
        open_source(path).__enter__()


def test_classic_mac_line_endings(tmp_path: Path) -> None:
    """Excel for Mac's "CSV (Macintosh)" ends lines with CR alone; the parsers split on LF."""
    path = tmp_path / "mac.csv"
    path.write_bytes(("MD5,Name\r" + "".join(f"{h},a\r" for h in MD5S)).encode())
    assert read_back(path)[1] == ("CR line endings",)
    assert hashes_in(path) == MD5S
    path.write_bytes("".join(f"{h}\r" for h in MD5S).encode("utf-16"))
    assert read_back(path)[1] == ("UTF-16LE", "CR line endings")
    assert hashes_in(path) == MD5S
