"""Persistence: one `Store` interface and its SQLite and PostgreSQL backends.

Stores hold keyed digests only, never raw list hashes, and never import the web layer.
"""
