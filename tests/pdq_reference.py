"""Where the PDQ tests find Meta's reference images and their expected hashes: the
repository's own copy in tests/data/pdq (its README names source and licence). Nothing here
reads outside the repository, so a fresh clone tests itself."""

from __future__ import annotations

import csv
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data" / "pdq"
# One row per image: file, pdq (hex), quality, width_x_height.
EXPECTED = list(csv.DictReader((DATA / "expected.csv").read_text().splitlines()))
PDQ_OF = {row["file"]: row["pdq"] for row in EXPECTED}
