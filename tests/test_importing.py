"""Imports and removals end to end into a real store: atomic, idempotent, streaming, strict."""

from __future__ import annotations

import hashlib
import tracemalloc
from pathlib import Path

import pytest

from hashcheck.admin import audit as trail
from hashcheck.admin import importing
from hashcheck.admin.errors import ImportRejected, UnknownName
from hashcheck.hashes.algorithms import Algorithm
from hashcheck.hashes.keyed import Digester
from hashcheck.store.interface import Store
from tests.support import Deployment, make_deployment


def md5(n: int | str) -> str:
    return hashlib.md5(str(n).encode(), usedforsecurity=False).hexdigest()


@pytest.fixture
def deployment(store_url: str, tmp_path: Path) -> Deployment:
    return make_deployment(store_url, tmp_path)


@pytest.fixture
def opened(deployment: Deployment) -> Store:
    return deployment.store()


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def run_import(
    opened: Store, deployment: Deployment, path: Path, **options: object
) -> importing.ImportReport:
    return importing.import_file(
        opened,
        Digester(deployment.key),
        "police",
        path,
        actor="t",
        **options,  # type: ignore[arg-type]
    )


def test_summary_counts_and_idempotence(
    opened: Store, deployment: Deployment, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "l.txt",
        [
            md5(1),
            md5(2),
            md5(2),
            "d41d8cd98f00b204e9800998ecf8427e",
            "da39a3ee5e6b4b0d3255bfef95601890afd80709",
        ],
    )
    report = run_import(opened, deployment, path, category="baseline")
    assert (report.records_read, report.added, report.empty_file_dropped) == (5, 2, 2)
    assert report.skipped == {"repeated in the file": 1, "only the empty file's hash": 2}
    assert_counts_add_up(report)
    again = run_import(opened, deployment, path, category="baseline")
    assert (again.added, again.unchanged, again.skipped_total) == (0, 2, 3)
    assert_counts_add_up(again)
    assert opened.entry_count() == 2


def assert_counts_add_up(report: importing.ImportReport) -> None:
    total = report.added + report.changed + report.unchanged + report.skipped_total
    assert report.records_read == total + report.invalid


def test_invalid_lines_fail_the_import_unless_skipped(
    opened: Store, deployment: Deployment, tmp_path: Path
) -> None:
    path = write(tmp_path / "l.txt", [md5(1), "nonsense", md5(2)[:-1]])
    with pytest.raises(ImportRejected) as info:
        run_import(opened, deployment, path, category="baseline")
    assert "line 2" in str(info.value) and "line 3" in str(info.value)
    assert opened.entry_count() == 0
    report = run_import(opened, deployment, path, category="baseline", skip_invalid=True)
    assert (report.added, report.invalid) == (1, 2)


def test_unknown_category_is_refused_with_the_known_ones(
    opened: Store, deployment: Deployment, tmp_path: Path
) -> None:
    path = write(tmp_path / "l.txt", [md5(1)])
    with pytest.raises(UnknownName, match="baseline, illegal, related, other"):
        run_import(opened, deployment, path, category="cartoons")
    csv_path = write(tmp_path / "l.csv", ["md5,cat", f"{md5(1)},baseline", f"{md5(2)},Other "])
    with pytest.raises(ImportRejected, match="unknown category 'Other'"):
        run_import(opened, deployment, csv_path, fmt="csv", category_column="cat")
    assert opened.entry_count() == 0
    with pytest.raises(ImportRejected, match="--category"):
        run_import(opened, deployment, path)


def test_unknown_list(opened: Store, deployment: Deployment, tmp_path: Path) -> None:
    with pytest.raises(UnknownName, match="known lists: police"):
        importing.import_file(
            opened,
            Digester(deployment.key),
            "nope",
            write(tmp_path / "l.txt", [md5(1)]),
            actor="t",
            category="baseline",
        )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x7fELF\x02\x01\x01\x00\x00\x00" + bytes(200), "binary"),
        (b"", None),
    ],
)
def test_odd_files(
    opened: Store, deployment: Deployment, tmp_path: Path, content: bytes, message: str | None
) -> None:
    path = tmp_path / "odd"
    path.write_bytes(content)
    if message is None:
        assert run_import(opened, deployment, path, category="baseline").added == 0
    else:
        with pytest.raises(ImportRejected, match=message):
            run_import(opened, deployment, path, category="baseline")
    assert opened.entry_count() == 0


def test_bom_crlf_and_truncated_last_line(
    opened: Store, deployment: Deployment, tmp_path: Path
) -> None:
    path = tmp_path / "l.txt"
    path.write_bytes(b"\xef\xbb\xbf" + f"{md5(1)}\r\n{md5(2)}\r\n{md5(3)}".encode())
    assert run_import(opened, deployment, path, category="baseline").added == 3


def test_missing_file(opened: Store, deployment: Deployment, tmp_path: Path) -> None:
    with pytest.raises(ImportRejected, match="cannot read"):
        run_import(opened, deployment, tmp_path / "absent.txt", category="baseline")


def test_removal_by_file_and_by_hash(opened: Store, deployment: Deployment, tmp_path: Path) -> None:
    run_import(
        opened,
        deployment,
        write(tmp_path / "l.txt", [md5(n) for n in range(10)]),
        category="baseline",
    )
    digester = Digester(deployment.key)
    report = importing.remove_file(
        opened, digester, "police", write(tmp_path / "r.txt", [md5(0), md5(1), md5(99)]), actor="t"
    )
    assert (report.removed, report.not_found) == (2, 1)
    report = importing.remove_hashes(opened, digester, "police", [md5(2).upper()], actor="t")
    assert report.removed == 1
    with pytest.raises(ImportRejected):
        importing.remove_hashes(opened, digester, "police", ["xyz"], actor="t")
    assert opened.entry_count() == 7


def peak_python_memory(opened: Store, deployment: Deployment, path: Path) -> int:
    tracemalloc.start()
    try:
        run_import(opened, deployment, path, category="baseline", chunk_size=2_000)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_file_size(
    opened: Store, deployment: Deployment, tmp_path: Path
) -> None:
    # The plain parser reads 1 MiB blocks (about 30,000 lines): both files span several.
    small = write(tmp_path / "small.txt", [md5(n) for n in range(70_000)])
    large = write(tmp_path / "large.txt", [md5(n) for n in range(70_000, 420_000)])
    small_peak = peak_python_memory(opened, deployment, small)
    large_peak = peak_python_memory(opened, deployment, large)
    # Five times the lines; the peak is bounded by the chunk size, not by the file.
    assert large_peak < small_peak * 1.5, (small_peak, large_peak)
    assert opened.entry_count() == 420_000


def test_parallel_digests_equal_sequential_ones(
    opened: Store, deployment: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hashcheck.admin import digesting

    lines = [md5(n) for n in range(40_000)] + ["d41d8cd98f00b204e9800998ecf8427e"]
    path = write(tmp_path / "l.txt", lines)
    opened.add_list("copy", "s", "", actor="t")
    sequential = run_import(opened, deployment, path, category="baseline")
    monkeypatch.setattr(importing, "PARALLEL_FROM_BYTES", 0)
    monkeypatch.setattr(digesting, "PARALLEL_FROM_BYTES", 0)
    parallel = importing.import_file(
        opened, Digester(deployment.key), "copy", path, actor="t", category="baseline"
    )
    assert (parallel.added, parallel.empty_file_dropped) == (sequential.added, 1) == (40_000, 1)
    changes = opened.changes_since(0, 0)
    by_list: dict[int, set[bytes]] = {}
    for i, list_id in enumerate(changes.added.list_ids.tolist()):
        by_list.setdefault(list_id, set()).add(changes.added.digests[i * 16 : (i + 1) * 16])
    first, second = by_list.values()
    assert first == second


@pytest.mark.parametrize("container", ["gzip", "zip", "utf-16le", "utf-16be", "utf-16-no-bom"])
def test_containers_and_encodings_import_completely(
    opened: Store, deployment: Deployment, tmp_path: Path, container: str
) -> None:
    """Windows tools write UTF-16 (PowerShell 5.1 redirection, Excel "Unicode Text");
    suppliers send gzip or a zip of one list: each imports every row, as UTF-8 would."""
    import gzip
    import zipfile

    text = "md5\tsha1\tcategory\r\n" + "".join(
        f"{md5(n)}\t{hashlib.sha1(str(n).encode(), usedforsecurity=False).hexdigest()}\tbaseline\r\n"
        for n in range(50)
    )
    path = tmp_path / "list"
    if container == "gzip":
        path.write_bytes(gzip.compress(text.encode()))
    elif container == "zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("export/list.txt", text)
    elif container == "utf-16-no-bom":
        path.write_bytes(text.encode("utf-16-le"))
    else:
        path.write_bytes(("\ufeff" + text).encode(container))
    report = run_import(opened, deployment, path, category_column="category")
    assert (report.records_read, report.added, report.hashes_added) == (50, 50, 100)
    assert opened.entry_count() == 100


def test_a_zip_with_two_lists_is_refused_unchanged(
    opened: Store, deployment: Deployment, tmp_path: Path
) -> None:
    import zipfile

    path = tmp_path / "two.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.txt", md5(1) + "\n")
        archive.writestr("b.txt", md5(2) + "\n")
    with pytest.raises(ImportRejected, match="nothing was changed"):
        run_import(opened, deployment, path, category="baseline")
    assert opened.entry_count() == 0


def test_a_dry_run_says_what_the_import_would_do_and_changes_nothing(
    opened: Store, deployment: Deployment, tmp_path: Path
) -> None:
    first = write(tmp_path / "first.txt", [md5(n) for n in range(10)])
    run_import(opened, deployment, first, category="baseline")

    keyed = Digester(deployment.key).for_algorithm(Algorithm.MD5)
    digests = [keyed(bytes.fromhex(md5(n))) for n in range(25)]

    def state() -> tuple[object, ...]:
        return (
            opened.version(),
            opened.entry_count(),
            opened.batches(None, 100),
            trail.read(opened, 1000),
            opened.find_items(digests=digests, limit=1000),
        )

    before = state()
    # Five recategorised, two new, and as a complete delivery five gone.
    delivery = write(tmp_path / "next.txt", [md5(n) for n in (*range(5), 20, 21)])
    options = {"category": "related", "replace": True, "confirm_removals": True}
    dry = run_import(opened, deployment, delivery, dry_run=True, **options)
    assert dry.dry_run and dry.batch_id == 0
    assert (dry.added, dry.changed, dry.removed, dry.hashes_added) == (2, 5, 5, 2)
    assert state() == before
    real = run_import(opened, deployment, delivery, **options)
    assert not real.dry_run and real.batch_id > 0
    seen = ("added", "changed", "unchanged", "removed", "replaced", "hashes_added", "recategorised")
    assert {k: getattr(real, k) for k in seen} == {k: getattr(dry, k) for k in seen}
    assert state() != before
