"""The reference for the HTTP benchmarks: the same server stack answering a fixed `false`.

It reads the body like hashcheck does and does nothing else: the stack's ceiling.
"""

from __future__ import annotations

from typing import Any


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"5")],
        }
    )
    await send({"type": "http.response.body", "body": b"false"})


def main() -> None:
    import sys

    import uvicorn

    # The same settings `hashcheck serve` uses.
    uvicorn.run(
        "bench.ceiling_app:app",
        host="127.0.0.1",
        port=int(sys.argv[1]),
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        server_header=False,
    )


if __name__ == "__main__":
    main()
