"""The public self-submission page and its browser-side hashing."""
