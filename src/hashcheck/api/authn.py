"""Who is calling: HTTP Basic credentials checked against the snapshot's clients.

The slow secret hash runs at most once per credential (in a thread, bounded); after that the
in-memory cache answers. A rotated secret or disabled client takes effect with the next
snapshot, which the follower publishes within its poll interval.
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

    async def client(self, snapshot: Snapshot, authorization: bytes | None) -> ClientView:
        credentials = parse_basic(authorization)
        if credentials is None:
            raise Unauthorized("HTTP Basic credentials (client id and secret) required")
        client_id, secret = credentials
        view = snapshot.catalog.views.get(client_id)
        stored = view.client.secret_hash if view is not None else _DECOY_HASH
        known = self._cache.check_cached(client_id, secret, stored)
        if known is None:
            async with self._slow:
                known = await asyncio.to_thread(self._cache.verify_slowly, secret, stored)
            self._cache.remember(client_id, secret, stored, known)
        if not known or view is None:
            raise Unauthorized("wrong client id or secret")
        if not view.client.enabled:
            raise Forbidden("this client is disabled; contact the operator")
        return view
