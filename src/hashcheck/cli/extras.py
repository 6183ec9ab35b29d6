"""Which optional part of hashcheck (a pip "extra") a missing module belongs to, so that a
command run in a client-only install says what to install instead of printing a traceback."""

from __future__ import annotations

# The first module a command imports that an extra brings (see pyproject.toml).
EXTRA_OF = {
    "numpy": "server",
    "orjson": "server",
    "msgspec": "server",
    "uvicorn": "server",
    "cryptography": "server",
    "ijson": "server",
    "defusedxml": "server",
    "psycopg": "postgres",
    "jinja2": "console",
    "multipart": "console",
    "python_multipart": "console",
    "PIL": "pdq",
    "prometheus_client": "metrics",
}


def missing_extra(error: ModuleNotFoundError, command: str) -> str | None:
    """The message for a module an extra would have brought; None for any other (a bug)."""
    module = (error.name or "").split(".")[0]
    extra = EXTRA_OF.get(module)
    if extra is None:
        return None
    return (
        f"`hashcheck {command}` needs the {extra!r} part of hashcheck, which this installation "
        f"lacks (no module {module!r}): pip install 'hashcheck[{extra}]'"
    )
