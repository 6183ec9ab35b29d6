"""vPDQ features of video files, decoded by FFmpeg's command-line programs.

Owns running `ffprobe` (stream size and frame rate) and `ffmpeg` (frames as raw RGB on a
pipe) and hashing the frames vPDQ samples: frame n is hashed when n is a multiple of
`int(seconds_per_hash * frame rate)`, its timestamp is n / frame rate — as Meta's vpdq does.
Each frame is hashed and dropped; no frame is written anywhere. Needs the `ffmpeg` program
(Debian: `apt-get install ffmpeg`), not its development libraries.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from hashcheck.pdq.algorithm import pdq_from_rgb
from hashcheck.pdq.video import Feature

# A frame larger than this (8K) is refused rather than read: a crafted header could otherwise
# ask for gigabytes per frame.
MAX_FRAME_PIXELS = 7680 * 4320
_PROBE_SECONDS = 60


class NotAVideo(ValueError):
    """The file is not a video this installation can decode."""


class VideoToolMissing(RuntimeError):
    """FFmpeg's programs are not installed."""


@dataclass(frozen=True)
class VideoStream:
    width: int
    height: int
    frame_rate: Fraction


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise VideoToolMissing(
            f"hashing videos needs FFmpeg's `{name}` program: apt-get install ffmpeg"
        )
    return found


def _last_line(text: bytes) -> str:
    lines = [line for line in text.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1].strip()[:200] if lines else "no details"


def probe(path: Path) -> VideoStream:
    """Size and frame rate of the file's first video stream."""
    command = [
        _tool("ffprobe"),
        "-v",
        "error",
        "-select_streams",
        "v:0",
        "-show_entries",
        "stream=width,height,avg_frame_rate,r_frame_rate",
        "-of",
        "json",
        "--",
        str(path),
    ]
    try:
        done = subprocess.run(command, capture_output=True, timeout=_PROBE_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        raise NotAVideo(f"{path.name}: probing took over {_PROBE_SECONDS} s") from None
    if done.returncode != 0:
        raise NotAVideo(f"{path.name}: not a video FFmpeg can read ({_last_line(done.stderr)})")
    try:
        (stream,) = json.loads(done.stdout)["streams"]
        width, height = int(stream["width"]), int(stream["height"])
        rate = _rate(stream.get("avg_frame_rate")) or _rate(stream.get("r_frame_rate"))
    except (ValueError, KeyError, TypeError):
        raise NotAVideo(f"{path.name}: no video stream") from None
    if rate is None or width <= 0 or height <= 0:
        raise NotAVideo(f"{path.name}: the video stream has no size or frame rate")
    if width * height > MAX_FRAME_PIXELS:
        raise NotAVideo(f"{path.name}: frames of {width}x{height} are larger than 8K")
    return VideoStream(width, height, rate)


def _rate(text: object) -> Fraction | None:
    """vpdq's frame rate: the average rate, else the stream's base rate; None if zero."""
    if not isinstance(text, str) or "/" not in text:
        return None
    numerator, denominator = text.split("/", 1)
    if not numerator.isdigit() or not denominator.isdigit() or int(denominator) == 0:
        return None
    rate = Fraction(int(numerator), int(denominator))
    return rate if rate > 0 else None


def video_features(path: Path, seconds_per_hash: float = 1.0) -> list[Feature]:
    """The vPDQ features of a video file: one per sampled frame, in frame order."""
    if not seconds_per_hash >= 0:
        raise ValueError("seconds per hash must be 0 (every frame) or more")
    stream = probe(path)
    step = max(1, int(seconds_per_hash * stream.frame_rate))
    size = stream.width * stream.height * 3
    command = [
        _tool("ffmpeg"),
        "-nostdin",
        "-v",
        "error",
        # vpdq hashes the frames as decoded: no rotation from the container's metadata.
        "-noautorotate",
        "-i",
        str(path),
        "-map",
        "0:v:0",
        "-an",
        "-sn",
        "-dn",
        "-vf",
        # The size is pinned so that a stream that changes size mid-way still gives
        # frames of the size read below.
        f"select=not(mod(n\\,{step})),scale={stream.width}:{stream.height}:flags=area",
        "-fps_mode",
        "passthrough",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "pipe:1",
    ]
    features: list[Feature] = []
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors)
        assert process.stdout is not None
        try:
            while True:
                frame = process.stdout.read(size)
                if len(frame) < size:
                    break
                pixels = np.frombuffer(frame, dtype=np.uint8).reshape(
                    stream.height, stream.width, 3
                )
                hashed = pdq_from_rgb(pixels)
                number = len(features) * step
                features.append(
                    Feature(hashed.bits, hashed.quality, float(number / stream.frame_rate))
                )
        finally:
            process.stdout.close()
            code = process.wait()
        if code != 0:
            errors.seek(0)
            raise NotAVideo(f"{path.name}: decoding failed ({_last_line(errors.read())})")
    if not features:
        raise NotAVideo(f"{path.name}: no frame could be decoded")
    return features
