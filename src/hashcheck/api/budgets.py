"""What one client may ask of a node per second: requests, and work — the cost of the hashes
it sends, a perceptual one counting `PERCEPTUAL_COST` exact ones (searching the PDQ index
takes about a millisecond where an exact lookup takes a microsecond). Token buckets per
client id, in this process's memory: a request past its budget is answered 429 with the
seconds until it fits (`Retry-After`; the SDK waits for it), never queued.

A bucket holds `burst_seconds` of its rate, and never less than the costliest request the
node accepts, so that a full batch always fits once the bucket is full. A rate of 0 is no
limit. Pure: no I/O, no clock of its own (callers pass the time).
"""

from __future__ import annotations

from dataclasses import dataclass

PERCEPTUAL_COST = 1000
# A node's default (HASHCHECK_CLIENT_WORK_PER_SECOND's, in `config`, which imports nothing):
# one full batch of 10,000 PDQ hashes per 10 s; exact hashes practically unbounded.
DEFAULT_WORK_PER_SECOND = 1_000_000


@dataclass(frozen=True)
class Limit:
    rate: float  # per second; 0 is no limit
    capacity: float


@dataclass
class _Bucket:
    tokens: float
    at: float
    limit: Limit


class Bucket:
    def __init__(self, rate: float, capacity: float, *, most_keys: int | None = None) -> None:
        """``most_keys``: keep at most so many keys, forgetting the least recently used
        (which can only let that key in sooner); None for keys that are few (clients)."""
        self.limit = Limit(rate, capacity)
        self._most_keys = most_keys
        self._by_client: dict[str, _Bucket] = {}

    def wait(self, client_id: str, cost: float, now: float, limit: Limit | None = None) -> float:
        """Seconds until ``cost`` fits (0: taken now); ``limit`` is the client's own, when
        the operator gave it one (it takes effect on the next request)."""
        limit = limit or self.limit
        if limit.rate <= 0:
            return 0.0
        if self._most_keys is None:
            bucket = self._by_client.get(client_id)
        else:
            bucket = self._by_client.pop(client_id, None)  # re-inserted below: newest last
            if bucket is not None:
                self._by_client[client_id] = bucket
        if bucket is None:
            bucket = self._by_client[client_id] = _Bucket(limit.capacity, now, limit)
            if self._most_keys is not None:
                while len(self._by_client) > self._most_keys:
                    del self._by_client[next(iter(self._by_client))]
        elif bucket.limit != limit:
            bucket.limit = limit
            bucket.tokens = min(bucket.tokens, limit.capacity)
        bucket.tokens = min(limit.capacity, bucket.tokens + (now - bucket.at) * limit.rate)
        bucket.at = now
        needed = min(cost, limit.capacity)
        if bucket.tokens >= needed:
            bucket.tokens -= needed
            return 0.0
        return (needed - bucket.tokens) / limit.rate

    def refund(self, client_id: str, cost: float) -> None:
        bucket = self._by_client.get(client_id)
        if bucket is not None and bucket.limit.rate > 0:
            bucket.tokens = min(bucket.limit.capacity, bucket.tokens + cost)


class Budgets:
    """Both budgets of every client: requests per second and work per second, the node's
    own unless the operator set the client's (`Client.requests_per_second`,
    `Client.work_per_second`)."""

    def __init__(
        self,
        requests_per_second: float = 0.0,
        work_per_second: float = 0.0,
        *,
        burst_seconds: float = 10.0,
        largest_request: float = 0.0,
    ) -> None:
        self._burst_seconds = burst_seconds
        self._largest_request = largest_request
        requests, work = (
            self._requests_limit(requests_per_second),
            self._work_limit(work_per_second),
        )
        self._requests = Bucket(requests.rate, requests.capacity)
        self._work = Bucket(work.rate, work.capacity)

    def _requests_limit(self, rate: float) -> Limit:
        return Limit(rate, max(1.0, rate * self._burst_seconds))

    def _work_limit(self, rate: float) -> Limit:
        return Limit(rate, max(self._largest_request, rate * self._burst_seconds))

    def wait(
        self,
        client_id: str,
        cost: float,
        now: float,
        *,
        requests_per_second: float | None = None,
        work_per_second: float | None = None,
    ) -> float:
        """Seconds the client must wait before this request (0: go ahead, and it is
        counted); a refused request takes nothing from either budget. A rate given here is
        the client's own (None: the node's)."""
        requests = (
            None if requests_per_second is None else self._requests_limit(requests_per_second)
        )
        waits = self._requests.wait(client_id, 1, now, requests)
        if waits > 0:
            return waits
        work = None if work_per_second is None else self._work_limit(work_per_second)
        waits = self._work.wait(client_id, cost, now, work)
        if waits > 0:
            self._requests.refund(client_id, 1)  # it was not served
        return waits
