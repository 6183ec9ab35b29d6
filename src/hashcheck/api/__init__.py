"""The HTTP edge: a plain ASGI application for the legacy and v2 APIs and health checks.

Reads only the in-memory snapshot and counters on a request; never the store.
"""
