"""Who is calling: HTTP Basic credentials checked against the snapshot's clients.

The slow secret hash runs at most once per distinct `Authorization` header (two at a time, on
threads of its own, not the pool other work shares); after that the in-memory cache answers
with one keyed hash and a dict lookup. Failed sign-ins back off per source address and per
client id from a source (`auth.throttle`, as for operators): after a few, a try is answered
429 with Retry-After without the slow hash, so a flood of wrong secrets costs a few hashes,
not a core, and does not queue in front of a real client's first check. Credentials verified
before are never held back. A rotated secret or a disabled client takes effect with the next
snapshot, which the follower publishes within its poll interval.
"""

from __future__ import annotations

import asyncio
import math
import time
from concurrent.futures import ThreadPoolExecutor

from hashcheck.api.errors import Forbidden, TooManyRequests, Unauthorized
from hashcheck.auth.basic import parse_basic
from hashcheck.auth.cache import CredentialCache
from hashcheck.auth.secrets import hash_secret
from hashcheck.auth.throttle import SignInThrottle
from hashcheck.catalog.model import ClientView
from hashcheck.index.snapshot import Snapshot

# Unknown client ids are checked against this so that they take as long as known ones.
_DECOY_HASH = hash_secret("decoy")
_SLOW_CHECKS_AT_ONCE = 2


class Authenticator:
    def __init__(self, cache: CredentialCache) -> None:
        self._cache = cache
        self._slow = asyncio.Semaphore(_SLOW_CHECKS_AT_ONCE)
        self._hashing = ThreadPoolExecutor(
            _SLOW_CHECKS_AT_ONCE, thread_name_prefix="client-sign-in"
        )
        self._throttle = SignInThrottle()  # used from the event loop only

    def cached(self, snapshot: Snapshot, authorization: bytes | None) -> ClientView | None:
        """The client if this header was verified before against its current secret.

        Raises for a header known to be wrong; None when only the slow path can tell.
        """
        if not authorization:
            raise Unauthorized("HTTP Basic credentials (client id and secret) required")
        known = self._cache.lookup(self._cache.fingerprint(authorization))
        if known is None:
            return None
        client_id, stored, ok = known
        view = snapshot.catalog.views.get(client_id)
        current = view.client.secret_hash if view is not None else _DECOY_HASH
        if current != stored:
            return None  # the secret was rotated (or the client added) since: check again
        if not ok or view is None:
            raise Unauthorized("wrong client id or secret")
        if not view.client.enabled:
            raise Forbidden("this client is disabled; contact the operator")
        return view

    async def client(
        self, snapshot: Snapshot, authorization: bytes | None, source: str = "unknown"
    ) -> ClientView:
        """``source``: the caller's address (behind a trusted proxy, the one it names)."""
        view = self.cached(snapshot, authorization)
        if view is not None:
            return view
        assert authorization is not None
        credentials = parse_basic(authorization)
        if credentials is None:
            raise Unauthorized("HTTP Basic credentials (client id and secret) required")
        client_id, secret = credentials
        wait = self._throttle.wait(client_id, source, time.monotonic())
        if wait > 0:
            raise TooManyRequests(
                f"too many failed sign-ins from here; try again in {math.ceil(wait)} s",
                retry_after=math.ceil(wait),
            )
        found = snapshot.catalog.views.get(client_id)
        stored = found.client.secret_hash if found is not None else _DECOY_HASH
        async with self._slow:
            ok = await asyncio.get_running_loop().run_in_executor(
                self._hashing, self._cache.verify_slowly, secret, stored
            )
        self._cache.remember(self._cache.fingerprint(authorization), client_id, stored, ok)
        if not ok or found is None:
            self._throttle.failed(client_id, source, time.monotonic())
            raise Unauthorized("wrong client id or secret")
        self._throttle.succeeded(client_id, source)
        if not found.client.enabled:
            raise Forbidden("this client is disabled; contact the operator")
        return found
