"""A running node: follows the store into in-memory snapshots, counts usage, flushes counts.

Background threads only; the request path reads the current snapshot and bumps counters.
"""
