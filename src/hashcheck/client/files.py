"""File hashing on the client side: the three exact digests from one read of a file.

Reads files; sends nothing anywhere. No server dependency.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK = 1 << 20


def digests(path: Path) -> dict[str, str]:
    """MD5, SHA-1 and SHA-256 of the file, from one pass over it."""
    md5 = hashlib.md5(usedforsecurity=False)
    sha1 = hashlib.sha1(usedforsecurity=False)
    sha256 = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            md5.update(chunk)
            sha1.update(chunk)
            sha256.update(chunk)
    return {"md5": md5.hexdigest(), "sha1": sha1.hexdigest(), "sha256": sha256.hexdigest()}
