"""The asyncio client: the same answers as `HashcheckClient`, for async web frameworks."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from types import TracebackType
from typing import Any

import httpx

from hashcheck.client import protocol
from hashcheck.client.results import Result, indeterminate


class AsyncHashcheckClient:
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
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            auth=(client_id, secret),
            timeout=timeout,
            transport=transport,
        )
        self._policy = protocol.Policy(retries=retries, backoff=backoff)
        self._max_batch = max_batch

    async def __aenter__(self) -> AsyncHashcheckClient:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def check(self, items: Iterable[tuple[str, str]]) -> list[Result]:
        normal = protocol.normalise(items)
        results: list[Result] = []
        for batch in protocol.batches(normal, self._max_batch):
            results.extend(await self._batch(batch))
        return results

    async def check_one(self, algorithm: str, value: str) -> Result:
        return (await self.check([(algorithm, value)]))[0]

    async def check_legacy(self, algorithm: str, value: str) -> Result:
        item = protocol.normalise([(algorithm, value)])[0]
        response = await self._send("POST", f"/v1/check/{item[0]}", content=item[1].encode())
        if isinstance(response, str):
            return indeterminate([item], response)[0]
        return protocol.read_legacy(item, response.status_code, response.content)

    async def _batch(self, batch: list[tuple[str, str]]) -> list[Result]:
        response = await self._send("POST", "/v2/check", json=protocol.v2_body(batch))
        if isinstance(response, str):
            return indeterminate(batch, response)
        return protocol.read_v2_response(batch, response.status_code, response.content)

    async def _send(self, method: str, path: str, **options: Any) -> httpx.Response | str:
        """The final response, or why there is none, after the retries the policy allows."""
        retries = protocol.Retries(self._policy)
        while True:
            try:
                response = await self._http.request(method, path, **options)
            except httpx.TransportError as exc:
                wait = retries.failed(f"cannot reach the service: {exc!r}")
                if wait is None:
                    return retries.reason
            else:
                wait = retries.answered(response.status_code, response.headers.get("retry-after"))
                if wait is None:
                    return response
            await asyncio.sleep(wait)
