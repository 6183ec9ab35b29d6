"""After imports and checks, no file the service wrote holds a list hash or a submitted hash."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from hashcheck.admin import importing
from hashcheck.api.app import HashcheckApp
from hashcheck.hashes.keyed import Digester
from hashcheck.node.runtime import Node
from tests.http_client import call
from tests.support import ServerThread, basic, legacy_post, make_deployment


def forms(raw: bytes) -> list[bytes]:
    """Every way a digest could sit in a file: raw bytes, lower and upper hex."""
    return [raw, raw.hex().encode(), raw.hex().upper().encode()]


def leaks(folder: Path, secrets: list[bytes]) -> list[str]:
    found: list[str] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        content = path.read_bytes()
        found.extend(f"{path.name}: {s[:8]!r}..." for s in secrets if s in content)
    return found


def test_imported_and_submitted_hashes_never_reach_disk(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    operator_files = tmp_path / "supplier"
    operator_files.mkdir()
    deployment = make_deployment(f"sqlite:///{data / 'hashcheck.db'}", data)
    listed = [
        hashlib.md5(f"listed {n}".encode(), usedforsecurity=False).digest() for n in range(300)
    ]
    listed += [
        hashlib.sha1(f"listed {n}".encode(), usedforsecurity=False).digest() for n in range(300)
    ]
    listed += [hashlib.sha256(f"listed {n}".encode()).digest() for n in range(300)]
    submitted_clean = [
        hashlib.md5(f"clean {n}".encode(), usedforsecurity=False).digest() for n in range(20)
    ]
    source = operator_files / "list.txt"
    source.write_text("\n".join(raw.hex() for raw in listed) + "\n")

    log_file = data / "service.log"
    handler = logging.FileHandler(log_file)
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        store = deployment.store()
        importing.import_file(
            store, Digester(deployment.key), "police", source, actor="t", category="baseline"
        )
        node = Node(store, deployment.key, stats_flush_interval=0.05)
        with ServerThread(HashcheckApp(node)) as server:
            assert node.follower.ready.wait(10)
            auth = basic("acme", deployment.secret)
            for raw in listed[:5] + submitted_clean:
                response = legacy_post(server.port, "/v1/check/md5", raw.hex().encode(), auth)
                assert response.status == 200
            legacy_post(
                server.port, "/v1/check/md5", submitted_clean[0].hex().encode() + b"x", auth
            )
            status, _, _ = call(
                server.base,
                "/v2/check",
                {"hashes": [{"algorithm": "md5", "hash": r.hex()} for r in submitted_clean]},
                auth=("acme", deployment.secret),
            )
            assert status == 200
            # While the server runs, the WAL file is there too.
            secrets = [form for raw in listed + submitted_clean for form in forms(raw)]
            assert list(data.glob("*-wal")), "expected a WAL file while serving"
            assert leaks(data, secrets) == []
        assert leaks(data, secrets) == []
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)
        handler.close()
    # The supplier's own file is the control: the scan does find hashes where they are.
    assert leaks(operator_files, secrets[:3]) != []
