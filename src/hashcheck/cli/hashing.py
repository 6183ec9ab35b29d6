"""`hashcheck hash FILE...`: MD5, SHA-1 and SHA-256 of files in one read each, the PDQ
hash of images when the `pdq` extra is installed, and with `--video` the vPDQ frame hashes of
videos (FFmpeg's programs decode them).

Client side: imports nothing of the server (a client-only install runs it). Files are read,
never sent anywhere.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from hashcheck.cli.exitcodes import ExitCode
from hashcheck.client.files import digests
from hashcheck.config import Settings


def perceptual(path: Path) -> dict[str, Any] | None:
    """PDQ hash and quality of an image; None when the file is no image or the `pdq` extra
    (numpy, Pillow) is not installed."""
    try:
        from hashcheck.pdq.images import NotAnImage, pdq_of_image
    except ImportError:
        return None
    try:
        found = pdq_of_image(path)
    except NotAnImage:
        return None
    return {"pdq": found.hex, "pdq_quality": found.quality}


def video(path: Path, seconds_per_hash: float) -> list[str]:
    """A video's vPDQ features as `hex,quality,timestamp` strings (ThreatExchange's form)."""
    try:
        from hashcheck.pdq.videofiles import video_features
    except ImportError:
        raise VideoUnavailable("vPDQ needs numpy: install hashcheck[pdq]") from None
    return [str(feature) for feature in video_features(path, seconds_per_hash)]


class VideoUnavailable(Exception):
    """This installation cannot hash videos at all (a message for the user)."""


def hash_files(args: argparse.Namespace, settings: Settings) -> int:
    if args.seconds_per_hash < 0:
        print("hashcheck: --seconds-per-hash must be 0 (every frame) or more", file=sys.stderr)
        return ExitCode.USAGE
    failed = False
    for name in args.files:
        path = Path(name)
        try:
            row: dict[str, Any] = {"file": str(path), **digests(path)}
        except OSError as exc:
            print(f"hashcheck: {path}: {exc.strerror or exc}", file=sys.stderr)
            failed = True
            continue
        if args.video or args.vpdq_line:
            try:
                row["vpdq"] = video(path, args.seconds_per_hash)
            except (ValueError, VideoUnavailable, RuntimeError) as exc:
                # Not a video, or FFmpeg missing: said plainly, never a traceback.
                print(f"hashcheck: {exc}", file=sys.stderr)
                failed = True
                continue
        elif not args.no_pdq:
            row.update(perceptual(path) or {})
        if args.vpdq_line:
            sys.stdout.write(json.dumps(row["vpdq"]) + "\n")
        elif args.json:
            sys.stdout.write(json.dumps(row, sort_keys=True) + "\n")
        else:
            extra = f"  pdq {row['pdq']} (quality {row['pdq_quality']})" if "pdq" in row else ""
            if "vpdq" in row:
                extra = f"  vpdq {len(row['vpdq'])} frames"
            sys.stdout.write(f"{row['md5']}  {row['sha1']}  {row['sha256']}  {path}{extra}\n")
            for feature in row.get("vpdq", []):
                sys.stdout.write(f"  {feature}\n")
    return ExitCode.REJECTED if failed else ExitCode.OK
