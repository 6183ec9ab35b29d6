"""The synchronous client (for upload handlers and scripts): connection reuse, timeouts,
retries with backoff, batches split to the service's limit."""

from __future__ import annotations

import time
from collections.abc import Iterable
from types import TracebackType
from typing import Any

import httpx

from hashcheck.client import protocol
from hashcheck.client.results import Result, indeterminate


class Unanswered(RuntimeError):
    """The service gave no usable answer where the caller needs one (not a check result)."""


class HashcheckClient:
    def __init__(
        self,
        base_url: str,
        client_id: str,
        secret: str,
        *,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.5,
        max_batch: int = 10_000,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            auth=(client_id, secret),
            timeout=timeout,
            transport=transport,
        )
        self._policy = protocol.Policy(retries=retries, backoff=backoff)
        self._max_batch = max_batch

    def __enter__(self) -> HashcheckClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def check(self, items: Iterable[tuple[str, str]]) -> list[Result]:
        """One `Result` per (algorithm, hex) item, in order, through POST /v2/check."""
        normal = protocol.normalise(items)
        results: list[Result] = []
        for batch in protocol.batches(normal, self._max_batch):
            results.extend(self._batch(batch))
        return results

    def check_one(self, algorithm: str, value: str) -> Result:
        return self.check([(algorithm, value)])[0]

    def retractions(self, since: int = 0) -> tuple[list[dict[str, object]], int]:
        """Matches this client was answered that have since been retracted (the service's
        feed), after cursor ``since``: (items, next cursor). Raises `Unanswered` when the
        service does not answer: a feed must not look empty by mistake."""
        items: list[dict[str, object]] = []
        while True:
            response = self._send("GET", "/v2/retractions", params={"since": since})
            if isinstance(response, str) or response.status_code != 200:
                detail = response if isinstance(response, str) else f"HTTP {response.status_code}"
                raise Unanswered(f"the retraction feed did not answer: {detail}")
            page = response.json()
            items.extend(page["retractions"])
            since = int(page["next"])
            if not page["more"]:
                return items, since

    def check_legacy(self, algorithm: str, value: str) -> Result:
        """Through the legacy API (POST /v1/check/{md5,sha1}): exactly `true` or `false`
        counts; anything else is indeterminate."""
        item = protocol.normalise([(algorithm, value)])[0]
        response = self._send("POST", f"/v1/check/{item[0]}", content=item[1].encode())
        if isinstance(response, str):
            return indeterminate([item], response)[0]
        return protocol.read_legacy(item, response.status_code, response.content)

    def _batch(self, batch: list[tuple[str, str]]) -> list[Result]:
        response = self._send("POST", "/v2/check", json=protocol.v2_body(batch))
        if isinstance(response, str):
            return indeterminate(batch, response)
        return protocol.read_v2_response(batch, response.status_code, response.content)

    def _send(self, method: str, path: str, **options: Any) -> httpx.Response | str:
        """The final response, or why there is none, after the retries the policy allows."""
        retries = protocol.Retries(self._policy)
        while True:
            try:
                response = self._http.request(method, path, **options)
            except httpx.TransportError as exc:
                wait = retries.failed(f"cannot reach the service: {exc!r}")
                if wait is None:
                    return retries.reason
            else:
                wait = retries.answered(response.status_code, response.headers.get("retry-after"))
                if wait is None:
                    return response
            time.sleep(wait)
