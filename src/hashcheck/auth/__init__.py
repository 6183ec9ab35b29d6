"""Client credentials: slow secret hashes at rest, a fast in-memory cache of verified ones."""
