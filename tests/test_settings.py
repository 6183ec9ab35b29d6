"""Settings from the environment (issue 14): one declaration each, with its range; numbers
are ASCII digits (and one point where a fraction makes sense), so "٣", "nan", "inf" or
"1e3" stop start-up with the variable named, never a traceback or a silent default."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from hashcheck.cli.exitcodes import ExitCode
from hashcheck.config import Settings, SettingsError, env_name
from tests.test_serve import run_command


@pytest.mark.parametrize(
    ("name", "raw", "says"),
    [
        ("HASHCHECK_PORT", "٣٠٠٠", "not a whole number"),
        ("HASHCHECK_PORT", "0", "must be 1 to 65,535"),
        ("HASHCHECK_PORT", "99999999999999999999", "not a whole number"),
        ("HASHCHECK_WORKERS", " 2", "not a whole number"),
        ("HASHCHECK_WORKERS", "0", "must be 1 to 256"),
        ("HASHCHECK_POLL_INTERVAL", "nan", "not a number"),
        ("HASHCHECK_POLL_INTERVAL", "inf", "not a number"),
        ("HASHCHECK_POLL_INTERVAL", "0", "must be 0.01 to 60"),
        ("HASHCHECK_STATS_FLUSH_INTERVAL", "1e3", "not a number"),
        ("HASHCHECK_CLIENT_WORK_PER_SECOND", "-1", "not a number"),
        ("HASHCHECK_MAX_BATCH", "1_000", "not a whole number"),
        ("HASHCHECK_MAX_BATCH", "1000000", "must be 1 to 100,000"),
        ("HASHCHECK_METRICS", "maybe", "not true or false"),
        ("HASHCHECK_METRICS_LISTEN", "9108", "must be HOST:PORT"),
        ("HASHCHECK_METRICS_LISTEN", "127.0.0.1:²", "must be HOST:PORT"),
        ("HASHCHECK_METRICS_LISTEN", "127.0.0.1:70000", "port must be 1-65535"),
    ],
)
def test_a_bad_setting_is_refused_by_name(name: str, raw: str, says: str) -> None:
    with pytest.raises(SettingsError, match=name) as refused:
        Settings.from_env({name: raw})
    assert says in str(refused.value)


def test_good_values_and_every_number_has_a_range() -> None:
    read = Settings.from_env(
        {"HASHCHECK_PORT": "65535", "HASHCHECK_POLL_INTERVAL": "0.5", "HASHCHECK_METRICS": "yes"}
    )
    assert (read.port, read.poll_interval, read.metrics) == (65535, 0.5, True)
    for item in dataclasses.fields(Settings):
        if isinstance(item.default, int | float) and not isinstance(item.default, bool):
            low, high = item.metadata["low"], item.metadata["high"]
            assert low is not None and high is not None, env_name(item.name)
            assert low <= item.default <= high, env_name(item.name)


def test_the_command_says_which_setting_is_wrong(tmp_path: Path) -> None:
    done = run_command(tmp_path, "serve", HASHCHECK_PORT="nan")
    assert done.returncode == ExitCode.CONFIG and "HASHCHECK_PORT" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
