"""Case numbers and PINs: made at random, read back leniently, the PIN kept only as a slow
hash under a key that is not in the database.

Both are 10 (case) and 8 (PIN) characters of Crockford's base32 (no I, L, O or U): read aloud
or typed from a note, `o` is read as 0 and `i`/`l` as 1, case and dashes do not matter. A
case number says nothing about when or in what order it was made. Pure: no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CASE_LENGTH = 10  # 50 bits
PIN_LENGTH = 8  # 40 bits
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None})
# scrypt at 2 MiB: about 3 ms here, so that the service can take hundreds of cases a second,
# and a PIN cannot be guessed offline without the pepper (derived from the list key, never
# stored). The parameters travel in the stored value, so they can be raised later.
_N, _R, _P = 2**11, 8, 1
_PREFIX = "pin-scrypt"


def new_case_number() -> str:
    return _grouped(_random(CASE_LENGTH), 5)


def new_pin() -> str:
    return _grouped(_random(PIN_LENGTH), 4)


def read_case_number(text: str) -> str | None:
    """The case number as stored (grouped, upper case), or None if it cannot be one."""
    plain = _plain(text, CASE_LENGTH)
    return None if plain is None else _grouped(plain, 5)


def read_pin(text: str) -> str | None:
    plain = _plain(text, PIN_LENGTH)
    return None if plain is None else _grouped(plain, 4)


def hash_pin(pepper: bytes, case_number: str, pin: str) -> str:
    salt = secrets.token_bytes(16)
    digest = _scrypt(pepper, case_number, pin, salt, _N, _R, _P)
    return "$".join((_PREFIX, str(_N), str(_R), str(_P), _b64(salt), _b64(digest)))


def verify_pin(pepper: bytes, case_number: str, pin: str, stored: str) -> bool:
    try:
        prefix, n, r, p, salt, digest = stored.split("$")
        if prefix != _PREFIX:
            return False
        actual = _scrypt(pepper, case_number, pin, base64.b64decode(salt), int(n), int(r), int(p))
        return hmac.compare_digest(actual, base64.b64decode(digest))
    except (ValueError, TypeError):
        return False


def _scrypt(pepper: bytes, case: str, pin: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    peppered = hmac.new(pepper, f"{case}\0{pin}".encode(), hashlib.sha256).digest()
    return hashlib.scrypt(peppered, salt=salt, n=n, r=r, p=p, dklen=32)


def _random(length: int) -> str:
    # One draw of 5 bits a character (32 letters: uniform), not a system call per character.
    value = secrets.randbits(5 * length)
    return "".join(ALPHABET[(value >> (5 * k)) & 31] for k in range(length))


def _grouped(plain: str, size: int) -> str:
    return "-".join(plain[i : i + size] for i in range(0, len(plain), size))


def _plain(text: str, length: int) -> str | None:
    if not text.isascii() or len(text) > 4 * length:
        return None
    plain = text.upper().translate(_READ_AS)
    if len(plain) != length or any(c not in ALPHABET for c in plain):
        return None
    return plain


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# An unknown case number is checked against this, so that it costs what a wrong PIN costs.
DECOY = "$".join((_PREFIX, str(_N), str(_R), str(_P), _b64(b"\0" * 16), _b64(b"\0" * 32)))
