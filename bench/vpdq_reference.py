"""hashcheck's vPDQ hashing against Meta's reference `vpdq` (C++, through its Python binding),
frame by frame on the same videos, made here by ffmpeg in several codecs, sizes and rates.

Meta's `vpdq` has no wheel: building it needs FFmpeg's development libraries, cmake,
pkg-config and g++ (Debian packages) — which is why hashcheck decodes with FFmpeg's programs
instead. Give this benchmark a Python that has `vpdq` built:

    apt-get install cmake pkg-config g++ libavdevice-dev libavfilter-dev libavformat-dev \\
        libavcodec-dev libswresample-dev libswscale-dev libavutil-dev
    python3 -m venv /tmp/vpdqenv && /tmp/vpdqenv/bin/pip install vpdq
    .venv/bin/python -m bench.vpdq_reference --reference-python /tmp/vpdqenv/bin/python

Prints per video the frames each side hashed and the largest Hamming distance between the
two hashes of a frame; writes bench/results/vpdq_reference.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench.common import write_result
from bench.debian import program
from hashcheck.pdq.algorithm import distance
from hashcheck.pdq.videofiles import video_features

VIDEOS = {
    "testsrc2-640x360-25fps-h264.mp4": ["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
                                         "-t", "20", "-c:v", "libx264", "-pix_fmt", "yuv420p"],
    "mandelbrot-480x270-30fps-vp9.webm": ["-f", "lavfi", "-i", "mandelbrot=size=480x270:rate=30",
                                           "-t", "12", "-c:v", "libvpx-vp9", "-b:v", "500k"],
    "life-320x240-29.97fps-mpeg4.avi": ["-f", "lavfi", "-i",
                                         "life=size=320x240:rate=30000/1001:mold=10:ratio=0.3",
                                         "-t", "15", "-c:v", "mpeg4"],
    "testsrc-1280x720-24fps-h264.mkv": ["-f", "lavfi", "-i",
                                             "testsrc=size=1280x720:rate=24", "-t", "8",
                                             "-c:v", "libx264", "-crf", "30"],
}  # fmt: skip

REFERENCE = """
import json, sys, vpdq
out = {}
for path in sys.argv[1:]:
    out[path] = [[f.frame_number, f.hex, f.quality, f.timestamp] for f in vpdq.computeHash(path)]
print(json.dumps(out))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reference-python", required=True, help="a Python with vpdq built")
    args = parser.parse_args()
    ffmpeg = program("ffmpeg", "ffmpeg")
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for name, options in VIDEOS.items():
            path = Path(folder) / name
            subprocess.run([ffmpeg, "-nostdin", "-v", "error", "-y", *options, str(path)],
                           check=True, timeout=300)  # fmt: skip
            paths.append(path)
        done = subprocess.run(
            [args.reference_python, "-c", REFERENCE, *map(str, paths)],
            check=True,
            capture_output=True,
            timeout=600,
        )
        reference = json.loads(done.stdout)
        for path in paths:
            theirs = reference[str(path)]
            ours = video_features(path)
            distances = [
                distance(bytes.fromhex(frame[1]), feature.bits)
                for frame, feature in zip(theirs, ours, strict=False)
            ]
            row = {
                "video": path.name,
                "frames_reference": len(theirs),
                "frames_hashcheck": len(ours),
                "same_frame_numbers_and_times": len(theirs) == len(ours)
                and all(
                    abs(frame[3] - feature.timestamp) < 1e-3
                    for frame, feature in zip(theirs, ours, strict=True)
                ),
                "identical_hashes": sum(d == 0 for d in distances),
                "max_distance": max(distances, default=0),
                "same_quality": sum(
                    frame[2] == feature.quality
                    for frame, feature in zip(theirs, ours, strict=False)
                ),
            }
            rows.append(row)
            print(
                f"{row['video']:40} frames {row['frames_reference']:>3} / "
                f"{row['frames_hashcheck']:>3}  identical {row['identical_hashes']:>3}  "
                f"max distance {row['max_distance']}  same quality {row['same_quality']}"
            )
    write_result("vpdq_reference", {"reference": "vpdq 0.2.5 (Meta, C++)", "videos": rows})


if __name__ == "__main__":
    main()
