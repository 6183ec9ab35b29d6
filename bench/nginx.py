"""nginx from the shipped configuration (deploy/nginx/hashcheck.conf) on loopback, for the
balancer test and the cluster benchmark. Installs nginx from Debian when it is missing."""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

from bench.debian import program

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "deploy" / "nginx" / "hashcheck.conf"


def nginx_binary() -> str:
    return program("nginx", "nginx")


def render(ports: list[int], listen: int, tls: tuple[Path, Path] | None = None) -> str:
    """The shipped config with loopback node addresses and a loopback listener: plain HTTP,
    or with ``tls`` (certificate and key files) TLS as shipped, with those files."""
    text = TEMPLATE.read_text()
    servers = re.findall(r"^\s*server 10\.0\.0\.\d+:8080 (.*);$", text, flags=re.MULTILINE)
    if len(servers) != 3:
        raise ValueError("the template's upstream block changed; update bench/nginx.py")
    upstream = "".join(f"    server 127.0.0.1:{port} {servers[0]};\n" for port in ports)
    text = re.sub(r"(?m)^\s*server 10\.0\.0\.\d+:8080 .*;\n", "", text)
    text = text.replace("upstream hashcheck_nodes {\n", "upstream hashcheck_nodes {\n" + upstream)
    if "listen 443 ssl;" not in text:
        raise ValueError("the template's listen line changed; update bench/nginx.py")
    if tls is None:
        text = re.sub(r"(?m)^\s*ssl_.*;\n", "", text)
        return text.replace("listen 443 ssl;", f"listen 127.0.0.1:{listen};")
    certificate, key = tls
    text = re.sub(r"(?m)^(\s*ssl_certificate) .*;$", rf"\1 {certificate};", text)
    text = re.sub(r"(?m)^(\s*ssl_certificate_key) .*;$", rf"\1 {key};", text)
    return text.replace("listen 443 ssl;", f"listen 127.0.0.1:{listen} ssl;")


@contextlib.contextmanager
def running_nginx(
    ports: list[int],
    listen: int,
    folder: Path,
    edit: Callable[[str], str] = lambda text: text,
    tls: tuple[Path, Path] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """nginx in the foreground with the rendered config (changed by ``edit``: a test that
    shortens a deadline); stopped gracefully afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hashcheck.conf").write_text(edit(render(ports, listen, tls)))
    (folder / "nginx.conf").write_text(
        f"daemon off;\nworker_processes 1;\npid {folder}/nginx.pid;\n"
        f"error_log {folder}/error.log warn;\n"
        "events { worker_connections 4096; }\n"
        f"http {{\n  access_log off;\n  client_body_temp_path {folder}/body;\n"
        f"  proxy_temp_path {folder}/proxy;\n  include {folder}/hashcheck.conf;\n}}\n"
    )
    process = subprocess.Popen(
        [nginx_binary(), "-c", str(folder / "nginx.conf"), "-p", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        process.send_signal(signal.SIGQUIT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
