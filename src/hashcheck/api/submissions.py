"""The self-submission routes: `POST /v2/submissions` (no authentication), and `GET` and
`DELETE /v2/submissions/{case}` with the case number and PIN as HTTP Basic credentials;
`GET /v2/platforms`, the participating platforms; `GET /v2/submission-challenge`, a proof of
work's challenge (`submit.proof`) for a node that asks for one.

Nothing about the caller is kept: no address is stored or logged (flood limits hold keyed
fingerprints in memory, `submit.limits`), answers carry `Cache-Control: no-store`. A wrong PIN
and an unknown case number get the same answer after the same slow hash, and failures back
off per source and per case (`auth.throttle`). New cases are written by a process of its own
(`submit.writer`); lookups and withdrawals run on one thread with a connection of its own,
slow hashing on two others, so checks on the event loop go on.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import msgspec

from hashcheck.api.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    NotReady,
    TooManyRequests,
)
from hashcheck.api.http import JSON, Receive, Scope, Send, auth_and_length, read_body, respond
from hashcheck.api.signin import source_of
from hashcheck.api.v2models import (
    Platform,
    Platforms,
    SubmissionChallenge,
    SubmissionReceived,
    SubmissionRequest,
    SubmissionState,
    SubmittedFileState,
)
from hashcheck.auth.basic import parse_basic
from hashcheck.auth.throttle import SignInThrottle
from hashcheck.hashes.keyed import Digester
from hashcheck.hashes.sealing import Sealer
from hashcheck.index.snapshot import Snapshot
from hashcheck.store.errors import AlreadyExists, StoreError
from hashcheck.store.errors import Conflict as StoreConflict
from hashcheck.store.errors import NotFound as StoreNotFound
from hashcheck.store.interface import Store
from hashcheck.store.process import idle_priority
from hashcheck.store.records import SubmissionRecord
from hashcheck.submit import cases, intake
from hashcheck.submit.limits import FloodLimit
from hashcheck.submit.proof import LIFETIME_S, ProofBusy, ProofOfWork, ProofRefused
from hashcheck.submit.writer import CaseWriter, StoreUnavailable

log = logging.getLogger("hashcheck.submissions")
_T = TypeVar("_T")

PATH = "/v2/submissions"
PLATFORMS_PATH = "/v2/platforms"
CHALLENGE_PATH = "/v2/submission-challenge"
PATHS = (PATH, PLATFORMS_PATH, CHALLENGE_PATH)  # and PATH/{case}
# 100 files of exact hashes and a PDQ hash take about 25 KB; videos' frames the rest.
MAX_BODY = 4 << 20
NO_STORE = [(b"cache-control", b"no-store")]
_DECODE = msgspec.json.Decoder(SubmissionRequest)
_UNKNOWN = "no case with this number and PIN"
INLINE_FILES = 8


def serves(path: str) -> bool:
    """Whether ``path`` is one of these routes."""
    return path in PATHS or path.startswith(PATH + "/")


class SubmissionsApi:
    def __init__(
        self,
        open_store: Callable[[], Store],
        digester: Digester,
        sealer: Sealer,
        pepper: bytes,
        snapshot: Callable[[], Snapshot | None],
        *,
        per_source_per_hour: float,
        per_second: float,
        proof: ProofOfWork | None = None,
    ) -> None:
        """``proof``: what a new case must answer (None: nothing)."""
        self._open_store = open_store
        self._proof = proof or ProofOfWork(b"", 0)
        self._store: Store | None = None
        self._digester = digester
        self._sealer = sealer
        self._pepper = pepper
        self._snapshot = snapshot
        self._limit = FloodLimit(per_source_per_hour, per_second)
        self._throttle = SignInThrottle()
        # New cases, the frequent write, are made and stored by a process of their own
        # (`submit.writer`); lookups and withdrawals run on this worker's store thread; a large
        # submission's screen on a thread of its own. The slow hash of a PIN being checked
        # holds no interpreter lock and runs only when a core is otherwise idle (SCHED_IDLE):
        # at nice +10 a hash still kept a check waiting for the rest of its time slice. Threads
        # that hold the lock keep the worker's priority: one descheduled while holding it
        # would keep the event loop waiting.
        self.writer_process = CaseWriter(open_store, pepper)
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="submissions-store")
        self._screening = ThreadPoolExecutor(1, thread_name_prefix="submissions-screen")
        self._hashing = ThreadPoolExecutor(
            2, thread_name_prefix="submissions-pin", initializer=idle_priority
        )

    def close(self) -> None:
        self.writer_process.close()
        self._screening.shutdown()
        self._hashing.shutdown()
        self._writer.submit(self._close_store).result()
        self._writer.shutdown()

    def _close_store(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method = scope["method"]
        if path == PATH:
            if method != "POST":
                raise MethodNotAllowed("POST")
            await self._submit(scope, receive, send)
        elif path == PLATFORMS_PATH:
            if method not in ("GET", "HEAD"):
                raise MethodNotAllowed("GET")
            await respond(send, 200, self.platforms_body(), JSON)
        elif path == CHALLENGE_PATH:
            if method not in ("GET", "HEAD"):
                raise MethodNotAllowed("GET")
            await respond(send, 200, self.challenge_body(), JSON, NO_STORE)
        else:
            if method not in ("GET", "HEAD", "DELETE"):
                raise MethodNotAllowed("GET, DELETE")
            await self._case(scope, send, path[len(PATH) + 1 :], withdraw=method == "DELETE")

    def challenge_body(self) -> bytes:
        answer = SubmissionChallenge(
            challenge=self._proof.challenge(time.time()),
            bits=self._proof.bits,
            expires_in=LIFETIME_S,
        )
        return msgspec.json.encode(answer)

    def platforms_body(self) -> bytes:
        names = self.platform_names()
        return msgspec.json.encode(Platforms(platforms=[Platform(name=n) for n in names]))

    def platform_names(self) -> list[str]:
        """The public names of the enabled clients that agreed to be listed."""
        snapshot = self._snapshot()
        if snapshot is None:
            raise NotReady("the service is starting; try again shortly")
        clients = snapshot.catalog.clients.values()
        return sorted({c.public_name for c in clients if c.public_name and c.enabled})

    # -- POST ------------------------------------------------------------------------------
    async def _submit(self, scope: Scope, receive: Receive, send: Send) -> None:
        # With proof of work on, only a request that carries a good answer takes from the
        # budgets: else a flood from many addresses spent them with no work at all.
        proving = self._proof.bits > 0
        if not proving:
            self._take_budget(scope)
        _, length = auth_and_length(scope)
        body = await read_body(scope, receive, MAX_BODY, length)
        try:
            request = _DECODE.decode(body)
        except msgspec.ValidationError as exc:
            raise BadRequest(str(exc)) from None
        except msgspec.DecodeError:
            raise BadRequest("the body is not valid JSON") from None
        if proving:
            proof = request.proof or None
            try:
                self._proof.check(
                    None if proof is None else proof.challenge,
                    None if proof is None else proof.counter,
                    request.nonce,
                    time.time(),
                )
            except ProofRefused as exc:
                raise Forbidden(str(exc)) from None
            except ProofBusy as exc:
                raise TooManyRequests(str(exc), retry_after=5) from None
            self._take_budget(scope)
        snapshot = self._snapshot()
        if snapshot is None:
            raise NotReady("the service is starting; try again shortly")
        try:
            if _screened_inline(request):
                screened = intake.screen(request, self._digester, self._sealer, snapshot)
            else:
                screened = await asyncio.get_running_loop().run_in_executor(
                    self._screening, intake.screen, request, self._digester, self._sealer, snapshot
                )
        except intake.Refused as exc:
            raise BadRequest(str(exc)) from None
        received_at = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:00Z")
        try:
            case_number, pin = await self.writer_process.add(
                request.nonce, received_at, screened.files
            )
        except StoreUnavailable:
            raise NotReady("the service cannot store submissions just now; try again") from None
        except StoreConflict:
            raise Conflict(
                "this submission was received already; look it up with the case number "
                "and PIN you were shown"
            ) from None
        answer = SubmissionReceived(
            case=case_number, pin=pin, state="received", files=len(screened.files)
        )
        await respond(send, 201, msgspec.json.encode(answer), JSON, NO_STORE)

    def _take_budget(self, scope: Scope) -> None:
        wait = self._limit.wait(source_of(scope), time.monotonic())
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise TooManyRequests(
                f"too many submissions just now, from here or to this service; try again in "
                f"{seconds} s",
                retry_after=seconds,
            )

    # -- GET and DELETE {case} ---------------------------------------------------------------
    async def _case(self, scope: Scope, send: Send, text: str, *, withdraw: bool) -> None:
        authorization, _ = auth_and_length(scope)
        credentials = parse_basic(authorization)
        if credentials is None:
            raise BadRequest(
                "give the case number and PIN as HTTP Basic credentials (case number as the "
                "user name, PIN as the password)"
            )
        if cases.read_case_number(text) != cases.read_case_number(credentials[0]):
            raise BadRequest("the case number in the path and in the credentials differ")
        record = await self.case(
            source_of(scope), credentials[0], credentials[1], withdraw=withdraw
        )
        await respond(send, 200, self._state_body(record), JSON, NO_STORE)

    async def case(
        self, source: str, case_text: str, pin_text: str, *, withdraw: bool
    ) -> SubmissionRecord:
        """The case behind a case number and PIN as typed (withdrawn first if asked); raises
        404 for an unknown case and a wrong PIN alike, after the same slow hash, and 429
        after repeated failures from ``source``."""
        case_number = cases.read_case_number(case_text)
        pin = cases.read_pin(pin_text)
        throttled = case_number or "?"
        wait = self._throttle.wait(throttled, source, time.monotonic())
        if wait > 0:
            seconds = math.ceil(wait)
            raise TooManyRequests(
                f"too many wrong PINs from here; try again in {seconds} s", retry_after=seconds
            )
        record = (
            None if case_number is None else await self._in_store(lambda: self._find(case_number))
        )
        stored = record.pin_hash if record is not None else cases.DECOY
        ok = await asyncio.get_running_loop().run_in_executor(
            self._hashing, cases.verify_pin, self._pepper, case_number or "", pin or "", stored
        )
        if record is None or case_number is None or pin is None or not ok:
            self._throttle.failed(throttled, source, time.monotonic())
            raise NotFound(_UNKNOWN)
        self._throttle.succeeded(case_number, source)
        if withdraw:
            record = await self._in_store(
                lambda: self._require_store().withdraw_submission(case_number)
            )
        return record

    def _find(self, case_number: str) -> SubmissionRecord | None:
        try:
            return self._require_store().submission(case_number)
        except StoreNotFound:
            return None

    def _state_body(self, record: SubmissionRecord) -> bytes:
        return msgspec.json.encode(self.state(record))

    def state(self, record: SubmissionRecord) -> SubmissionState:
        """The case as its submitter may see it."""
        snapshot = self._snapshot()
        feedback = snapshot is not None and snapshot.catalog.policy.submission_feedback
        files: dict[int, SubmittedFileState] = {}
        for line in record.files:
            state = _file_state(record.state, line.item_state, line.left_out)
            note = (
                "a known, ordinary image: not kept"
                if line.finding.startswith("known-good")
                else msgspec.UNSET
            )
            # A file whose hashes became more than one item is as far as its least one.
            if line.file_no not in files or state != "active":
                files[line.file_no] = SubmittedFileState(file=line.file_no, state=state, note=note)
        answer = SubmissionState(
            case=record.case_number,
            state=record.state,
            received=record.received_at,
            files=[files[k] for k in sorted(files)],
        )
        if feedback:
            answer.platforms_matched = record.matched_clients
            answer.platforms_acted = record.acted_clients
        return answer

    def _require_store(self) -> Store:
        if self._store is None:
            self._store = self._open_store()
        return self._store

    async def _in_store(self, work: Callable[[], _T]) -> _T:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._writer, work)
        except StoreError as exc:
            if isinstance(exc, AlreadyExists | StoreConflict | StoreNotFound):
                raise
            log.warning("submission store request failed: %s", exc)
            raise NotReady("the service cannot store submissions just now; try again") from None


def _screened_inline(request: SubmissionRequest) -> bool:
    """Whether the screen is cheap enough for the event loop: a few files of exact and PDQ
    hashes take tens of microseconds (less than a hop to a thread and back), a case of video
    frames or a hundred files milliseconds."""
    return len(request.files) <= INLINE_FILES and not any(f.frames for f in request.files)


def _file_state(case_state: str, item_state: str, left_out: bool) -> str:
    if case_state == "withdrawn":
        return "withdrawn"
    if case_state == "rejected" or left_out or item_state in ("none", "removed"):
        return "rejected"
    return "active" if item_state == "active" else "received"
