"""Benchmark (issue 15): the self-submission page's hashing in headless Chromium against
`hashcheck hash` on the same files, in the same run.

Made here: phone-size JPEGs (4032×3024) and a one-minute 720p H.264 video (30 frames a
second). The page (the browser test's harness: hashing.js and its worker) hashes the images
in one pick, then the video; `hashcheck hash` (and `--video`) does the same files. Also, in
the same Chromium and in Node: the digests' MB/s and the PDQ of 12 megapixels of pixels
(no decoding). Prints and writes bench/results/browser_hashing.json.

    .venv/bin/python -m bench.browser_hashing [--images N] [--video-seconds S]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw
from tests.browser import browser
from tests.browser_modules import run_node
from tests.pdq_reference import DATA
from tests.submit_harness import harness_site, hash_in_browser

from bench.common import write_result
from bench.debian import program

# Digests of 64 MB and PDQ of 4000 × 3000 pixels, five times each: the median of the runs.
SPEED = """
import { Md5, Sha1, Sha256 } from "STATIC/digests.js";
import { pdqFromRgba } from "STATIC/pdq.js";

export function speeds() {
  const bytes = new Uint8Array(64 << 20);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
  const median = (runs) => runs.sort((a, b) => a - b)[2];
  const out = {};
  for (const [name, Hash] of [["md5", Md5], ["sha1", Sha1], ["sha256", Sha256]]) {
    const runs = [];
    for (let run = 0; run < 5; run++) {
      const started = performance.now();
      const hash = new Hash();
      for (let at = 0; at < bytes.length; at += 4 << 20) hash.update(bytes.subarray(at, at + (4 << 20)));
      hash.hex();
      runs.push(64 / ((performance.now() - started) / 1000));
    }
    out[`${name}_mb_per_s`] = Math.round(median(runs));
  }
  const pixels = new Uint8ClampedArray(bytes.buffer, 0, 4000 * 3000 * 4);
  const runs = [];
  for (let run = 0; run < 5; run++) {
    const started = performance.now();
    pdqFromRgba(pixels, 4000, 3000);
    runs.push(performance.now() - started);
  }
  out.pdq_12mp_ms = Math.round(median(runs));
  return out;
}
"""

NODE_DRIVER = SPEED + "\nconsole.log(JSON.stringify(speeds()));\n"
PAGE_DRIVER = (
    SPEED.replace("STATIC/", "/static/")
    + "\ndocument.body.dataset.speeds = JSON.stringify(speeds());\n"
)
SPEED_PAGE = (
    '<!doctype html><meta charset="utf-8"><body><script type="module" src="/speed.js"></script>'
)


def make_files(folder: Path, images: int, video_seconds: int) -> tuple[list[Path], Path]:
    with Image.open(DATA / "aaa-orig.jpg") as original:
        photo = original.convert("RGB").resize((4032, 3024), Image.Resampling.BICUBIC)
    paths = []
    for number in range(images):
        copy = photo.copy()
        ImageDraw.Draw(copy).rectangle(
            (number * 37 % 3800, 200, number * 37 % 3800 + 200, 400), fill=(number % 256, 90, 20)
        )
        paths.append(folder / f"photo-{number:03}.jpg")
        copy.save(paths[-1], quality=90)
    video = folder / "minute.mp4"
    source = f"testsrc2=size=1280x720:rate=30:duration={video_seconds}"
    encode = ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "veryfast"]
    ffmpeg = program("ffmpeg", "ffmpeg")
    make = [ffmpeg, "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", source, *encode]
    subprocess.run([*make, str(video)], check=True, timeout=600)
    return paths, video


def cli_seconds(*args: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [str(Path(sys.executable).with_name("hashcheck")), "hash", *args],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--video-seconds", type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hashcheck-browser-bench-") as temporary:
        folder = Path(temporary)
        (folder / "node").mkdir()
        node = run_node(folder / "node", NODE_DRIVER)
        (folder / "files").mkdir()
        images, video = make_files(folder / "files", args.images, args.video_seconds)
        (folder / "site").mkdir()
        pages = {"speed.html": SPEED_PAGE, "speed.js": PAGE_DRIVER}
        with harness_site(folder / "site", pages) as (base, _), browser() as context:
            page = context.new_page()
            page.goto(base + "/speed.html")
            page.wait_for_selector("body[data-speeds]", state="attached", timeout=300_000)
            chromium = json.loads(page.get_attribute("body", "data-speeds") or "{}")
            page.close()
            pictures, _ = hash_in_browser(context, base, images, timeout=1800)
            film, _ = hash_in_browser(context, base, [video], timeout=1800)
        cli_images = cli_seconds("--json", *map(str, images))
        cli_video = cli_seconds("--video", "--json", str(video))
    (clip,) = film["results"]
    result: dict[str, Any] = {
        "images": args.images,
        "image_size": "4032x3024 JPEG",
        "page_images_per_s": round(args.images / (pictures["ms"] / 1000), 2),
        "cli_images_per_s": round(args.images / cli_images, 2),
        "video": f"{args.video_seconds} s 1280x720 H.264 30 fps",
        "page_video_s": round(film["ms"] / 1000, 2),
        "page_video_frames": len(clip.get("vpdq", [])),
        "cli_video_s": round(cli_video, 2),
        "node": node,
        "chromium": chromium,
    }
    print(result)
    write_result("browser_hashing", result)


if __name__ == "__main__":
    main()
