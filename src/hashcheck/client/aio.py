"""The asyncio client: the same answers as `HashcheckClient`, for async web frameworks."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from hashcheck.client import protocol
from hashcheck.client.files import FileHashes, hash_file
from hashcheck.client.protocol import ActionReceipt, CredentialsRefused, Dispute, Unanswered
from hashcheck.client.queries import Query, normalise
from hashcheck.client.results import Result, indeterminate
from hashcheck.client.verdicts import Verdict, verdict

__all__ = ["CredentialsRefused", "Dispute", "Unanswered"]


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

    async def check(self, items: Iterable[tuple[str, str] | Query]) -> list[Result]:
        """One `Result` per item — (algorithm, hex) or a `Query` (a PDQ hash with its quality,
        a video's frames) — in order, through POST /v2/check. Raises `CredentialsRefused` when
        the service refuses the credentials: nothing can be checked until they are fixed."""
        normal = normalise(items)
        results: list[Result] = []
        for batch in protocol.batches(normal, self._max_batch):
            results.extend(await self._batch(batch))
        return results

    async def check_one(self, algorithm: str, value: str) -> Result:
        return (await self.check([(algorithm, value)]))[0]

    @staticmethod
    def hash_file(path: Path, *, perceptual: bool = True, videos: bool = True) -> FileHashes:
        """Every hash of a file the service can match (`hashcheck.client.files.hash_file`)."""
        return hash_file(path, perceptual=perceptual, videos=videos)

    async def check_file(
        self, path: Path, *, perceptual: bool = True, videos: bool = True
    ) -> Verdict:
        """A file's verdict: hashed here (never sent), its hashes checked in one batch."""
        hashes = await asyncio.to_thread(
            hash_file, path, perceptual=perceptual, videos=videos
        )  # decoding an image or a video must not hold the event loop
        return verdict(await self.check(hashes.queries()), hashes)

    async def check_legacy(self, algorithm: str, value: str) -> Result:
        """Through the legacy API (POST /v1/check/{md5,sha1}): exactly `true` or `false`
        counts; anything else is indeterminate."""
        item = normalise([(algorithm, value)])[0]
        response = await self._send(
            "POST", f"/v1/check/{item.algorithm}", content=item.hash.encode()
        )
        if isinstance(response, str):
            return indeterminate([item], response)[0]
        return protocol.read_legacy(item, response.status_code, response.content)

    async def retractions(self, since: int = 0) -> tuple[list[dict[str, Any]], int]:
        """Matches this client was answered that have since been retracted (the service's
        feed), after cursor ``since``: (items, next cursor). Raises `Unanswered` when the
        service does not answer: a feed must not look empty by mistake."""
        items: list[dict[str, Any]] = []
        while True:
            response = await self._send("GET", "/v2/retractions", params={"since": since})
            if isinstance(response, str):
                raise Unanswered(f"the retraction feed did not answer: {response}")
            page, since, more = protocol.read_retractions(response.status_code, response.content)
            items.extend(page)
            if not more:
                return items, since

    async def open_dispute(self, match_id: str, reason: str) -> Dispute:
        """Dispute a match (its `match_id` from a check answer): the operator reviews it."""
        body = protocol.dispute_body(match_id, reason)
        response = await self._send("POST", "/v2/disputes", json=body)
        return self._dispute(response, "opening the dispute")

    async def report_action(
        self, match_id: str, action: str, *, reason: str = "", at: dt.datetime | None = None
    ) -> ActionReceipt:
        """Tell the service what was done about a match (its `match_id` from a check answer):
        one of `protocol.ACTIONS`, when (now if ``at`` is None). Safe to repeat: the service
        keeps it once per match and action. Raises `Unanswered` when it was not kept."""
        body = protocol.action_body(match_id, action, reason=reason, at=at)
        response = await self._send("POST", "/v2/actions", json=body)
        if isinstance(response, str):
            raise Unanswered(f"reporting the action: {response}")
        return protocol.read_action(response.status_code, response.content)

    async def dispute(self, dispute_id: int) -> Dispute:
        """A dispute this client opened: its state and the operator's notes."""
        response = await self._send("GET", f"/v2/disputes/{int(dispute_id)}")
        return self._dispute(response, f"dispute {dispute_id}")

    def _dispute(self, response: httpx.Response | str, wanted: str) -> Dispute:
        if isinstance(response, str):
            raise Unanswered(f"{wanted}: {response}")
        return protocol.read_dispute(response.status_code, response.content, wanted)

    async def _batch(self, batch: list[Query]) -> list[Result]:
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
