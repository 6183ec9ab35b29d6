"""Benchmark (issues 6 and 13): the scanner's hashing against `md5sum` and `sha1sum` on the same
files in the same run, with and without PDQ of the images among them (1 in 10 of the small
files), and the end-to-end scan rate against a local server, exact only and with PDQ.

Generates two trees in a temporary folder: 100,000 small files (1-8 KiB) and 20 large files
(64 MiB each). For each tree: `md5sum` and `sha1sum` over every file (one process each, via
xargs, as an operator would run them), then hashcheck's scanner hashing (MD5, SHA-1 and SHA-256
from one read per file, a thread per core). The target: the scanner's hashing rate at least
the combined rate of the md5sum + sha1sum pair (the same bytes read twice). Then
`hashcheck scan` end to end against a local server (1M entries). Writes
bench/results/scan.json.

    .venv/bin/python -m bench.scan [--small N] [--large N] [--large-mib N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bench.common import CLIENT_ID, CLIENT_SECRET, deploy, hashcheck_server, write_result
from hashcheck.client.scan import Hashing, hash_many


def make_trees(folder: Path, small: int, large: int, large_mib: int) -> tuple[Path, Path]:
    """Small files (1 in 10 a JPEG of 96x96 pixels, the rest 1-8 KiB of random
    bytes) and large ones."""
    rng = np.random.default_rng(6)
    small_root, large_root = folder / "small", folder / "large"
    for number in range(small):
        folder_of = small_root / f"{number // 1000:03d}"
        folder_of.mkdir(parents=True, exist_ok=True)
        if number % 10 == 0:
            pixels = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
            image = Image.fromarray(pixels).resize((96, 96), Image.Resampling.BILINEAR)
            image.save(folder_of / f"{number}.jpg", quality=85)
            continue
        (folder_of / f"{number}.bin").write_bytes(rng.bytes(int(rng.integers(1024, 8193))))
    large_root.mkdir(parents=True)
    block = rng.bytes(1 << 20)
    for number in range(large):
        with (large_root / f"{number}.bin").open("wb") as out:
            for part in range(large_mib):
                out.write(block[part:] + block[:part])
    return small_root, large_root


def files_of(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def timed_tool(tool: str, files: list[Path], scratch: Path) -> float:
    listing = scratch / "files.txt"
    listing.write_bytes(b"\0".join(os.fsencode(f) for f in files) + b"\0")
    started = time.perf_counter()
    with listing.open("rb") as names:
        subprocess.run(
            ["xargs", "-0", "-n", "1000", tool],
            stdin=names,
            stdout=subprocess.DEVNULL,
            check=True,
        )
    return time.perf_counter() - started


def timed_scanner(files: list[Path], hashing: Hashing) -> float:
    started = time.perf_counter()
    for _ in hash_many(files, hashing=hashing):
        pass
    return time.perf_counter() - started


def measure(files: list[Path], scratch: Path) -> dict[str, Any]:
    size = sum(f.stat().st_size for f in files)
    for f in files[:2000]:  # warm the page cache evenly for every contender
        f.read_bytes()
    md5 = timed_tool("md5sum", files, scratch)
    sha1 = timed_tool("sha1sum", files, scratch)
    ours = timed_scanner(files, Hashing(perceptual=False))
    perceptual = timed_scanner(files, Hashing())
    pair = size / (md5 + sha1) / 1e6
    mine = size / ours / 1e6
    return {
        "files": len(files),
        "bytes": size,
        "md5sum_seconds": round(md5, 2),
        "sha1sum_seconds": round(sha1, 2),
        "pair_mb_per_second": round(pair, 1),
        "pair_files_per_second": round(len(files) / (md5 + sha1), 1),
        "scanner_seconds": round(ours, 2),
        "scanner_mb_per_second": round(mine, 1),
        "scanner_files_per_second": round(len(files) / ours, 1),
        "ratio_to_pair": round(mine / pair, 2),
        "scanner_with_pdq_seconds": round(perceptual, 2),
        "scanner_with_pdq_mb_per_second": round(size / perceptual / 1e6, 1),
        "scanner_with_pdq_files_per_second": round(len(files) / perceptual, 1),
        "with_pdq_ratio_to_pair": round(size / perceptual / 1e6 / pair, 2),
        "with_pdq_ratio_to_exact_only": round(ours / perceptual, 2),
    }


def end_to_end(root: Path, scratch: Path, *options: str) -> dict[str, Any]:
    deployment = deploy(scratch / f"deployment{len(options)}", 1_000_000)
    with hashcheck_server(deployment) as base:
        env = {
            **os.environ,
            "HASHCHECK_SERVICE_URL": base,
            "HASHCHECK_CLIENT_ID": CLIENT_ID,
            "HASHCHECK_CLIENT_SECRET": CLIENT_SECRET,
        }
        executable = str(Path(sys.executable).with_name("hashcheck"))
        started = time.perf_counter()
        result = subprocess.run(
            [executable, "scan", str(root), "--report", str(scratch / "report.jsonl"), *options],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - started
    lines = len((scratch / "report.jsonl").read_text().splitlines())
    return {
        "exit_code": result.returncode,
        "files": lines,
        "seconds": round(seconds, 2),
        "files_per_second": round(lines / seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--large", type=int, default=20)
    parser.add_argument("--large-mib", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        small_root, large_root = make_trees(scratch, args.small, args.large, args.large_mib)
        results: dict[str, Any] = {
            "small_files": measure(files_of(small_root), scratch),
            "large_files": measure(files_of(large_root), scratch),
            "end_to_end_small_files_exact_only": end_to_end(small_root, scratch, "--no-pdq"),
            "end_to_end_small_files": end_to_end(small_root, scratch),
            "target": "scanner MB/s >= md5sum+sha1sum combined MB/s",
        }
    for name in ("small_files", "large_files"):
        row = results[name]
        print(
            f"{name}: {row['files']:,} files, {row['bytes'] / 1e6:,.0f} MB | md5sum+sha1sum "
            f"{row['pair_mb_per_second']:,.1f} MB/s ({row['pair_files_per_second']:,.0f} files/s) "
            f"| scanner {row['scanner_mb_per_second']:,.1f} MB/s "
            f"({row['scanner_files_per_second']:,.0f} files/s) | ratio {row['ratio_to_pair']} "
            f"| with PDQ {row['scanner_with_pdq_mb_per_second']:,.1f} MB/s "
            f"({row['scanner_with_pdq_files_per_second']:,.0f} files/s, ratio to the pair "
            f"{row['with_pdq_ratio_to_pair']}, to exact only {row['with_pdq_ratio_to_exact_only']})"
        )
    for name, label in (
        ("end_to_end_small_files_exact_only", "exact only (--no-pdq)"),
        ("end_to_end_small_files", "with PDQ of the images"),
    ):
        e2e = results[name]
        print(
            f"end to end against a local server, {label}: {e2e['files']:,} files in "
            f"{e2e['seconds']} s ({e2e['files_per_second']:,.0f} files/s), exit {e2e['exit_code']}"
        )
    results["end_to_end_pdq_to_exact_only"] = round(
        results["end_to_end_small_files"]["files_per_second"]
        / results["end_to_end_small_files_exact_only"]["files_per_second"],
        2,
    )
    write_result("scan", results)


if __name__ == "__main__":
    main()
