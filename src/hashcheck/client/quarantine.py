"""Quarantine: matched files are moved (never deleted) into a private folder with a manifest
saying where each came from, its hashes and match details; restore puts them back, by path
or because the service retracted the match.

File system work only; the retraction feed is read through `HashcheckClient`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST = "manifest.jsonl"
CURSOR = "retractions.cursor"
RETRACTED = "retracted.jsonl"  # match ids the service retracted, kept across runs


@dataclass(frozen=True)
class Quarantined:
    original: str
    stored: str
    record: dict[str, Any]


class Quarantine:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.chmod(0o700)  # only the abuse team's account reads what lands here

    def hold(self, path: Path, details: dict[str, Any]) -> Quarantined:
        """Move ``path`` in (metadata kept: a rename, or copy2 across file systems) and
        append its manifest record."""
        stored = self.folder / f"{uuid.uuid4().hex}{path.suffix}"
        status = path.stat()
        shutil.move(str(path), stored)
        stored.chmod(0o600)
        record = {
            "original": str(path.absolute()),
            "stored": stored.name,
            "mode": status.st_mode & 0o7777,  # given back on restore
            "uid": status.st_uid,
            "gid": status.st_gid,
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "state": "held",
            **details,
        }
        with (self.folder / MANIFEST).open("a", encoding="utf-8") as out:
            out.write(json.dumps(record, sort_keys=True) + "\n")
        return Quarantined(record["original"], stored.name, record)

    def held(self) -> list[dict[str, Any]]:
        """Records of files still in quarantine (the manifest is append-only; the newest
        record of a stored file wins)."""
        latest: dict[str, dict[str, Any]] = {}
        manifest = self.folder / MANIFEST
        if manifest.exists():
            for line in manifest.read_text(encoding="utf-8").splitlines():
                record = json.loads(line)
                latest[record["stored"]] = record
        return [r for r in latest.values() if r["state"] == "held"]

    def restore(self, record: dict[str, Any], reason: str) -> Path:
        """Put a file back where it was; refuses to overwrite a file that is there now."""
        original = Path(record["original"])
        if original.exists():
            raise FileExistsError(f"{original} exists again; not overwriting it")
        original.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(self.folder / record["stored"]), original)
        original.chmod(int(record["mode"]))
        if hasattr(os, "chown") and os.geteuid() == 0:
            os.chown(original, int(record["uid"]), int(record["gid"]))
        with (self.folder / MANIFEST).open("a", encoding="utf-8") as out:
            restored = {
                **record,
                "state": "restored",
                "reason": reason,
                "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            }
            out.write(json.dumps(restored, sort_keys=True) + "\n")
        return original

    def cursor(self) -> int:
        path = self.folder / CURSOR
        return int(path.read_text()) if path.exists() else 0

    def save_cursor(self, value: int) -> None:
        (self.folder / CURSOR).write_text(str(value))

    def remember_retracted(self, match_ids: set[str]) -> set[str]:
        """Add ``match_ids`` to the retracted ones read before; returns them all. A file that
        matched two items is restored only once both are retracted, which may take two
        reads of the feed."""
        path = self.folder / RETRACTED
        known = set(path.read_text().split()) if path.exists() else set()
        new = sorted(match_ids - known)
        if new:
            with path.open("a") as out:
                out.write("".join(f"{m}\n" for m in new))
        return known | match_ids
