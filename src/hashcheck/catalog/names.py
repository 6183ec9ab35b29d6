"""What a list's name or a client's id may be: something every face can name again. The admin
API puts them in paths (`/admin/v1/lists/{name}`), so no `/` and at most 200 characters; a
client id is the user part of HTTP Basic credentials, so no `:` (which ends it); neither may be
empty, hold control characters, or start or end with white space (invisible in a listing).

Pure: says what is wrong, in words for the operator; the store refuses with it.
"""

from __future__ import annotations

MAX_LENGTH = 200


def name_problem(text: str, what: str, *, credential: bool = False) -> str | None:
    """Why ``text`` cannot be ``what`` (e.g. "a list name"), or None when it can."""
    if not text or text != text.strip():
        return f"{what} must not be empty or start or end with white space"
    if len(text) > MAX_LENGTH:
        return f"{what} must be at most {MAX_LENGTH} characters"
    if "/" in text:
        return f"{what} must not contain '/'"
    if credential and ":" in text:
        return f"{what} must not contain ':' (it ends the id in HTTP Basic credentials)"
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        return f"{what} must not contain control characters"
    return None
