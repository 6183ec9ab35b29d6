"""An import killed half-way leaves nothing visible, and can simply be run again."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from hashcheck.store.open import open_store


def read_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    return 0


def test_sigkill_during_import(store_url: str, tmp_path: Path) -> None:
    """On SQLite and on PostgreSQL (where the import may run on any of several nodes)."""
    env = {
        **os.environ,
        "HASHCHECK_DATABASE_URL": store_url,
        "HASHCHECK_KEY_FILE": str(tmp_path / "list.key"),
    }
    executable = str(Path(sys.executable).with_name("hashcheck"))
    for command in (["init"], ["lists", "add", "police", "--supplier", "p"]):
        subprocess.run([executable, *command], env=env, check=True, capture_output=True)
    source = tmp_path / "big.txt"
    lines = 600_000
    source.write_text(
        "".join(
            hashlib.md5(str(n).encode(), usedforsecurity=False).hexdigest() + "\n"
            for n in range(lines)
        )
    )
    process = subprocess.Popen(
        [executable, "import", "police", str(source), "--category", "baseline"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # Kill it once it has read a good part of the file (it is then staging or committing).
    deadline = time.monotonic() + 60
    while read_bytes(process.pid) < source.stat().st_size // 3:
        assert process.poll() is None, "import finished before it could be interrupted"
        assert time.monotonic() < deadline
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)

    store = open_store(env["HASHCHECK_DATABASE_URL"])
    assert store.entry_count() == 0
    assert len(store.changes_since(0, 0).added) == 0
    store.close()
    again = subprocess.run(
        [executable, "import", "police", str(source), "--category", "baseline", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert again.returncode == 0, again.stderr
    store = open_store(env["HASHCHECK_DATABASE_URL"])
    assert store.entry_count() == lines
    store.close()
