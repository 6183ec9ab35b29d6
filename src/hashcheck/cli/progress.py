"""A progress bar on a terminal's stderr; silent when stderr is not a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    WIDTH = 30

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stderr
        self._label = label
        self._started = time.monotonic()
        self._last = 0.0
        self.enabled = self._stream.isatty()

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self._last < 0.1 and done < total):
            return
        self._last = now
        share = done / total if total else 1.0
        filled = int(share * self.WIDTH)
        rate = done / max(now - self._started, 1e-6) / 1e6
        self._stream.write(
            f"\r{self._label} [{'#' * filled}{'.' * (self.WIDTH - filled)}] "
            f"{share:6.1%} {rate:6.1f} MB/s"
        )
        self._stream.flush()

    def finish(self) -> None:
        if self.enabled:
            self._stream.write("\n")
            self._stream.flush()
