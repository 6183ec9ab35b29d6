"""A daemon thread that runs one step every interval until stopped; a failing step is logged
and retried at the next interval, never fatal."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable


class Periodic:
    def __init__(
        self,
        name: str,
        interval: float,
        step: Callable[[], object],
        *,
        log: logging.Logger,
        what: str,
        first_at_once: bool = True,
        wake: Callable[[float], object] | None = None,
    ) -> None:
        """``wake(interval)``, if given, replaces the plain wait between steps: it may return
        early (e.g. when the store announces a change) so the next step runs sooner."""
        self._name = name
        self._interval = interval
        self._step = step
        self._log = log
        self._what = what
        self._first_at_once = first_at_once
        self._wake = wake
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        if not self._first_at_once and self._stop.wait(self._interval):
            return
        while True:
            try:
                self._step()
                self.last_error = None
            except Exception as exc:  # the node keeps serving; the next interval retries
                if self.last_error != str(exc):
                    self._log.warning("cannot %s: %s", self._what, exc)
                self.last_error = str(exc)
            if self._wake is not None and not self._stop.is_set():
                try:
                    self._wake(self._interval)
                except Exception:  # waiting failed: fall back to the plain interval
                    self._stop.wait(self._interval)
            elif self._stop.wait(self._interval):
                return
            if self._stop.is_set():
                return
