"""Back-off after failed sign-ins: per source address, and per account from one source.

A key that fails `FREE_FAILURES` times in a row waits before its next try, the wait doubling
with each further failure up to `MAX_WAIT_S`; a success clears the (account, source) key. A
try while waiting is refused without the slow hash and does not lengthen the wait, so a real
operator elsewhere is never locked out, and one who mistyped waits at most `MAX_WAIT_S`.
Per process, in memory, bounded in size; no I/O and no clock of its own (callers pass the
time), so it is tested without sleeping.
"""

from __future__ import annotations

from dataclasses import dataclass

FREE_FAILURES = 5
FIRST_WAIT_S = 1.0
MAX_WAIT_S = 300.0
MAX_KEYS = 50_000


@dataclass
class _Record:
    failures: int = 0
    until: float = 0.0  # no try before this time


class SignInThrottle:
    def __init__(self) -> None:
        self._records: dict[tuple[str, str], _Record] = {}

    def wait(self, account: str, source: str, now: float) -> float:
        """Seconds before ``account`` may try again from ``source`` (0: now)."""
        longest = 0.0
        for key in _keys(account, source):
            record = self._records.get(key)
            if record is not None and record.until > now:
                longest = max(longest, record.until - now)
        return longest

    def failed(self, account: str, source: str, now: float) -> bool:
        """Count a failure; True when it starts a wait (worth an audit record)."""
        started = False
        for key in _keys(account, source):
            record = self._records.pop(key, None) or _Record()
            record.failures += 1
            if record.failures >= FREE_FAILURES:
                exponent = min(record.failures - FREE_FAILURES, 20)
                record.until = now + min(FIRST_WAIT_S * 2**exponent, MAX_WAIT_S)
                started = True
            self._records[key] = record  # re-inserted: the newest last
        while len(self._records) > MAX_KEYS:
            del self._records[next(iter(self._records))]
        return started

    def succeeded(self, account: str, source: str) -> None:
        """A right secret clears this account's count from this source (not the source's: a
        source that guessed many names stays slowed)."""
        self._records.pop(("account", f"{account}\0{source}"), None)


def _keys(account: str, source: str) -> tuple[tuple[str, str], ...]:
    return (("source", source), ("account", f"{account}\0{source}"))
