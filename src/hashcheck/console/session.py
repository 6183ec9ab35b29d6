"""Console sessions and CSRF tokens: signed, never stored. Pure: no I/O, time passed in.

A session cookie names the operator, when it was last used and a fingerprint of the account's
secret hash, under a MAC with a key derived from the list key (so every worker and node
accepts it, and nothing about it sits in the database). Rotating the account's secret ends
its sessions; the console also checks the account is still enabled on every request. A
session unused for `IDLE_S` ends. The CSRF token of a form is a MAC of the account and its
secret's fingerprint.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

IDLE_S = 30 * 60
COOKIE = "hashcheck_console"
_MAC = 32


@dataclass(frozen=True)
class Session:
    name: str
    secret_fingerprint: str
    last_used: int


class Sessions:
    def __init__(self, key: bytes) -> None:
        self._key = hmac.new(key, b"hashcheck console sessions v1", hashlib.sha256).digest()

    def issue(self, name: str, secret_hash: str, now: float) -> str:
        body = f"{name}\n{fingerprint(secret_hash)}\n{int(now)}".encode()
        mac = hmac.new(self._key, body, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(body + mac).decode().rstrip("=")

    def read(self, cookie: str, now: float) -> Session | None:
        """The session a cookie holds, if its MAC is right and it is not idle too long."""
        try:
            raw = base64.urlsafe_b64decode(cookie + "=" * (-len(cookie) % 4))
        except ValueError:
            return None
        body, mac = raw[:-_MAC], raw[-_MAC:]
        if len(raw) <= _MAC or not hmac.compare_digest(
            mac, hmac.new(self._key, body, hashlib.sha256).digest()
        ):
            return None
        try:
            name, secret_fingerprint, last = body.decode().split("\n")
            last_used = int(last)
        except ValueError:
            return None
        if not 0 <= now - last_used <= IDLE_S:
            return None
        return Session(name, secret_fingerprint, last_used)

    def csrf(self, session: Session) -> str:
        """The token every form of the operator's sessions carries (stable while the account
        keeps its secret, so a form rendered before the cookie was refreshed still posts)."""
        body = f"csrf\n{session.name}\n{session.secret_fingerprint}".encode()
        return hmac.new(self._key, body, hashlib.sha256).hexdigest()

    def csrf_ok(self, session: Session, token: str) -> bool:
        return hmac.compare_digest(self.csrf(session), token)

    def sign(self, message: str) -> str:
        """A MAC for a message carried to the next page in its address (what was done), so
        that a link made elsewhere cannot put words on a console page."""
        return hmac.new(self._key, b"done\n" + message.encode(), hashlib.sha256).hexdigest()

    def verified(self, message: str, mac: str) -> str:
        """``message`` if ``mac`` is its MAC, else nothing."""
        return message if message and hmac.compare_digest(self.sign(message), mac) else ""


def fingerprint(secret_hash: str) -> str:
    return hashlib.sha256(secret_hash.encode()).hexdigest()[:32]
