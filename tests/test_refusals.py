"""Mistakes are errors, not quiet success (issue 11, item 8): a `since` that is not a date, a
database path that does not exist, and `init` without the database's key file. The real CLI
and admin API, on real SQLite and PostgreSQL."""

from __future__ import annotations

import argparse
import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from hashcheck.admin import dates
from hashcheck.admin import operators as accounts
from hashcheck.admin.errors import BadValue
from hashcheck.admin.operators import Actor, Role
from hashcheck.cli.exitcodes import ExitCode
from hashcheck.cli.main import build_parser
from tests.support import Deployment, ServerThread, make_deployment, serve
from tests.test_admin_api import admin
from tests.test_cli import run
from tests.test_serve import free_port


@pytest.fixture
def cli(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The CLI's settings pointing at a fresh database; returns the key file's path."""
    monkeypatch.setenv("HASHCHECK_DATABASE_URL", store_url)
    monkeypatch.setenv("HASHCHECK_KEY_FILE", str(tmp_path / "keys" / "list.key"))
    monkeypatch.setenv("HASHCHECK_ACTOR", "alice")
    return tmp_path / "keys" / "list.key"


# -- dates -------------------------------------------------------------------------------------
def test_dates_are_read_into_the_form_the_store_compares() -> None:
    assert dates.day("2026-11-01") == "2026-11-01"
    assert dates.day("20261101") == "2026-11-01"
    assert dates.moment("2026-11-01") == "2026-11-01"
    assert dates.moment("2026-11-01T10:00") == "2026-11-01T10:00:00+00:00"
    assert dates.moment("2026-11-01T12:30:15+02:00") == "2026-11-01T10:30:15+00:00"
    assert dates.moment("2026-11-01T10:00:00Z") == "2026-11-01T10:00:00+00:00"
    for wrong in ("garbage", "", "2026-13-01", "2026-02-30", "yesterday", "1.5"):
        with pytest.raises(BadValue, match="must be a date"):
            dates.day(wrong)
        with pytest.raises(BadValue, match="must be a date"):
            dates.moment(wrong)
    with pytest.raises(BadValue, match="must be a date"):
        dates.day("2026-11-01T10:00")  # statistics are per day


def test_a_since_that_is_not_a_date_is_a_usage_error(cli: Path) -> None:
    assert run("init")[0] == ExitCode.OK
    for command in ("stats", "audit"):
        for wrong in ("garbage", "2026-13-01", "01/11/2026"):
            code, out, err = run(command, "--since", wrong)
            assert code == ExitCode.USAGE, (command, wrong, out)
            assert err.startswith("hashcheck: --since must be a date") and repr(wrong) in err
            assert out == ""  # no table that looks like "nothing happened"
    assert run("stats", "--since", "2026-11-01")[0] == ExitCode.OK
    assert run("audit", "--since", "2026-11-01T10:00+01:00")[0] == ExitCode.OK
    code, _, err = run("stats", "--client", "nosuch")
    assert code == ExitCode.NOT_FOUND and "unknown client 'nosuch'" in err


def test_audit_since_is_a_point_in_time_whatever_its_zone(cli: Path) -> None:
    run("init")
    run("lists", "add", "police", "--supplier", "p")
    now = dt.datetime.now(dt.UTC)
    # As text, the first reads later than the records and the second earlier: compared
    # unconverted, each would give the wrong answer.
    hour_ago_east = (now - dt.timedelta(hours=1)).astimezone(dt.timezone(dt.timedelta(hours=5)))
    hour_ahead_west = (now + dt.timedelta(hours=1)).astimezone(dt.timezone(dt.timedelta(hours=-5)))
    code, out, _ = run("audit", "--since", hour_ago_east.isoformat(), "--format", "csv")
    assert code == ExitCode.OK and "list.add" in out
    code, out, _ = run("audit", "--since", hour_ahead_west.isoformat(), "--format", "csv")
    assert code == ExitCode.OK and out.strip() == "at,actor,action,subject,detail"


@pytest.fixture
def deployment(sqlite_url: str, tmp_path: Path) -> Deployment:
    return make_deployment(sqlite_url, tmp_path)


@pytest.fixture
def viewer(deployment: Deployment) -> tuple[str, str]:
    store = deployment.store()
    secret = accounts.add(store, "vera", Role.VIEWER, actor=Actor("setup", Role.APPROVER)).secret
    store.close()
    return "vera", secret


@pytest.fixture
def server(deployment: Deployment) -> Iterator[ServerThread]:
    yield from serve(deployment)


def test_the_admin_api_refuses_dates_and_parameters_it_cannot_read(
    server: ServerThread, viewer: tuple[str, str]
) -> None:
    for path in ("/stats?since=garbage", "/audit?since=garbage", "/stats?since=2026-11-01T10:00"):
        status, error = admin(server, viewer, "GET", path)
        assert status == 400, path
        assert error["error"]["code"] == "bad_request"
        assert error["error"]["message"].startswith("since must be a date")
    assert admin(server, viewer, "GET", "/stats?since=2026-11-01")[0] == 200
    status, trail = admin(server, viewer, "GET", "/audit?since=2000-01-01T00:00%2B02:00")
    assert status == 200 and {r["action"] for r in trail} >= {"list.add", "client.add"}
    status, error = admin(server, viewer, "GET", "/stats?client=nosuch")
    assert status == 404 and "unknown client" in error["error"]["message"]
    # A misspelt parameter or state would otherwise answer everything, or nothing.
    status, error = admin(server, viewer, "GET", "/stats?sinse=2026-11-01")
    assert status == 400 and "unknown query parameter 'sinse'" in error["error"]["message"]
    assert "client, list, since" in error["error"]["message"]
    status, error = admin(server, viewer, "GET", "/holds?state=opne")
    assert status == 400 and "state must be one of open, released" in error["error"]["message"]
    assert admin(server, viewer, "GET", "/disputes?state=open")[0] == 200
    assert admin(server, viewer, "GET", "/clients?all=1")[0] == 400


# -- a database file that does not exist ---------------------------------------------------------
def store_commands() -> list[list[str]]:
    """Every command that opens the store, but `init`, with the arguments argparse needs."""
    found: list[list[str]] = []

    def value(action: argparse.Action) -> list[str]:
        return [str(next(iter(action.choices)))] if action.choices else ["1"]

    def walk(parser: argparse.ArgumentParser, prefix: list[str]) -> None:
        handler = parser.get_default("handler")
        if handler is not None:
            if handler.partition(".")[0] in ("commands", "governing") and prefix != ["init"]:
                argv = list(prefix)
                for action in parser._actions:
                    if not action.option_strings and not isinstance(
                        action, argparse._SubParsersAction
                    ):
                        argv += value(action)
                    elif action.required:
                        argv += [action.option_strings[0], *value(action)]
                for group in parser._mutually_exclusive_groups:
                    if group.required:
                        first = group._group_actions[0]
                        argv.append(first.option_strings[0])
                        if first.nargs != 0:
                            argv += value(first)
                found.append(argv)
            return
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    walk(child, [*prefix, name])

    walk(build_parser(), [])
    return found


def test_every_command_but_init_refuses_a_database_file_that_does_not_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "nowhere" / "hashcheck.db"
    monkeypatch.setenv("HASHCHECK_DATABASE_URL", f"sqlite:///{missing}")
    monkeypatch.setenv("HASHCHECK_KEY_FILE", str(tmp_path / "list.key"))
    commands = store_commands()
    assert {"serve", "migrate", "stats", "audit"} <= {c[0] for c in commands}
    assert len(commands) > 40
    for argv in commands:
        code, out, err = run(*argv)
        assert code == ExitCode.STORE, (argv, out, err)
        assert err == (
            f"hashcheck: no database at {missing}: run `hashcheck init` to create it, or check "
            "HASHCHECK_DATABASE_URL (or --database-url)\n"
        ), argv
    assert not missing.parent.exists()  # not even its folder
    code, out, _ = run("init")
    assert code == ExitCode.OK and missing.exists()
    assert run("lists", "list")[0] == ExitCode.OK


def test_a_postgresql_database_needs_no_init_to_be_opened(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HASHCHECK_DATABASE_URL", postgres_url)
    monkeypatch.setenv("HASHCHECK_KEY_FILE", str(tmp_path / "list.key"))
    code, out, err = run("lists", "list")  # migrated on first use, as before
    assert (code, err) == (ExitCode.OK, "") and out.startswith("NAME")


# -- init without the database's key ---------------------------------------------------------
def test_init_never_writes_a_new_key_for_a_database_that_has_one(cli: Path, tmp_path: Path) -> None:
    code, out, _ = run("init")
    assert code == ExitCode.OK
    found = re.search(r"created list key (k-[0-9a-f]+)", out)
    assert found is not None
    key_id = found.group(1)
    backup = tmp_path / "backup.key"
    cli.rename(backup)
    serve_argv = ["serve", "--port", str(free_port())]
    for argv in (["init"], serve_argv, ["import", "police", "--hash", "ab" * 16]):
        code, out, err = run(*argv)
        assert code == ExitCode.KEY, argv
        assert f"this database's digests were made with list key {key_id!r}" in err
        assert "restore that key file from your backup" in err and str(cli) in err
        assert not cli.exists(), argv  # no new key was written
    assert "no new key was written" in run("init")[2]
    backup.rename(cli)
    code, out, _ = run("init")
    assert code == ExitCode.OK and f"kept existing list key {key_id}" in out
