"""Who is calling: HTTP Basic credentials checked against the snapshot's clients.

The slow secret hash runs at most once per distinct `Authorization` header (in a thread,
bounded); after that the in-memory cache answers with one keyed hash and a dict lookup. A
rotated secret or a disabled client takes effect with the next snapshot, which the follower
publishes within its poll interval.
"""

from __future__ import annotations

import asyncio

from hashcheck.api.errors import Forbidden, Unauthorized
from hashcheck.auth.basic import parse_basic
from hashcheck.auth.cache import CredentialCache
from hashcheck.auth.secrets import hash_secret
from hashcheck.catalog.model import ClientView
from hashcheck.index.snapshot import Snapshot

# Unknown client ids are checked against this so that they take as long as known ones.
_DECOY_HASH = hash_secret("decoy")
_SLOW_CHECKS_AT_ONCE = 2


class Authenticator:
    def __init__(self, cache: CredentialCache) -> None:
        self._cache = cache
        self._slow = asyncio.Semaphore(_SLOW_CHECKS_AT_ONCE)

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

    async def client(self, snapshot: Snapshot, authorization: bytes | None) -> ClientView:
        view = self.cached(snapshot, authorization)
        if view is not None:
            return view
        assert authorization is not None
        credentials = parse_basic(authorization)
        if credentials is None:
            raise Unauthorized("HTTP Basic credentials (client id and secret) required")
        client_id, secret = credentials
        found = snapshot.catalog.views.get(client_id)
        stored = found.client.secret_hash if found is not None else _DECOY_HASH
        async with self._slow:
            ok = await asyncio.to_thread(self._cache.verify_slowly, secret, stored)
        self._cache.remember(self._cache.fingerprint(authorization), client_id, stored, ok)
        if not ok or found is None:
            raise Unauthorized("wrong client id or secret")
        if not found.client.enabled:
            raise Forbidden("this client is disabled; contact the operator")
        return found
