"""`hashcheck hash`: one read per file for the three exact digests, PDQ for images, and it runs
in a client-only install (none of the server's dependencies importable)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

from hashcheck.cli.exitcodes import ExitCode
from tests.pdq_reference import DATA
from tests.test_cli import run

BRIDGE = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
SERVER_ONLY = (
    "numpy",
    "orjson",
    "uvicorn",
    "ijson",
    "defusedxml",
    "psycopg",
    "cryptography",
    "PIL",
)


def test_digests_and_pdq(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_bytes(b"hello\n" * 100_000)
    image = tmp_path / "bridge.jpg"
    shutil.copy(DATA / "aaa-orig.jpg", image)
    code, out, _ = run("hash", "--json", str(text), str(image))
    assert code == ExitCode.OK
    first, second = (json.loads(line) for line in out.splitlines())
    data = text.read_bytes()
    assert first == {
        "file": str(text),
        "md5": hashlib.md5(data, usedforsecurity=False).hexdigest(),
        "sha1": hashlib.sha1(data, usedforsecurity=False).hexdigest(),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    assert (second["pdq"], second["pdq_quality"]) == (BRIDGE, 100)
    code, out, _ = run("hash", str(image), "--no-pdq")
    assert code == ExitCode.OK and "quality" not in out and str(image) in out
    code, _, err = run("hash", str(tmp_path / "missing"))
    assert code == ExitCode.REJECTED and "missing" in err


def test_runs_without_any_server_dependency(tmp_path: Path) -> None:
    image = tmp_path / "bridge.jpg"
    shutil.copy(DATA / "aaa-orig.jpg", image)
    program = (
        "import sys\n"
        f"for name in {SERVER_ONLY!r}:\n"
        "    sys.modules[name] = None  # importing it now fails, as in a client-only install\n"
        "from hashcheck.cli.main import main\n"
        f"code = main(['hash', '--json', {str(image)!r}])\n"
        f"loaded = sorted(n for n in {SERVER_ONLY!r} if sys.modules.get(n) is not None)\n"
        "print('LOADED', loaded)\n"
        "sys.exit(code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    row = json.loads(result.stdout.splitlines()[0])
    assert row["md5"] == hashlib.md5(image.read_bytes(), usedforsecurity=False).hexdigest()
    assert "pdq" not in row  # no Pillow, no numpy: exact digests only
    assert "LOADED []" in result.stdout
