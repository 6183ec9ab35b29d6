"""The self-submission page's browser-side modules (src/hashcheck/submit/static), run under
Node for the tests that need no browser: a driver script written by the test imports them
and prints JSON. Node is Debian's (installed with apt-get when missing, as ffmpeg is)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from bench.debian import program

import hashcheck.submit

STATIC = Path(hashcheck.submit.__file__).resolve().parent / "static"


def run_node(folder: Path, driver: str, *args: str) -> Any:
    """Runs ``driver`` (an ES module's text, in which ``STATIC/`` names the modules' folder)
    from ``folder`` with ``args``, and answers what it printed, read as JSON."""
    script = folder / "driver.mjs"
    script.write_text(driver.replace("STATIC/", STATIC.as_uri() + "/"))
    done = subprocess.run(
        [program("node", "nodejs"), str(script), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
