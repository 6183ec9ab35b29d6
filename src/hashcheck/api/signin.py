"""Operator sign-in, for the admin API and the console alike: an unknown name costs what a
wrong secret costs, slow hashes are bounded and run in threads of their own, failures back
off (`auth.throttle`), and each wait that starts is audited. Runs on the event loop."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from hashcheck.admin.operators import Actor, Role
from hashcheck.api.errors import Forbidden, TooManyRequests, Unauthorized
from hashcheck.auth.cache import CredentialCache
from hashcheck.auth.secrets import hash_secret
from hashcheck.auth.throttle import SignInThrottle
from hashcheck.store.interface import Store
from hashcheck.store.records import OperatorRecord

SLOW_CHECKS_AT_ONCE = 2
# Unknown operator names are checked against this, so that they take as long as known ones.
_DECOY_HASH = hash_secret("decoy operator secret")

Threaded = Callable[[Callable[[], Any]], Any]


class SignIn:
    def __init__(self) -> None:
        # All of it used from the event loop only.
        self._credentials = CredentialCache()
        self._throttle = SignInThrottle()
        self._slow = asyncio.Semaphore(SLOW_CHECKS_AT_ONCE)
        self._hashing = ThreadPoolExecutor(SLOW_CHECKS_AT_ONCE, thread_name_prefix="sign-in")

    async def account(
        self, run: Threaded, store: Store, source: str, key: bytes, name: str, secret: str
    ) -> OperatorRecord:
        """The enabled account behind ``name`` and ``secret`` (``key`` names this exact pair
        for the cache: the Authorization header, or the form's fields); raises 401, 403 or
        429. ``run`` runs store work off the event loop. Credentials that signed in before
        are never held back, so an operator behind the same proxy as an attacker keeps
        working."""
        fingerprint = self._credentials.fingerprint(key)
        known = self._credentials.lookup(fingerprint)
        if known is None or not known[2]:
            wait = self._throttle.wait(name, source, time.monotonic())
            if wait > 0:
                raise TooManyRequests(
                    f"too many failed sign-ins from here; try again in {math.ceil(wait)} s",
                    retry_after=math.ceil(wait),
                )
        accounts: list[OperatorRecord] = await run(store.operators)
        account = next((o for o in accounts if o.name == name), None)
        stored = account.secret_hash if account is not None else _DECOY_HASH
        if known is not None and known[1] == stored:
            ok = known[2]
        else:
            async with self._slow:
                ok = await asyncio.get_running_loop().run_in_executor(
                    self._hashing, CredentialCache.verify_slowly, secret, stored
                )
            self._credentials.remember(fingerprint, name, stored, ok)
        if not ok or account is None:
            if self._throttle.failed(name, source, time.monotonic()):
                detail = {"source": source, "account_exists": account is not None}
                await run(lambda: store.audit_event(name, "operator.sign-in-held", name, detail))
            raise Unauthorized("wrong operator name or secret")
        self._throttle.succeeded(name, source)
        if not account.enabled:
            raise Forbidden("this operator account is disabled")
        return account

    async def actor(
        self, run: Threaded, store: Store, source: str, key: bytes, name: str, secret: str
    ) -> Actor:
        account = await self.account(run, store, source, key, name, secret)
        return Actor(account.name, Role.parse(account.role))


def source_of(scope: Mapping[str, Any]) -> str:
    """The peer's address (behind the shipped nginx, the proxy's)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"
