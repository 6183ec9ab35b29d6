"""Debian programs the benchmarks and tests need (nginx, ffmpeg): found, or installed with
apt-get when missing (the development and CI machines run as root)."""

from __future__ import annotations

import os
import shutil
import subprocess


def program(
    name: str, package: str, *, also: tuple[str, ...] = ("/usr/sbin",), recommends: bool = True
) -> str:
    """The path of ``name``; installs Debian's ``package`` first when it is missing (without
    the packages it only recommends, unless ``recommends``)."""
    found = shutil.which(name) or next(
        (f"{folder}/{name}" for folder in also if os.access(f"{folder}/{name}", os.X_OK)), None
    )
    if found is not None:
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", package]
    if not recommends:
        install.insert(2, "--no-install-recommends")
    for command in (["apt-get", "update", "-q"], install):
        subprocess.run(command, env=env, check=True, capture_output=True, timeout=900)
    found = shutil.which(name) or next(
        (f"{folder}/{name}" for folder in also if os.access(f"{folder}/{name}", os.X_OK)), None
    )
    if found is None:
        raise RuntimeError(f"installing {package} did not provide {name}")
    return found
