"""The upload guards in front of real web apps a hoster runs — a Starlette app (ASGI, uvicorn)
and a Flask app (WSGI, werkzeug's server) — on loopback against a real hashcheck server:
ordinary HTML-form uploads (`multipart/form-data`) of a listed file are refused, every file
part counts, a resized copy of a listed image is caught by PDQ, the app receives the body
unchanged, and malformed bodies are refused with a clear answer, never passed on unchecked."""

from __future__ import annotations

import base64
import hashlib
import io
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote_from_bytes

import httpx
import pytest
from flask import Flask, request
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from werkzeug.serving import make_server

from hashcheck.client import AsyncHashcheckClient, HashcheckClient
from hashcheck.client.guard import GuardMiddleware, UploadGuard
from hashcheck.client.wsgiguard import SyncUploadGuard, WsgiGuard
from hashcheck.pdq.images import pdq_of_image
from tests.pdq_reference import DATA
from tests.support import (
    Deployment,
    ServerThread,
    list_hashes,
    list_perceptual,
    make_deployment,
    raw_request,
    serve,
)
from tests.test_upload_guard import run_asgi
from tests.test_uploads import cut

LISTED = b"bytes of a listed file\n"
ORIGINAL = DATA / "aaa-orig.jpg"
PIECE = bytes(range(256)) * 4096  # 1 MiB
BIG_LISTED = PIECE * 3 + b"the end of a large listed file"


@pytest.fixture
def deployment(sqlite_url: str, tmp_path: Path) -> Deployment:
    deployed = make_deployment(sqlite_url, tmp_path)
    # A large file listed by MD5 alone: its MD5 is the one made on a lane beside the SHA pair.
    big = hashlib.md5(BIG_LISTED, usedforsecurity=False).hexdigest()
    list_hashes(deployed, [hashlib.sha256(LISTED).hexdigest(), big])
    images = tmp_path / "images.pdq"
    images.write_text(f"pdq,quality\n{pdq_of_image(ORIGINAL).hex},100\n")
    list_perceptual(deployed, images)
    return deployed


@pytest.fixture
def server(deployment: Deployment) -> Iterator[ServerThread]:
    yield from serve(deployment)


def resized_jpeg() -> bytes:
    out = io.BytesIO()
    with Image.open(ORIGINAL) as image:
        image.resize((image.width // 2, image.height // 2)).save(out, "JPEG", quality=80)
    return out.getvalue()


def starlette_app(base: str, credentials: tuple[str, str]) -> Any:
    async def upload(request: Request) -> PlainTextResponse:
        form = await request.form()
        sizes = [
            f"{name}={len(await value.read())}"
            for name, value in form.multi_items()
            if not isinstance(value, str)
        ]
        return PlainTextResponse("stored " + " ".join(sorted(sizes)), status_code=201)

    app = Starlette(routes=[Route("/upload", upload, methods=["POST", "GET"])])
    client = AsyncHashcheckClient(base, *credentials, retries=1, backoff=0.01)
    return GuardMiddleware(app, UploadGuard(client))  # every request with a body


def flask_app(base: str, credentials: tuple[str, str]) -> Any:
    app = Flask("hoster")

    @app.route("/upload", methods=["POST", "GET"])
    def upload() -> tuple[str, int]:
        sizes = [f"{name}={len(f.read())}" for name, f in request.files.items(multi=True)]
        return "stored " + " ".join(sorted(sizes)), 201

    client = HashcheckClient(base, *credentials, retries=1, backoff=0.01)
    return WsgiGuard(app.wsgi_app, SyncUploadGuard(client))  # every request with a body


def run_wsgi(app: Any) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=30)
        server.server_close()


FRAMEWORKS: dict[str, tuple[Callable[..., Any], Callable[[Any], Iterator[str]]]] = {
    "starlette": (starlette_app, run_asgi),
    "flask": (flask_app, run_wsgi),
}


@pytest.fixture(params=sorted(FRAMEWORKS))
def app_url(
    request: pytest.FixtureRequest, server: ServerThread, deployment: Deployment
) -> Iterator[str]:
    build, run = FRAMEWORKS[request.param]
    yield from run(build(server.base, (deployment.client_id, deployment.secret)))


def test_form_uploads_of_listed_files_are_refused(app_url: str) -> None:
    url = app_url + "/upload"
    clean = httpx.post(url, files={"photo": ("holiday.jpg", b"holiday photo")}, data={"t": "x"})
    assert clean.status_code == 201 and clean.text == "stored photo=13"  # the body, unchanged
    listed = httpx.post(url, files={"photo": ("photo.bin", LISTED)})
    assert listed.status_code == 422 and "not accepted" in listed.text
    # Any file part counts, the second of three too.
    several = [("a", ("a.txt", b"one")), ("b", ("b.bin", LISTED)), ("c", ("c.txt", b""))]
    assert httpx.post(url, files=several).status_code == 422
    # A part without a file name (a plain field holding the bytes) is checked too.
    assert httpx.post(url, files={"field": (None, LISTED)}).status_code == 422
    # A resized copy of a listed image: other bytes, caught by its PDQ hash.
    assert httpx.post(url, files={"p": ("p.jpg", resized_jpeg())}).status_code == 422
    # A 0-byte file and a corrupt JPEG are checked by their exact hashes, and accepted.
    broken = ORIGINAL.read_bytes()[:600]
    empty = httpx.post(url, files={"e": ("e.jpg", b""), "b": ("b.jpg", broken)})
    assert empty.status_code == 201 and empty.text == "stored b=600 e=0"
    # The raw body of a non-form upload is what is checked.
    assert httpx.post(url, content=LISTED).status_code == 422


@pytest.mark.parametrize(
    ("content_type", "body", "says"),
    [
        ("multipart/form-data", b"--x\r\n\r\nabc\r\n--x--\r\n", "without a boundary"),
        (
            "multipart/form-data; boundary=x",
            b'--x\r\nContent-Disposition: form-data; name="f"; filename="a"\r\n\r\ncut off',
            "ends before",
        ),
        ("multipart/form-data; boundary=x", b"--x\r\nno header end\r\n", "malformed"),
        ("multipart/form-data; boundary=x", b"garbage that is no multipart", "multipart"),
    ],
)
def test_malformed_multipart_bodies_are_refused_not_passed_on(
    app_url: str, content_type: str, body: bytes, says: str
) -> None:
    answer = httpx.post(app_url + "/upload", content=body, headers={"Content-Type": content_type})
    assert answer.status_code == 400 and says in answer.text, answer.text


CD_FIELD = b'Content-Disposition: form-data; name="x"'
CD_FILE = b'Content-Disposition: form-data; name="f"; filename="a.bin"'
AMBIGUOUS = {
    # Werkzeug takes a bare LF or CR before a delimiter; python-multipart does not.
    "bare-lf-delimiter": (
        "boundary=B",
        b"--B\r\n"
        + CD_FIELD
        + b"\r\n\r\njunk\n--B\n"
        + CD_FILE
        + b"\n\n"
        + LISTED
        + b"\r\n--B--\r\n",
    ),
    "bare-cr-delimiter": (
        "boundary=B",
        b"--B\r\n"
        + CD_FIELD
        + b"\r\n\r\njunk\r--B\r"
        + CD_FILE
        + b"\r\r"
        + LISTED
        + b"\r\n--B--\r\n",
    ),
    # A delimiter mid-line: Django splits there.
    "mid-line-delimiter": (
        "boundary=B",
        b"--B\r\n"
        + CD_FIELD
        + b"\r\n\r\nabc--B\r\n"
        + CD_FILE
        + b"\r\n\r\n"
        + LISTED
        + b"\r\n--B--\r\n",
    ),
    # Parts after the closing boundary: Django reads them.
    "after-the-close": (
        "boundary=B",
        b"--B\r\n"
        + CD_FIELD
        + b"\r\n\r\nhi\r\n--B--\r\n--B\r\n"
        + CD_FILE
        + b"\r\n\r\n"
        + LISTED
        + b"\r\n--B--\r\n",
    ),
    # Django decodes base64 parts.
    "base64-part": (
        "boundary=B",
        b"--B\r\n"
        + CD_FILE
        + b"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.b64encode(LISTED)
        + b"\r\n--B--\r\n",
    ),
    "disposition-twice": (
        "boundary=B",
        b"--B\r\n" + CD_FIELD + b"\r\n" + CD_FILE + b"\r\n\r\n" + LISTED + b"\r\n--B--\r\n",
    ),
}
# Boundary parameters parsers read differently: the outer body uses A, an inner one B.
NESTED = (
    b"--A\r\n"
    + CD_FIELD
    + b"\r\n\r\n--B\r\n"
    + CD_FILE
    + b"\r\n\r\n"
    + LISTED
    + b"\r\n--B--\r\n\r\n--A--\r\n"
)
# Part headers Werkzeug reads otherwise: a part opening with a blank line (for Werkzeug the
# next blank line ends its headers, so the "data" below is its Content-Disposition).
AMBIGUOUS["blank-line-after-delimiter"] = (
    "boundary=B",
    b"--B\r\n\r\n" + CD_FILE + b"\r\n\r\n" + LISTED + b"\r\n--B--\r\n",
)
AMBIGUOUS["header-name-with-tab"] = (
    "boundary=B",
    b'--B\r\nContent-Disposition\t: form-data; name="f"; filename="a"\r\n\r\n'
    + LISTED
    + b"\r\n--B--\r\n",
)
# A text field in another charset: Django and Starlette decode it with that charset.
AMBIGUOUS["utf-16-charset"] = (
    "boundary=B; charset=utf-16",
    b"--B\r\n" + CD_FIELD + b"\r\n\r\n" + LISTED.decode().encode("utf-16") + b"\r\n--B--\r\n",
)
AMBIGUOUS["utf-16-field"] = (
    "boundary=B",
    b"--B\r\n"
    + CD_FIELD
    + b"\r\nContent-Type: text/plain; charset=utf-16\r\n\r\n"
    + LISTED.decode().encode("utf-16")
    + b"\r\n--B--\r\n",
)
# Werkzeug's reading of parameters: "a =" is no parameter to it, so it goes on to the next
# ";" (inside the quotes) and takes the boundary it finds there.
NESTED_GOOD = NESTED.replace(b"--A", b"--good").replace(b"--B", b"--evil")
AMBIGUOUS["boundary-in-quotes"] = ('boundary=good; a ="x;boundary=evil"', NESTED_GOOD)
# White space HTTP does not have, which Werkzeug's parameter reading skips (HTTP clients
# refuse to send these headers; a raw socket does: tested on the reader, tests/test_uploads).
UNSENDABLE = {
    "vertical-tab": ('boundary=good;\x0ba="x;boundary=evil"', NESTED_GOOD),
    "no-break-space": ("boundary=good; a=\xa0x", NESTED_GOOD),
}
for name, parameters in {
    "rfc2231-boundary": "boundary=A; boundary*=utf-8''B",
    "continued-boundary": "boundary=A; boundary*0=B",
    "boundary-twice": "boundary=A; boundary=B",
    "space-in-boundary": "boundary=A B",
    "slash-in-boundary": "boundary=A/B",
    "comma-in-boundary": "boundary=A,B",
    "escaped-quote": 'boundary="A%22B"',
    "backslash-quote": 'boundary="A\\"B"',
    "257-characters": "boundary=" + "x" * 257,
}.items():
    AMBIGUOUS[name] = (parameters, NESTED)


@pytest.mark.parametrize("case", sorted(AMBIGUOUS))
def test_bodies_parsers_could_read_differently_are_refused(app_url: str, case: str) -> None:
    """Found by a hostile review: each of these put a listed file in front of Flask or Django
    while the guard hashed something else. Refused, never passed on."""
    parameters, body = AMBIGUOUS[case]
    answer = httpx.post(
        app_url + "/upload",
        content=body,
        headers={"Content-Type": f"multipart/form-data; {parameters}"},
    )
    assert answer.status_code == 400, (answer.status_code, answer.text)


def test_a_listed_file_as_a_form_value_is_refused(app_url: str) -> None:
    """A urlencoded form: the app reads each value decoded, so that is what is checked."""
    url = app_url + "/upload"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    plain = httpx.post(url, content=b"t=x&photo=" + quote_from_bytes(LISTED).encode(), headers=form)
    assert plain.status_code == 422, plain.text
    every_byte = "".join(f"%{b:02X}" for b in LISTED)  # all escaped, + for spaces
    assert httpx.post(url, content=f"photo={every_byte}&z=1", headers=form).status_code == 422
    spaced = LISTED.replace(b" ", b"+")
    assert httpx.post(url, content=b"a=1&b=" + spaced, headers=form).status_code == 422
    clean = httpx.post(url, content=b"photo=holiday&t=x", headers=form)
    assert clean.status_code == 201 and clean.text == "stored ", clean.text


def test_a_long_content_type_is_refused_at_once(app_url: str) -> None:
    """A regular expression that backtracked on white space held the event loop 10 s."""
    import time

    started = time.monotonic()
    answer = httpx.post(
        app_url + "/upload",
        content=b"--x--\r\n",
        headers={"Content-Type": "multipart/form-data" + " " * 60_000 + "x"},
        timeout=30,
    )
    assert answer.status_code in (400, 431) and time.monotonic() - started < 5


def test_a_form_sent_with_get_is_checked_too(app_url: str) -> None:
    """Werkzeug and Starlette read a form body on any method; the guard checks any request
    with a body, and lets a request without one through unchecked (nothing to check)."""
    listed = httpx.request("GET", app_url + "/upload", files={"f": ("a.bin", LISTED)})
    assert listed.status_code == 422, listed.text
    assert httpx.get(app_url + "/upload").status_code == 201


def test_ordinary_clients_boundaries_are_accepted(app_url: str) -> None:
    for boundary in (
        "----WebKitFormBoundary7MA4YWxkTrZu0gW",
        "-" * 27 + "9051914041544843365972754266",
        '"quoted.with+ok_chars-1"',
    ):
        bare = boundary.strip('"').encode()
        body = b"--" + bare + b"\r\n" + CD_FILE + b"\r\n\r\nholiday\r\n--" + bare + b"--\r\n"
        answer = httpx.post(
            app_url + "/upload",
            content=body,
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        assert answer.status_code == 201 and answer.text == "stored f=7", (boundary, answer.text)


def test_a_large_listed_file_is_refused_whatever_its_pieces(app_url: str) -> None:
    """Streamed in pieces of every size, small and large, as clients and servers cut them."""
    head = b'--b0undary\r\nContent-Disposition: form-data; name="big"; filename="big.bin"\r\n\r\n'
    body = head + BIG_LISTED + b"\r\n--b0undary--\r\n"
    answer = httpx.post(
        app_url + "/upload",
        content=iter(cut(body, [1, 100, 40_000, 1 << 20, 7, 300_000])),
        headers={"Content-Type": "multipart/form-data; boundary=b0undary"},
        timeout=60,
    )
    assert answer.status_code == 422, answer.text
    one_byte_off = body.replace(b"the end", b"The end")
    answer = httpx.post(
        app_url + "/upload",
        content=one_byte_off,
        headers={"Content-Type": "multipart/form-data; boundary=b0undary"},
        timeout=60,
    )
    assert answer.status_code == 201 and answer.text == f"stored big={len(BIG_LISTED)}"


def test_a_large_upload_streams_through_to_disk(app_url: str) -> None:
    """32 MiB in 1 MiB pieces: spooled to a temporary file, checked, handed on whole."""
    piece = PIECE

    def body() -> Iterator[bytes]:
        boundary = b"--b0undary"
        yield (
            boundary + b'\r\nContent-Disposition: form-data; name="big"; filename="big.bin"\r\n\r\n'
        )
        for _ in range(32):
            yield piece
        yield b"\r\n" + boundary + b"--\r\n"

    answer = httpx.post(
        app_url + "/upload",
        content=body(),
        headers={"Content-Type": "multipart/form-data; boundary=b0undary"},
        timeout=60,
    )
    assert answer.status_code == 201 and answer.text == f"stored big={32 << 20}"


def test_a_content_length_of_other_digits_is_refused(
    server: ServerThread, deployment: Deployment
) -> None:
    """ "²" passes str.isdigit; werkzeug's server hands it on as it came."""
    credentials = (deployment.client_id, deployment.secret)
    app = run_wsgi(flask_app(server.base, credentials))
    base = next(app)
    try:
        port = int(base.rsplit(":", 1)[1])
        request = (
            b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: \xb2\r\n"
            b"Connection: close\r\n\r\nab"
        )
        answer = raw_request(port, request)
        assert answer.status == 400 and b"not a number" in answer.body
    finally:
        next(app, None)  # the server stops
