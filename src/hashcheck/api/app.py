"""The ASGI application: routing, error rendering and the request handlers' glue.

No framework: the legacy path is a handful of dict lookups around one index probe, so that
a check costs little more than the server stack itself.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import orjson
from msgspec.json import encode

from hashcheck.admin.bounds import ImportBounds
from hashcheck.api import actions, disputes, legacy, v2
from hashcheck.api import metrics as metrics_module
from hashcheck.api import submissions as submissions_module
from hashcheck.api.admin import ROUTE_KEY, AdminApi
from hashcheck.api.authn import Authenticator
from hashcheck.api.budgets import DEFAULT_WORK_PER_SECOND, PERCEPTUAL_COST, Budgets
from hashcheck.api.errors import ApiError, MethodNotAllowed, NotFound, NotReady, TooManyRequests
from hashcheck.api.http import (
    JSON,
    TEXT,
    ClientGone,
    Receive,
    Scope,
    Send,
    auth_and_length,
    read_body,
    respond,
    single_authorization,
)
from hashcheck.api.openapi import document
from hashcheck.api.perceptual import widest
from hashcheck.api.signin import SignIn, source_of
from hashcheck.api.v2models import Alive, Ready
from hashcheck.catalog.model import ClientView
from hashcheck.hashes.algorithms import Algorithm
from hashcheck.index.exact import Hit
from hashcheck.index.snapshot import Snapshot
from hashcheck.node.runtime import Node
from hashcheck.node.searchers import PdqSearchers
from hashcheck.store.errors import StoreError
from hashcheck.store.process import StoreProcess
from hashcheck.submit.proof import ProofOfWork

_T = TypeVar("_T")
PERCEPTUAL_THREADS = 2


@dataclass(frozen=True)
class SubmissionLimits:
    """Flood limits of the public submission route (0: off)."""

    per_source_per_hour: float = 20.0
    per_second: float = 100.0
    proof_bits: int = 0  # leading zero bits of a proof of work per case (`submit.proof`)


log = logging.getLogger("hashcheck.api")


class _Answered:
    """A request's `send`, noting the status it answers (for the metrics)."""

    __slots__ = ("_send", "status")

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status = 0

    async def send(self, message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        await self._send(message)


# Endpoints as metrics name them: a bounded set, never a path as sent.
_NAMED = frozenset(
    {
        *legacy.ROUTES,
        "/v2/check",
        "/v2/disputes",
        actions.PATH,
        actions.NOTICES_PATH,
        actions.REPORT_PATH,
        "/v2/retractions",
        "/v2/openapi.json",
        "/healthz",
        "/readyz",
        metrics_module.PATH,
        "/admin/v1/openapi.json",
        *submissions_module.PATHS,
    }
)


def endpoint_of(scope: Scope) -> str:
    path: str = scope["path"]
    if path in _NAMED:
        return path
    if path.startswith("/v2/disputes/"):
        return "/v2/disputes/{id}"
    if path.startswith("/v2/notices/"):
        return "/v2/notices/{id}/acknowledge"
    if path.startswith("/v2/submissions/"):
        return "/v2/submissions/{case}"
    if path == "/submit" or path.startswith("/submit/"):
        return "/submit"
    if path.startswith("/admin/v1/"):
        return str(scope.get(ROUTE_KEY, "/admin/v1/(unknown)"))
    if path == "/console" or path.startswith("/console/"):
        return "/console"
    if path.startswith("/v1/"):
        return "/v1/(unknown)"
    return "(unknown)"


def _answer(body: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    # POST answers are not cacheable by default (RFC 9111), so no cache header is sent: each
    # extra header costs the legacy path measurable time in the server's header checks.
    headers = [(b"content-type", TEXT), (b"content-length", str(len(body)).encode())]
    return (
        {"type": "http.response.start", "status": 200, "headers": headers},
        {"type": "http.response.body", "body": body},
    )


_STORE_ERROR = "the store cannot be reached; the node's log says why"
_ALIVE = encode(Alive(status="alive"))

# The two legacy answers, built once: they are most of what the server sends.
_TRUE_START, _TRUE_BODY = _answer(legacy.TRUE)
_FALSE_START, _FALSE_BODY = _answer(legacy.FALSE)


class HashcheckApp:
    def __init__(
        self,
        node: Node,
        *,
        max_batch: int = 10_000,
        manage_node: bool = True,
        admin_max_upload: int = 4 << 30,
        admin_api: bool = True,
        console: bool = False,
        budgets: Budgets | None = None,
        metrics: bool = False,
        metrics_here: bool = True,
        version: str = "unknown",
        perceptual_processes: int = 2,
        import_bounds: ImportBounds | None = None,
        checks: bool = True,
        submissions: SubmissionLimits | None = None,
    ) -> None:
        """``metrics``: count for Prometheus; ``metrics_here``: serve them at /metrics on
        this app's own port (False: the serve process has a listener of its own);
        ``perceptual_processes``: how many child processes search PDQ hashes (0: threads);
        ``import_bounds``: what one import through the admin API or the console may take;
        ``checks``: serve the check API (legacy paths, /v2/check, disputes, retractions);
        ``submissions``: serve self-submission (`/v2/submissions`, `/submit/`) with these
        flood limits (None: not on this node)."""
        self.node = node
        self._checks = checks
        self.max_batch = max_batch
        self._budgets = budgets or Budgets(
            work_per_second=DEFAULT_WORK_PER_SECOND, largest_request=max_batch * PERCEPTUAL_COST
        )
        sign_in = SignIn()
        self._metrics = (
            None
            if not metrics
            else metrics_module.Metrics(node, version, open_store=node.store_factory)
        )
        self._metrics_here = metrics_here
        self._tally = None if self._metrics is None else self._metrics.tally.request
        self._publishing: asyncio.Task[None] | None = None
        self._admin = (
            None
            if node.store_factory is None or not admin_api
            else AdminApi(
                node.store_factory,
                node.digester,
                node.sealer,
                admin_max_upload,
                node.match_ids,
                sign_in,
                self._metrics,
                import_bounds,
            )
        )
        self._console = None
        if console and node.store_factory is not None:
            # Imported here: a node without the console needs no Jinja2.
            from hashcheck.console.app import Console

            self._console = Console(
                node.store_factory,
                node.console_key,
                sign_in,
                node.digester,
                node.match_ids,
                node.sealer,
                admin_max_upload,
                import_bounds,
                self._metrics,
            )
        self._submissions = None
        if submissions is not None and node.store_factory is not None:
            self._submissions = submissions_module.SubmissionsApi(
                node.store_factory,
                node.digester,
                node.sealer,
                node.submission_pepper,
                lambda: node.follower.snapshot,
                per_source_per_hour=submissions.per_source_per_hour,
                per_second=submissions.per_second,
                proof=ProofOfWork(node.proof_key, submissions.proof_bits),
            )
        self._submit_pages = None
        if self._submissions is not None:
            # Imported here: a node without self-submission needs no Jinja2.
            from hashcheck.submit.page import SubmitPages

            self._submit_pages = SubmitPages(self._submissions)
        self._manage_node = manage_node
        # Clients' actions are written by a store process of this worker's own, started at
        # the first one (`store.process`).
        self._client_store = (
            None
            if node.store_factory is None
            else StoreProcess(node.store_factory, "client-writes")
        )
        self._auth = Authenticator(node.credentials)
        # Perceptual batches are answered off the event loop, one batch per client at a time:
        # ten thousand PDQ hashes take seconds, which on the loop held every other client's
        # check (a legacy check waited 5-12 s behind two such batches). The search itself
        # runs in processes of lower priority where it can; the rest on threads.
        self._perceptual = ThreadPoolExecutor(PERCEPTUAL_THREADS, thread_name_prefix="perceptual")
        self._searchers = PdqSearchers(perceptual_processes)
        self._perceptual_turns: dict[str, asyncio.Lock] = {}  # per client id; clients are few
        self._keyed = {a: node.digester.for_algorithm(a) for a in Algorithm}
        self._openapi = orjson.dumps(document(max_batch))

    @property
    def submissions(self) -> submissions_module.SubmissionsApi | None:
        """The self-submission routes, where this node serves them."""
        return self._submissions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        tally = self._tally
        if tally is None:
            await self._http(scope, receive, send)
            return
        started = time.perf_counter()
        status = await self._http(scope, receive, send)
        tally(endpoint_of(scope), status, time.perf_counter() - started)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> int:
        """Answer one request; returns the status answered (499: the client left first)."""
        raw = scope.get("raw_path")
        if raw:
            # Routed on the path as sent, as a proxy in front saw it: `/%61dmin/v1/...` is no
            # way past one that filters on `/admin/`. Path parameters are decoded by their
            # routes after matching.
            scope["path"] = bytes(raw).decode("latin-1")
        path: str = scope["path"]
        legacy_path = path.startswith("/v1/")
        try:
            # The hot path first, without a detour through the general dispatcher.
            target = legacy.ROUTES.get(path) if self._checks else None
            if target is not None and scope["method"] == "POST":
                await self._legacy(scope, receive, send, *target)  # one header pass there
                return 200
            answered = _Answered(send)
            single_authorization(scope)
            await self._dispatch(scope, receive, answered.send, path)
        except ClientGone:
            return 499
        except ApiError as error:
            if legacy_path:
                await respond(send, error.status, error.text_body(), TEXT, error.headers)
            else:
                await respond(send, error.status, error.json_body(), JSON, error.headers)
            return error.status
        except Exception:
            log.exception("unexpected error on %s", path)
            body = (
                b"error: internal error\n"
                if legacy_path
                else ApiError("internal error").json_body()
            )
            await respond(send, 500, body, TEXT if legacy_path else JSON)
            return 500
        return answered.status

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        method = scope["method"]
        checks = self._checks
        target = legacy.route(path) if checks else None
        if target is not None:
            if method != "POST":
                raise MethodNotAllowed("POST")
            await self._legacy(scope, receive, send, *target)
        elif path == "/v2/check" and checks:
            if method != "POST":
                raise MethodNotAllowed("POST")
            await self._v2_check(scope, receive, send)
        elif path == "/v2/disputes" and checks:
            if method != "POST":
                raise MethodNotAllowed("POST")
            await self._dispute(scope, receive, send)
        elif path == actions.PATH and checks:
            if method != "POST":
                raise MethodNotAllowed("POST")
            await self._action(scope, receive, send)
        elif path == actions.REPORT_PATH and checks:
            if method not in ("GET", "HEAD"):
                raise MethodNotAllowed("GET")
            await self._report(scope, send)
        elif path == actions.NOTICES_PATH and checks:
            if method not in ("GET", "HEAD"):
                raise MethodNotAllowed("GET")
            await self._notices(scope, send)
        elif path.startswith(actions.NOTICES_PATH + "/") and checks:
            text_id, slash, verb = path[len(actions.NOTICES_PATH) + 1 :].partition("/")
            if not slash or verb != "acknowledge":
                raise NotFound("no such resource")
            if method != "POST":
                raise MethodNotAllowed("POST")
            await self._acknowledge(scope, send, text_id)
        elif path.startswith("/v2/disputes/") and checks:
            if method not in ("GET", "HEAD"):
                raise MethodNotAllowed("GET")
            await self._dispute_status(scope, send, path[len("/v2/disputes/") :])
        elif path.startswith("/admin/v1/") and self._admin is not None:
            await self._admin(scope, receive, send)
        elif (path == "/console" or path.startswith("/console/")) and self._console is not None:
            await self._console(scope, receive, send)
        elif self._submissions is not None and submissions_module.serves(path):
            await self._submissions(scope, receive, send)
        elif self._submit_pages is not None and (path == "/submit" or path.startswith("/submit/")):
            await self._submit_pages(scope, receive, send)
        elif path == "/v2/retractions" and checks:
            if method not in ("GET", "HEAD"):
                raise MethodNotAllowed("GET")
            await self._retractions(scope, send)
        elif path == metrics_module.PATH and self._metrics is not None and self._metrics_here:
            if method not in ("GET", "HEAD"):
                raise MethodNotAllowed("GET")
            self._metrics.publish()  # this worker's own counts up to now
            body, content_type = await asyncio.to_thread(self._metrics.exposition)
            await respond(send, 200, body, content_type.encode())
        elif path in ("/healthz", "/readyz", "/v2/openapi.json"):
            if method not in ("GET", "HEAD"):
                raise MethodNotAllowed("GET")
            if path == "/healthz":
                await respond(send, 200, _ALIVE, JSON)
            elif path == "/readyz":
                await self._ready(send)
            else:
                await respond(send, 200, self._openapi, JSON)
        else:
            raise NotFound(f"no such endpoint: {path[:100]}")

    def _snapshot(self) -> Snapshot:
        snapshot = self.node.follower.snapshot
        if snapshot is None:
            raise NotReady("the index is not loaded yet; try again shortly")
        return snapshot

    async def _legacy(
        self, scope: Scope, receive: Receive, send: Send, algorithm: Algorithm, test: bool
    ) -> None:
        snapshot = self._snapshot()
        authorization, length = auth_and_length(scope)
        view = self._auth.cached(snapshot, authorization)
        if view is None:
            view = await self._auth.client(snapshot, authorization, source_of(scope))
        self._spend(view, 1)
        body = await read_body(scope, receive, legacy.MAX_BODY, length)
        raw = legacy.submitted_hash(body, algorithm)
        if test:
            answer = raw == legacy.TEST_POSITIVES[algorithm]
        else:
            hits = snapshot.exact.lookup(self._keyed[algorithm](raw))
            if hits:
                answer = self._legacy_hits(snapshot, view, hits)
            else:
                self.node.counters.count(view.client.client_id, view.list_ids)
                answer = False
        await send(_TRUE_START if answer else _FALSE_START)
        await send(_TRUE_BODY if answer else _FALSE_BODY)

    def _legacy_hits(self, snapshot: Snapshot, view: ClientView, hits: tuple[Hit, ...]) -> bool:
        """The legacy answer when the digest is in the index, with its bookkeeping."""
        answer, matched, entries = snapshot.legacy(view, hits)
        shadowed = snapshot.shadowed(view, hits) if view.shadow_slots else ()
        self.node.counters.count(
            view.client.client_id,
            view.list_ids,
            matched,
            entries=entries,
            shadowed=shadowed,
            answered=answer,
        )
        return answer

    async def _v2_check(self, scope: Scope, receive: Receive, send: Send) -> None:
        snapshot = self._snapshot()
        authorization, length = auth_and_length(scope)
        view = await self._auth.client(snapshot, authorization, source_of(scope))
        body = await read_body(scope, receive, self.max_batch * v2.BYTES_PER_ITEM + 1024, length)
        items = v2.parse_request(body, self.max_batch)
        client_id = view.client.client_id
        self._spend(view, v2.cost(items))
        if v2.is_perceptual(items):
            turn = self._perceptual_turns.setdefault(client_id, asyncio.Lock())
            async with turn:
                if self._searchers.usable(snapshot.pdq):  # else no queries to gather
                    found = await self._searchers.search(
                        snapshot.pdq, v2.perceptual_queries(items), widest(snapshot)
                    )
                    if found is not None:
                        snapshot = replace(snapshot, pdq=snapshot.pdq.with_found(found))
                outcome = await asyncio.get_running_loop().run_in_executor(
                    self._perceptual,
                    v2.check,
                    snapshot,
                    view,
                    items,
                    self.node.digester,
                    self.node.match_ids,
                )
        else:
            outcome = v2.check(snapshot, view, items, self.node.digester, self.node.match_ids)
        self.node.counters.count(
            client_id,
            view.list_ids,
            outcome.matched_lists,
            len(items),
            entries=outcome.matched_entries,
            shadowed=outcome.shadowed,
        )
        await respond(send, 200, outcome.body, JSON)

    async def _client(self, scope: Scope) -> tuple[Snapshot, ClientView]:
        snapshot = self._snapshot()
        authorization, _ = auth_and_length(scope)
        view = await self._auth.client(snapshot, authorization, source_of(scope))
        self._spend(view, 1)
        return snapshot, view

    def _spend(self, view: ClientView, cost: int) -> None:
        """Take the request from the client's budgets, or refuse it (429) with the wait."""
        client = view.client
        wait = self._budgets.wait(
            client.client_id,
            cost,
            time.monotonic(),
            requests_per_second=client.requests_per_second,
            work_per_second=client.work_per_second,
        )
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise TooManyRequests(
                f"over this client's budget on this node; try again in {seconds} s",
                retry_after=seconds,
            )

    async def _in_store(self, work: Callable[[], _T]) -> _T:
        """Run store work off the event loop; an unreachable store is a 503, never a 500."""
        return await self._store_answer(asyncio.to_thread(work))

    async def _store_answer(self, answer: Awaitable[_T]) -> _T:
        """The store's answer; an unreachable store is a 503, never a 500."""
        try:
            return await answer
        except StoreError as exc:
            log.warning("store request failed: %s", exc)
            raise NotReady("the store cannot be reached; try again shortly") from None

    async def _dispute(self, scope: Scope, receive: Receive, send: Send) -> None:
        snapshot, view = await self._client(scope)
        _, length = auth_and_length(scope)
        match_id, reason = disputes.parse_dispute(
            await read_body(scope, receive, disputes.MAX_BODY, length)
        )
        node = self.node
        client_id = view.client.client_id
        record = await self._in_store(
            lambda: disputes.open_dispute(node.store, node.match_ids, client_id, match_id, reason)
        )
        await respond(send, 201, disputes.dispute_body(record, node.match_ids, snapshot), JSON)

    @property
    def client_store(self) -> StoreProcess | None:
        """The store process that writes clients' actions (its process starts at the first)."""
        return self._client_store

    async def _action(self, scope: Scope, receive: Receive, send: Send) -> None:
        _, view = await self._client(scope)
        _, length = auth_and_length(scope)
        body = await read_body(scope, receive, actions.MAX_BODY, length)
        node = self.node
        new = actions.parse_action(body, node.match_ids, view.client.client_id, time.time())
        if self._client_store is None:
            raise NotReady("this node cannot record actions: it has no store to open")
        kept, created = await self._store_answer(actions.record(self._client_store, new))
        answer = actions.answer_body(kept, node.match_ids, repeated=not created)
        await respond(send, 201 if created else 200, answer, JSON)

    async def _report(self, scope: Scope, send: Send) -> None:
        _, view = await self._client(scope)
        month = actions.report_month(scope.get("query_string", b""), time.time())
        store, client_id = self.node.store, view.client.client_id
        body = await self._in_store(lambda: actions.report_body(store, month, client_id))
        await respond(send, 200, body, JSON)

    async def _notices(self, scope: Scope, send: Send) -> None:
        _, view = await self._client(scope)
        states = actions.notice_states(scope.get("query_string", b""))
        store, client_id = self.node.store, view.client.client_id
        found = await self._in_store(lambda: store.notices(client_id, states=states))
        await respond(send, 200, actions.notices_body(found), JSON)

    async def _acknowledge(self, scope: Scope, send: Send, text_id: str) -> None:
        _, view = await self._client(scope)
        store, client_id = self.node.store, view.client.client_id
        found = await self._in_store(lambda: actions.acknowledge(store, client_id, text_id))
        await respond(send, 200, actions.notice_body(found), JSON)

    async def _dispute_status(self, scope: Scope, send: Send, text_id: str) -> None:
        snapshot, view = await self._client(scope)
        node = self.node
        record = await self._in_store(
            lambda: disputes.own_dispute(node.store, view.client.client_id, text_id)
        )
        await respond(send, 200, disputes.dispute_body(record, node.match_ids, snapshot), JSON)

    async def _retractions(self, scope: Scope, send: Send) -> None:
        snapshot, view = await self._client(scope)
        since, limit = disputes.feed_query(scope.get("query_string", b""))
        node = self.node
        body = await self._in_store(
            lambda: disputes.feed_body(
                node.store, node.match_ids, snapshot, view.client.client_id, since, limit
            )
        )
        await respond(send, 200, body, JSON)

    async def _ready(self, send: Send) -> None:
        follower = self.node.follower
        snapshot = follower.snapshot
        # The error itself goes to the log: it may name hosts, users or paths.
        store_error = _STORE_ERROR if follower.last_error else None
        if snapshot is None:
            starting = Ready(status="starting", store_error=store_error)
            await respond(send, 503, encode(starting), JSON, [(b"retry-after", b"1")])
            return
        failures = self.node.flusher.failures
        ready = Ready(
            status="degraded" if follower.last_error or failures else "ready",
            index_version=snapshot.version,
            entries=len(snapshot.exact),
            snapshot_age_seconds=round(time.time() - follower.last_success, 3),
            store_error=store_error,
            stats_flush_failures=failures,
        )
        await respond(send, 200, encode(ready), JSON)

    async def _publish_metrics(self) -> None:
        """Once a second, what this worker counted goes where a scrape of any worker sees it
        (on the event loop, the request path's only other writer)."""
        assert self._metrics is not None
        while True:
            await asyncio.sleep(metrics_module.PUBLISH_EVERY_S)
            try:
                self._metrics.publish()
            except Exception:
                log.exception("could not publish metrics")

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self._manage_node:
                    self.node.start()
                if self._metrics is not None:
                    self._publishing = asyncio.create_task(self._publish_metrics())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await asyncio.to_thread(self._searchers.close)
                if self._client_store is not None:
                    await asyncio.to_thread(self._client_store.close)
                if self._submissions is not None:
                    await asyncio.to_thread(self._submissions.close)
                if self._console is not None:
                    self._console.close()
                if self._publishing is not None:
                    self._publishing.cancel()
                if self._metrics is not None:
                    self._metrics.publish()
                    self._metrics.close()
                if self._manage_node:
                    self.node.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return
