"""One table says how every face answers a service error (`admin.outcomes`): each error the
service raises has an outcome, the CLI's exit codes are the table's, and the admin API answers
with the table's status."""

from __future__ import annotations

from hashcheck.admin import errors as admin_errors
from hashcheck.admin.outcomes import Outcome, outcome_of
from hashcheck.api.admin import _http_error
from hashcheck.catalog.policy import PolicyError
from hashcheck.cli.exitcodes import ExitCode
from hashcheck.hashes.keyfile import KeyFileError
from hashcheck.store import errors as store_errors


def every_subclass(root: type[Exception]) -> set[type[Exception]]:
    found = {root}
    for sub in root.__subclasses__():
        found |= every_subclass(sub)
    return found


def service_errors() -> set[type[Exception]]:
    return (
        every_subclass(admin_errors.AdminError)
        | every_subclass(store_errors.StoreError)
        | {PolicyError, KeyFileError}
    )


def test_every_service_error_has_one_outcome() -> None:
    missing = [kind.__name__ for kind in service_errors() if outcome_of(kind("x")) is None]
    assert missing == []
    assert outcome_of(ValueError("a bug")) is None


def test_the_cli_exits_with_the_tables_codes() -> None:
    codes = {code.value for code in ExitCode}
    assert {outcome.exit_code for outcome in Outcome} <= codes
    assert Outcome.DENIED.exit_code == ExitCode.DENIED
    assert Outcome.CONFLICT.exit_code == ExitCode.CONFLICT
    assert ExitCode.REJECTED == Outcome.FILE_REJECTED.exit_code == Outcome.REJECTED.exit_code


def test_the_admin_api_answers_with_the_tables_status() -> None:
    for kind in service_errors():
        outcome = outcome_of(kind("detail"))
        assert outcome is not None
        answer = _http_error(kind("detail"))
        assert getattr(answer, "status", None) == outcome.http_status, kind.__name__
        if outcome in (Outcome.STORE, Outcome.KEY):
            assert "detail" not in str(answer)  # server paths and URLs stay on the server
