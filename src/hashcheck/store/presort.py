"""A plain list's first delivery, put in digest order before it is staged.

The database writes a list's entries fastest in digest order (every index then fills at its
end), and numpy sorts a large delivery several times faster than the database's own sorter.
Only deliveries of bare hashes (no supplier ids or values) are taken, up to a bound on
memory; anything else is handed back as it came. Holds no SQL.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from hashcheck.hashes.keyed import DIGEST_BYTES
from hashcheck.store.interface import StageRow

# 16 M hashes: 256 MiB of digests (and as much again for the sort) at most.
MAX_DIGESTS = 1 << 24


def is_plain(row: StageRow) -> bool:
    return bool(row[6]) and row[4] is None and row[5] is None and row[1] >= 0


class PlainDelivery:
    """Collects the bare rows of a delivery; `sorted_rows` gives them back in digest order,
    or `release` as they came once the delivery turns out not to be plain."""

    def __init__(self) -> None:
        self._rows: list[StageRow] = []
        self._count = 0
        self.in_order = False  # whether `sorted_rows` gave the hashes in digest order

    def take(self, chunk: Sequence[StageRow]) -> bool:
        """Keep ``chunk`` if every row of it is plain and the bound is not reached."""
        count = sum(row[2] for row in chunk)
        if self._count + count > MAX_DIGESTS or not all(map(is_plain, chunk)):
            return False
        self._rows.extend(chunk)
        self._count += count
        return True

    def release(self) -> list[StageRow]:
        rows, self._rows, self._count = self._rows, [], 0
        return rows

    def sorted_rows(self, per_row: int) -> Iterator[list[StageRow]]:
        """The collected hashes as bare rows of at most ``per_row``, in (category, digest)
        order and numbered in that order; None of them when a digest repeats (the general
        import path decides which record wins, so it gets the rows as they came)."""
        rows = self.release()
        if not rows:
            return
        digests = np.frombuffer(b"".join(row[3] for row in rows), dtype=f"S{DIGEST_BYTES}")
        categories = np.repeat(
            np.fromiter((row[1] for row in rows), dtype=np.int64, count=len(rows)),
            np.fromiter((row[2] for row in rows), dtype=np.int64, count=len(rows)),
        )
        digests, categories = _in_order(digests, categories)
        if len(digests) > 1 and bool(np.any(digests[1:] == digests[:-1])):
            yield rows
            return
        self.in_order = True
        # A new row starts every per_row hashes and wherever the category changes.
        starts = np.flatnonzero(np.diff(categories, prepend=categories[0] - 1))
        packed = digests.tobytes()
        chunk: list[StageRow] = []
        for start, end in zip(starts, [*starts[1:], len(digests)], strict=True):
            category = int(categories[start])
            for first in range(int(start), int(end), per_row):
                n = min(per_row, int(end) - first)
                bytes_ = packed[first * DIGEST_BYTES : (first + n) * DIGEST_BYTES]
                chunk.append((first, category, n, bytes_, None, None, 1))
                if len(chunk) >= 4096:
                    yield chunk
                    chunk = []
        if chunk:
            yield chunk


def _in_order(digests: np.ndarray, categories: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Digests and their categories in (category, digest) order. Sorting on the first eight
    bytes of each digest as one big-endian integer is four times faster than comparing
    16-byte strings; only when two digests share those eight bytes (or categories differ)
    does the full sort run."""
    if len(digests) == 0:
        return digests, categories
    head = np.ascontiguousarray(digests).view(">u8")[0::2].astype(np.uint64)
    if int(categories.min()) == int(categories.max()):
        order = np.argsort(head)
        head = head[order]
        if len(head) < 2 or not bool(np.any(head[1:] == head[:-1])):
            return digests[order], categories[order]
    order = np.lexsort((digests, categories))
    return digests[order], categories[order]
