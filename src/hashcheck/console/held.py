"""Uploads the console holds between their dry run and the operator's decision: the file on
this node's disk (a private temporary folder), who sent it, the options chosen, and what the
dry run found. A held upload belongs to the operator who sent it, lasts an hour, and is gone
once landed or discarded; all of them go when the node stops.

Owns the holding only: the import and its dry run are `admin.importing`'s.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HOLD_S = 3600
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{24}$")


@dataclass(frozen=True)
class Held:
    token: str
    operator: str
    list_name: str
    filename: str
    size: int
    options: dict[str, Any]  # the import's options as chosen (format, category, replace, ...)
    preview: dict[str, Any]  # the dry run's report
    held_at: float

    @property
    def expires_in_minutes(self) -> int:
        return max(0, round((self.held_at + HOLD_S - time.time()) / 60))


class HeldUploads:
    def __init__(self) -> None:
        self._root: Path | None = None
        self._lock = threading.Lock()

    def _folder(self) -> Path:
        with self._lock:
            if self._root is None:
                self._root = Path(tempfile.mkdtemp(prefix="hashcheck-console-uploads-"))
            return self._root

    def new(self) -> tuple[str, Path]:
        """A token and the path its file goes to (not held until `keep`)."""
        self.sweep()
        token = secrets.token_urlsafe(18)
        folder = self._folder() / token
        folder.mkdir(mode=0o700)
        return token, self.path(token)

    def keep(self, held: Held) -> None:
        (self._folder() / held.token / "held.json").write_text(json.dumps(asdict(held)))

    def path(self, token: str) -> Path:
        """Where the file of ``token`` is kept (see `new`)."""
        return self._folder() / token / "upload"

    def find(self, token: str, operator: str) -> Held | None:
        """The operator's held upload; None for another's, an expired or unknown one."""
        if not _TOKEN.match(token):
            return None
        path = self._folder() / token / "held.json"
        try:
            held = Held(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None
        if held.operator != operator or time.time() - held.held_at > HOLD_S:
            return None
        return held

    def of(self, operator: str) -> list[Held]:
        """The operator's held uploads, oldest first."""
        if self._root is None:
            return []
        found = [self.find(folder.name, operator) for folder in sorted(self._root.iterdir())]
        return sorted((h for h in found if h is not None), key=lambda h: h.held_at)

    def drop(self, token: str) -> None:
        if _TOKEN.match(token):
            shutil.rmtree(self._folder() / token, ignore_errors=True)

    def sweep(self) -> None:
        """Forget uploads held longer than an hour (and half-received ones as old)."""
        if self._root is None:
            return
        now = time.time()
        for folder in self._root.iterdir():
            try:
                if now - folder.stat().st_mtime > HOLD_S:
                    shutil.rmtree(folder, ignore_errors=True)
            except OSError:
                continue

    def close(self) -> None:
        with self._lock:
            if self._root is not None:
                shutil.rmtree(self._root, ignore_errors=True)
                self._root = None
