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


@dataclass
class _Bucket:
    tokens: float
    at: float


class Bucket:
    def __init__(self, rate: float, capacity: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self._by_client: dict[str, _Bucket] = {}  # clients are few: no eviction needed

    def wait(self, client_id: str, cost: float, now: float) -> float:
        """Seconds until ``cost`` fits (0: taken now)."""
        if self.rate <= 0:
            return 0.0
        bucket = self._by_client.get(client_id)
        if bucket is None:
            bucket = self._by_client[client_id] = _Bucket(self.capacity, now)
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        needed = min(cost, self.capacity)
        if bucket.tokens >= needed:
            bucket.tokens -= needed
            return 0.0
        return (needed - bucket.tokens) / self.rate

    def refund(self, client_id: str, cost: float) -> None:
        bucket = self._by_client.get(client_id)
        if bucket is not None and self.rate > 0:
            bucket.tokens = min(self.capacity, bucket.tokens + cost)


class Budgets:
    """Both budgets of every client: requests per second and work per second."""

    def __init__(
        self,
        requests_per_second: float = 0.0,
        work_per_second: float = 0.0,
        *,
        burst_seconds: float = 10.0,
        largest_request: float = 0.0,
    ) -> None:
        self._requests = Bucket(requests_per_second, max(1.0, requests_per_second * burst_seconds))
        self._work = Bucket(work_per_second, max(largest_request, work_per_second * burst_seconds))

    def wait(self, client_id: str, cost: float, now: float) -> float:
        """Seconds the client must wait before this request (0: go ahead, and it is
        counted); a refused request takes nothing from either budget."""
        waits = self._requests.wait(client_id, 1, now)
        if waits > 0:
            return waits
        work = self._work.wait(client_id, cost, now)
        if work > 0:
            self._requests.refund(client_id, 1)  # it was not served
        return work
