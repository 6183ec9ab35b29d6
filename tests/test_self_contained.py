"""A fresh clone tests itself: the reference data the tests use is in the repository, and no
test, benchmark or documented command reads beside it (a newcomer's clone has no ../shared)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.pdq_reference import DATA, EXPECTED

ROOT = Path(__file__).resolve().parent.parent
# Ways out of the repository: the sibling folder by name, or a path climbing above the root
# from a file in tests/ or bench/.
OUTSIDE = re.compile(r"\.\./shared|[\"']shared[\"']\s*/|parents\[[2-9]\]")


def test_the_pdq_reference_data_is_in_the_repository() -> None:
    assert DATA.is_relative_to(ROOT)
    assert len(EXPECTED) == 15
    for row in EXPECTED:
        assert (DATA / row["file"]).is_file(), row["file"]
    readme = (DATA / "README.md").read_text()
    assert "facebook/ThreatExchange" in readme and "BSD" in readme
    assert "Copyright (c) 2017- Facebook" in (DATA / "LICENSE.txt").read_text()


def test_nothing_reads_beside_the_repository() -> None:
    sources = [ROOT / "Makefile", ROOT / "README.md", ROOT / "pyproject.toml"]
    for folder in ("tests", "bench", "docs", "examples", "deploy"):
        sources += [p for p in (ROOT / folder).rglob("*") if p.is_file()]
    found = []
    for path in sources:
        if path.suffix in {".jpg", ".png", ".pyc", ".json"} or path == Path(__file__):
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if OUTSIDE.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == []
