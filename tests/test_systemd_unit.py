"""The shipped systemd unit (deploy/systemd/hashcheck.service) passes `systemd-analyze
verify` (Debian's systemd, installed when missing), with its ExecStart pointed at this
installation's `hashcheck`; and it runs `serve` as its own user with the file system
read-only but for the node's index folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.debian import program

UNIT = Path(__file__).resolve().parent.parent / "deploy" / "systemd" / "hashcheck.service"


def test_the_unit_verifies(tmp_path: Path) -> None:
    text = UNIT.read_text()
    shipped = "/opt/hashcheck/.venv/bin/hashcheck"
    assert f"ExecStart={shipped} serve" in text
    installed = Path(sys.executable).with_name("hashcheck")
    unit = tmp_path / "hashcheck.service"
    unit.write_text(text.replace(shipped, str(installed)))
    analyze = program("systemd-analyze", "systemd")
    result = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "hashcheck.service" not in result.stderr, result.stderr  # no warning about it
    for line in ("User=hashcheck", "ProtectSystem=strict", "NoNewPrivileges=true"):
        assert line in text
