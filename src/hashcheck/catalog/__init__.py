"""The catalog: lists, categories, clients and grants as plain immutable data. Pure; no I/O."""
