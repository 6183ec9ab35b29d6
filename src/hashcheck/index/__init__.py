"""The in-memory index: immutable snapshots that answer lookups. Pure; no I/O."""
