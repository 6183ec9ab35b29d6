"""Hash parsing, keyed digests, the key file and match ids."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from pathlib import Path

import pytest

from hashcheck.admin.digesting import digest_run
from hashcheck.hashes.algorithms import EMPTY_FILE, Algorithm, InvalidHash, parse_hex
from hashcheck.hashes.keyed import Digester, ListKey
from hashcheck.hashes.keyfile import KeyFileError, create_key_file, read_key_file
from hashcheck.hashes.matchid import MatchIds


def test_parse_hex_accepts_case_and_whitespace() -> None:
    raw = hashlib.md5(b"x", usedforsecurity=False).digest()
    assert parse_hex(f"  {raw.hex().upper()}\r\n", Algorithm.MD5) == raw


@pytest.mark.parametrize(
    "value",
    ["", "a" * 31, "a" * 33, "g" * 32, "a" * 30 + "  ", "é" * 32, "a" * 15 + "\x00" + "a" * 16],
)
def test_parse_hex_refuses(value: str) -> None:
    with pytest.raises(InvalidHash) as info:
        parse_hex(value, Algorithm.MD5)
    assert value.strip() == "" or value.strip() not in str(info.value)


def test_keyed_digest_is_truncated_hmac_sha256_with_domain_separation() -> None:
    key = ListKey("k-1", os.urandom(32))
    digester = Digester(key)
    raw = os.urandom(20)
    expected = hmac.digest(key.secret, b"sha1\x00" + raw, "sha256")[:16]
    assert digester.digest(Algorithm.SHA1, raw) == expected
    assert digester.for_algorithm(Algorithm.SHA1)(raw) == expected
    # The same bytes under another algorithm name give another digest.
    assert digester.digest(Algorithm.MD5, raw[:16]) != digester.digest(Algorithm.SHA1, raw[:16])
    other = Digester(ListKey("k-2", os.urandom(32)))
    assert other.digest(Algorithm.SHA1, raw) != expected
    # Batches: the full HMACs back to back, the digest first in each.
    raws = [raw, os.urandom(20)]
    joined = digester.joined(Algorithm.SHA1, raws)
    assert joined == b"".join(hmac.digest(key.secret, b"sha1\x00" + r, "sha256") for r in raws)
    assert joined[:16] == expected
    # A run (large imports): raw hashes back to back in, keyed digests back to back out.
    for algorithm in Algorithm:
        size = algorithm.hex_length // 2
        many = [os.urandom(size) for _ in range(5)]
        assert digest_run(digester, algorithm, b"".join(many)) == (
            reference(key, algorithm, many),
            0,
        )
        with pytest.raises(ValueError, match="bytes each"):
            digest_run(digester, algorithm, bytes(size + 1))
    assert digest_run(digester, Algorithm.MD5, b"") == (b"", 0)


def reference(key: ListKey, algorithm: Algorithm, raws: list[bytes]) -> bytes:
    """Keyed digests the slow, obvious way (the standard library's HMAC), back to back."""
    return b"".join(hmac.digest(key.secret, algorithm.tag + r, "sha256")[:16] for r in raws)


def test_run_digests_leave_out_the_empty_file_hash() -> None:
    key = ListKey("k-1", os.urandom(32))
    digester = Digester(key)
    for algorithm in Algorithm:
        size = algorithm.hex_length // 2
        raws = [os.urandom(size), EMPTY_FILE[algorithm], os.urandom(size)]
        digests, dropped = digest_run(digester, algorithm, b"".join(raws))
        assert dropped == 1
        assert digests == reference(key, algorithm, [raws[0], raws[2]])
        # An empty-file hash that only straddles two hashes' bytes is no empty-file hash.
        straddle = os.urandom(size // 2) + EMPTY_FILE[algorithm] + os.urandom(size - size // 2)
        assert digest_run(digester, algorithm, straddle) == (
            reference(
                key, algorithm, [straddle[i : i + size] for i in range(0, len(straddle), size)]
            ),
            0,
        )


def test_key_file_roundtrip_and_permissions(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "list.key"
    key = create_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_key_file(path) == key
    with pytest.raises(KeyFileError, match="already exists"):
        create_key_file(path)


def test_a_key_file_that_cannot_be_written_is_refused(tmp_path: Path) -> None:
    """A KeyFileError (exit 6, one line), not an OSError's traceback."""
    (tmp_path / "file").write_text("")
    with pytest.raises(KeyFileError, match=r"list\.key cannot be written: "):
        create_key_file(tmp_path / "file" / "list.key")
    with pytest.raises(KeyFileError, match=r"list\.key cannot be written: "):
        create_key_file(tmp_path / "file" / "keys" / "list.key")


def test_key_file_refusals(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="not found"):
        read_key_file(tmp_path / "missing.key")
    path = tmp_path / "list.key"
    create_key_file(path)
    path.chmod(0o644)
    with pytest.raises(KeyFileError, match="readable by others"):
        read_key_file(path)
    path.chmod(0o600)
    path.write_text("{not json")
    with pytest.raises(KeyFileError, match="not a valid"):
        read_key_file(path)
    path.write_text('{"format": "hashcheck-list-key-1", "key_id": "k", "secret": "c2hvcnQ="}')
    with pytest.raises(KeyFileError, match="not a valid"):
        read_key_file(path)


def test_match_ids_roundtrip_and_resist_forgery() -> None:
    ids = MatchIds(ListKey("k", os.urandom(32)))
    token = ids.issue(123456789, 20_000, "acme")
    ref = ids.read(token, "acme")
    assert ref is not None and (ref.item_id, ref.day_number) == (123456789, 20_000)
    assert ids.read(token, "other") is None
    tampered = token[:-2] + ("aa" if token[-2:] != "aa" else "bb")
    assert ids.read(tampered, "acme") is None
    assert ids.read("m1_!!", "acme") is None
    assert ids.read("nonsense", "acme") is None
    assert MatchIds(ListKey("k", os.urandom(32))).read(token, "acme") is None
