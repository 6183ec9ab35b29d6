"""The demo set-up behind `hashcheck serve --demo`: a client, a list and what to try."""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
from pathlib import Path

from hashcheck.admin import clients, importing
from hashcheck.admin.setup import initialise
from hashcheck.config import Settings
from hashcheck.hashes.keyed import Digester
from hashcheck.hashes.sealing import Sealer
from hashcheck.store.errors import AlreadyExists
from hashcheck.store.open import open_store

DEMO_CLIENT = "demo"
DEMO_SECRET = "demo-secret"  # noqa: S105 - a published demo credential, for localhost only
DEMO_LIST = "demo"
SYNTHETIC = 1000
# PDQ of the bridge photograph in Meta's PDQ test data, and the same hash 3 bits away.
DEMO_PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
DEMO_PDQ_QUERY = f"{int(DEMO_PDQ, 16) ^ 0b111:064x}"
TEST_MD5 = "258228aed7b04862fb4f41da4cde67e5"
TEST_SHA1 = "41247e2022c2f4264816f6e3eeef1acee14b6af8"


def demo_settings(settings: Settings) -> Settings:
    """Demo data lives in ./demo-data unless the operator points elsewhere."""
    defaults = Settings()
    overrides: dict[str, object] = {}
    if settings.database_url == defaults.database_url:
        overrides["database_url"] = "sqlite:///demo-data/hashcheck.db"
    if settings.key_file == defaults.key_file:
        overrides["key_file"] = Path("demo-data/list.key")
    if settings.index_dir == defaults.index_dir:
        overrides["index_dir"] = "demo-data/index"
    return Settings(**{**settings.__dict__, **overrides})


def synthetic_md5(number: int) -> str:
    return hashlib.md5(f"hashcheck demo {number}".encode(), usedforsecurity=False).hexdigest()


def prepare(settings: Settings) -> None:
    """Create key, schema, the demo list and the demo client. Each step is skipped when already
    done, so a set-up interrupted half-way is completed by the next run."""
    store = open_store(settings.database_url, create=True)
    try:
        key, _ = initialise(store, settings.key_file)
        with contextlib.suppress(AlreadyExists):
            store.add_list(
                DEMO_LIST, "hashcheck demo", "Test values and synthetic hashes", actor="demo"
            )
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "demo.txt"
            lines = [TEST_MD5, TEST_SHA1, *(synthetic_md5(n) for n in range(SYNTHETIC))]
            path.write_text("\n".join(lines) + "\n", encoding="ascii")
            importing.import_file(
                store, Digester(key), DEMO_LIST, path, actor="demo", category="baseline"
            )
            perceptual = Path(folder) / "demo-pdq.txt"
            perceptual.write_text(DEMO_PDQ + "\n", encoding="ascii")
            importing.import_pdq_file(
                store,
                Digester(key),
                Sealer(key),
                DEMO_LIST,
                perceptual,
                actor="demo",
                category="baseline",
            )
        with contextlib.suppress(AlreadyExists):
            clients.add_client(
                store, "Demo client", actor="demo", client_id=DEMO_CLIENT, secret=DEMO_SECRET
            )
    finally:
        store.close()


def instructions(base_url: str) -> str:
    auth = f"{DEMO_CLIENT}:{DEMO_SECRET}"
    return f"""
hashcheck demo is running at {base_url}
  client id: {DEMO_CLIENT}   secret: {DEMO_SECRET}   list: {DEMO_LIST}

Try it (a listed hash answers true, any other false):
  curl -u {auth} --data {TEST_MD5} {base_url}/v1/check/md5
  curl -u {auth} --data {synthetic_md5(0)} {base_url}/v1/check/md5
  curl -u {auth} --data d41d8cd98f00b204e9800998ecf8427f {base_url}/v1/check/md5
  curl -u {auth} -H 'content-type: application/json' \\
       --data '{{"hashes": [{{"algorithm": "sha1", "hash": "{TEST_SHA1}"}}]}}' {base_url}/v2/check
A perceptual (PDQ) hash 3 bits away from the demo list's one matches with its distance:
  curl -u {auth} -H 'content-type: application/json' \\
       --data '{{"hashes": [{{"algorithm": "pdq", "hash": "{DEMO_PDQ_QUERY}"}}]}}' {base_url}/v2/check
A file whose bytes are listed (its MD5 is the second line's), to try `hashcheck scan` and
the upload guards (docs/clients.md) with:
  printf 'hashcheck demo 0' > listed.bin
  HASHCHECK_SERVICE_URL={base_url} HASHCHECK_CLIENT_ID={DEMO_CLIENT} \\
  HASHCHECK_CLIENT_SECRET={DEMO_SECRET} .venv/bin/hashcheck scan listed.bin   # exit 10: match
Readiness: curl {base_url}/readyz      Stop: Ctrl-C
"""
