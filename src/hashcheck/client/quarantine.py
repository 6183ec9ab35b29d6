"""Quarantine: matched files are moved (never deleted) into a private folder with a manifest
saying where each came from, its hashes and match details; restore puts them back, by path
or because the service retracted every item the file matched. Never overwrites a file.

The folder is 0700 and everything in it 0600: the files and the manifest are the abuse team's
alone. File system work only; the retraction feed is read through `HashcheckClient`.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import shutil
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST = "manifest.jsonl"
CURSOR = "retractions.cursor"
RETRACTED = "retracted.jsonl"  # what the service retracted, kept across runs
_ITEM = "item:"  # a retracted item's line in RETRACTED (the other lines are match ids)


class NoQuarantine(LookupError):
    """The folder given is no quarantine (none was ever made there)."""


class NotHeld(LookupError):
    """No file from that path is in the quarantine."""


@dataclass(frozen=True)
class Quarantined:
    original: str
    stored: str
    record: dict[str, Any]


@dataclass(frozen=True)
class Retracted:
    """What the retraction feed has said so far: match ids, and the items they were for."""

    match_ids: frozenset[str]
    items: frozenset[int]

    def covers(self, record: dict[str, Any]) -> bool:
        """Whether every item the quarantined file matched was retracted (a file on two lists
        matched two items: one retraction brings it back only with the other)."""
        matches = record.get("matches") or []
        return bool(matches) and all(
            m.get("item") in self.items or m.get("match_id") in self.match_ids for m in matches
        )


class Quarantine:
    def __init__(self, folder: Path) -> None:
        """The quarantine at ``folder``, made if it does not exist (where files are moved)."""
        self.folder = folder
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.chmod(0o700)  # only the abuse team's account reads what lands here
        for name in (MANIFEST, CURSOR, RETRACTED):
            if (folder / name).exists():
                (folder / name).chmod(0o600)

    @classmethod
    def existing(cls, folder: Path) -> Quarantine:
        """The quarantine at ``folder``; `NoQuarantine` when there is none (a mistyped path
        must not read as an empty quarantine)."""
        if not (folder / MANIFEST).is_file():
            raise NoQuarantine(f"{folder} is no quarantine folder (it has no {MANIFEST})")
        return cls(folder)

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
        self._append(MANIFEST, json.dumps(record, sort_keys=True) + "\n")
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

    def held_from(self, paths: Iterable[str]) -> list[dict[str, Any]]:
        """The held records of these original paths; `NotHeld` naming any that is not held."""
        held = {r["original"]: r for r in self.held()}
        wanted = [str(Path(p).absolute()) for p in paths]
        unknown = [p for p in wanted if p not in held]
        if unknown:
            raise NotHeld(f"not in the quarantine: {', '.join(unknown)}")
        return [held[p] for p in wanted]

    def restore(self, record: dict[str, Any], reason: str) -> Path:
        """Put a file back where it was; refuses to overwrite a file that is there now."""
        original = Path(record["original"])
        original.parent.mkdir(parents=True, exist_ok=True)
        source = self.folder / record["stored"]
        # A hard link fails if the name is taken, even by a file that appears just now; a
        # check followed by a move could overwrite it.
        try:
            try:
                os.link(source, original)
            except OSError as exc:
                if isinstance(exc, FileExistsError) or exc.errno != errno.EXDEV:
                    raise
                # Another file system: copied into a name made exclusively (never over one).
                with source.open("rb") as data, original.open("xb") as out:
                    shutil.copyfileobj(data, out)
                shutil.copystat(source, original)
        except FileExistsError:
            raise FileExistsError(f"{original} exists again; not overwriting it") from None
        source.unlink()
        original.chmod(int(record["mode"]))
        if hasattr(os, "chown") and os.geteuid() == 0:
            os.chown(original, int(record["uid"]), int(record["gid"]))
        restored = {
            **record,
            "state": "restored",
            "reason": reason,
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        self._append(MANIFEST, json.dumps(restored, sort_keys=True) + "\n")
        return original

    def cursor(self) -> int:
        path = self.folder / CURSOR
        return int(path.read_text()) if path.exists() else 0

    def save_cursor(self, value: int) -> None:
        path = self.folder / CURSOR
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(str(value))

    def remember_retracted(self, retractions: Iterable[dict[str, Any]]) -> Retracted:
        """Add what the feed just said to what it said before; returns it all."""
        path = self.folder / RETRACTED
        lines = set(path.read_text().split()) if path.exists() else set()
        new: set[str] = set()
        for retraction in retractions:
            new.add(str(retraction["match_id"]))
            if isinstance(retraction.get("item"), int):
                new.add(f"{_ITEM}{retraction['item']}")
        if new - lines:
            self._append(RETRACTED, "".join(f"{line}\n" for line in sorted(new - lines)))
        known = lines | new
        return Retracted(
            frozenset(line for line in known if not line.startswith(_ITEM)),
            frozenset(int(line[len(_ITEM) :]) for line in known if line.startswith(_ITEM)),
        )

    def _append(self, name: str, text: str) -> None:
        descriptor = os.open(self.folder / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(descriptor, "a", encoding="utf-8") as out:
            out.write(text)
