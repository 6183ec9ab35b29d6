"""`hashcheck scan` against a real server: a tree with a listed file, links into and out of
it, a FIFO; the report, the exit codes, filters, resume, and an unreachable service."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hashcheck.cli.exitcodes import ExitCode
from hashcheck.cli.main import main
from tests.support import (
    Deployment,
    ServerThread,
    basic,
    legacy_post,
    list_hashes,
    make_deployment,
    serve,
    within_deadline,
)

LISTED = b"the listed file's bytes\n"


@pytest.fixture
def deployment(sqlite_url: str, tmp_path: Path) -> Deployment:
    deployed = make_deployment(sqlite_url, tmp_path)
    list_hashes(deployed, [hashlib.sha1(LISTED, usedforsecurity=False).hexdigest()])
    return deployed


@pytest.fixture
def server(deployment: Deployment) -> Iterator[ServerThread]:
    yield from serve(deployment)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "uploads"
    (root / "sub").mkdir(parents=True)
    (root / "a.jpg").write_bytes(LISTED)
    (root / "sub" / "b.txt").write_bytes(b"harmless\n")
    outside = tmp_path / "outside.bin"
    outside.write_bytes(LISTED)
    (root / "link-out").symlink_to(outside)
    (root / "link-in").symlink_to(root / "sub" / "b.txt")
    os.mkfifo(root / "pipe")
    return root


def scan(
    monkeypatch: pytest.MonkeyPatch, url: str, deployment: Deployment, *args: str, secret: str = ""
) -> tuple[int, str]:
    """`hashcheck scan ARGS` as the deployment's client (or with another ``secret``)."""
    monkeypatch.setenv("HASHCHECK_SERVICE_URL", url)
    monkeypatch.setenv("HASHCHECK_CLIENT_ID", deployment.client_id)
    monkeypatch.setenv("HASHCHECK_CLIENT_SECRET", secret or deployment.secret)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["scan", *args])
    return code, err.getvalue()


def rows(report: Path) -> dict[str, dict[str, object]]:
    return {
        Path(str(row["path"])).name: row
        for row in (json.loads(line) for line in report.read_text().splitlines())
    }


def test_scan_report_exit_codes_and_resume(
    server: ServerThread,
    deployment: Deployment,
    tree: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    report, state = tmp_path / "report.jsonl", tmp_path / "state"
    code, err = scan(
        monkeypatch,
        server.base,
        deployment,
        str(tree),
        "--report",
        str(report),
        "--state",
        str(state),
    )
    assert code == ExitCode.MATCHES, err
    found = rows(report)
    # The link out of the tree is not followed but said; the FIFO is not a file; the link
    # inside is checked.
    assert set(found) == {"a.jpg", "b.txt", "link-in", "link-out"}
    assert found["a.jpg"]["outcome"] == "match"
    assert found["a.jpg"]["sha1"] == hashlib.sha1(LISTED, usedforsecurity=False).hexdigest()
    assert found["b.txt"]["outcome"] == "no_match" and found["link-in"]["outcome"] == "no_match"
    assert found["link-out"]["outcome"] == "indeterminate"
    assert "out of the scanned roots" in str(found["link-out"]["reason"])
    assert "4/4 files, 1 matched, 1 not checked" in err  # done/total (total from a pre-walk)
    # Resumed: no file is read again, every one asked again, and the match still in place
    # said again (exit 10); the unchanged "no match" answers are not repeated in the report.
    code, err = scan(
        monkeypatch,
        server.base,
        deployment,
        str(tree),
        "--report",
        str(report),
        "--state",
        str(state),
    )
    assert code == ExitCode.MATCHES, err
    assert "4/4 files, 1 matched" in err and "3 hashed in an earlier run" in err
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    again = lines[4:]
    assert {Path(line["path"]).name for line in again} == {"a.jpg", "link-out"}
    assert all(line["earlier"] for line in again if line["outcome"] == "match")
    first = next(line for line in lines if line["outcome"] == "match")
    assert again[-1]["match_ids"] == first["match_ids"] and first["items"]
    # A changed file is read again; --rescan reads every file.
    (tree / "sub" / "b.txt").write_bytes(LISTED)
    code, err = scan(monkeypatch, server.base, deployment, str(tree), "--state", str(state))
    assert code == ExitCode.MATCHES and "4/4 files, 3 matched" in err
    assert "1 hashed in an earlier run" in err  # a.jpg; b.txt and its link changed
    code, err = scan(
        monkeypatch, server.base, deployment, str(tree), "--state", str(state), "--rescan"
    )
    assert code == ExitCode.MATCHES and "earlier run" not in err
    assert oct(state.stat().st_mode & 0o777) == "0o600"
    (tree / "sub" / "b.txt").write_bytes(b"harmless\n")
    # Filters: only what is wanted is checked.
    csv_report = tmp_path / "report.csv"
    code, _ = scan(
        monkeypatch,
        server.base,
        deployment,
        str(tree),
        "--exclude",
        "*.jpg",
        "--exclude",
        "link-out",
        "--format",
        "csv",
        "--report",
        str(csv_report),
    )
    assert code == ExitCode.OK
    lines = csv_report.read_text().splitlines()
    assert lines[0].startswith("path,outcome") and len(lines) == 3
    code, _ = scan(monkeypatch, server.base, deployment, str(tree), "--min-size", "1000000")
    assert code == ExitCode.OK
    old = tree / "sub" / "b.txt"
    os.utime(old, (1_000_000_000, 1_000_000_000))  # modified in 2001
    code, err = scan(
        monkeypatch,
        server.base,
        deployment,
        str(tree),
        "--since",
        "2020-01-01",
        "--exclude",
        "link-out",
    )
    assert code == ExitCode.MATCHES and "1/1 files" in err  # b.txt is older; its link too
    code, err = scan(monkeypatch, server.base, deployment, str(tree), "--since", "yesterday")
    assert code == ExitCode.USAGE


def test_an_unreachable_service_never_gives_exit_0(
    deployment: Deployment, tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    report = tmp_path / "report.jsonl"
    code, _ = scan(
        monkeypatch,
        f"http://127.0.0.1:{port}",
        deployment,
        str(tree),
        "--exclude",
        "sub/*",
        "--report",
        str(report),
    )
    assert code == ExitCode.UNCHECKED
    assert {r["outcome"] for r in rows(report).values()} == {"indeterminate"}
    code, _ = scan(monkeypatch, "http://127.0.0.1:1", deployment, str(tmp_path / "nope"))
    assert code == ExitCode.NOT_FOUND


def test_quarantine_then_restore_from_the_retraction_feed(
    server: ServerThread,
    deployment: Deployment,
    tree: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    vault = tmp_path / "quarantine"
    (tree / "a.jpg").chmod(0o640)
    code, _ = scan(
        monkeypatch,
        server.base,
        deployment,
        str(tree),
        "--action",
        "quarantine",
        "--quarantine",
        str(vault),
        "--report",
        str(tmp_path / "r.jsonl"),
    )
    assert code == ExitCode.MATCHES
    assert not (tree / "a.jpg").exists()  # moved, not deleted:
    (record,) = [json.loads(line) for line in (vault / "manifest.jsonl").read_text().splitlines()]
    assert record["original"] == str(tree / "a.jpg") and record["matches"][0]["match_id"]
    assert (vault / record["stored"]).read_bytes() == LISTED
    assert oct(vault.stat().st_mode & 0o777) == "0o700"
    # The service was told, for its takedown timing: this match, quarantined.
    store = deployment.store()
    try:
        (told,) = store.actions(deployment.client_id)
    finally:
        store.close()
    assert (told.action, told.item_id) == ("quarantined", record["matches"][0]["item"])
    # The operator rolls the list's batch back: the match is retracted for this client.
    server.app.node.flusher.flush()
    store = deployment.store()
    (batch,) = [b for b in store.batches() if b.kind == "import"]
    store.rollback_batch(batch.batch_id, actor="t")
    store.close()
    monkeypatch.setenv("HASHCHECK_SERVICE_URL", server.base)
    assert main(["restore", "--quarantine", str(vault), "--retracted"]) == ExitCode.OK
    assert (tree / "a.jpg").read_bytes() == LISTED
    assert oct((tree / "a.jpg").stat().st_mode & 0o777) == "0o640"
    # Nothing is left to restore, and the feed's cursor moved on.
    assert main(["restore", "--quarantine", str(vault), "--retracted"]) == ExitCode.OK
    assert (vault / "retractions.cursor").read_text() != "0"


def test_a_hoster_can_keep_its_quarantines_to_itself(
    server: ServerThread,
    deployment: Deployment,
    tree: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    vault = tmp_path / "quarantine"
    args = ["--action", "quarantine", "--quarantine", str(vault), "--no-report-actions"]
    code, _ = scan(monkeypatch, server.base, deployment, str(tree), *args)
    assert code == ExitCode.MATCHES and not (tree / "a.jpg").exists()
    store = deployment.store()
    try:
        assert store.actions() == []
    finally:
        store.close()


def test_watch_checks_files_as_they_arrive(
    server: ServerThread, deployment: Deployment, tmp_path: Path
) -> None:
    import signal
    import subprocess
    import sys
    import time

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "there-before.bin").write_bytes(LISTED)  # checked by the scan the watch begins with
    report = tmp_path / "watch.jsonl"
    state = tmp_path / "watch.state"
    env = {
        **os.environ,
        "HASHCHECK_SERVICE_URL": server.base,
        "HASHCHECK_CLIENT_ID": deployment.client_id,
        "HASHCHECK_CLIENT_SECRET": deployment.secret,
    }
    executable = str(Path(sys.executable).with_name("hashcheck"))
    process = subprocess.Popen(
        [executable, "scan", "--watch", str(inbox), "--report", str(report), "--state", str(state)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )

    def reported(count: int) -> dict[str, dict[str, object]]:
        """The report once it has ``count`` lines (each poll blocks on the watcher's pace)."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if report.exists() and len(report.read_text().splitlines()) >= count:
                return rows(report)
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=0.1)
        pytest.fail(f"the watcher did not report {count} file(s)")

    try:
        # Wait until the watch is in place: a probe file is reported.
        deadline = time.monotonic() + 30
        while not (report.exists() and report.read_text()):
            (inbox / "probe.txt").write_bytes(b"probe\n")
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=0.2)
            assert time.monotonic() < deadline, "the watcher never started"
        before = len(report.read_text().splitlines())
        (inbox / "new").mkdir()
        (inbox / "new" / "upload.jpg").write_bytes(LISTED)
        staged = tmp_path / "staged.txt"
        staged.write_bytes(b"moved in\n")
        staged.rename(inbox / "moved.txt")
        found = reported(before + 2)
        assert found["upload.jpg"]["outcome"] == "match"
        assert found["moved.txt"]["outcome"] == "no_match"
        assert found["there-before.bin"]["outcome"] == "match"
        kept = {Path(json.loads(line)["path"]).name for line in state.read_text().splitlines()}
        assert {"there-before.bin", "upload.jpg", "moved.txt"} <= kept
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
    assert code == ExitCode.MATCHES


def test_a_file_on_two_lists_comes_back_only_when_both_items_are_retracted(
    server: ServerThread,
    deployment: Deployment,
    tree: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = deployment.store()
    store.add_list("interpol", "Interpol", "", actor="t")
    store.close()
    list_hashes(
        deployment, [hashlib.md5(LISTED, usedforsecurity=False).hexdigest()], list_name="interpol"
    )
    server.app.node.follower.refresh()
    vault = tmp_path / "quarantine"
    code, _ = scan(
        monkeypatch,
        server.base,
        deployment,
        str(tree),
        "--action",
        "quarantine",
        "--quarantine",
        str(vault),
        "--report",
        str(tmp_path / "r.jsonl"),
    )
    assert code == ExitCode.MATCHES
    (record,) = [json.loads(line) for line in (vault / "manifest.jsonl").read_text().splitlines()]
    assert len({m["match_id"] for m in record["matches"]}) == 2  # two items: two lists
    server.app.node.flusher.flush()
    monkeypatch.setenv("HASHCHECK_SERVICE_URL", server.base)
    store = deployment.store()
    first, second = sorted(b.batch_id for b in store.batches() if b.kind == "import")
    store.rollback_batch(first, actor="t")
    assert main(["restore", "--quarantine", str(vault), "--retracted"]) == ExitCode.OK
    assert not (tree / "a.jpg").exists()  # the other list still holds the file
    store.rollback_batch(second, actor="t")
    store.close()
    assert main(["restore", "--quarantine", str(vault), "--retracted"]) == ExitCode.OK
    assert (tree / "a.jpg").read_bytes() == LISTED


def test_watch_keeps_filters_renames_and_overflows_in_step(tmp_path: Path) -> None:
    """The watcher's bookkeeping on a real inotify: filters in folders made after the start,
    a folder renamed inside the tree and one moved out, and a queue overflow (the kernel's
    IN_Q_OVERFLOW, given here as the kernel gives it) answered by a full rescan, said."""
    import time

    from hashcheck.client.scan import Filters
    from hashcheck.client.watch import IN_Q_OVERFLOW, Arrivals, Event, Inotify, _watch_tree

    root = tmp_path / "inbox"
    root.mkdir()
    wanted = Filters(exclude=["*.tmp"], max_size=100)
    notices: list[str] = []
    notify = Inotify()
    arrivals = Arrivals(notify, root, wanted, notices.append)

    def settle(expected: set[str], until: Callable[[], bool] = lambda: True) -> set[str]:
        """Read events until the expected files arrived and ``until`` holds (a bounded wait
        on the inotify descriptor)."""
        seen: set[str] = set()
        deadline = time.monotonic() + 10
        while not (expected <= seen and until()) and time.monotonic() < deadline:
            events = list(notify.events(0.2))
            seen |= {str(f.path.relative_to(root)) for f in arrivals.take(events)}
        return seen

    try:
        _watch_tree(notify, root)
        (root / "new" / "deeper").mkdir(parents=True)
        (root / "new" / "deeper" / "keep.jpg").write_bytes(b"keep")
        (root / "new" / "deeper" / "skip.tmp").write_bytes(b"skip")
        (root / "new" / "big.bin").write_bytes(b"x" * 1000)
        assert settle({"new/deeper/keep.jpg"}) == {"new/deeper/keep.jpg"}
        # Renamed inside the tree: watched under the new name, its files not checked again.
        (root / "new").rename(root / "renamed")
        assert settle(set(), lambda: root / "renamed" / "deeper" in notify.folders()) == set()
        assert not any(f.is_relative_to(root / "new") for f in notify.folders())
        (root / "renamed" / "deeper" / "later.jpg").write_bytes(b"later")
        assert settle({"renamed/deeper/later.jpg"}) == {"renamed/deeper/later.jpg"}
        # Written, renamed, written again before any event is read: each file is found where
        # it is now (its events name the folder by its first name).
        for n in range(3):
            (root / f"a{n}").mkdir()
        settle(set(), lambda: all(root / f"a{n}" in notify.folders() for n in range(3)))
        for n in range(3):
            (root / f"a{n}").rename(root / f"b{n}")
            (root / f"b{n}" / "six.jpg").write_bytes(b"6")
            (root / f"b{n}").rename(root / f"c{n}")
            (root / f"c{n}" / "seven.jpg").write_bytes(b"7")
        late = {f"c{n}/{name}" for n in range(3) for name in ("six.jpg", "seven.jpg")}
        assert settle(late) == late
        # A hard link made into the tree: no write, no close; checked at once.
        outside = tmp_path / "elsewhere.jpg"
        outside.write_bytes(b"linked")
        os.link(outside, root / "linked.jpg")
        assert settle({"linked.jpg"}) == {"linked.jpg"}
        # Moved out of the tree: no longer watched.
        (root / "renamed").rename(tmp_path / "gone")
        for n in range(3):
            (root / f"c{n}").rename(tmp_path / f"gone{n}")
        settle(set(), lambda: notify.folders() == [root])
        assert notify.folders() == [root]
        # Events were lost: the whole tree is scanned again, with the filters.
        (root / "one.jpg").write_bytes(b"1")
        (root / "sub").mkdir()
        (root / "sub" / "two.txt").write_bytes(b"2")
        (root / "sub" / "three.tmp").write_bytes(b"3")
        found = arrivals.take([Event(-1, "", IN_Q_OVERFLOW, 0)])
        assert sorted(str(f.path.relative_to(root)) for f in found) == [
            "linked.jpg",
            "one.jpg",
            "sub/two.txt",
        ]
        assert len(notices) == 1 and "overflowed" in notices[0] and "again" in notices[0]
        assert root / "sub" in notify.folders()  # watches in step with the tree again
    finally:
        notify.close()


def test_a_state_file_never_keeps_a_file_clean_after_its_list_changed(
    server: ServerThread,
    deployment: Deployment,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A periodic sweep with --state: a file listed after the first run is found by the next;
    a file swapped for other bytes with its old size and times set back is read again."""
    root = tmp_path / "sweep"
    root.mkdir()
    later = b"listed only after the first sweep"
    (root / "later.bin").write_bytes(later)
    swapped = root / "swapped.bin"
    swapped.write_bytes(b"x" * len(LISTED))
    state = tmp_path / "sweep.state"
    code, err = scan(monkeypatch, server.base, deployment, str(root), "--state", str(state))
    assert code == ExitCode.OK, err
    list_hashes(deployment, [hashlib.md5(later, usedforsecurity=False).hexdigest()])
    wait_until_listed(server, deployment, later)
    times = swapped.stat()
    swapped.write_bytes(LISTED)  # the same size
    os.utime(swapped, ns=(times.st_atime_ns, times.st_mtime_ns))  # and the old time
    report = tmp_path / "sweep.jsonl"
    code, err = scan(
        monkeypatch,
        server.base,
        deployment,
        str(root),
        "--state",
        str(state),
        "--report",
        str(report),
    )
    assert code == ExitCode.MATCHES, err
    found = rows(report)
    assert found["later.bin"]["outcome"] == "match" and found["later.bin"]["earlier"]
    assert found["swapped.bin"]["outcome"] == "match" and not found["swapped.bin"]["earlier"]


def wait_until_listed(server: ServerThread, deployment: Deployment, data: bytes) -> None:
    """The node has loaded the new entries (it follows the store's change feed)."""
    digest = hashlib.md5(data, usedforsecurity=False).hexdigest()

    def listed() -> bytes:
        auth = basic(deployment.client_id, deployment.secret)
        return legacy_post(server.port, "/v1/check/md5", digest.encode(), auth).body

    within_deadline(listed, b"true", 10.0)


def test_a_loop_of_links_is_said_and_the_scan_goes_on(
    server: ServerThread, deployment: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "loops"
    root.mkdir()
    (root / "loop-a").symlink_to(root / "loop-b")
    (root / "loop-b").symlink_to(root / "loop-a")
    (root / "listed.bin").write_bytes(LISTED)
    report = tmp_path / "loops.jsonl"
    code, err = scan(monkeypatch, server.base, deployment, str(root), "--report", str(report))
    assert code == ExitCode.MATCHES, err
    found = rows(report)
    assert found["listed.bin"]["outcome"] == "match"
    assert found["loop-a"]["outcome"] == found["loop-b"]["outcome"] == "indeterminate"
    assert "3/3 files" in err


def test_watch_tries_again_what_it_could_not_check(
    deployment: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service is down when a file is seen: it is reported not checked, then checked
    once the service is back (on the same address), without a new event for it."""
    import socket
    import threading

    from hashcheck.client import HashcheckClient
    from hashcheck.client import watch as watching
    from hashcheck.client.scan import FileReport

    monkeypatch.setattr(watching, "RETRY_FIRST", 0.2)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "listed.bin").write_bytes(LISTED)
    outcomes: list[str] = []
    changed = threading.Condition()

    def on_report(report: FileReport) -> None:
        with changed:
            outcomes.append(report.outcome.value)
            changed.notify_all()

    def wait_for(outcome: str) -> None:
        with changed:
            assert changed.wait_for(lambda: outcome in outcomes, timeout=30), outcomes

    client = HashcheckClient(
        f"http://127.0.0.1:{port}", deployment.client_id, deployment.secret, retries=0
    )
    stop = threading.Event()
    watcher = threading.Thread(target=watching.watch, args=(client, inbox, on_report, stop))
    watcher.start()
    try:
        wait_for("indeterminate")
        service = serve(deployment, port=port)
        next(service)
        try:
            wait_for("match")
        finally:
            next(service, None)
    finally:
        stop.set()
        watcher.join(timeout=30)
        client.close()
    assert outcomes[0] == "indeterminate" and outcomes[-1] == "match"
