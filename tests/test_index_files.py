"""The node's memory-mapped index files: built once, mapped by every worker and on restart,
compacted into new generations, and never used for another store or key."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from hashcheck.admin.setup import initialise
from hashcheck.hashes.keyed import ListKey
from hashcheck.index.exact import ExactIndex
from hashcheck.node.follower import Follower
from hashcheck.node.runtime import Node
from hashcheck.store.interface import Store
from hashcheck.store.open import open_store


@pytest.fixture
def store(store_url: str, tmp_path: Path) -> Store:
    opened = open_store(store_url)
    initialise(opened, tmp_path / "list.key")
    opened.add_list("police", "s", "", actor="t")
    return opened


def key(tmp_path: Path) -> ListKey:
    from hashcheck.hashes.keyfile import read_key_file

    return read_key_file(tmp_path / "list.key")


def add(store: Store, count: int) -> list[bytes]:
    digests = [os.urandom(16) for _ in range(count)]
    baseline = next(c.category_id for c in store.categories() if c.name == "baseline")
    store.import_entries(1, [(baseline, b"".join(digests))], source="t", actor="t")
    return digests


def node(store: Store, tmp_path: Path) -> Node:
    return Node(store, key(tmp_path), index_dir=tmp_path / "index")


def test_workers_map_one_generation_and_follow_changes(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first_digests = add(store, 1000)
    first = node(store, tmp_path).follower
    assert first.refresh()
    assert first.generation == 1
    snapshot = first.snapshot
    assert snapshot is not None and len(snapshot.exact) == 1000
    assert isinstance(snapshot.exact.base_columns()[0], np.memmap)
    # A second worker maps what the first wrote instead of reading every entry again.
    second = node(store, tmp_path).follower
    second.refresh()
    assert second.generation == 1
    assert sorted((tmp_path / "index").glob("gen-*")) == [tmp_path / "index" / "gen-1"]
    assert second.snapshot is not None
    (hit,) = second.snapshot.exact.lookup(first_digests[7])
    assert hit[0] > 0

    later = add(store, 50)
    store.remove_entries(1, [first_digests[0]], source="t", actor="t")
    for follower in (first, second):
        assert follower.refresh()
        assert follower.snapshot is not None
        assert len(follower.snapshot.exact) == 1049
        assert follower.snapshot.exact.lookup(later[3])
        assert not follower.snapshot.exact.lookup(first_digests[0])

    # Past the delta limit the first to notice writes generation 2; the other maps it.
    monkeypatch.setattr(ExactIndex, "COMPACT_AFTER", 10)
    add(store, 20)
    first.refresh()
    assert first.generation == 2
    second.refresh()
    assert second.generation == 2
    assert sorted(p.name for p in (tmp_path / "index").glob("gen-*")) == ["gen-1", "gen-2"]
    for follower in (first, second):
        assert follower.snapshot is not None and len(follower.snapshot.exact) == 1069
        assert follower.snapshot.exact.delta_size == 0

    # A restart maps generation 2 and reads only what changed since.
    add(store, 5)
    restarted = node(store, tmp_path).follower
    restarted.refresh()
    assert restarted.generation == 2
    assert restarted.snapshot is not None and len(restarted.snapshot.exact) == 1074
    assert restarted.snapshot.exact.delta_size == 5


def test_files_of_another_key_or_a_newer_store_are_not_used(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    digests = add(store, 100)
    node(store, tmp_path).follower.refresh()
    other_key = ListKey("k-other", os.urandom(32))
    stranger = Node(store, other_key, index_dir=tmp_path / "index").follower
    stranger.refresh()
    assert stranger.generation == 2  # built its own, never mapped the other key's
    assert "belong to another store or list key" in caplog.text
    # The store goes back in time (restored from an older backup): files are not trusted.
    store.set_meta("version", "1")
    again = node(store, tmp_path).follower
    again.refresh()
    assert again.generation == 3
    assert again.snapshot is not None and again.snapshot.exact.lookup(digests[0])


def _truncate(folder: Path) -> None:
    column = np.load(folder / "ids.npy")
    np.save(folder / "ids.npy", column[:-1])


def _disorder(folder: Path) -> None:
    column = np.load(folder / "hi.npy")
    np.save(folder / "hi.npy", column[::-1].copy())


def _wrong_type(folder: Path) -> None:
    column = np.load(folder / "slots.npy")
    np.save(folder / "slots.npy", column.astype(np.int64))


def _foreign_slot(folder: Path) -> None:
    column = np.load(folder / "slots.npy")
    column[3] = 999
    np.save(folder / "slots.npy", column)


def _cut_short(folder: Path) -> None:
    data = (folder / "lo.npy").read_bytes()
    (folder / "lo.npy").write_bytes(data[: len(data) // 2])


DAMAGE = {
    "a column shorter than the rest": (_truncate, "not 100 of int64"),
    "digests out of order": (_disorder, "not in order"),
    "a column of another type": (_wrong_type, "not 100 of uint16"),
    "a slot the meta does not have": (_foreign_slot, "names a slot"),
    "a file cut short": (_cut_short, "cannot use index files"),
}


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_damaged_index_files_are_not_used(
    damage: tuple[Callable[[Path], None], str],
    store: Store,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Files that would answer wrongly (a missed digest reads as clean) are refused with the
    reason logged, and the node builds a new generation from the store."""
    digests = add(store, 100)
    node(store, tmp_path).follower.refresh()
    spoil, reason = damage
    spoil(tmp_path / "index" / "gen-1")
    again = node(store, tmp_path).follower
    again.refresh()
    assert again.generation == 2
    assert reason in caplog.text
    assert again.snapshot is not None and len(again.snapshot.exact) == 100
    assert all(again.snapshot.exact.lookup(digest) for digest in digests)


def test_without_an_index_dir_nothing_is_written(store: Store, tmp_path: Path) -> None:
    add(store, 10)
    follower = Follower(store)
    follower.refresh()
    assert follower.generation == 0
    assert not (tmp_path / "index").exists()
