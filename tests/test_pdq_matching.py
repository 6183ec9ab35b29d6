"""PDQ lists end to end on a real server: a plain PDQ list imported (sealed at rest), v2
queries answered with every entry within the list's threshold and its distance, nearest
first, action review; low-quality queries flagged; rollback takes entries out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hashcheck.admin import importing
from hashcheck.admin.errors import ImportRejected
from hashcheck.hashes.keyed import Digester
from hashcheck.hashes.sealing import Sealer
from hashcheck.pdq.algorithm import distance
from tests.http_client import call
from tests.pdq_reference import PDQ_OF
from tests.support import Deployment, ServerThread, make_deployment, serve, v2_check

ORIGINAL = PDQ_OF["aaa-orig.jpg"]
UNRELATED = PDQ_OF["c.png"]


def flipped(text: str, count: int) -> str:
    value = int(text, 16) ^ ((1 << count) - 1)  # the lowest ``count`` bits flipped
    return f"{value:064x}"


@pytest.fixture
def deployment(store_url: str, tmp_path: Path) -> Deployment:
    deployed = make_deployment(store_url, tmp_path)
    store = deployed.store()
    source = tmp_path / "pdq.txt"
    source.write_text(
        "pdq,quality\n"
        f"{ORIGINAL},100\n"
        f"{flipped(ORIGINAL, 20)},90\n"
        f"{flipped(UNRELATED, 0)},100\n"
        f"{flipped(ORIGINAL, 5)},10\n"  # low quality: not imported
    )
    report = importing.import_pdq_file(
        store,
        Digester(deployed.key),
        Sealer(deployed.key),
        "police",
        source,
        actor="t",
        category="baseline",
    )
    assert (report.added, report.skipped) == (3, {"PDQ quality below 50": 1})
    store.close()
    return deployed


@pytest.fixture
def server(deployment: Deployment) -> Iterator[ServerThread]:
    yield from serve(deployment)


def test_near_copies_match_with_distance_nearest_first(
    server: ServerThread, deployment: Deployment
) -> None:
    blurred = PDQ_OF["blur-a-lot.jpg"]
    body = v2_check(
        server,
        deployment,
        [
            {"algorithm": "pdq", "hash": blurred, "quality": 100},
            {"algorithm": "pdq", "hash": flipped(UNRELATED, 40)},
            {"algorithm": "pdq", "hash": ORIGINAL, "quality": 30},
            {"algorithm": "md5", "hash": "0" * 32},
        ],
    )
    first, far, low, exact = body["results"]
    near = distance(bytes.fromhex(blurred), bytes.fromhex(ORIGINAL))
    assert first["match"] is True
    assert [m["distance"] for m in first["matches"]] == sorted(
        [near, distance(bytes.fromhex(blurred), bytes.fromhex(flipped(ORIGINAL, 20)))]
    )
    assert all(m["kind"] == "pdq" and m["action"] == "review" for m in first["matches"])
    assert first["matches"][0]["match_id"].startswith("m1_")
    assert far["match"] is False  # 40 bits away: beyond the threshold of 31
    assert low["match"] is False and "below 50" in low["flag"]
    assert exact["match"] is False


def test_only_matches_still_lists_what_was_not_checked(
    server: ServerThread, deployment: Deployment
) -> None:
    """Leaving a flagged hash out would read as "checked, no match"."""
    status, body, _ = call(
        server.base,
        "/v2/check",
        {
            "hashes": [
                {"algorithm": "md5", "hash": "0" * 32},
                {"algorithm": "pdq", "hash": ORIGINAL, "quality": 30},
                {"algorithm": "pdq", "hash": ORIGINAL, "quality": 90},
            ],
            "only_matches": True,
        },
        auth=(deployment.client_id, deployment.secret),
    )
    assert status == 200, body
    assert body["checked"] == 3
    flagged, matched = body["results"]
    assert (flagged["index"], flagged["match"], flagged["matches"]) == (1, False, [])
    assert "below 50" in flagged["flag"]
    assert (matched["index"], matched["match"]) == (2, True)


def test_list_threshold_rollback_and_sealing(
    server: ServerThread, deployment: Deployment, store_url: str
) -> None:
    store = deployment.store()
    (batch,) = [b for b in store.batches() if b.kind == "import"]
    store.close()
    at_20 = flipped(ORIGINAL, 20)
    body = v2_check(server, deployment, [{"algorithm": "pdq", "hash": flipped(at_20, 3)}])
    assert [m["distance"] for m in body["results"][0]["matches"]] == [3, 17]
    store = deployment.store()
    store.rollback_batch(batch.batch_id, actor="t")
    store.close()
    server.app.node.follower.refresh()
    body = v2_check(server, deployment, [{"algorithm": "pdq", "hash": ORIGINAL}])
    assert body["results"][0]["match"] is False
    if store_url.startswith("sqlite"):
        # At rest the hashes are sealed: the database holds no PDQ hash in the clear.
        raw = Path(store_url.removeprefix("sqlite:///")).read_bytes()
        for text in (ORIGINAL, at_20, UNRELATED):
            assert bytes.fromhex(text) not in raw and text.encode() not in raw


def test_pdq_lists_refuse_what_they_cannot_hold(deployment: Deployment, tmp_path: Path) -> None:
    store = deployment.store()
    store.add_list("nsrl", "NIST", "", actor="t", known_good=True)
    source = tmp_path / "bad.txt"
    source.write_text("abc\n")
    args = (store, Digester(deployment.key), Sealer(deployment.key))
    with pytest.raises(ImportRejected, match="64 hex"):
        importing.import_pdq_file(*args, "police", source, actor="t", category="baseline")
    source.write_text(ORIGINAL + "\n")
    with pytest.raises(ImportRejected, match="known-good"):
        importing.import_pdq_file(*args, "nsrl", source, actor="t", category="baseline")
    with pytest.raises(ImportRejected, match="--category"):
        importing.import_pdq_file(*args, "police", source, actor="t", category=None)
    store.close()


def test_per_list_threshold(server: ServerThread, deployment: Deployment) -> None:
    from hashcheck.admin import governance
    from hashcheck.admin.errors import AdminError
    from hashcheck.admin.operators import Actor, Role

    alice, bob = Actor("alice", Role.APPROVER), Actor("bob", Role.APPROVER)
    query = [{"algorithm": "pdq", "hash": flipped(flipped(ORIGINAL, 20), 3)}]  # 3 and 17 away
    store = deployment.store()
    assert governance.set_pdq_threshold(store, "police", 10, actor=alice).applied
    server.app.node.follower.refresh()
    body = v2_check(server, deployment, query)
    assert [m["distance"] for m in body["results"][0]["matches"]] == [3]
    widen = governance.set_pdq_threshold(store, "police", 31, actor=alice)
    assert not widen.applied and widen.proposal is not None  # wider: two operators
    governance.decide(store, widen.proposal.proposal_id, approve=True, actor=bob)
    with pytest.raises(AdminError, match="0 to 31"):
        governance.set_pdq_threshold(store, "police", 40, actor=alice)
    store.close()
    server.app.node.follower.refresh()
    body = v2_check(server, deployment, query)
    assert [m["distance"] for m in body["results"][0]["matches"]] == [3, 17]


def test_ncmec_pdq_fingerprints_import_with_the_exact_ones(
    server: ServerThread, deployment: Deployment, tmp_path: Path
) -> None:
    blurred = PDQ_OF["blur-a-little.jpg"]
    source = tmp_path / "ncmec.xml"
    source.write_text(
        '<?xml version="1.0"?><queryResult xmlns="https://hashsharing.ncmec.org/npo/v2"><images>'
        "<image><classification>A1</classification><fingerprints>"
        f"<md5>{'ab' * 16}</md5><pdq>{blurred}</pdq></fingerprints></image>"
        f"<deletedImage><fingerprints><pdq>{ORIGINAL}</pdq></fingerprints></deletedImage>"
        "</images></queryResult>"
    )
    store = deployment.store()
    report = importing.import_file(
        store,
        Digester(deployment.key),
        "police",
        source,
        actor="t",
        category_map={"ncmec:A1": "baseline"},
        sealer=Sealer(deployment.key),
    )
    store.close()
    # One item (its MD5 and its PDQ) added; the deleted PDQ's item left the list atomically.
    assert (report.added, report.hashes_added, report.removed) == (1, 2, 1)
    server.app.node.follower.refresh()
    body = v2_check(server, deployment, [{"algorithm": "pdq", "hash": ORIGINAL}])
    distances = [m["distance"] for m in body["results"][0]["matches"]]
    near = distance(bytes.fromhex(blurred), bytes.fromhex(ORIGINAL))
    assert distances == sorted([near, 20])  # the blurred copy and the entry 20 bits away
    store = deployment.store()
    with pytest.raises(ImportRejected, match="cannot take PDQ"):
        importing.import_file(
            store,
            Digester(deployment.key),
            "police",
            source,
            actor="t",
            category_map={"ncmec:A1": "baseline"},
        )
    store.close()


def test_csv_pdq_column_beside_exact_ones(
    server: ServerThread, deployment: Deployment, tmp_path: Path
) -> None:
    source = tmp_path / "supplier.csv"
    shrunk = PDQ_OF["shrink-a-lot.jpg"]
    source.write_text(f"md5;PDQ;cat\n{'cd' * 16};{shrunk};baseline\n;{'zz' * 32};baseline\n")
    store = deployment.store()
    args = (store, Digester(deployment.key), "police", source)
    with pytest.raises(ImportRejected, match="line 3: a PDQ hash is hex"):
        importing.import_file(
            *args, actor="t", category_column="cat", sealer=Sealer(deployment.key)
        )
    report = importing.import_file(
        *args, actor="t", category_column="cat", sealer=Sealer(deployment.key), skip_invalid=True
    )
    store.close()
    # One row, one item: its MD5 and its PDQ hash.
    assert (report.added, report.hashes_added, report.invalid) == (1, 2, 1)
    server.app.node.follower.refresh()
    body = v2_check(server, deployment, [{"algorithm": "pdq", "hash": shrunk}])
    assert body["results"][0]["matches"][0]["distance"] == 0


def test_a_restart_from_index_files_opens_the_pdq_entries_again(
    deployment: Deployment, tmp_path: Path
) -> None:
    from hashcheck.node.runtime import Node

    store = deployment.store()
    first = Node(store, deployment.key, index_dir=tmp_path / "index").follower
    first.refresh()
    restarted = Node(store, deployment.key, index_dir=tmp_path / "index").follower
    restarted.refresh()
    assert restarted.generation == first.generation == 1
    assert restarted.snapshot is not None and len(restarted.snapshot.pdq) == 3
    ((_, _, found),) = restarted.snapshot.pdq.search(bytes.fromhex(ORIGINAL), 0)
    assert found == 0
    store.close()


def test_shadow_pdq_batches_count_and_do_not_answer(
    server: ServerThread, deployment: Deployment, tmp_path: Path
) -> None:
    source = tmp_path / "shadow.txt"
    newcomer = PDQ_OF["wee.jpg"]
    source.write_text(newcomer + "\n")
    store = deployment.store()
    report = importing.import_pdq_file(
        store,
        Digester(deployment.key),
        Sealer(deployment.key),
        "police",
        source,
        actor="t",
        category="baseline",
        shadow=True,
    )
    server.app.node.follower.refresh()
    body = v2_check(server, deployment, [{"algorithm": "pdq", "hash": newcomer}])
    assert body["results"][0]["match"] is False
    server.app.node.flusher.flush()
    (row,) = store.shadow_stats(report.batch_id)
    assert (row.client_id, row.matched) == ("acme", 1)
    store.promote_batch(report.batch_id, actor="t")
    store.close()
    server.app.node.follower.refresh()
    body = v2_check(server, deployment, [{"algorithm": "pdq", "hash": newcomer}])
    assert body["results"][0]["matches"][0]["distance"] == 0


def test_workers_of_a_node_share_one_pdq_index_in_memory(
    deployment: Deployment, tmp_path: Path
) -> None:
    import numpy as np

    from hashcheck.node.runtime import Node

    def node(index_dir: Path) -> Node:
        return Node(deployment.store(), deployment.key, index_dir=index_dir)

    workers = [node(tmp_path / "index") for _ in range(2)]
    # Another node on the same machine (its own index folder): its folder is not ours.
    other = node(tmp_path / "other-index")
    folders = {n.pdq_share.folder for n in workers if n.pdq_share is not None}
    assert len(folders) == 1 and other.pdq_share is not None
    (folder,) = folders
    assert other.pdq_share.folder != folder
    for each in [*workers, other]:
        each.follower.refresh()
    snapshots = [n.follower.snapshot for n in workers]
    assert all(s is not None and len(s.pdq) == 3 for s in snapshots)
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    (state,) = [p for p in folder.iterdir() if p.is_dir()]
    assert all(oct(f.stat().st_mode & 0o777) == "0o600" for f in state.glob("*.npy"))
    for snapshot in snapshots:
        assert snapshot is not None
        mapped = snapshot.pdq.slots
        assert isinstance(mapped, np.memmap)
        assert Path(str(mapped.filename)).parent == state
    # The hashes in the clear live as long as the node: the last worker out removes them.
    workers[0].stop()
    assert (state / "done").exists()
    workers[1].stop()
    assert not folder.exists()
    assert other.pdq_share.folder.is_dir()
    other.stop()
    assert not other.pdq_share.folder.exists()


def test_perceptual_batches_are_answered_off_the_event_loop(
    server: ServerThread, deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where each batch is answered: a PDQ batch on the perceptual threads (seconds for ten
    thousand hashes must not hold the loop every other check runs on), an exact one in place."""
    import threading

    from hashcheck.api import v2

    answered_on: list[str] = []
    check = v2.check

    def spied(*args: object, **kwargs: object) -> object:
        answered_on.append(threading.current_thread().name)
        return check(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(v2, "check", spied)
    v2_check(server, deployment, [{"algorithm": "pdq", "hash": ORIGINAL}])
    v2_check(server, deployment, [{"algorithm": "md5", "hash": "0" * 32}])
    loop_thread = server.thread.name
    assert answered_on[0].startswith("perceptual") and answered_on[1] == loop_thread


def test_changes_are_answered_at_once_and_folded_into_a_new_shared_state_later(
    deployment: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An addition or a removal is answered from layers over the shared state at the next
    refresh (no rebuild); the layers are folded into a new shared state once they are due:
    old enough, or large enough. Answers are the same before and after the fold."""
    from hashcheck.node import follower as following
    from hashcheck.node.runtime import Node

    monkeypatch.setattr(following, "PDQ_FOLD_AFTER", 3600.0)
    store = deployment.store()
    (batch,) = [b for b in store.batches() if b.kind == "import"]
    node = Node(store, deployment.key, index_dir=tmp_path / "index")
    try:
        node.follower.refresh()
        first = node.follower.snapshot
        assert first is not None and first.pdq.origin and first.pdq.recent is None
        built = first.pdq.origin

        def search(text: str) -> list[int]:
            snapshot = node.follower.snapshot
            assert snapshot is not None
            return [d for _, _, d in snapshot.pdq.search(bytes.fromhex(text), 31)]

        newcomer = PDQ_OF["wee.jpg"]
        source = tmp_path / "more.txt"
        source.write_text(newcomer + "\n")
        digester, sealer = Digester(deployment.key), Sealer(deployment.key)
        importing.import_pdq_file(
            store, digester, sealer, "police", source, actor="t", category="baseline"
        )
        node.follower.refresh()
        added = node.follower.snapshot
        assert added is not None and added.pdq.origin == built  # not rebuilt
        assert len(added.pdq) == 4 and search(newcomer) == [0]

        store.rollback_batch(batch.batch_id, actor="t")
        node.follower.refresh()
        removed = node.follower.snapshot
        assert removed is not None and removed.pdq.origin == built
        assert len(removed.pdq) == 1 and search(ORIGINAL) == [] and search(newcomer) == [0]

        monkeypatch.setattr(following, "PDQ_FOLD_AFTER", 0.0)
        node.follower.refresh()  # nothing new in the store: the layers are due all the same
        folded = node.follower.snapshot
        assert folded is not None and folded.pdq.origin not in ("", built)
        assert folded.pdq.recent is None and not folded.pdq.removed
        assert len(folded.pdq) == 1 and search(ORIGINAL) == [] and search(newcomer) == [0]
        states = [p for p in Path(folded.pdq.origin).parent.iterdir() if p.is_dir()]
        assert [str(p) for p in states] == [folded.pdq.origin]  # the old state is gone

        monkeypatch.setattr(following, "PDQ_FOLD_AFTER", 3600.0)
        monkeypatch.setattr(following, "PDQ_LAYER_ENTRIES", 0)
        source.write_text(ORIGINAL + "\n")
        importing.import_pdq_file(
            store, digester, sealer, "police", source, actor="t", category="baseline"
        )
        node.follower.refresh()
        large = node.follower.snapshot
        assert large is not None and large.pdq.recent is None
        assert large.pdq.origin not in ("", folded.pdq.origin) and search(ORIGINAL) == [0]
    finally:
        node.stop()
        store.close()


def test_layers_answer_as_one_state_built_from_the_same_entries() -> None:
    """Searching a state with entries added and removed over it gives what a state built
    from the remaining entries gives: images and videos, nearest first, none removed."""
    import numpy as np

    from hashcheck.index.perceptual import PdqEntries, Perceptual

    rng = np.random.default_rng(5)
    query = rng.bytes(32)

    def near(bits: int) -> bytes:
        return bytes.fromhex(flipped(query.hex(), bits))

    items = {entry: Perceptual(near(entry), entry % 3, False, 100 + entry) for entry in range(1, 9)}
    items[9] = Perceptual(near(4) + rng.bytes(32), 1, True, 109)
    items[10] = Perceptual(near(2) + near(6), 2, True, 110)
    built = PdqEntries.build({k: v for k, v in items.items() if k <= 7 or k == 9})
    added = {k: v for k, v in items.items() if k in (8, 10)}
    gone = {3, 9}
    positions = sorted(k for k in items if k <= 7 or k == 9)
    layered = built.with_layers(
        PdqEntries.build(added), frozenset(positions.index(k) for k in gone)
    )
    whole = PdqEntries.build({k: v for k, v in items.items() if k not in gone})
    assert len(layered) == len(whole) == 8
    assert layered.video_count == whole.video_count == 1
    for threshold in (0, 3, 6, 31):
        assert sorted(layered.search(query, threshold), key=lambda h: (h[2], h[0])) == sorted(
            whole.search(query, threshold), key=lambda h: (h[2], h[0])
        )
        assert [d for _, _, d in layered.search(query, threshold)] == sorted(
            d for _, _, d in whole.search(query, threshold)
        )
        frames = near(1) + near(5)
        assert [(c.item_id, c.slot) for c in layered.video_candidates(frames, threshold)] == [
            (c.item_id, c.slot) for c in whole.video_candidates(frames, threshold)
        ]
