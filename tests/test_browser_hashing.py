"""The page's hashing in a real browser (Debian's Chromium through Playwright): a harness page
served from loopback runs submit/static/hashing.js, whose worker (hasher.js) hashes files
picked with a real file input. Exact hashes equal hashlib's; PDQ and quality are near
`hashcheck hash` on the same files (decoders differ); a video's one-a-second frames are near
the ones `hashcheck hash --video` takes; a file that is no image, a video the browser cannot
play and a flat image each get their note. And no request carries a byte of any file: every
request the page makes is recorded, in the browser and at the server."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bench.debian import program
from PIL import Image

from hashcheck.pdq.algorithm import distance
from hashcheck.pdq.images import pdq_of_image
from hashcheck.pdq.video import Feature, parse_feature
from hashcheck.pdq.videofiles import video_features
from tests.browser import browser
from tests.browser_modules import STATIC
from tests.pdq_reference import DATA, EXPECTED
from tests.submit_harness import Made, Seen, harness_site, hash_in_browser


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Seen]]:
    with harness_site(tmp_path_factory.mktemp("harness")) as served:
        yield served


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The reference images, and made here: a photograph stored sideways with an EXIF
    orientation, a flat image, a file that is no image, a short video and a broken one."""
    folder = tmp_path_factory.mktemp("picked")
    picked = {row["file"]: DATA / row["file"] for row in EXPECTED}
    with Image.open(DATA / "aaa-orig.jpg") as image:
        sideways = image.transpose(Image.Transpose.ROTATE_90)
        exif = Image.Exif()
        exif[0x0112] = 6  # stored rotated: shown turned 90° clockwise
        sideways.save(folder / "sideways.jpg", quality=90, exif=exif.tobytes())
    Image.new("RGB", (320, 240), (40, 120, 200)).save(folder / "flat.png")
    (folder / "notes.txt").write_bytes(b"not an image\n" * 1000)
    (folder / "broken.mp4").write_bytes(hashlib.sha256(b"broken").digest() * 300)
    ffmpeg = program("ffmpeg", "ffmpeg")
    subprocess.run(
        [
            ffmpeg,
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x180:rate=10:duration=6",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            str(folder / "clip.mp4"),
        ],
        check=True,
        timeout=120,
    )
    for name in ("sideways.jpg", "flat.png", "notes.txt", "broken.mp4", "clip.mp4"):
        picked[name] = folder / name
    return picked


@pytest.fixture(scope="module")
def hashed(
    site: tuple[str, Seen], files: dict[str, Path]
) -> tuple[dict[str, dict[str, Any]], dict[str, Any], list[Made]]:
    """What the page answered, per file name; the whole answer; every request it made."""
    with browser() as context:
        answer, made = hash_in_browser(context, site[0], list(files.values()))
    return {r["name"]: r for r in answer["results"]}, answer, made


def test_exact_hashes_equal_hashlib(
    hashed: tuple[dict[str, dict[str, Any]], Any, Any], files: dict[str, Path]
) -> None:
    results = hashed[0]
    assert sorted(results) == sorted(files)
    for name, path in files.items():
        data = path.read_bytes()
        found = results[name]
        assert found["size"] == len(data)
        assert found["md5"] == hashlib.md5(data, usedforsecurity=False).hexdigest(), name
        assert found["sha1"] == hashlib.sha1(data, usedforsecurity=False).hexdigest(), name
        assert found["sha256"] == hashlib.sha256(data).hexdigest(), name


def test_image_pdq_near_hashcheck_hash(
    hashed: tuple[dict[str, dict[str, Any]], Any, Any], files: dict[str, Path]
) -> None:
    results = hashed[0]
    far = {}
    for name in [row["file"] for row in EXPECTED] + ["sideways.jpg"]:
        found = results[name]["pdq"]
        expected = pdq_of_image(files[name])
        apart = distance(bytes.fromhex(found["hash"]), expected.bits)
        if apart > 8 or abs(found["quality"] - expected.quality) > 3:
            far[name] = (apart, found["quality"], expected.quality)
        assert found["usable"] is (found["quality"] >= 50)
        assert ("note" in results[name]) is not found["usable"]
    assert far == {}


def test_files_without_a_pdq_say_why(hashed: tuple[dict[str, dict[str, Any]], Any, Any]) -> None:
    results = hashed[0]
    notes = results["notes.txt"]
    assert notes["pdq"] is None and "cannot read this file as an image" in notes["note"]
    flat = results["flat.png"]
    assert flat["pdq"]["quality"] == 0 and flat["pdq"]["usable"] is False
    assert "too flat or too small" in flat["note"]
    broken = results["broken.mp4"]
    assert broken["pdq"] is None and "vpdq" not in broken
    assert "cannot play this video" in broken["note"]


def test_video_frames_near_hashcheck_hash_video(
    hashed: tuple[dict[str, dict[str, Any]], Any, Any], files: dict[str, Path]
) -> None:
    clip = hashed[0]["clip.mp4"]
    assert clip["pdq"] is None and "note" not in clip
    found = {f.timestamp: f for f in map(parse_feature, clip["vpdq"])}
    expected: dict[float, Feature] = {f.timestamp: f for f in video_features(files["clip.mp4"])}
    assert abs(len(found) - len(expected)) <= 1
    # Seconds 0, 1, 2, ... in both; one more or one fewer at the end is allowed.
    both = sorted(found.keys() & expected.keys())
    assert both == [float(second) for second in range(len(both))]
    assert len(both) >= max(len(found), len(expected)) - 1
    for second in both:
        assert distance(found[second].bits, expected[second].bits) <= 16, second
        assert abs(found[second].quality - expected[second].quality) <= 5
    # The v2 API's form, as `hashcheck hash --video` prints it.
    assert clip["vpdq"][1].endswith(",1.000")


def test_progress_is_reported(
    hashed: tuple[Any, dict[str, Any], Any], files: dict[str, Path]
) -> None:
    progress = hashed[1]["progress"]
    sizes = {name: path.stat().st_size for name, path in files.items()}
    last = {step["name"]: step for step in progress if step["stage"] == "bytes"}
    assert {name: (step["done"], step["total"]) for name, step in last.items()} == {
        name: (size, size) for name, size in sizes.items()
    }
    frames = [step for step in progress if step["stage"] == "frames"]
    assert frames[-1]["name"] == "clip.mp4" and frames[-1]["done"] == frames[-1]["total"]


def test_no_request_carries_file_content(
    hashed: tuple[Any, Any, list[Made]],
    site: tuple[str, Seen],
    files: dict[str, Path],
) -> None:
    base, seen = site
    requests = hashed[2]
    assert requests, "the browser's requests were not recorded"
    for method, url, body in requests:
        assert method == "GET" and body is None, (method, url)
        # The object URL a <video> reads the picked file from is the browser's own memory.
        assert url.startswith((base + "/", f"blob:{base}/")), url
    static = {"/static/" + path.name for path in STATIC.glob("*.js")}
    at_server = seen.received()
    paths = {path for _, path, _, _ in at_server}
    assert (
        {"/", "/harness.js", "/static/hasher.js"}
        <= paths
        <= {"/", "/harness.js", "/favicon.ico"} | static
    )
    for method, path, length, chunked in at_server:
        assert method == "GET" and length in {None, "0"} and chunked is None, path
    # The worker's own imports are among the requests seen: the recording covers the worker.
    assert {base + "/static/digests.js", base + "/static/pdq.js"} <= {url for _, url, _ in requests}
    named = "\n".join(url for _, url, _ in requests)
    assert all(path.name not in named for path in files.values())
