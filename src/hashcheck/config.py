"""Settings: declared once with their environment variable, default, range and help text.

Read from `HASHCHECK_*` environment variables; command-line flags override them. Numbers are
ASCII digits (and one decimal point for seconds and rates), within the range declared beside
the setting; a bad value stops start-up with a message naming the variable.
"""

from __future__ import annotations

import dataclasses
import getpass
import os
import re
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hashcheck.catalog.numbers import whole_number


class SettingsError(ValueError):
    pass


def _setting(
    default: Any, help_text: str, *, low: float | None = None, high: float | None = None
) -> Any:
    """A setting; a number's ``low`` and ``high`` bound it (inclusive)."""
    return dataclasses.field(
        default=default, metadata={"help": help_text, "low": low, "high": high}
    )


@dataclasses.dataclass(frozen=True)
class Settings:
    database_url: str = _setting(
        "sqlite:///hashcheck-data/hashcheck.db",
        "Where lists, clients and statistics live: sqlite:///PATH or postgresql://...",
    )
    key_file: Path = _setting(
        Path("hashcheck-data/list.key"),
        "The list key file (outside the database; created by `hashcheck init`, mode 0600).",
    )
    index_dir: str = _setting(
        "hashcheck-data/index",
        "Local folder for the node's memory-mapped index files (shared by its workers, mapped "
        "again on restart); empty: keep the index in each worker's own memory.",
    )
    host: str = _setting("127.0.0.1", "Address `serve` listens on.")
    port: int = _setting(8080, "Port `serve` listens on.", low=1, high=65535)
    workers: int = _setting(1, "Worker processes for `serve`.", low=1, high=256)
    trusted_proxies: str = _setting(
        "127.0.0.1",
        "Addresses of the proxies in front of `serve` (comma-separated; `*` for any): the "
        "client address they name in X-Forwarded-For is the one failed sign-ins back off by.",
    )
    client_requests_per_second: float = _setting(
        0.0,
        "Requests one client may send a node per second (0: no limit); 10 s of it in a burst.",
        low=0,
        high=1_000_000,
    )
    client_work_per_second: float = _setting(
        1_000_000.0,  # = api.budgets.DEFAULT_WORK_PER_SECOND
        "Work one client may ask of a node per second, in exact lookups (a PDQ hash or video "
        "frame counts 1,000); 10 s of it in a burst, and never less than a full batch. 0: no "
        "limit.",
        low=0,
        high=1e12,
    )
    max_connections: int = _setting(
        1000,
        "Open connections (and requests in progress) per worker; beyond it requests are "
        "answered 503 at once.",
        low=1,
        high=1_000_000,
    )
    poll_interval: float = _setting(
        0.25,
        "Seconds between checks of the store for changes (propagation delay).",
        low=0.01,
        high=60,
    )
    stats_flush_interval: float = _setting(
        5.0,
        "Seconds between writes of usage counters (the most a hard crash can lose).",
        low=0.1,
        high=3600,
    )
    max_batch: int = _setting(10_000, "Most hashes in one POST /v2/check.", low=1, high=100_000)
    perceptual_processes: int = _setting(
        2,
        "Processes per worker that search PDQ and vPDQ hashes, at a lower CPU priority than the "
        "worker; 0 searches on the worker's own threads.",
        low=0,
        high=64,
    )
    log_level: str = _setting("info", "Log level: debug, info, warning, error.")
    access_log: bool = _setting(False, "Log one line per request (method, path, status only).")
    actor: str = _setting(
        "",
        "Operator the CLI acts as (default: login name); once operator accounts exist, it must "
        "name an enabled one.",
    )
    service_url: str = _setting(
        "http://127.0.0.1:8080", "The service `hashcheck scan` checks against (client side)."
    )
    client_id: str = _setting("", "The client id `hashcheck scan` uses.")
    client_secret: str = _setting("", "The client secret `hashcheck scan` uses.")
    admin_api: bool = _setting(
        True, "Serve the operator API under /admin/v1 (operator accounts only) on this node."
    )
    admin_max_upload_mb: int = _setting(
        4096, "Largest list file the operator API accepts, MiB.", low=1, high=1 << 20
    )
    import_max_unpacked_mb: int = _setting(
        16384,
        "Most MiB one imported file may unpack to (gzip, zip, UTF-16); past it the import stops.",
        low=1,
        high=1 << 30,
    )
    import_temp_reserve_mb: int = _setting(
        1024,
        "MiB of the temporary folder's disk an import leaves free; it stops where less would be.",
        low=0,
        high=1 << 30,
    )
    import_max_seconds: float = _setting(
        3600.0, "Seconds one import may take before it is stopped.", low=0.01, high=604_800
    )
    console: bool = _setting(
        False, "Serve the operator's web console under /console/ on this node (off by default)."
    )
    checks: bool = _setting(
        True,
        "Serve the check API (the legacy /v1 paths, /v2/check, disputes, retractions) on this "
        "node; off for a node that serves only self-submission.",
    )
    submissions: bool = _setting(
        False,
        "Serve self-submission on this node: the public page /submit/ and /v2/submissions "
        "(no sign-in; off by default).",
    )
    submissions_per_source_per_hour: float = _setting(
        20.0,
        "Submissions one address may make per hour (all at once if it likes); held in memory "
        "only. 0: no limit.",
        low=0,
        high=1_000_000,
    )
    submissions_per_second: float = _setting(
        100.0,
        "Submissions this node takes per second from everyone together; 0: no limit.",
        low=0,
        high=1_000_000,
    )
    submissions_proof_bits: int = _setting(
        0,
        "Proof of work asked of each new case, in leading zero bits of a SHA-256 the "
        "submitter's device must find (18: a fraction of a second in the page). Turn it on "
        "when a flood from many addresses spends the node's budget; 0: none.",
        low=0,
        high=24,
    )
    metrics: bool = _setting(
        False,
        "Count for Prometheus (the `metrics` extra) and serve the node's metrics, summed over "
        "its workers, at /metrics (off by default).",
    )
    metrics_listen: str = _setting(
        "",
        "HOST:PORT of a metrics listener of its own (in the `serve` process); empty: /metrics "
        "on the service's own port. Either way keep it off the public side of the proxy.",
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for item in dataclasses.fields(cls):
            name = env_name(item.name)
            if name in env:
                values[item.name] = _convert(name, env[name], item.default)
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        for item in dataclasses.fields(self):
            low, high = item.metadata.get("low"), item.metadata.get("high")
            value = getattr(self, item.name)
            if low is not None and high is not None and not low <= value <= high:
                raise SettingsError(
                    f"{env_name(item.name)} must be {_plain(low)} to {_plain(high)}, got "
                    f"{_plain(value)}"
                )
        if self.metrics_listen:
            host, colon, port = self.metrics_listen.rpartition(":")
            if not colon or not host or not (port.isascii() and port.isdigit()):
                raise SettingsError(
                    "HASHCHECK_METRICS_LISTEN must be HOST:PORT, e.g. 127.0.0.1:9108, got "
                    f"{self.metrics_listen!r}"
                )
            if not 1 <= int(port) <= 65535:
                raise SettingsError("HASHCHECK_METRICS_LISTEN: the port must be 1-65535")
        if self.log_level not in {"debug", "info", "warning", "error"}:
            raise SettingsError(f"HASHCHECK_LOG_LEVEL {self.log_level!r} is not a log level")

    @property
    def operator(self) -> str:
        if self.actor:
            return self.actor
        try:
            return getpass.getuser()
        except (OSError, KeyError):
            return "operator"

    def as_env(self) -> dict[str, str]:
        return {env_name(f.name): str(getattr(self, f.name)) for f in dataclasses.fields(self)}


def redacted(url: str) -> str:
    """A database URL fit to print: any password replaced by ***."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def env_name(field_name: str) -> str:
    return "HASHCHECK_" + field_name.upper()


def _convert(name: str, raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        if raw.lower() in {"1", "true", "yes", "on"}:
            return True
        if raw.lower() in {"0", "false", "no", "off"}:
            return False
        raise SettingsError(f"{name}={raw!r} is not true or false")
    if isinstance(default, Path):
        return Path(raw)
    if isinstance(default, int):
        value = whole_number(raw)
        if value is None:
            raise SettingsError(f"{name}={raw!r} is not a whole number (digits 0-9)")
        return value
    if isinstance(default, float):
        # Digits and one point: `float` would also take "nan", "inf", "1e999" and "٣".
        if not _DECIMAL.fullmatch(raw):
            raise SettingsError(f"{name}={raw!r} is not a number (digits 0-9 and one point)")
        return float(raw)
    return raw


_DECIMAL = re.compile(r"[0-9]{1,15}(\.[0-9]{1,9})?", re.ASCII)


def _plain(number: float) -> str:
    return (
        f"{number:,.10g}"
        if isinstance(number, float) and not number.is_integer()
        else f"{int(number):,}"
    )
