"""The `hashcheck` command as an operator uses it: real processes, real files, exit codes."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hashcheck.cli.exitcodes import ExitCode
from hashcheck.cli.main import build_parser, main


def md5(n: int) -> str:
    return hashlib.md5(str(n).encode(), usedforsecurity=False).hexdigest()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "HASHCHECK_DATABASE_URL": f"sqlite:///{tmp_path / 'db' / 'hashcheck.db'}",
        "HASHCHECK_KEY_FILE": str(tmp_path / "keys" / "list.key"),
        "HASHCHECK_ACTOR": "alice",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def run(*args: str) -> tuple[int, str, str]:
    """In-process run of the CLI, capturing its output."""
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exit_:
            code = int(exit_.code or 0)
    return code, out.getvalue(), err.getvalue()


def test_operator_workflow(env: dict[str, str], tmp_path: Path) -> None:
    assert run("init")[0] == ExitCode.OK
    assert run("init")[0] == ExitCode.OK  # safe to repeat
    assert run("lists", "add", "police", "--supplier", "National police")[0] == ExitCode.OK
    code, out, _ = run("clients", "add", "Acme hosting", "--id", "acme", "--json")
    assert code == ExitCode.OK
    issued = json.loads(out)
    assert issued["client_id"] == "acme" and len(issued["secret"]) >= 40
    source = tmp_path / "list.txt"
    source.write_text("\n".join(md5(n) for n in range(50)) + "\n")
    code, out, _ = run("import", "police", str(source), "--category", "baseline", "--json")
    assert code == ExitCode.OK and json.loads(out)["added"] == 50
    table = tmp_path / "list.csv"
    table.write_text("Hash;Cat\n" + "".join(f"{md5(n)};related\n" for n in range(50, 60)))
    code, out, err = run(
        "import", "police", str(table), "--column", "md5=Hash", "--category-column", "Cat"
    )
    assert code == ExitCode.OK, err
    assert "10 added" in out
    code, out, _ = run("lists", "list", "--json")
    assert json.loads(out) == [
        {
            "name": "police",
            "kind": "hashes",
            "supplier": "National police",
            "enabled": True,
            "entries": 60,
            "pdq_threshold": 31,
            "description": "",
        }
    ]
    code, out, _ = run("remove", "police", "--hash", md5(0), "--json")
    assert json.loads(out)["removed"] == 1
    assert run("clients", "grant", "acme", "--list", "police", "--category", "illegal")[0] == 0
    code, out, _ = run("clients", "list", "--json")
    assert "category illegal of list police" in json.loads(out)[0]["grants"]
    assert run("clients", "revoke", "acme", "--list", "police", "--category", "illegal")[0] == 0
    assert (
        run("clients", "revoke", "acme", "--list", "police", "--category", "illegal")[0]
        == ExitCode.NOT_FOUND
    )
    assert run("clients", "disable", "acme")[0] == 0
    assert "disabled" in run("clients", "list")[1]
    assert run("clients", "enable", "acme")[0] == 0
    code, out, _ = run("clients", "rotate", "acme", "--json")
    assert json.loads(out)["secret"] != issued["secret"]
    code, out, _ = run("stats", "--format", "csv")
    assert out.splitlines()[0] == "day,client,list,checked,matched"


def test_errors_are_one_line_with_documented_exit_codes(
    env: dict[str, str], tmp_path: Path
) -> None:
    code, _, err = run("lists", "list")
    assert code == ExitCode.STORE and err.startswith("hashcheck: ") and "hashcheck init" in err
    run("init")
    Path(env["HASHCHECK_KEY_FILE"]).rename(tmp_path / "elsewhere.key")
    code, _, err = run("lists", "list")
    assert code == ExitCode.OK  # no key needed to read lists
    code, _, err = run("import", "police", str(tmp_path / "x.txt"), "--category", "baseline")
    assert code == ExitCode.KEY and err.startswith("hashcheck: ") and "from your backup" in err
    (tmp_path / "elsewhere.key").rename(env["HASHCHECK_KEY_FILE"])
    code, _, err = run("import", "nolist", str(tmp_path / "x.txt"), "--category", "baseline")
    assert code == ExitCode.NOT_FOUND and "unknown list" in err
    run("lists", "add", "police", "--supplier", "p")
    code, _, err = run("lists", "add", "police", "--supplier", "p")
    assert code == ExitCode.EXISTS
    bad = tmp_path / "bad.txt"
    bad.write_text("nothex\n")
    code, _, err = run("import", "police", str(bad), "--category", "baseline")
    assert code == ExitCode.REJECTED and "line 1" in err
    code, _, err = run("clients", "grant", "acme", "--list", "police", "--category", "x")
    assert code == ExitCode.NOT_FOUND
    run("clients", "add", "Acme", "--id", "acme")
    code, _, err = run("clients", "grant", "acme", "--list", "police", "--category", "nope")
    assert code == ExitCode.NOT_FOUND and "baseline, illegal, related, other" in err
    code, _, err = run("clients", "grant", "acme", "--list", "nope", "--category", "baseline")
    assert code == ExitCode.NOT_FOUND and "known lists: police" in err
    code, _, err = run("import", "police", str(bad), "--column", "md5")
    assert code == ExitCode.REJECTED
    code, _, _ = run("nosuchcommand")
    assert code == ExitCode.USAGE
    code, _, _ = run("remove", "police")
    assert code == ExitCode.REJECTED


def test_wrong_key_stops_with_a_clear_message(env: dict[str, str], tmp_path: Path) -> None:
    run("init")
    other = tmp_path / "other.key"
    other_db = f"sqlite:///{tmp_path / 'other.db'}"
    assert run("--database-url", other_db, "--key-file", str(other), "init")[0] == ExitCode.OK
    code, _, err = run("--key-file", str(other), "init")
    assert code == ExitCode.KEY and "does not belong to this database" in err
    code, _, err = run(
        "--key-file", str(tmp_path / "missing.key"), "import", "x", "y", "--category", "baseline"
    )
    assert code == ExitCode.KEY


def test_bad_settings_are_reported(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HASHCHECK_PORT", "eighty")
    code, _, err = run("lists", "list")
    assert code == ExitCode.CONFIG and "HASHCHECK_PORT" in err
    monkeypatch.delenv("HASHCHECK_PORT")
    monkeypatch.setenv("HASHCHECK_DATABASE_URL", "mysql://x")
    code, _, err = run("lists", "list")
    assert code == ExitCode.STORE and "unsupported database URL" in err


def all_commands() -> list[list[str]]:
    parser = build_parser()
    found: list[list[str]] = [[]]

    def walk(p: object, prefix: list[str]) -> None:
        for action in getattr(p, "_actions", []):
            choices = getattr(action, "choices", None)
            if isinstance(choices, dict):
                for name, child in choices.items():
                    found.append([*prefix, name])
                    walk(child, [*prefix, name])

    walk(parser, [])
    return found


def command_groups() -> set[str]:
    """Commands that only group others (`clients`, `lists`, ...): their actions come next."""
    return {command[0] for command in all_commands() if len(command) == 2}


@pytest.mark.parametrize("command", all_commands(), ids=lambda c: " ".join(c) or "hashcheck")
def test_help_everywhere(command: list[str]) -> None:
    code, out, _ = run(*command, "--help")
    assert code == 0 and out.startswith("usage: hashcheck")


def test_version_is_the_installed_one() -> None:
    from importlib.metadata import version

    code, out, _ = run("--version")
    assert code == 0 and out.strip() == f"hashcheck {version('hashcheck')}"


def test_installed_entry_point_runs(env: dict[str, str]) -> None:
    executable = Path(sys.executable).with_name("hashcheck")
    result = subprocess.run(
        [str(executable), "init"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "list key" in result.stdout


def test_progress_bar_only_on_a_terminal() -> None:
    import io

    from hashcheck.cli.progress import ProgressBar

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    bar = ProgressBar("importing x", terminal)
    bar(50, 100)
    bar(100, 100)
    bar.finish()
    assert "importing x [" in terminal.getvalue() and "100.0%" in terminal.getvalue()
    pipe = io.StringIO()
    quiet = ProgressBar("importing x", pipe)
    quiet(100, 100)
    quiet.finish()
    assert pipe.getvalue() == ""


def test_database_urls_are_printed_without_passwords() -> None:
    from hashcheck.config import redacted

    assert redacted("postgresql://hc:s3cret@db.example:5432/hashcheck") == (
        "postgresql://hc:***@db.example:5432/hashcheck"
    )
    assert (
        redacted("sqlite:///hashcheck-data/hashcheck.db") == "sqlite:///hashcheck-data/hashcheck.db"
    )
    assert redacted("postgresql://hc@db/hashcheck") == "postgresql://hc@db/hashcheck"


def test_audit_trail_names_who_did_what(env: dict[str, str], tmp_path: Path) -> None:
    run("init")
    run("lists", "add", "police", "--supplier", "p")
    run("clients", "add", "Acme", "--id", "acme")
    run("clients", "disable", "acme")
    code, out, _ = run("audit", "--format", "json")
    assert code == 0
    records = json.loads(out)
    assert [r["action"] for r in records] == ["client.disable", "client.add", "list.add"]
    assert {r["actor"] for r in records} == {"alice"}
    code, out, _ = run("audit", "--action", "client", "--format", "json")
    assert [r["action"] for r in json.loads(out)] == ["client.disable", "client.add"]
    code, out, _ = run("audit", "--actor", "bob", "--format", "json")
    assert json.loads(out) == []
    code, out, _ = run("audit", "--since", "2999-01-01", "--format", "csv")
    assert out.strip() == "at,actor,action,subject,detail"
    assert run("audit", "--limit", "0")[0] == ExitCode.REJECTED


def test_batches_list_and_rollback(env: dict[str, str], tmp_path: Path) -> None:
    run("init")
    run("lists", "add", "police", "--supplier", "p")
    source = tmp_path / "l.txt"
    source.write_text("\n".join(md5(n) for n in range(5)) + "\n")
    code, out, _ = run("import", "police", str(source), "--category", "baseline", "--json")
    batch = json.loads(out)["batch_id"]
    code, out, _ = run("batches", "list", "--format", "json")
    assert [(b["batch"], b["kind"], b["live"]) for b in json.loads(out)] == [(batch, "import", 5)]
    code, out, _ = run("batches", "rollback", str(batch), "--json")
    assert code == 0 and json.loads(out)["removed"] == 5
    assert json.loads(run("lists", "list", "--json")[1])[0]["entries"] == 0
    assert run("batches", "rollback", "12345")[0] == ExitCode.NOT_FOUND
