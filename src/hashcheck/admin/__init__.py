"""Operator functions: set-up, clients, lists, imports, removals and statistics.

The CLI (and later the admin API) are thin faces over these. They talk to a `Store`;
they never touch the HTTP layer or the in-memory index.
"""
