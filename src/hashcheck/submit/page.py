"""The public self-submission pages under /submit/: the page that hashes files on the
person's device (its scripts in `static/`), the case lookup and withdrawal as a plain form
(no script needed), and the participating platforms.

Server-rendered (Jinja2), in English or Dutch (`texts`). No cookie is set, nothing is loaded
from elsewhere, and a strict Content Security Policy lets the page talk to this node only;
what a person types is never put in an address. Case work is `api.submissions`'s.
"""

from __future__ import annotations

from importlib import resources
from typing import Any
from urllib.parse import parse_qsl

import jinja2

from hashcheck.api.errors import ApiError, MethodNotAllowed, NotFound, PayloadTooLarge
from hashcheck.api.http import Receive, Scope, Send, read_body, respond
from hashcheck.api.signin import source_of
from hashcheck.api.submissions import NO_STORE, SubmissionsApi
from hashcheck.submit import texts

PREFIX = "/submit/"
HTML = b"text/html; charset=utf-8"
SCRIPT = b"text/javascript; charset=utf-8"
CSS = b"text/css; charset=utf-8"
MAX_FORM = 4096
POLICY = (
    "default-src 'none'; script-src 'self'; worker-src 'self'; style-src 'self'; "
    "img-src 'self' blob:; media-src blob:; connect-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
SECURITY = [
    (b"content-security-policy", POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()"),
]
_STATIC = (
    "digests.js",
    "pdq.js",
    "hasher.js",
    "frames.js",
    "hashing.js",
    "proof.js",
    "page.js",
    "submit.css",
)
_ERRORS = {404: "not_found", 429: "slow_down", 400: "bad_form"}


class SubmitPages:
    def __init__(self, api: SubmissionsApi) -> None:
        self._api = api
        self._templates = jinja2.Environment(
            loader=jinja2.PackageLoader("hashcheck.submit", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        folder = resources.files("hashcheck.submit").joinpath("static")
        self._static = {
            name: (
                folder.joinpath(name).read_bytes(),
                CSS if name.endswith(".css") else SCRIPT,
            )
            for name in _STATIC
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method = scope["method"]
        if path == "/submit":
            await respond(send, 308, b"", HTML, [(b"location", PREFIX.encode())])
            return
        rest = path[len(PREFIX) :]
        if rest.startswith("static/"):
            found = self._static.get(rest[len("static/") :])
            if found is None:
                raise NotFound("no such file")
            if method not in ("GET", "HEAD"):
                raise MethodNotAllowed("GET")
            body, kind = found
            await respond(send, 200, body, kind, [*SECURITY, (b"cache-control", b"max-age=300")])
            return
        lang = texts.language(
            scope.get("query_string", b"").decode("latin-1"), _header(scope, b"accept-language")
        )
        if rest == "":
            if method not in ("GET", "HEAD"):
                raise MethodNotAllowed("GET")
            await self._render(send, 200, "submit.html", lang)
        elif rest == "case":
            if method != "POST":
                raise MethodNotAllowed("POST")
            await self._case(scope, receive, send, lang)
        elif rest == "platforms":
            if method not in ("GET", "HEAD"):
                raise MethodNotAllowed("GET")
            await self._render(send, 200, "platforms.html", lang, names=self._api.platform_names())
        else:
            raise NotFound("no such page")

    async def _case(self, scope: Scope, receive: Receive, send: Send, lang: str) -> None:
        try:
            declared = _header(scope, b"content-length").encode() or None
            body = await read_body(scope, receive, MAX_FORM, declared)
        except PayloadTooLarge:
            await self._render(send, 400, "submit.html", lang, error="bad_form")
            return
        try:
            form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            form = {}
        case_text, pin_text = form.get("case", "").strip(), form.get("pin", "").strip()
        if not case_text or not pin_text:
            await self._render(send, 400, "submit.html", lang, error="bad_form")
            return
        try:
            record = await self._api.case(
                source_of(scope), case_text, pin_text, withdraw=form.get("do") == "withdraw"
            )
        except ApiError as error:
            key = _ERRORS.get(error.status, "unavailable")
            await self._render(send, error.status, "submit.html", lang, error=key)
            return
        await self._render(send, 200, "case.html", lang, case=self._api.state(record))

    async def _render(
        self, send: Send, status: int, template: str, lang: str, **context: Any
    ) -> None:
        page = self._templates.get_template(template).render(
            t=texts.TEXTS[lang],
            lang=lang,
            other="nl" if lang == "en" else "en",
            error=context.pop("error", ""),
            **context,
        )
        await respond(send, status, page.encode(), HTML, [*SECURITY, *NO_STORE])


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return ""
