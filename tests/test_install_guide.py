"""docs/install.md, run as written: the guide's `sh` blocks install hashcheck into a clean
virtual environment made by `python3 -m venv` (the wheel built from this working tree, with
the `server` and `postgres` extras, by pip), under a real system user made for the test, and
the node it sets up answers real HTTP checks; its backups restore into a new node that answers
the same, on SQLite and on PostgreSQL; its upgrade steps migrate a database of the first
schema; and the shipped nginx file terminates TLS.

How the test reads the guide. Every `sh` block has a name, in the comment above it
(`<!-- install-test: NAME -->`), and `HOW` below says what the test does with each; a block
without a name, or a name `HOW` does not know, fails the test. Blocks run in `bash -euo
pipefail` as root, with these substitutions and nothing else:

- Paths move into a folder of the test's own: `/opt/hashcheck`, `/root` (where the operator
  works: the wheel, the key's backup copy; and the current folder) and `/var/backups/hashcheck`
  once per test machine; `/etc/hashcheck`, `/etc/systemd/system`, `/var/lib/hashcheck` and
  `/usr/local/sbin` once per node (a restore's new node has its own). The source checkout
  `/usr/local/src/hashcheck` is this working tree.
- The user `hashcheck` is a system user named for this run (`hashcheck-t-...`, so that two
  runs on one machine do not meet), removed afterwards; it replaces the word `hashcheck`
  where it names the user or group (after a space or colon, before a space or line end;
  and the unit's `User=` and `Group=`).
- Port 8080 is a free loopback port (another one if a process takes it first); the client's
  `CLIENT_ID:SECRET` are the ones `clients add --json` printed;
  `postgresql://hashcheck@db.internal/hashcheck` (and `db2` for the restore) are the test's
  PostgreSQL databases, whose `pg_dump` and `pg_restore` are those of the pgserver package;
  `police-2026-12.txt` is `tests/data/install/police.txt`.
- `systemctl` lines are not run (no systemd runs the test): `enable --now` and `start`
  start what the installed unit file says, `ExecStart` as its `User` and `Group` with its
  `EnvironmentFile` (its output in the node's `journal.log`), and wait until each worker
  has logged that it is ready; `stop` sends SIGTERM (`KillSignal`) and waits;
  `daemon-reload` and `reload nginx` do nothing. `systemd-analyze verify` of the unit is
  `test_systemd_unit.py`.

pip's cache is the machine's own (PIP_CACHE_DIR), so a second run downloads nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from bench.debian import program

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "install.md"
LIST = ROOT / "tests" / "data" / "install" / "police.txt"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
UNLISTED = "ffffffffffffffffffffffffffffffff"

# What the test does with each block of the guide.
HOW = {
    "packages": "checked: every package's program is there (bench.debian installs a missing one)",
    "user": "run (the user is removed afterwards)",
    "folders": "run",
    "venv": "run",
    "wheel": "run, in this working tree",
    "install": "run",
    "env": "run (for PostgreSQL its database URL line names the test's database)",
    "wrapper": "run",
    "init": "run",
    "systemd": "run, systemctl as described above",
    "ready": "run",
    "nginx": "not run (it changes the machine's nginx): test_the_shipped_nginx_terminates_tls",
    "first-client": "run",
    "first-check": "run",
    "backup-sqlite": "run by test_backup_restores_on_a_new_node[sqlite]",
    "backup-postgres": "run by test_backup_restores_on_a_new_node[postgres]",
    "backup-key": "run by test_backup_restores_on_a_new_node",
    "restore-sqlite": "run by test_backup_restores_on_a_new_node[sqlite]",
    "restore-postgres": "run by test_backup_restores_on_a_new_node[postgres]",
    "restore-key": "run by test_backup_restores_on_a_new_node",
    "restore-start": "run by test_backup_restores_on_a_new_node",
    "upgrade": "run by test_upgrading_migrates_an_old_database",
}
# The Debian packages of the guide's first block, and the program each provides.
PACKAGES = {
    "python3": "python3",
    "python3-venv": None,  # `python3 -m venv` itself: the venv block runs it
    "sqlite3": "sqlite3",
    "curl": "curl",
    "nginx": "nginx",
}


BLOCK = re.compile(r"<!-- install-test: ([\w-]+) -->\n```sh\n(.*?)```", re.S)
BLOCKS = dict(BLOCK.findall(GUIDE.read_text()))


def test_every_block_of_the_guide_is_accounted_for() -> None:
    text = GUIDE.read_text()
    named = BLOCK.findall(text)
    assert len(named) == text.count("```sh\n"), "an sh block in the guide has no name"
    assert len(BLOCKS) == len(named), "two blocks of the guide share a name"
    assert set(BLOCKS) == set(HOW), set(BLOCKS) ^ set(HOW)
    packages = re.search(r"apt-get install -y (.*)", BLOCKS["packages"])
    assert packages is not None and packages.group(1).split() == list(PACKAGES)
    wheel = f"hashcheck-{project_version()}-py3-none-any.whl"
    assert wheel in BLOCKS["install"] and wheel in BLOCKS["upgrade"] and wheel in text


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Machine:
    """The test's stand-in for the machine: one folder, one system user, one venv."""

    root: Path
    user: str

    @property
    def home(self) -> Path:
        return self.root / "root"

    @property
    def venv(self) -> Path:
        return self.root / "opt" / "hashcheck" / ".venv"


@dataclass
class Node:
    """One node's own folders and port, the service it runs and what the guide printed."""

    machine: Machine
    root: Path
    port: int = field(default_factory=free_port)
    database_url: str | None = None  # PostgreSQL; SQLite otherwise
    words: dict[str, str] = field(default_factory=dict)  # CLIENT_ID, SECRET, database URLs
    service: subprocess.Popen[bytes] | None = None

    def paths(self) -> dict[str, str]:
        machine = self.machine.root
        return {
            "/usr/local/src/hashcheck": str(ROOT),
            "/opt/hashcheck": f"{machine}/opt/hashcheck",
            "/var/backups/hashcheck": f"{machine}/var/backups/hashcheck",
            "/root/": f"{machine}/root/",
            "/etc/hashcheck": f"{self.root}/etc/hashcheck",
            "/etc/systemd/system": f"{self.root}/etc/systemd/system",
            "/var/lib/hashcheck": f"{self.root}/var/lib/hashcheck",
            "/usr/local/sbin": f"{self.root}/usr/local/sbin",
        }

    def render(self, text: str) -> str:
        if self.database_url is not None:
            text = text.replace(
                "HASHCHECK_DATABASE_URL=sqlite:////var/lib/hashcheck/hashcheck.db",
                f"HASHCHECK_DATABASE_URL='{self.database_url}'",
            )
        for word, value in self.words.items():
            text = text.replace(word, value)
        paths = self.paths()
        pattern = "|".join(re.escape(p) for p in sorted(paths, key=len, reverse=True))
        text = re.sub(pattern, lambda m: paths[m.group(0)], text)
        text = re.sub(r"(?<=[ :])hashcheck(?=[ \n]|$)", self.machine.user, text)
        return text.replace(":8080", f":{self.port}").replace("=8080", f"={self.port}")

    def environment(self) -> dict[str, str]:
        env = {
            "PATH": f"{self.root}/usr/local/sbin:{pg_bin()}:{PATH}",
            "HOME": str(self.machine.home),
            "LANG": "C.UTF-8",
            "PIP_CACHE_DIR": str(Path.home() / ".cache" / "pip"),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_NO_INPUT": "1",
        }
        if "XDG_RUNTIME_DIR" in os.environ:
            env["XDG_RUNTIME_DIR"] = os.environ["XDG_RUNTIME_DIR"]
        return env

    def run(self, name: str, *, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the guide's block ``name``: its shell lines in bash, its systemctl lines as
        described above. The last shell part's result (stdout of all parts)."""
        parts: list[str] = []
        for line in BLOCKS[name].splitlines(keepends=True):
            if line.startswith("systemctl "):
                parts.append(line)
            elif parts and not parts[-1].startswith("systemctl "):
                parts[-1] += line
            else:
                parts.append(line)
        out = ""
        result = subprocess.CompletedProcess[str]([], 0, "", "")
        for part in parts:
            if part.startswith("systemctl "):
                self.systemctl(part.split()[1:])
                continue
            result = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", self.render(part)],
                cwd=self.machine.home,
                env=self.environment(),
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            out += result.stdout
            if result.returncode != 0:
                break
        result.stdout = out
        if check:
            assert result.returncode == 0, f"{name}: {result.stderr}"
        return result

    # -- the service, as systemd would run it ------------------------------------------
    def systemctl(self, args: list[str]) -> None:
        if args[:1] == ["daemon-reload"] or args[-1:] == ["nginx"]:
            return
        if args[-1:] != ["hashcheck"]:
            raise AssertionError(f"the test does not know systemctl {args}")
        if args[0] == "stop":
            self.stop()
        elif args[0] == "start" or args[:2] == ["enable", "--now"]:
            self.start()
        else:
            raise AssertionError(f"the test does not know systemctl {args}")

    def unit(self) -> dict[str, str]:
        text = (self.root / "etc" / "systemd" / "system" / "hashcheck.service").read_text()
        unit = dict(re.findall(r"(?m)^(\w+)=(.*)$", self.render(text)))
        for name in ("User", "Group"):
            assert unit[name] == "hashcheck"
            unit[name] = self.machine.user
        return unit

    def start(self) -> None:
        unit = self.unit()
        assert unit["KillSignal"] == "SIGTERM"
        env = {"PATH": PATH, "LANG": "C.UTF-8"}
        for line in Path(unit["EnvironmentFile"]).read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                name, _, value = line.partition("=")
                env[name] = value.strip("'\"")
        user = pwd.getpwnam(unit["User"])
        assert unit["Group"] == unit["User"]
        state = self.root / "var" / "lib" / unit["StateDirectory"]
        assert state.is_dir() and state.stat().st_uid == user.pw_uid
        assert state.stat().st_mode & 0o777 == int(unit["StateDirectoryMode"], 8)
        log = self.root / "journal.log"  # what journalctl -u hashcheck would show
        for _ in range(3):
            if self._started(unit, env, user, log):
                return
            # The free port went to another process first: the guide with another port.
            taken, self.port = self.port, free_port()
            env_file = Path(unit["EnvironmentFile"])
            text = env_file.read_text()
            env_file.write_text(text.replace(f"_PORT={taken}\n", f"_PORT={self.port}\n"))
            env["HASHCHECK_PORT"] = str(self.port)
        raise AssertionError(f"no free port: {log.read_text()}")

    def _started(
        self, unit: dict[str, str], env: dict[str, str], user: pwd.struct_passwd, log: Path
    ) -> bool:
        """Start the service and wait until it is ready; False if its port was taken."""
        with log.open("wb") as journal:
            self.service = subprocess.Popen(
                unit["ExecStart"].split(),
                env=env,
                user=user.pw_uid,
                group=user.pw_gid,
                extra_groups=[],
                cwd="/",
                stdout=journal,
                stderr=subprocess.STDOUT,
            )
        # Ready when every worker has loaded its index (each logs "ready:" once; until then
        # the requests it takes answer 503) and /readyz says so.
        workers = int(env.get("HASHCHECK_WORKERS", "1"))
        deadline = time.monotonic() + 60
        while log.read_text().count("ready: ") < workers or self.status("/readyz") != 200:
            if self.service.poll() is not None:
                self.service = None
                if "address already in use" in log.read_text().lower():
                    return False
                raise AssertionError(log.read_text())
            assert time.monotonic() < deadline, f"the node did not get ready: {log.read_text()}"
            time.sleep(0.05)  # a start-up poll of the node's own log and /readyz
        return True

    def stop(self) -> None:
        if self.service is None:
            return
        self.service.send_signal(signal.SIGTERM)
        try:
            self.service.wait(timeout=30)  # TimeoutStopSec
        except subprocess.TimeoutExpired:
            self.service.kill()
            self.service.wait()
            raise AssertionError("the node did not stop on SIGTERM") from None
        finally:
            self.service = None

    # -- HTTP ------------------------------------------------------------------------------
    def status(self, path: str) -> int:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}{path}", timeout=5).status_code
        except httpx.TransportError:
            return 0

    def post(self, path: str, body: bytes, client: tuple[str, str]) -> tuple[int, bytes]:
        response = httpx.post(
            f"http://127.0.0.1:{self.port}{path}", content=body, auth=client, timeout=10
        )
        return response.status_code, response.content

    def answers(self, client: tuple[str, str], hashes: list[str]) -> tuple[list[str], Any]:
        """The legacy answers to each MD5 and the v2 answer to all of them."""
        legacy = []
        for digest in hashes:
            status, body = self.post("/v1/check/md5", digest.encode(), client)
            assert status == 200, body
            legacy.append(body.decode())
        items = [{"algorithm": "md5", "hash": h} for h in hashes]
        status, body = self.post("/v2/check", json.dumps({"hashes": items}).encode(), client)
        assert status == 200, body
        return legacy, json.loads(body)


def pg_bin() -> str:
    """Where pgserver keeps PostgreSQL's programs (found without importing it)."""
    import importlib.util

    spec = importlib.util.find_spec("pgserver")
    assert spec is not None and spec.origin is not None
    return str(Path(spec.origin).parent / "pginstall" / "bin")


@pytest.fixture(scope="module")
def machine() -> Iterator[Machine]:
    """The guide's first steps, once: packages there, the system user, the venv with the
    wheel built from this working tree. The user and every file go afterwards."""
    if os.geteuid() != 0:
        pytest.skip("the guide runs as root: it makes a system user and files it owns")
    for package, name in PACKAGES.items():
        if name is not None and shutil.which(name, path=PATH) is None:
            program(name, package)
    root = Path(tempfile.mkdtemp(prefix="hashcheck-install-"))
    root.chmod(0o755)  # as / is: the service user must reach /opt and /var below it
    made = Machine(root, "hashcheck-t-" + secrets.token_hex(4))
    made.home.mkdir(mode=0o700)
    shutil.copy(LIST, made.home / "police-2026-12.txt")
    first = Node(made, root / "first")
    try:
        first.run("user")
        for name in ("folders", "venv", "wheel", "install"):
            result = first.run(name)
        version = result.stdout.splitlines()[-1]
        assert version == "hashcheck 0.1.0" == f"hashcheck {project_version()}"
        assert (made.venv / "bin" / "python").resolve().is_relative_to("/usr")  # Debian's
        yield made
    finally:
        subprocess.run(["userdel", made.user], capture_output=True, check=False, timeout=60)
        shutil.rmtree(root, ignore_errors=True)
    with pytest.raises(KeyError):
        pwd.getpwnam(made.user)


def project_version() -> str:
    import tomllib

    return str(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"])


@contextlib.contextmanager
def node(machine: Machine, name: str, database_url: str | None = None) -> Iterator[Node]:
    """A node's folders as a Debian machine has them; its service stopped afterwards."""
    made = Node(machine, machine.root / f"{name}-{secrets.token_hex(3)}", database_url=database_url)
    (made.root / "etc" / "systemd" / "system").mkdir(parents=True)
    (made.root / "usr" / "local" / "sbin").mkdir(parents=True)
    (made.root / "var" / "lib").mkdir(parents=True)
    made.root.chmod(0o755)
    for folder in (made.root / "etc", made.root / "var", made.root / "var" / "lib"):
        folder.chmod(0o755)
    try:
        yield made
    finally:
        made.stop()


def install_node(made: Node) -> tuple[str, str]:
    """The guide's steps 2 to 7 on a node: set up, a list and a client, started. The client."""
    for name in ("folders", "env", "wrapper", "init"):
        made.run(name)
    issued = last_json(made.run("first-client").stdout)
    made.words.update({"CLIENT_ID": issued["client_id"], "SECRET": issued["secret"]})
    made.run("systemd")
    made.run("ready")
    return issued["client_id"], issued["secret"]


def last_json(out: str) -> Any:
    """The JSON object a command printed last (after its other lines)."""
    return json.loads(out[out.rindex("\n{") + 1 :] if "\n{" in out else out)


def listed() -> list[str]:
    return LIST.read_text().split()


def test_the_guide_installs_a_node_that_answers(machine: Machine) -> None:
    with node(machine, "a") as first:
        first.run("folders")
        first.run("env")
        first.run("wrapper")
        (first.root / "etc" / "hashcheck").chmod(0o750)  # as if the guide had not opened it
        refused = first.run("init", check=False)
        assert refused.returncode == 6, refused.stderr
        assert refused.stderr.startswith("hashcheck: key file ")
        assert "cannot be written: Permission denied" in refused.stderr
        (first.root / "etc" / "hashcheck").chmod(0o770)
        first.run("init")
        user = pwd.getpwnam(machine.user)
        key = first.root / "etc" / "hashcheck" / "list.key"
        assert (key.stat().st_uid, key.stat().st_mode & 0o777) == (user.pw_uid, 0o600)
        assert (first.root / "etc" / "hashcheck").stat().st_mode & 0o777 == 0o750
        env = first.root / "etc" / "hashcheck" / "hashcheck.env"
        assert (env.stat().st_uid, env.stat().st_gid) == (0, user.pw_gid)
        database = first.root / "var" / "lib" / "hashcheck" / "hashcheck.db"
        assert database.stat().st_uid == user.pw_uid
        assert database.stat().st_mode & 0o777 == 0o640
        issued = last_json(first.run("first-client").stdout)
        first.words.update({"CLIENT_ID": issued["client_id"], "SECRET": issued["secret"]})
        client = (issued["client_id"], issued["secret"])
        first.run("systemd")
        assert json.loads(first.run("ready").stdout)["status"] == "ready"
        assert first.run("first-check").stdout == "truefalse"
        assert first.answers(client, listed())[0] == ["true"] * 5
        assert not (first.root / "var" / "lib" / "hashcheck" / "import.txt").exists()


@pytest.fixture(scope="module")
def postgres(machine: Machine) -> Iterator[str]:
    """A PostgreSQL server (pgserver's programs) the service user can reach: the session's
    server keeps its socket in its data folder (mode 0700), so this one runs as the test's
    system user with its socket in a folder of its own. The URL of its `postgres` database."""
    folder = machine.root / "postgres"
    socket_dir = folder / "socket"
    socket_dir.mkdir(parents=True)
    user = pwd.getpwnam(machine.user)
    for path in (folder, socket_dir):
        os.chown(path, user.pw_uid, user.pw_gid)
    as_user = ["runuser", "-u", machine.user, "--"]
    bin_dir = Path(pg_bin())
    data = folder / "data"
    for command in (
        [bin_dir / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        [bin_dir / "pg_ctl", "-D", data, "-l", folder / "log", "-w", "-o",
         f"-h '' -k {socket_dir}", "start"],
    ):  # fmt: skip
        subprocess.run([*as_user, *map(str, command)], check=True, capture_output=True, timeout=60)
    try:
        yield f"postgresql://postgres@/postgres?host={socket_dir}"
    finally:
        subprocess.run(
            [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            capture_output=True,
            check=False,
            timeout=60,
        )


def new_database(server: str) -> str:
    """An empty database on ``server``."""
    import psycopg

    name = "t_" + secrets.token_hex(6)
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    base, _, query = server.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{name}?{query}"


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_backup_restores_on_a_new_node(
    machine: Machine, backend: str, request: pytest.FixtureRequest
) -> None:
    """A backup taken while the node serves, restored with the key file on a new node, gives
    the same answers (legacy and v2, item numbers and match ids), to the same clients; the
    restore without the key file, or with another key, is refused (exit 6) and writes no key."""
    from hashcheck.hashes.keyfile import create_key_file

    source = target = None
    if backend == "postgres":
        server = str(request.getfixturevalue("postgres"))
        source, target = new_database(server), new_database(server)
    with node(machine, "old", source) as old, node(machine, "new", target) as new:
        client = install_node(old)
        hashes = [*listed(), UNLISTED]
        before = old.answers(client, hashes)
        assert before[0] == ["true"] * 5 + ["false"]
        old.words["postgresql://hashcheck@db.internal/hashcheck"] = source or ""
        old.run(f"backup-{backend}")  # while the node serves
        old.run("backup-key")
        assert old.answers(client, hashes) == before

        new.words["postgresql://hashcheck@db2.internal/hashcheck"] = target or ""
        for name in ("folders", "env", "wrapper", f"restore-{backend}"):
            new.run(name)
        key = new.root / "etc" / "hashcheck" / "list.key"
        recorded = json.loads((old.root / "etc" / "hashcheck" / "list.key").read_text())
        missing = new.run("restore-start", check=False)
        assert missing.returncode == 6, missing.stderr
        assert f"list key {recorded['key_id']!r}" in missing.stderr
        assert "restore that key file from your backup" in missing.stderr
        assert not key.exists()  # no new key was written
        other = create_key_file(key)
        user = pwd.getpwnam(machine.user)
        os.chown(key, user.pw_uid, user.pw_gid)
        wrong = new.run("restore-start", check=False)
        assert wrong.returncode == 6, wrong.stderr
        assert f"the list key {other.key_id!r} does not belong to this database" in wrong.stderr
        assert new.service is None
        key.unlink()

        new.run("restore-key")
        new.run("restore-start")
        assert new.answers(client, hashes) == before
        assert old.answers(client, hashes) == before


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_upgrading_migrates_an_old_database(
    machine: Machine, backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database as the first schema left it (a list, a client with a grant, entries; built
    by applying only the first migration, as tests/test_supplier_formats.py does) with the
    node's unit installed as step 7 leaves it: the guide's upgrade steps bring it to the newest
    schema, and the node answers from its data (legacy true/false, v2 items)."""
    from hashcheck.admin.setup import KEY_CHECK, KEY_ID
    from hashcheck.auth.secrets import hash_secret
    from hashcheck.hashes.algorithms import Algorithm
    from hashcheck.hashes.keyed import Digester
    from hashcheck.hashes.keyfile import create_key_file
    from hashcheck.store import schema, sqlbase
    from hashcheck.store.open import open_store

    url = new_database(str(request.getfixturevalue("postgres"))) if backend == "postgres" else None
    with node(machine, "old", url) as made:
        for name in ("folders", "env", "wrapper"):
            made.run(name)
        user = pwd.getpwnam(machine.user)
        key = create_key_file(made.root / "etc" / "hashcheck" / "list.key")
        os.chown(made.root / "etc" / "hashcheck" / "list.key", user.pw_uid, user.pw_gid)
        database = made.root / "var" / "lib" / "hashcheck" / "hashcheck.db"
        monkeypatch.setattr(sqlbase, "MIGRATIONS", schema.MIGRATIONS[:1])
        old = open_store(url or f"sqlite:///{database}")
        assert old.migrate() == 1
        digester = Digester(key)
        with old._tx(write=True) as cur:  # type: ignore[attr-defined]
            q = old._q  # type: ignore[attr-defined]
            for name, value in ((KEY_ID, key.key_id), (KEY_CHECK, key.self_test_value())):
                q(cur, "INSERT INTO meta (key, value) VALUES (?, ?)", (name, value))
            q(cur, "INSERT INTO lists (name, supplier, created_at) VALUES ('police', 'P', 'then')")
            q(
                cur,
                "INSERT INTO clients (id, name, enabled, secret_hash, created_at, updated_at) "
                "VALUES ('acme', 'Acme hosting', 1, ?, 'then', 'then')",
                (hash_secret("old-secret"),),
            )
            q(cur, "INSERT INTO grants (client_id, list_id, category_id) VALUES ('acme', NULL, 1)")
            q(
                cur,
                "INSERT INTO batches (list_id, kind, source, actor, committed_at, added, "
                "unchanged) VALUES (1, 'import', 'police.txt', 'op', '2026-01-01T00:00:00+00:00', "
                "5, 0)",
            )
            for digest in listed():
                q(
                    cur,
                    "INSERT INTO entries (list_id, digest, category_id, batch_id) "
                    "VALUES (1, ?, 1, 1)",
                    (digester.digest(Algorithm.MD5, bytes.fromhex(digest)),),
                )
        old.close()
        monkeypatch.setattr(sqlbase, "MIGRATIONS", schema.MIGRATIONS)
        if url is None:
            for path in database.parent.glob("hashcheck.db*"):
                os.chown(path, user.pw_uid, user.pw_gid)
                path.chmod(0o640)
        unit = made.root / "etc" / "systemd" / "system" / "hashcheck.service"
        shutil.copy(ROOT / "deploy" / "systemd" / "hashcheck.service", unit)  # as step 7 left it

        out = made.run("upgrade").stdout
        assert f"database schema is at version {len(schema.MIGRATIONS)}" in out
        assert out.endswith(f"hashcheck {project_version()}\n")
        legacy, v2 = made.answers(("acme", "old-secret"), [*listed(), UNLISTED])
        assert legacy == ["true"] * 5 + ["false"]
        assert [[m["item"] for m in r["matches"]] for r in v2["results"]] == [
            [1],
            [2],
            [3],
            [4],
            [5],
            [],
        ]
        check = open_store(url or f"sqlite:///{database}", create=False)
        try:
            assert check.schema_version() == len(schema.MIGRATIONS)
        finally:
            check.close()


def test_the_shipped_nginx_terminates_tls(sqlite_url: str, tmp_path: Path) -> None:
    """deploy/nginx/hashcheck.conf as step 9 installs it (its certificate paths pointed at a
    certificate made here) in front of a node: a check over TLS 1.2 or 1.3 is answered, and
    the node sees plain HTTP."""
    import ssl

    from bench import nginx

    from tests.support import legacy_post, list_hashes, make_deployment, serve

    certificate, key = tmp_path / "fullchain.pem", tmp_path / "privkey.pem"
    subprocess.run(
        [program("openssl", "openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes",
         "-keyout", key, "-out", certificate, "-days", "1", "-subj", "/CN=hashcheck.example.org",
         "-addext", "subjectAltName=DNS:hashcheck.example.org,IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    text = (ROOT / "deploy" / "nginx" / "hashcheck.conf").read_text()
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in text
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in text
    deployment = make_deployment(sqlite_url, tmp_path)
    list_hashes(deployment, listed())
    context = ssl.create_default_context(cafile=str(certificate))
    for server in serve(deployment):
        assert legacy_post(server.port, "/v1/check/md5", listed()[0].encode(), None).status == 401
        for attempt in range(3):  # a free port another process took first: nginx exits
            listen = free_port()
            folder = tmp_path / f"nginx-{attempt}"
            with nginx.running_nginx([server.port], listen, folder, tls=(certificate, key)) as run:
                deadline = time.monotonic() + 20
                response = None
                while response is None and run.poll() is None:
                    try:
                        response = httpx.post(
                            f"https://127.0.0.1:{listen}/v1/check/md5",
                            content=listed()[0],
                            auth=(deployment.client_id, deployment.secret),
                            verify=context,
                            timeout=10,
                        )
                    except httpx.ConnectError:
                        assert time.monotonic() < deadline, "nginx did not start"
                        time.sleep(0.05)  # not listening yet: a start-up poll
                if response is None:
                    continue
                assert (response.status_code, response.text) == (200, "true")
                with (
                    socket.create_connection(("127.0.0.1", listen), timeout=10) as raw,
                    context.wrap_socket(raw, server_hostname="hashcheck.example.org") as tls,
                ):
                    assert tls.version() in {"TLSv1.2", "TLSv1.3"}
                plain = httpx.get(f"http://127.0.0.1:{listen}/healthz", timeout=10)
                assert plain.status_code == 400  # TLS only on the port: no plain HTTP
                break
        else:
            raise AssertionError(f"nginx did not start: {(folder / 'error.log').read_text()}")
