"""Hash values: algorithms, parsing of submitted hex, and keyed digests. Pure; no I/O."""
