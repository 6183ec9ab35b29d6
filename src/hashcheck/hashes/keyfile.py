"""Creating and reading the list key file, which lives outside the database.

Owns the file format and its permissions; knows nothing about the store.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import stat
from pathlib import Path

from hashcheck.hashes.keyed import KEY_BYTES, ListKey


class KeyFileError(Exception):
    """The key file is missing, unreadable, malformed or exposed."""


def create_key_file(path: Path) -> ListKey:
    """Write a new random key to ``path`` (mode 0600). Refuses to overwrite an existing file."""
    key = ListKey(key_id="k-" + secrets.token_hex(6), secret=secrets.token_bytes(KEY_BYTES))
    body = json.dumps(
        {
            "format": "hashcheck-list-key-1",
            "key_id": key.key_id,
            "secret": base64.b64encode(key.secret).decode("ascii"),
        }
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise KeyFileError(f"key file {path} cannot be written: {exc.strerror}") from None
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(f"key file {path} already exists; refusing to overwrite it") from None
    except OSError as exc:  # a folder this user may not write in: say so, not a traceback
        raise KeyFileError(f"key file {path} cannot be written: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(body + "\n")
    return key


def read_key_file(path: Path) -> ListKey:
    """Read the key at ``path``, refusing a file that others can read."""
    try:
        info = path.stat()
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KeyFileError(
            f"key file {path} not found; run `hashcheck init` or set HASHCHECK_KEY_FILE"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"key file {path} cannot be read: {exc}") from None
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(f"key file {path} is readable by others; run: chmod 600 {path}")
    try:
        data = json.loads(text)
        if data.get("format") != "hashcheck-list-key-1":
            raise ValueError("unknown format")
        secret = base64.b64decode(data["secret"], validate=True)
        return ListKey(key_id=str(data["key_id"]), secret=secret)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise KeyFileError(f"key file {path} is not a valid hashcheck key file ({exc})") from None
