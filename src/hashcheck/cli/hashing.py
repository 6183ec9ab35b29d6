"""`hashcheck hash FILE...`: MD5, SHA-1 and SHA-256 of files in one read each, and the PDQ
hash of images when the `pdq` extra is installed.

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


def hash_files(args: argparse.Namespace, settings: Settings) -> int:
    failed = False
    for name in args.files:
        path = Path(name)
        try:
            row: dict[str, Any] = {"file": str(path), **digests(path)}
        except OSError as exc:
            print(f"hashcheck: {path}: {exc.strerror or exc}", file=sys.stderr)
            failed = True
            continue
        if not args.no_pdq:
            row.update(perceptual(path) or {})
        if args.json:
            sys.stdout.write(json.dumps(row, sort_keys=True) + "\n")
        else:
            extra = f"  pdq {row['pdq']} (quality {row['pdq_quality']})" if "pdq" in row else ""
            sys.stdout.write(f"{row['md5']}  {row['sha1']}  {row['sha256']}  {path}{extra}\n")
    return ExitCode.REJECTED if failed else ExitCode.OK
