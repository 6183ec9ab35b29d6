"""`hashcheck scan` sees what the service can match: a resized copy of a listed image (PDQ), a
re-encoded copy of a listed video (vPDQ, Debian's ffmpeg), single files; a file the decoder
cannot read is checked by its exact hashes with the reason PDQ was skipped; refused
credentials stop the scan at once; review matches stay in place unless asked; the quarantine
is listed and refuses what it does not hold."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from bench.debian import program
from PIL import Image

from hashcheck.cli.exitcodes import ExitCode
from hashcheck.cli.main import main
from hashcheck.pdq.images import pdq_of_image
from hashcheck.pdq.videofiles import video_features
from tests.pdq_reference import DATA
from tests.support import (
    Deployment,
    ServerThread,
    list_hashes,
    list_perceptual,
    make_deployment,
    serve,
)
from tests.test_scan import rows, scan

ORIGINAL = DATA / "aaa-orig.jpg"
LISTED = b"an exactly listed file\n"


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    ffmpeg = program("ffmpeg", "ffmpeg")
    folder = tmp_path_factory.mktemp("scan-videos")
    encode = ["-c:v", "libx264", "-pix_fmt", "yuv420p"]

    def make(name: str, *args: str) -> Path:
        subprocess.run(
            [ffmpeg, "-nostdin", "-v", "error", "-y", *args, str(folder / name)],
            check=True,
            timeout=120,
        )
        return folder / name

    original = make(
        "original.mp4", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=10:d=6", *encode
    )
    copy = make("copy.mp4", "-i", str(original), "-vf", "scale=240:136", *encode, "-crf", "34")
    return {"original": original, "copy": copy}


@pytest.fixture
def deployment(sqlite_url: str, tmp_path: Path, videos: dict[str, Path]) -> Deployment:
    deployed = make_deployment(sqlite_url, tmp_path)
    list_hashes(deployed, [hashlib.md5(LISTED, usedforsecurity=False).hexdigest()])
    images = tmp_path / "images.pdq"
    images.write_text(f"pdq,quality\n{pdq_of_image(ORIGINAL).hex},100\n")
    movies = tmp_path / "videos.vpdq"
    movies.write_text(json.dumps([str(f) for f in video_features(videos["original"])]) + "\n")
    list_perceptual(deployed, images)
    list_perceptual(deployed, movies, videos=True)
    return deployed


@pytest.fixture
def server(deployment: Deployment) -> Iterator[ServerThread]:
    yield from serve(deployment)


@pytest.fixture
def tree(tmp_path: Path, videos: dict[str, Path]) -> Path:
    root = tmp_path / "stored"
    root.mkdir()
    with Image.open(ORIGINAL) as image:  # a resized copy: other bytes, the same picture
        image.resize((image.width // 2, image.height // 2)).save(root / "resized.jpg", quality=80)
    (root / "exact.bin").write_bytes(LISTED)
    (root / "broken.jpg").write_bytes(ORIGINAL.read_bytes()[:600])  # a JPEG cut short
    (root / "empty.txt").write_bytes(b"")
    (root / "copy.mp4").write_bytes(videos["copy"].read_bytes())
    return root


def test_near_copies_of_listed_images_and_videos_match(
    server: ServerThread,
    deployment: Deployment,
    tree: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    report = tmp_path / "report.jsonl"
    code, err = scan(monkeypatch, server.base, deployment, str(tree), "--report", str(report))
    assert code == ExitCode.MATCHES, err
    found = rows(report)
    resized, video = found["resized.jpg"], found["copy.mp4"]
    assert resized["outcome"] == "match" and resized["pdq"]
    assert [(m["kind"], m["action"]) for m in resized["matches"]] == [("pdq", "review")]  # type: ignore[attr-defined]
    assert video["outcome"] == "match" and video["vpdq_frames"] == 6
    assert [m["kind"] for m in video["matches"]] == ["vpdq"]  # type: ignore[attr-defined]
    assert found["exact.bin"]["outcome"] == "match" and found["exact.bin"]["items"]
    for matched in (resized, video, found["exact.bin"]):
        assert matched["match_ids"] and matched["items"]
    # A JPEG the decoder cannot read: checked by its exact hashes, the reason PDQ was skipped.
    broken = found["broken.jpg"]
    assert broken["outcome"] == "no_match" and "pdq" not in broken
    assert [n.split(":")[0] for n in broken["notes"]] == ["PDQ skipped"]  # type: ignore[attr-defined]
    assert found["empty.txt"]["outcome"] == "no_match"  # a 0-byte file: its exact hashes
    # Exact hashes only: the near copies are not seen (what scans did before).
    code, _ = scan(
        monkeypatch, server.base, deployment, str(tree), "--no-pdq", "--report", str(report)
    )
    found = rows(report)
    assert found["resized.jpg"]["outcome"] == "no_match"
    assert found["copy.mp4"]["outcome"] == "no_match" and code == ExitCode.MATCHES
    # A single file is scanned as such.
    code, err = scan(
        monkeypatch, server.base, deployment, str(tree / "resized.jpg"), "--report", str(report)
    )
    assert code == ExitCode.MATCHES and list(rows(report)) == ["resized.jpg"], err


def test_refused_credentials_stop_the_scan_at_once(
    server: ServerThread,
    deployment: Deployment,
    tree: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    report = tmp_path / "report.jsonl"
    code, err = scan(
        monkeypatch, server.base, deployment, str(tree), "--report", str(report), secret="wrong"
    )
    assert code == ExitCode.REFUSED and int(code) == 14
    (line,) = [line for line in err.splitlines() if line.startswith("hashcheck:")]
    assert "refused the credentials (HTTP 401)" in line
    assert report.read_text() == ""  # no file reads as anything


def test_review_matches_stay_in_place_unless_asked_and_the_quarantine_lists(
    server: ServerThread,
    deployment: Deployment,
    tree: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    vault = tmp_path / "quarantine"
    common = ["--action", "quarantine", "--quarantine", str(vault), "--no-pdq"]
    code, _ = scan(monkeypatch, server.base, deployment, str(tree), *common)
    assert code == ExitCode.MATCHES
    assert not (tree / "exact.bin").exists() and (tree / "resized.jpg").exists()
    common.remove("--no-pdq")
    report = tmp_path / "r.jsonl"
    code, _ = scan(
        monkeypatch, server.base, deployment, str(tree), *common, "--report", str(report)
    )
    assert (tree / "resized.jpg").exists()  # a near match is a question, not a verdict
    assert "left in place" in " ".join(rows(report)["resized.jpg"]["notes"])  # type: ignore[arg-type]
    code, _ = scan(
        monkeypatch, server.base, deployment, str(tree), *common, "--action-review", "quarantine"
    )
    assert not (tree / "resized.jpg").exists() and not (tree / "copy.mp4").exists()
    for name in ("manifest.jsonl", *(r.name for r in vault.iterdir())):
        assert oct((vault / name).stat().st_mode & 0o777) == "0o600", name
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["quarantine", "list", "--quarantine", str(vault), "--json"]) == ExitCode.OK
    listed = [json.loads(line) for line in out.getvalue().splitlines()]
    assert sorted(Path(r["original"]).name for r in listed) == [
        "copy.mp4",
        "exact.bin",
        "resized.jpg",
    ]
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert main(["quarantine", "list", "--quarantine", str(vault)]) == ExitCode.OK
    for line in out.getvalue().splitlines():
        items = line.split("  items ")[1].split(",")
        assert items != ["-"] and len(items) == len(set(items)), line  # each item once
    # An unknown path or folder is said, and nothing moves.
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(["restore", "--quarantine", str(vault), "--path", str(tree / "nope")]) == (
            ExitCode.NOT_FOUND
        )
        assert main(["quarantine", "list", "--quarantine", str(tmp_path / "typo")]) == (
            ExitCode.NOT_FOUND
        )
        assert main(["restore", "--quarantine", str(tmp_path / "typo"), "--retracted"]) == (
            ExitCode.NOT_FOUND
        )
    assert "not in the quarantine" in err.getvalue() and "no quarantine folder" in err.getvalue()
    assert not (tmp_path / "typo").exists()
    # A restore never overwrites: a new file under the old name stays.
    (tree / "exact.bin").write_bytes(b"a new upload\n")
    with contextlib.redirect_stderr(io.StringIO()):
        code = main(["restore", "--quarantine", str(vault), "--path", str(tree / "exact.bin")])
    assert code == ExitCode.REJECTED and (tree / "exact.bin").read_bytes() == b"a new upload\n"
    (tree / "exact.bin").unlink()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = main(["restore", "--quarantine", str(vault), "--path", str(tree / "exact.bin")])
    assert code == ExitCode.OK and (tree / "exact.bin").read_bytes() == LISTED


def _blas_threads() -> int:
    from threadpoolctl import threadpool_info

    return max(int(pool["num_threads"]) for pool in threadpool_info() if pool["user_api"] == "blas")


def test_each_scan_worker_keeps_its_matrix_products_on_its_own_core() -> None:
    """Workers are one per core already: BLAS threads of their own would contend."""
    from concurrent.futures import ProcessPoolExecutor

    from hashcheck.client.scan import _worker_start

    assert _blas_threads() >= 1  # numpy's BLAS is loaded and seen
    with ProcessPoolExecutor(max_workers=2, initializer=_worker_start) as pool:
        assert set(pool.map(_blas_threads_after_pdq, range(4))) == {1}


def _blas_threads_after_pdq(_: int) -> int:
    pdq_of_image(ORIGINAL)
    return _blas_threads()
