"""Videos (vPDQ) end to end: real videos made and decoded by Debian's ffmpeg (installed when
missing), frame hashes, the vPDQ comparison, a vPDQ list imported sealed, and v2 answers on
a real server — re-encoded copies found, unrelated videos not, trimmed ones by the rule."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bench.debian import program

from hashcheck.admin import importing
from hashcheck.cli.exitcodes import ExitCode
from hashcheck.hashes.keyed import Digester
from hashcheck.hashes.sealing import Sealer
from hashcheck.index.perceptual import PdqEntries, Perceptual
from hashcheck.pdq.index import words
from hashcheck.pdq.video import BadFeature, Feature, compare, parse_feature, usable_frames
from hashcheck.pdq.videofiles import NotAVideo, video_features
from tests.http_client import call
from tests.support import Deployment, ServerThread, make_deployment, serve, v2_check
from tests.test_cli import run


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An original (12 s at 10 fps), a smaller re-encoded copy, a 6 s excerpt, an unrelated
    video, and a flat (all grey) one."""
    ffmpeg = program("ffmpeg", "ffmpeg")
    folder = tmp_path_factory.mktemp("videos")

    def make(name: str, *args: str) -> None:
        subprocess.run(
            [ffmpeg, "-nostdin", "-v", "error", "-y", *args, str(folder / name)],
            check=True,
            timeout=120,
        )

    source = "testsrc2=size=320x180:rate=10:duration=12"
    encode = ["-c:v", "libx264", "-pix_fmt", "yuv420p"]
    make("original.mp4", "-f", "lavfi", "-i", source, *encode)
    make(
        "copy.mp4",
        "-i",
        str(folder / "original.mp4"),
        "-vf",
        "scale=240:136",
        *encode,
        "-crf",
        "34",
    )
    make("excerpt.mp4", "-ss", "3", "-i", str(folder / "original.mp4"), "-t", "6", *encode)
    make(
        "unrelated.mp4", "-f", "lavfi", "-i", "mandelbrot=size=320x180:rate=10", "-t", "12", *encode
    )
    make("flat.mp4", "-f", "lavfi", "-i", "color=c=gray:size=320x180:rate=10:duration=4", *encode)
    return {path.stem: path for path in folder.iterdir()}


@pytest.fixture(scope="module")
def features(videos: dict[str, Path]) -> dict[str, list[Feature]]:
    return {name: video_features(path) for name, path in videos.items()}


def shares(query: list[Feature], target: list[Feature]) -> tuple[float, float]:
    found = compare(words(usable_frames(query)), words(usable_frames(target)), 31)
    return found.query_percent, found.target_percent


def test_frames_are_sampled_once_a_second(
    videos: dict[str, Path], features: dict[str, list[Feature]]
) -> None:
    original = features["original"]
    assert [f.timestamp for f in original] == [float(n) for n in range(12)]
    assert all(f.quality >= 50 for f in original)
    every = video_features(videos["original"], seconds_per_hash=0)
    assert len(every) == 120 and every[10].timestamp == pytest.approx(1.0)
    # Frame 10 of every frame is the frame the one-a-second sampling took for second 1.
    assert every[10].bits == original[1].bits
    assert all(f.quality == 0 for f in features["flat"])


def test_near_copies_match_unrelated_do_not(features: dict[str, list[Feature]]) -> None:
    original = features["original"]
    assert shares(original, original) == (100.0, 100.0)
    query, target = shares(features["copy"], original)
    assert query >= 90 and target >= 90
    assert shares(features["unrelated"], original) == (0.0, 0.0)
    # An excerpt: all of it is in the original, only part of the original is in it.
    query, target = shares(features["excerpt"], original)
    assert query == 100.0 and target < 80.0
    assert usable_frames(features["flat"]) == b""


def test_the_comparison_counts_each_way_at_the_threshold() -> None:
    rng = np.random.default_rng(5)
    base = [rng.bytes(32) for _ in range(4)]

    def near(bits: bytes, flipped: int) -> bytes:
        value = int.from_bytes(bits, "big") ^ ((1 << flipped) - 1)
        return value.to_bytes(32, "big")

    # Target: the four base frames. Query: two of them 31 bits off, one 32 bits off, and
    # three unrelated frames.
    query = [near(base[0], 31), near(base[1], 31), near(base[2], 32)]
    query += [rng.bytes(32) for _ in range(3)]
    found = compare(words(b"".join(sorted(query))), words(b"".join(sorted(base))), 31)
    assert (found.query_percent, found.target_percent) == (100 * 2 / 6, 100 * 2 / 4)
    assert not found.matches()  # 50% of the stored video: under vPDQ's 80%
    found = compare(words(b"".join(sorted(query))), words(b"".join(sorted(base))), 32)
    assert found.target_percent == 75.0


@pytest.mark.parametrize(
    "text",
    [
        "",
        "ab,100,0",
        "0" * 64 + ",100",
        "0" * 63 + "g,100,0",
        "0" * 64 + ",101,0",
        "0" * 64 + ",-1,0",
        "0" * 64 + ",100,-1",
        "0" * 64 + ",100,nan",
        "0" * 64 + ",100,0,7",
        5,
    ],
)
def test_malformed_frames_are_refused(text: Any) -> None:
    with pytest.raises(BadFeature):
        parse_feature(text)


def test_features_round_trip_in_threatexchange_form() -> None:
    feature = Feature(bytes(range(32)), 87, 12.5)
    assert str(feature) == bytes(range(32)).hex() + ",87,12.500"
    assert parse_feature(str(feature)) == feature


def test_not_a_video(tmp_path: Path) -> None:
    program("ffmpeg", "ffmpeg")
    junk = tmp_path / "clip.mp4"
    junk.write_bytes(os.urandom(4096))
    with pytest.raises(NotAVideo, match=r"clip\.mp4"):
        video_features(junk)
    code, out, err = run("hash", "--video", str(junk))
    assert code == ExitCode.REJECTED and out == ""
    assert err.startswith("hashcheck: clip.mp4") and "Traceback" not in err


def test_index_round_trip_keeps_videos_apart_from_images() -> None:
    rng = np.random.default_rng(9)
    image = rng.bytes(32)
    frames = b"".join(sorted(rng.bytes(32) for _ in range(5)))
    entries = PdqEntries.build({7: Perceptual(image, 1), 9: Perceptual(frames, 2, video=True)})
    loaded = PdqEntries.from_arrays(dict(entries.arrays()))
    for index in (entries, loaded):
        assert index.search(image, 0) == [(7, 1, 0)]
        assert index.search(frames[32:64], 0) == []  # a video frame is no image entry
        (candidate,) = index.video_candidates(frames[:32], 0)
        assert (candidate.item_id, candidate.slot) == (9, 2)
        assert index.video_candidates(image, 0) == []
    with pytest.raises(ValueError, match="one PDQ hash"):
        PdqEntries.build({1: Perceptual(frames, 0)})


# --- a vPDQ list on a real server -------------------------------------------------------


@pytest.fixture
def deployment(
    store_url: str, tmp_path: Path, videos: dict[str, Path], features: dict[str, list[Feature]]
) -> Deployment:
    deployed = make_deployment(store_url, tmp_path)
    # The list file as `hashcheck hash --vpdq-line` writes it.
    code, out, _ = run("hash", "--vpdq-line", str(videos["original"]))
    assert code == ExitCode.OK
    assert json.loads(out) == [str(f) for f in features["original"]]
    flat = json.dumps([str(f) for f in features["flat"]])
    (tmp_path / "videos.vpdq").write_text(out + flat + "\n")
    store = deployed.store()
    report = importing.import_pdq_file(
        store,
        Digester(deployed.key),
        Sealer(deployed.key),
        "police",
        tmp_path / "videos.vpdq",
        actor="t",
        category="baseline",
        videos=True,
    )
    store.close()
    assert (report.added, report.skipped) == (
        1,
        {"video without a frame of quality 50 or more": 1},
    )
    return deployed


@pytest.fixture
def server(deployment: Deployment) -> Iterator[ServerThread]:
    yield from serve(deployment)


def video_item(found: list[Feature]) -> dict[str, Any]:
    return {"algorithm": "vpdq", "frames": [str(f) for f in found]}


def test_videos_on_v2(
    server: ServerThread,
    deployment: Deployment,
    features: dict[str, list[Feature]],
    store_url: str,
) -> None:
    body = v2_check(
        server,
        deployment,
        [
            video_item(features["copy"]),
            video_item(features["unrelated"]),
            video_item(features["excerpt"]),
            video_item(features["flat"]),
            {"algorithm": "md5", "hash": "0" * 32},
        ],
    )
    copy, unrelated, excerpt, flat, exact = body["results"]
    assert copy["match"] is True and copy["frames"] == 12
    (match,) = copy["matches"]
    assert (match["kind"], match["action"], match["list"]) == ("vpdq", "review", "police")
    assert match["target_percent"] >= 90 and match["query_percent"] >= 90
    assert match["match_id"].startswith("m1_")
    assert unrelated["match"] is False and unrelated["matches"] == []
    # vPDQ asks for 80% of the stored video: a 6 s excerpt of 12 s is not enough.
    assert excerpt["match"] is False
    assert flat["match"] is False and "quality 50" in flat["flag"]
    assert exact["match"] is False
    # Only matches, and what was not checked, under only_matches.
    status, answer, _ = call(
        server.base,
        "/v2/check",
        {
            "hashes": [
                video_item(features["unrelated"]),
                video_item(features["flat"]),
                video_item(features["copy"]),
            ],
            "only_matches": True,
        },
        auth=(deployment.client_id, deployment.secret),
    )
    assert status == 200
    assert [(r["index"], r["match"]) for r in answer["results"]] == [(1, False), (2, True)]
    if store_url.startswith("sqlite"):
        raw = Path(store_url.removeprefix("sqlite:///")).read_bytes()
        for feature in features["original"]:
            assert feature.bits not in raw and feature.bits.hex().encode() not in raw


def test_bad_video_items_are_refused_whole(
    server: ServerThread, deployment: Deployment, features: dict[str, list[Feature]]
) -> None:
    good = video_item(features["copy"])
    for items, message in [
        ([good, {"algorithm": "vpdq"}], '"frames"'),
        ([good, {"algorithm": "vpdq", "frames": []}], "length >= 1 - at `$.frames`"),
        ([{"algorithm": "vpdq", "frames": ["ab,1,0"]}], "64 hex"),
        ([{**good, "hash": "0" * 64}], '"frames", not "hash"'),
    ]:
        status, body, _ = call(
            server.base,
            "/v2/check",
            {"hashes": items},
            auth=(deployment.client_id, deployment.secret),
        )
        assert (status, body["error"]["code"]) == (400, "invalid_hash"), body
        assert any(message in item["message"] for item in body["error"]["details"])
    # Frames count against the batch limit.
    many = {"algorithm": "vpdq", "frames": [str(features["copy"][0])] * 10_000}
    status, body, _ = call(
        server.base,
        "/v2/check",
        {"hashes": [many, {"algorithm": "md5", "hash": "0" * 32}]},
        auth=(deployment.client_id, deployment.secret),
    )
    assert status == 400 and "limit" in body["error"]["message"]


def test_removal_and_rollback_take_videos_out(
    server: ServerThread,
    deployment: Deployment,
    features: dict[str, list[Feature]],
    tmp_path: Path,
) -> None:
    store = deployment.store()
    removal = tmp_path / "gone.vpdq"
    # The same video in another frame order names the same entry.
    removal.write_text(json.dumps([str(f) for f in reversed(features["original"])]) + "\n")
    report = importing.remove_file(
        store, Digester(deployment.key), "police", removal, actor="t", fmt="vpdq"
    )
    store.close()
    assert (report.removed, report.not_found) == (1, 0)
    server.app.node.follower.refresh()
    body = v2_check(server, deployment, [video_item(features["original"])])
    assert body["results"][0]["match"] is False
