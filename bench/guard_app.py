"""The web app the upload-guard benchmark drives: it drains each upload and answers its size,
with or without `GuardMiddleware` in front (one process per variant, so that its memory can
be read on its own).

    .venv/bin/python -m bench.guard_app PORT SERVICE_URL guarded|plain
"""

from __future__ import annotations

import sys
from typing import Any

import uvicorn

from bench.common import CLIENT_ID, CLIENT_SECRET
from hashcheck.client import AsyncHashcheckClient
from hashcheck.client.guard import GuardMiddleware, UploadGuard


async def storage(scope: Any, receive: Any, send: Any) -> None:
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 201, "headers": []})
    await send({"type": "http.response.body", "body": str(size).encode()})


def main() -> None:
    port, service, variant = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    app: Any = storage
    if variant == "guarded":
        client = AsyncHashcheckClient(service, CLIENT_ID, CLIENT_SECRET)
        app = GuardMiddleware(storage, UploadGuard(client), guarded=lambda s: True)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")


if __name__ == "__main__":
    main()
