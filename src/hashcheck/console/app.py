"""The console's pages under /console/: sign-in and sign-out, the overview, and decisions on
proposals. Each page turns a form into one call of the operator service (`admin`) and renders
the answer; roles, the two-person rule and the audit are the service's. Every answer carries a
strict Content Security Policy and may not be framed; every change needs the form's CSRF token.
Never on the lookup path.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlencode

import jinja2

from hashcheck.admin.actions import ACTIONS
from hashcheck.admin.bounds import ImportBounds
from hashcheck.admin.errors import AdminError
from hashcheck.admin.operators import Actor, Role
from hashcheck.admin.outcomes import outcome_of
from hashcheck.api.errors import ApiError, MethodNotAllowed, NotFound
from hashcheck.api.http import ClientGone, Receive, Scope, Send, read_body, respond
from hashcheck.api.signin import SignIn, source_of
from hashcheck.console import imports as list_imports
from hashcheck.console import pages
from hashcheck.console.held import HeldUploads
from hashcheck.console.session import COOKIE, IDLE_S, Session, Sessions, fingerprint
from hashcheck.console.uploads import boundary_of, receive_upload
from hashcheck.hashes.keyed import Digester
from hashcheck.hashes.matchid import MatchIds
from hashcheck.hashes.sealing import Sealer
from hashcheck.store import errors as store_errors
from hashcheck.store.interface import Store
from hashcheck.store.records import OperatorRecord

if TYPE_CHECKING:
    from hashcheck.api.metrics import Metrics

log = logging.getLogger("hashcheck.console")

PREFIX = "/console/"
MAX_FORM = 65_536
HTML = b"text/html; charset=utf-8"
CSS = b"text/css; charset=utf-8"
CSV = b"text/csv; charset=utf-8"
SCRIPT = b"text/javascript; charset=utf-8"
# Script and styles only from this node's files (none inline); never framed; forms post only
# here; the upload's progress is the one script, and it talks to this node alone.
_SECURITY = [
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        b"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]
# GET pages: path under /console/ -> (action, template, what it shows). The action names the
# least role (`admin.actions`), checked before anything is read.
_PAGES: dict[str, tuple[str, str, Any]] = {
    "": ("lists.list", "overview.html", pages.overview),
    "proposals": ("proposals.list", "proposals.html", pages.proposals),
    "decisions": ("disputes.list", "decisions.html", pages.decisions),
    "submissions": ("submissions.list", "submissions.html", pages.submission_queue),
    "notices": ("notices.list", "notices.html", pages.notices_page),
    "reports/takedown": ("reports.takedown", "takedown.html", pages.takedown_page),
    "batches": ("batches.list", "batches.html", pages.batches),
    "items": ("items.show", "items.html", pages.item_lookup),
    "audit": ("audit", "audit.html", pages.audit_page),
    "clients": ("clients.list", "clients.html", pages.clients),
    "statistics": ("stats", "statistics.html", pages.statistics),
    "operators": ("operators.list", "operators.html", pages.operators_page),
    "imports": ("lists.import", "imports.html", list_imports.page),
}
# CSV exports: path under /console/ -> what it writes (each checks the viewer role itself).
_EXPORTS: dict[str, Any] = {"audit.csv": pages.audit_csv, "statistics.csv": pages.statistics_csv}
# Forms: (path, action, what it does, the page to go back to). A form's answer is shown on
# that page; `secret` forms show it at once (a secret never travels in an address). A form
# with a choice (approve or reject) names its action by the `verdict` it posts.
_FORMS: tuple[tuple[re.Pattern[str], str, Any, str], ...] = (
    (
        re.compile(r"^/console/proposals/(\d{1,18})$"),
        "proposals.{verdict}",
        pages.decide_proposal,
        "proposals",
    ),
    (
        re.compile(r"^/console/batches/(\d{1,18})/promote$"),
        "batches.promote",
        pages.promote_batch,
        "batches",
    ),
    (
        re.compile(r"^/console/batches/(\d{1,18})/rollback$"),
        "batches.rollback",
        pages.rollback_batch,
        "batches",
    ),
    (
        re.compile(r"^/console/holds/(\d{1,18})/release$"),
        "holds.release",
        pages.release_hold,
        "decisions",
    ),
    (
        re.compile(r"^/console/disputes/(\d{1,18})$"),
        "disputes.{verdict}",
        pages.decide_dispute,
        "decisions",
    ),
    (
        re.compile(r"^/console/submissions/([0-9A-Z]{5}-[0-9A-Z]{5})$"),
        "submissions.{verdict}",
        pages.decide_submission,
        "submissions",
    ),
    (re.compile(r"^/console/clients/new$"), "clients.add", pages.add_client, "clients"),
    (re.compile(r"^/console/notices/new$"), "notices.issue", pages.issue_notice, "notices"),
    (
        re.compile(r"^/console/notices/(\d{1,18})/withdraw$"),
        "notices.withdraw",
        pages.withdraw_notice,
        "notices",
    ),
    # An upload (multipart) is received by the console itself; this is the decision after
    # its dry run: land it active or in shadow, or discard it.
    (re.compile(r"^/console/imports$"), "lists.import", list_imports.land, "imports"),
    (
        re.compile(r"^/console/clients/([^/]{1,600})/(?:disable|enable)$"),
        "clients.disable",
        pages.switch_client,
        "clients",
    ),
    (
        re.compile(r"^/console/clients/([^/]{1,600})/rotate$"),
        "clients.rotate",
        pages.rotate_client,
        "clients",
    ),
    (
        re.compile(r"^/console/clients/([^/]{1,600})/budgets$"),
        "clients.budgets",
        pages.set_budgets,
        "clients",
    ),
    (
        re.compile(r"^/console/clients/([^/]{1,600})/deadline$"),
        "clients.deadline",
        pages.set_deadline,
        "clients",
    ),
    (
        re.compile(r"^/console/clients/([^/]{1,600})/grants$"),
        "clients.grant",
        pages.change_grant,
        "clients",
    ),
)


class _Page(Exception):
    """Answer with a page other than the one asked for (a refusal shown in words)."""

    def __init__(self, status: int, template: str, **context: Any) -> None:
        super().__init__(template)
        self.status, self.template, self.context = status, template, context


class Console:
    def __init__(
        self,
        open_store: Callable[[], Store],
        key: bytes,
        sign_in: SignIn,
        digester: Digester,
        match_ids: MatchIds,
        sealer: Sealer,
        max_upload: int,
        import_bounds: ImportBounds | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        """``metrics``: where landed imports are counted, beside the admin API's."""
        self._open_store = open_store
        self._metrics = metrics
        self._digester = digester
        self._match_ids = match_ids
        self._max_upload = max_upload
        self._tools = list_imports.ImportTools(
            HeldUploads(), digester, sealer, import_bounds or ImportBounds()
        )
        self._sessions = Sessions(key)
        self._sign_in = sign_in
        self._pages = jinja2.Environment(
            loader=jinja2.PackageLoader("hashcheck.console", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        static = resources.files("hashcheck.console").joinpath("static")
        self._static = {
            "console.css": (static.joinpath("console.css").read_bytes(), CSS),
            "upload.js": (static.joinpath("upload.js").read_bytes(), SCRIPT),
        }

    def close(self) -> None:
        """Forget every held upload (the node stops)."""
        self._tools.held.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        if path == "/console":
            await self._redirect(send, PREFIX)
            return
        asset = self._static.get(path.removeprefix(PREFIX + "static/"))
        if asset is not None and path.startswith(PREFIX + "static/"):
            await respond(send, 200, asset[0], asset[1], _SECURITY)
            return
        try:
            try:
                await self._route(scope, receive, send, path, method)
            except _Page as page:
                await self._render(send, page.status, page.template, page.context)
        except ClientGone:
            raise
        except ApiError as refused:
            headers = [(k, v) for k, v in refused.headers if k != b"www-authenticate"]
            context = {"message": refused.message}
            await self._render(send, refused.status, "refused.html", context, headers)
        except Exception:
            log.exception("unexpected error on %s", path)
            context = {"message": "Something went wrong on the server; nothing was changed."}
            await self._render(send, 500, "refused.html", context)

    async def _route(
        self, scope: Scope, receive: Receive, send: Send, path: str, method: str
    ) -> None:
        if path == PREFIX + "signin":
            if method == "POST":
                await self._signin(scope, receive, send)
            elif method in ("GET", "HEAD"):
                await self._render(send, 200, "signin.html", {"name": "", "kept": ""})
            else:
                raise MethodNotAllowed("GET, POST")
            return
        with self._store() as store:
            found = await self._session(scope, store)
            upload = boundary_of(_header(scope, b"content-type")) if method == "POST" else None
            if found is None:
                if upload is not None:
                    # Not read: a file cannot be kept for a form shown again.
                    raise _Page(401, "signin.html", name="", kept="", error=_ENDED_UPLOAD)
                if method == "POST" and path != PREFIX + "signout":
                    # The session ended while the operator filled in a form: sign in again
                    # and get the form back with what was typed (not sent: its page again).
                    typed = {k: v for k, v in (await _form(scope, receive)).items() if k != "csrf"}
                    kept = json.dumps({"path": path, "typed": typed})
                    raise _Page(401, "signin.html", name="", kept=kept, error=_ENDED)
                await self._redirect(send, PREFIX + "signin")
                return
            session, account = found
            actor = Actor(account.name, Role.parse(account.role))
            common = {"actor": actor, "csrf": self._sessions.csrf(session)}
            cookie = self._refreshed(scope, session, account)
            if upload is not None:
                if path != PREFIX + "imports":
                    raise NotFound(f"no upload form at {path[:100]}")
                await self._upload(scope, receive, send, store, actor, session, common, upload)
                return
            if method == "POST":
                form = await _form(scope, receive)
                if not self._sessions.csrf_ok(session, form.get("csrf", "")):
                    raise _Page(403, "refused.html", **common, message=_STALE_FORM)
                if path == PREFIX + "items":
                    # A lookup, posted so that a pasted hash never sits in an address (and
                    # so in no proxy's access log); it changes nothing.
                    await self._show(scope, send, store, actor, path, common, cookie, form)
                    return
                await self._change(send, store, actor, path, form, common)
                return
            if method not in ("GET", "HEAD"):
                raise MethodNotAllowed("GET")
            await self._show(scope, send, store, actor, path, common, cookie)

    async def _show(
        self,
        scope: Scope,
        send: Send,
        store: Store,
        actor: Actor,
        path: str,
        common: dict[str, Any],
        cookie: list[tuple[bytes, bytes]],
        form: dict[str, str] | None = None,
    ) -> None:
        query = _query(scope) if form is None else form
        export = _EXPORTS.get(path[len(PREFIX) :])
        if export is not None:
            body = await _run(lambda: export(store, actor, query))
            name = path[len(PREFIX) :]
            disposition = (b"content-disposition", f'attachment; filename="{name}"'.encode())
            await respond(send, 200, body, CSV, [*_SECURITY, disposition])
            return
        page = _PAGES.get(path[len(PREFIX) :])
        if page is None:
            raise NotFound(f"no such page: {path[:100]}")
        action, template, build = page
        try:
            actor.require(ACTIONS[action].role, f"this page ({action})")
            context = await _run(lambda: self._build(build, store, actor, query))
        except Exception as exc:
            outcome = outcome_of(exc)
            if outcome is None:
                raise
            raise _Page(outcome.http_status, "refused.html", **common, message=str(exc)) from None
        done = self._sessions.verified(query.get("done", ""), query.get("sig", ""))
        await self._render(send, 200, template, {**common, **context, "done": done}, cookie)

    def _build(self, build: Any, store: Store, actor: Actor, query: dict[str, str]) -> Any:
        if build is pages.item_lookup:
            return build(store, actor, query, self._digester, self._match_ids)
        if build is list_imports.page:
            return build(store, actor, query, self._tools)
        return build(store, actor, query)

    async def _upload(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        store: Store,
        actor: Actor,
        session: Session,
        common: dict[str, Any],
        boundary: bytes,
    ) -> None:
        """Receive a list file, dry-run it, hold it, and show what it would do."""
        try:
            actor.require(ACTIONS["lists.import"].role, "this change (lists.import)")
        except Exception as exc:
            raise _Page(403, "refused.html", **common, message=str(exc)) from None
        held = self._tools.held
        token, target = held.new()
        length = _header(scope, b"content-length")
        declared = int(length) if length is not None and length.isdigit() else None
        fields: dict[str, str] = {}

        async def before_file(sent: dict[str, str]) -> None:
            """The form's safety token and options, before its file is read."""
            fields.update(sent)
            if not self._sessions.csrf_ok(session, sent.get("csrf", "")):
                raise _Page(403, "refused.html", **common, message=_STALE_FORM)
            await _run(lambda: list_imports.check(store, actor, sent))

        try:
            try:
                received = await receive_upload(
                    receive, boundary, target, self._max_upload, declared, before_file
                )
                fields = received.fields
                await _run(
                    lambda: list_imports.dry_run(
                        store, actor, self._tools, token, received.filename, received.size, fields
                    )
                )
            except BaseException:
                held.drop(token)  # refused or failed: nothing of it is kept
                raise
        except ApiError as refused:
            if refused.status >= 500:
                raise
            await self._form_again(
                send, store, actor, common, fields, refused.status, refused.message
            )
            return
        except Exception as exc:
            outcome = outcome_of(exc)
            if outcome is None:
                raise
            await self._form_again(
                send, store, actor, common, fields, outcome.http_status, str(exc)
            )
            return
        await self._redirect(send, f"{PREFIX}imports?{urlencode({'held': token})}")

    async def _land(self, store: Store, actor: Actor, form: dict[str, str]) -> str:
        """Land a held upload, counted as an import in the metrics (its upload and dry run
        came before: the time is the import's own)."""
        started = time.monotonic()
        status = 500
        try:
            answer: str = await _run(lambda: list_imports.land(store, actor, form, self._tools))
        except Exception as exc:
            outcome = outcome_of(exc)
            if outcome is not None:
                status = outcome.http_status
            raise
        else:
            status = 200
            return answer
        finally:
            if self._metrics is not None:
                self._metrics.imported("import", status, time.monotonic() - started)

    async def _form_again(
        self,
        send: Send,
        store: Store,
        actor: Actor,
        common: dict[str, Any],
        fields: dict[str, str],
        status: int,
        why: str,
    ) -> None:
        """The upload form again with why it was refused and what was chosen (not the file:
        a browser never lets a page fill in a file)."""
        context = await _run(lambda: list_imports.page(store, actor, {}, self._tools))
        typed = {k: v for k, v in fields.items() if k != "csrf"}
        context = {
            **common,
            **context,
            "error": f"{why.rstrip('.')}. Choose the file again.",
            "typed": typed,
        }
        await self._render(send, status, "imports.html", context)

    async def _change(
        self,
        send: Send,
        store: Store,
        actor: Actor,
        path: str,
        form: dict[str, str],
        common: dict[str, Any],
    ) -> None:
        if path == PREFIX + "signout":
            await self._redirect(send, PREFIX + "signin", _clear_cookie())
            return
        matched = [(form_of, found) for form_of in _FORMS if (found := form_of[0].match(path))]
        if not matched:
            raise NotFound(f"no such form: {path[:100]}")
        (_, action, change, back), found = matched[0]
        # The raw path's segment (a client id may hold any character but '/').
        key = unquote(found.group(1)) if found.groups() else ""
        form = {**form, "path": path}
        try:
            action = _action(action, form)
            actor.require(ACTIONS[action].role, f"this change ({action})")
            if change is list_imports.land:
                answer = await self._land(store, actor, form)
            else:
                answer = await _run(lambda: change(store, actor, key, form))
        except Exception as exc:
            outcome = outcome_of(exc)
            if outcome is None:
                raise
            # The page again, with why, and what the operator typed kept.
            _, template, build = _PAGES[back]
            context = await _run(lambda: self._build(build, store, actor, {}))
            raise _Page(
                outcome.http_status,
                template,
                **common,
                **context,
                error=str(exc),
                typed={"key": key, **form},
            ) from None
        if isinstance(answer, pages.Shown):
            # Shown at once, never carried in an address: a new secret, say.
            _, template, build = _PAGES[back]
            context = await _run(lambda: self._build(build, store, actor, {}))
            await self._render(
                send, 200, template, {**common, **context, "done": answer.message, "shown": answer}
            )
            return
        sig = self._sessions.sign(answer)
        await self._redirect(send, f"{PREFIX}{back}?{urlencode({'done': answer, 'sig': sig})}")

    async def _signin(self, scope: Scope, receive: Receive, send: Send) -> None:
        form = await _form(scope, receive)
        name, secret = form.get("name", "").strip(), form.get("secret", "")
        if not name or not secret:
            raise _Page(400, "signin.html", name=name, error="Give your account name and secret.")
        with self._store() as store:
            try:
                account = await self._sign_in.account(
                    _run, store, source_of(scope), f"{name}\n{secret}".encode(), name, secret
                )
            except ApiError as refused:
                raise _Page(
                    refused.status, "signin.html", name=name, error=refused.message
                ) from None
        cookie = self._sessions.issue(account.name, account.secret_hash, time.time())
        kept = _kept(form.get("kept", ""))
        if kept is None:
            await self._redirect(send, PREFIX, _set_cookie(scope, cookie))
            return
        path, typed = kept
        back = next((f[3] for f in _FORMS if f[0].match(path)), "")
        _, template, build = _PAGES[back]
        actor = Actor(account.name, Role.parse(account.role))
        session = self._sessions.read(cookie, time.time())
        assert session is not None
        with self._store() as store:
            context = await _run(lambda: self._build(build, store, actor, {}))
        number = re.search(r"/(\d{1,18}|[\w.-]{1,64})(?:/\w+)?$", path)
        context = {
            **context,
            "actor": actor,
            "csrf": self._sessions.csrf(session),
            "typed": {"key": number.group(1) if number else "", **typed},
            "done": "Signed in again. What you typed is below: check it and send it again.",
        }
        await self._render(send, 200, template, context, _set_cookie(scope, cookie))

    async def _session(self, scope: Scope, store: Store) -> tuple[Session, OperatorRecord] | None:
        """The signed-in operator, if the cookie is good and the account still enabled with
        the same secret (a rotated or disabled account is signed out at its next request)."""
        cookie = _cookie(scope)
        session = None if cookie is None else self._sessions.read(cookie, time.time())
        if session is None:
            return None
        accounts = await _run(store.operators)
        account = next((a for a in accounts if a.name == session.name), None)
        if (
            account is None
            or not account.enabled
            or fingerprint(account.secret_hash) != session.secret_fingerprint
        ):
            return None
        return session, account

    def _refreshed(
        self, scope: Scope, session: Session, account: OperatorRecord
    ) -> list[tuple[bytes, bytes]]:
        """A fresh cookie (the idle clock starts again) once a minute of use has passed."""
        if time.time() - session.last_used < 60:
            return []
        fresh = self._sessions.issue(account.name, account.secret_hash, time.time())
        return _set_cookie(scope, fresh)

    @contextlib.contextmanager
    def _store(self) -> Iterator[Store]:
        try:
            store = self._open_store()
        except store_errors.StoreError:
            raise _Page(503, "refused.html", actor=None, csrf="", message=_NO_STORE) from None
        try:
            yield store
        finally:
            store.close()

    async def _render(
        self,
        send: Send,
        status: int,
        template: str,
        context: dict[str, Any],
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        context = {
            "actor": None,
            "csrf": "",
            "error": "",
            "done": "",
            "typed": None,
            "shown": None,
            "kept": "",
            **context,
        }
        body = self._pages.get_template(template).render(**context).encode()
        await respond(send, status, body, HTML, [*_SECURITY, *(headers or [])])

    async def _redirect(
        self, send: Send, target: str, headers: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        extra = [(b"location", target.encode()), *_SECURITY, *(headers or [])]
        await respond(send, 303, b"", HTML, extra)


_STALE_FORM = (
    "This form was not sent from a page of this console (its safety token is missing or "
    "old); nothing was changed. Open the page again and repeat."
)
_NO_STORE = "The database cannot be reached just now; try again shortly."
_ENDED_UPLOAD = (
    "Your session ended (30 minutes unused, or the account changed), so the upload was not "
    "read. Sign in again and choose the file again: nothing was imported."
)
_ENDED = (
    "Your session ended (30 minutes unused, or the account changed). Sign in again: the form "
    "you were sending is then shown again with what you typed."
)
MAX_KEPT = 16_384


def _kept(text: str) -> tuple[str, dict[str, str]] | None:
    """The form a sign-in brings back: its path (one of the console's forms) and fields."""
    if not text or len(text) > MAX_KEPT:
        return None
    try:
        kept = json.loads(text)
    except ValueError:
        return None
    if not isinstance(kept, dict):
        return None
    path, typed = kept.get("path"), kept.get("typed")
    if not isinstance(path, str) or not any(f[0].match(path) for f in _FORMS):
        return None
    if not isinstance(typed, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in typed.items()
    ):
        return None
    return path, typed


async def _run(work: Callable[[], Any]) -> Any:
    return await asyncio.to_thread(work)


def _action(template: str, form: dict[str, str]) -> str:
    """The action a form carries out; a form with a choice (approve or reject) names it in
    its `verdict` field, checked against the table."""
    if "{verdict}" not in template:
        return template
    action = template.replace("{verdict}", form.get("verdict", ""))
    if action not in ACTIONS:
        raise AdminError("choose one of the form's buttons")
    return action


def _query(scope: Scope) -> dict[str, str]:
    raw = scope.get("query_string", b"")
    try:
        return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        raise _Page(400, "refused.html", message="The address is not UTF-8.") from None


async def _form(scope: Scope, receive: Receive) -> dict[str, str]:
    body = await read_body(scope, receive, MAX_FORM, _header(scope, b"content-length"))
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        raise _Page(400, "refused.html", message="The form was not sent as UTF-8.") from None


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def _cookie(scope: Scope) -> str | None:
    raw = _header(scope, b"cookie")
    if raw is None:
        return None
    for part in raw.decode("latin-1").split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE:
            return value
    return None


def _set_cookie(scope: Scope, value: str) -> list[tuple[bytes, bytes]]:
    secure = "; Secure" if scope.get("scheme") == "https" else ""
    cookie = f"{COOKIE}={value}; Path={PREFIX}; Max-Age={IDLE_S}; HttpOnly; SameSite=Strict"
    return [(b"set-cookie", (cookie + secure).encode())]


def _clear_cookie() -> list[tuple[bytes, bytes]]:
    cookie = f"{COOKIE}=; Path={PREFIX}; Max-Age=0; HttpOnly; SameSite=Strict"
    return [(b"set-cookie", cookie.encode())]
