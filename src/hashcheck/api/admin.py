"""The operator HTTP API under /admin/v1: authentication of operator accounts (not clients),
roles, bodies and uploads, and the mapping of operator errors to HTTP.

Every call runs in a worker thread on a store connection of its own, so a long import never
holds up the node's follower or the event loop. The lookup path never comes here.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import msgspec
import orjson

from hashcheck.admin.bounds import MIB, ImportBounds, ImportLimit
from hashcheck.admin.errors import PermissionDenied
from hashcheck.admin.operators import Actor
from hashcheck.admin.outcomes import Outcome, outcome_of
from hashcheck.api import adminroutes
from hashcheck.api.adminopenapi import document
from hashcheck.api.errors import (
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    Gone,
    MethodNotAllowed,
    NotFound,
    NotReady,
    PayloadTooLarge,
    Rejected,
    Unauthorized,
)
from hashcheck.api.http import JSON, ClientGone, Receive, Scope, Send, read_body, respond
from hashcheck.api.metrics import Metrics
from hashcheck.api.signin import SignIn, source_of
from hashcheck.auth.basic import parse_basic
from hashcheck.hashes.keyed import Digester
from hashcheck.hashes.matchid import MatchIds
from hashcheck.hashes.sealing import Sealer
from hashcheck.store import errors as store_errors
from hashcheck.store.interface import Store

PREFIX = "/admin/v1/"
MAX_JSON = 65_536
_ROOM_EVERY = 4 * MIB
# Where the route a request matched is noted in its scope (the metrics' endpoint name).
ROUTE_KEY = "hashcheck.route"


class AdminApi:
    def __init__(
        self,
        open_store: Callable[[], Store],
        digester: Digester,
        sealer: Sealer,
        max_upload: int,
        match_ids: MatchIds | None = None,
        sign_in: SignIn | None = None,
        metrics: Metrics | None = None,
        import_bounds: ImportBounds | None = None,
    ) -> None:
        self._open_store = open_store
        # What one upload's import may take; the composition root sets it from the settings.
        self.import_bounds = import_bounds or ImportBounds()
        self._digester = digester
        self._sealer = sealer
        self._match_ids = match_ids
        self._max_upload = max_upload
        self._sign_in = sign_in or SignIn()
        self._metrics = metrics
        self._openapi = orjson.dumps(document())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        if path == PREFIX + "openapi.json":
            if method not in ("GET", "HEAD"):
                raise MethodNotAllowed("GET")
            await respond(send, 200, self._openapi, JSON)
            return
        found = adminroutes.match(method, path)
        if found is None:
            raise NotFound(f"no such endpoint: {path[:100]}")
        if isinstance(found, str):
            raise MethodNotAllowed(found)
        route, params = found
        scope[ROUTE_KEY] = "/admin/v1" + route.template
        if route.upload and self._metrics is not None:
            started = time.monotonic()
            try:
                await self._answer(scope, receive, send, route, params)
            except ApiError as error:
                self._metrics.imported(_kind(route), error.status, time.monotonic() - started)
                raise
            except ClientGone:
                raise
            except Exception:
                self._metrics.imported(_kind(route), 500, time.monotonic() - started)
                raise
            self._metrics.imported(_kind(route), 200, time.monotonic() - started)
            return
        await self._answer(scope, receive, send, route, params)

    async def _answer(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        route: adminroutes.Route,
        params: tuple[str, ...],
    ) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        authorization = _header(scope, b"authorization")
        credentials = parse_basic(authorization)
        if authorization is None or credentials is None:
            raise Unauthorized("HTTP Basic credentials of an operator account required")
        with self._store() as store:
            actor = await self._sign_in.actor(
                _call, store, source_of(scope), authorization, *credentials
            )
            try:
                actor.require(route.role, f"{method} {path[len(PREFIX) - 1 :]}")
            except PermissionDenied as exc:
                raise _http_error(exc) from None
            query = _query(scope.get("query_string", b""))
            adminroutes.check_query(route, query)
            if route.upload:
                # Refused before a byte of the file is read (an upload may be gigabytes).
                precheck = route.precheck
                if precheck is not None:
                    early = self._request(store, actor, params, query, None, None)
                    await _call(lambda: precheck(early))
            else:
                body = await read_body(scope, receive, MAX_JSON, _header(scope, b"content-length"))
                request = self._request(store, actor, params, query, _decoded(route, body), None)
                status, answer = await _call(lambda: route.handler(request))
        if route.upload:
            with _upload_file(scope, self._max_upload) as target:
                # No store held meanwhile.
                await _save(receive, target, self._max_upload, self.import_bounds)
                with self._store() as store:
                    request = self._request(store, actor, params, query, None, target)
                    try:
                        status, answer = await _call(lambda: route.handler(request))
                    except ApiError as error:
                        raise _unplaced(error, target) from None
        await respond(send, status, _encoded(route, status, answer), JSON)

    def _request(
        self,
        store: Store,
        actor: Actor,
        params: tuple[str, ...],
        query: dict[str, str],
        body: Any,
        upload: Path | None,
    ) -> adminroutes.Request:
        return adminroutes.Request(
            store,
            actor,
            self._digester,
            self._sealer,
            params,
            query,
            body,
            upload,
            self._match_ids,
            self.import_bounds,
        )

    @contextlib.contextmanager
    def _store(self) -> Iterator[Store]:
        try:
            store = self._open_store()
        except store_errors.StoreError:
            raise NotReady("the store cannot be reached; try again shortly") from None
        try:
            yield store
        finally:
            store.close()


def _kind(route: adminroutes.Route) -> str:
    return "removal" if route.template.endswith("/removals") else "import"


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def _query(raw: bytes) -> dict[str, str]:
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw))
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("malformed query string") from None
    query: dict[str, str] = {}
    for key, value in pairs:
        if key in query:
            raise BadRequest(f"query parameter {key!r} given twice")
        query[key] = value
    return query


def _decoded(route: adminroutes.Route, body: bytes) -> Any:
    """The body as the route's model: one clear error naming the field that does not fit."""
    if route.body is None:
        return None
    try:
        return msgspec.json.decode(body if body.strip() else b"{}", type=route.body)
    except msgspec.ValidationError as exc:
        raise BadRequest(f"body: {exc}") from None
    except msgspec.DecodeError:
        raise BadRequest("body is not valid JSON") from None


def _encoded(route: adminroutes.Route, status: int, answer: Any) -> bytes:
    """The answer as the route declares it; a status or shape it does not declare is a bug
    (a 500, logged), so the documented contract is the one sent."""
    model = route.answers.get(status)
    if model is None:
        raise RuntimeError(f"{route.method} {route.template} answered undeclared {status}")
    return msgspec.json.encode(msgspec.convert(answer, model, from_attributes=True))


@contextlib.contextmanager
def _upload_file(scope: Scope, limit: int) -> Iterator[Path]:
    """A path in a fresh temporary folder for the upload, removed afterwards."""
    declared = _header(scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"upload larger than {limit} bytes")
    with tempfile.TemporaryDirectory(prefix="hashcheck-upload-") as folder:
        yield Path(folder) / "upload"


async def _save(receive: Receive, target: Path, limit: int, bounds: ImportBounds) -> None:
    """Stream the request body into ``target``, refusing it past ``limit`` bytes or where
    the temporary disk's reserve begins (looked at every `_ROOM_EVERY` bytes)."""
    size = 0
    unchecked = 0
    with target.open("wb") as out:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"upload larger than {limit} bytes")
            unchecked += len(chunk)
            if unchecked >= _ROOM_EVERY or size == len(chunk):
                unchecked = 0
                try:
                    bounds.check_room(_ROOM_EVERY)
                except ImportLimit as exc:
                    raise _http_error(exc) from None
            if chunk:
                await asyncio.to_thread(out.write, chunk)
            if not message.get("more_body", False):
                return


def _unplaced(error: ApiError, target: Path) -> ApiError:
    """The error without where the upload lay on this server (a refused file's message names
    its path: the operator's own file on the CLI, a temporary one here)."""
    for placed in (str(target), str(target.parent)):
        error.message = error.message.replace(placed, "the upload")
    error.args = (error.message,)
    return error


async def _call(work: Callable[[], Any]) -> Any:
    """Run admin work in a thread and turn operator errors into HTTP errors."""
    try:
        return await asyncio.to_thread(work)
    except ApiError:
        raise
    except Exception as exc:
        raise _http_error(exc) from None


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: Gone,
    422: Rejected,
}


def _http_error(exc: Exception) -> Exception:
    """The admin API's answer to a service error (`admin.outcomes`, the CLI's table too)."""
    outcome = outcome_of(exc)
    if outcome is None:
        return exc  # a bug: the server logs it and answers 500 without details
    if outcome in (Outcome.STORE, Outcome.KEY):
        # Their messages name files and URLs of the server: not for the caller.
        return NotReady("the store cannot be reached; try again shortly")
    return _BY_STATUS[outcome.http_status](str(exc))
