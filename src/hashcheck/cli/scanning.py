"""`hashcheck scan PATH...`, `hashcheck quarantine list` and `hashcheck restore`: the
client-side sweep of stored files, with a report, resume, quarantine, and an exit code that
never says "clean" for a file that was not checked. No server dependency.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from hashcheck.cli.exitcodes import ExitCode
from hashcheck.client.protocol import CredentialsRefused, Unanswered
from hashcheck.client.quarantine import NoQuarantine, NotHeld, Quarantine
from hashcheck.client.results import Outcome
from hashcheck.client.scan import FileReport, Filters, Hashing, scan, walk
from hashcheck.client.state import ScanState
from hashcheck.client.sync import HashcheckClient
from hashcheck.client.watch import watch
from hashcheck.config import Settings

CSV_FIELDS = (
    "path",
    "outcome",
    "size",
    "md5",
    "sha1",
    "sha256",
    "pdq",
    "lists",
    "match_ids",
    "items",
    "reason",
    "notes",
    "earlier",
)


class ScanError(ValueError):
    pass


def _since(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ScanError(f"--since {text!r} is not an ISO date or time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


class _Writer:
    def __init__(self, out: TextIO, fmt: str) -> None:
        self._out = out
        self._csv = csv.writer(out, lineterminator="\n") if fmt == "csv" else None
        if self._csv is not None:
            self._csv.writerow(CSV_FIELDS)

    def write(self, report: FileReport) -> None:
        row = report.as_dict()
        if self._csv is None:
            self._out.write(json.dumps(row, sort_keys=True) + "\n")
        else:
            self._csv.writerow(
                [
                    row["path"],
                    row["outcome"],
                    row["size"],
                    row.get("md5", ""),
                    row.get("sha1", ""),
                    row.get("sha256", ""),
                    row.get("pdq", ""),
                    ";".join(sorted({m["list"] for m in row["matches"]})),
                    ";".join(row["match_ids"]),
                    ";".join(str(i) for i in row["items"]),
                    row["reason"] or "",
                    "; ".join(row["notes"]),
                    "yes" if row["earlier"] else "",
                ]
            )
        self._out.flush()


class _Vault:
    """What `--action quarantine` does with a matched file: every file with a `remove`
    match is moved in; one whose matches are all `review` (near or held matches: a question,
    not a verdict) only with `--action-review quarantine`."""

    def __init__(
        self, quarantine: Quarantine | None, review: str, *, report_actions: bool = True
    ) -> None:
        self._quarantine = quarantine
        self._review = review == "quarantine"
        self._report_actions = report_actions

    def take(self, report: FileReport, client: HashcheckClient) -> None:
        if self._quarantine is None or report.outcome is not Outcome.MATCH:
            return
        if not self._review and all(m.action == "review" for m in report.matches):
            report.notes.append("review match: left in place (--action-review report)")
            return
        held = self._quarantine.hold(Path(report.path), report.as_dict())
        report.reason = f"quarantined as {held.stored}"
        if self._report_actions:
            # The operator measures how fast hits are acted on (takedown timing); a failure
            # to tell it is noted, and the file stays quarantined.
            for match_id in sorted(set(report.match_ids)):
                try:
                    client.report_action(match_id, "quarantined")
                except (Unanswered, ValueError) as exc:
                    report.notes.append(f"quarantine not reported to the service: {exc}")


def _client(settings: Settings) -> HashcheckClient:
    return HashcheckClient(settings.service_url, settings.client_id, settings.client_secret)


def _refused(exc: CredentialsRefused) -> int:
    print(
        f"hashcheck: {exc}; check HASHCHECK_CLIENT_ID and HASHCHECK_CLIENT_SECRET "
        "(nothing more was checked)",
        file=sys.stderr,
    )
    return ExitCode.REFUSED


def scan_paths(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.client_id or not settings.client_secret:
        print("hashcheck: set HASHCHECK_CLIENT_ID and HASHCHECK_CLIENT_SECRET", file=sys.stderr)
        return ExitCode.CONFIG
    roots = [Path(p) for p in args.paths]
    missing = [str(p) for p in roots if not p.is_dir() and not p.is_file()]
    if missing:
        print(f"hashcheck: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return ExitCode.NOT_FOUND
    try:
        filters = Filters(
            include=args.include,
            exclude=args.exclude,
            min_size=args.min_size,
            max_size=args.max_size,
            since=_since(args.since),
        )
    except ScanError as exc:
        print(f"hashcheck: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    if args.action == "quarantine" and args.quarantine is None:
        print("hashcheck: --action quarantine needs --quarantine DIR", file=sys.stderr)
        return ExitCode.USAGE
    if args.rescan and args.state is None:
        print("hashcheck: --rescan goes with --state FILE", file=sys.stderr)
        return ExitCode.USAGE
    hashing = Hashing(perceptual=not args.no_pdq)
    vault = _Vault(
        Quarantine(args.quarantine) if args.action == "quarantine" else None,
        args.action_review,
        report_actions=not args.no_report_actions,
    )
    try:
        if args.watch:
            return _watch(args, settings, roots, filters, hashing, vault)
        return _scan(args, settings, roots, filters, hashing, vault)
    except CredentialsRefused as exc:
        return _refused(exc)
    except OSError as exc:  # the report or state file cannot be written
        print(f"hashcheck: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return ExitCode.REJECTED


def _scan(
    args: argparse.Namespace,
    settings: Settings,
    roots: list[Path],
    filters: Filters,
    hashing: Hashing,
    vault: _Vault,
) -> int:
    state = ScanState(args.state, fresh=args.rescan) if args.state else None
    # A quick walk first, for the total the progress line's ETA needs (no file is read).
    total = sum(1 for _ in walk(roots, filters))  # files, and what will be said unreadable
    counts = dict.fromkeys(Outcome, 0)
    earlier = 0
    started = time.monotonic()
    resumed = state is not None and len(state) > 0
    report_out: Any = (
        args.report.open("a" if resumed else "w", encoding="utf-8") if args.report else sys.stdout
    )
    try:
        writer = _Writer(report_out, args.format)
        with _client(settings) as client:
            for report in scan(
                client,
                roots,
                filters=filters,
                hashing=hashing,
                earlier=state.earlier if state is not None else lambda _: None,
                workers=args.workers,
            ):
                counts[report.outcome] += 1
                earlier += report.earlier
                # A file hashed in an earlier run is asked again and reported again when it
                # matches (it is still there) or its answer changed (a list changed).
                before = state.outcome_before(report.path) if state is not None else None
                if (
                    not report.earlier
                    or report.outcome is Outcome.MATCH
                    or (before != report.outcome.value)
                ):
                    vault.take(report, client)
                    writer.write(report)
                if state is not None:
                    state.record(report)
                _progress(counts, started, total, earlier)
    finally:
        if report_out is not sys.stdout:
            report_out.close()
        if state is not None:
            state.close()
    sys.stderr.write("\n" if sys.stderr.isatty() else "")
    _progress(counts, started, total, earlier, final=True)
    if counts[Outcome.MATCH]:
        return ExitCode.MATCHES
    if counts[Outcome.INDETERMINATE]:
        return ExitCode.UNCHECKED
    return ExitCode.OK


def _progress(
    counts: dict[Outcome, int],
    started: float,
    total: int | None = None,
    earlier: int = 0,
    *,
    final: bool = False,
) -> None:
    """A bar with rate and ETA on a terminal; a plain line every 1,000 files otherwise."""
    checked = sum(counts.values())
    terminal = sys.stderr.isatty()
    if not final and not terminal and checked % 1000:
        return
    elapsed = max(time.monotonic() - started, 1e-6)
    rate = max(checked - earlier, 0) / elapsed
    line = (
        f"{checked}{'' if total is None else f'/{total}'} files, {counts[Outcome.MATCH]} matched, "
        f"{counts[Outcome.INDETERMINATE]} not checked, {rate:,.0f} files/s"
    )
    if earlier:
        line += f" ({earlier} hashed in an earlier run, from the state file, and asked again)"
    if total and not final and rate > 0:
        remaining = max(total - checked, 0) / rate
        line += f", ETA {int(remaining // 60)}:{int(remaining % 60):02d}"
    if terminal and not final:
        share = min(checked / total, 1.0) if total else 0.0
        bar = "#" * int(share * 20) + "." * (20 - int(share * 20))
        sys.stderr.write(f"\r[{bar}] {line}")
    else:
        sys.stderr.write(line + "\n")
    sys.stderr.flush()


def quarantine_list(args: argparse.Namespace, settings: Settings) -> int:
    """The files in the quarantine: where each came from, when, and what it matched."""
    try:
        held = Quarantine.existing(args.quarantine).held()
    except NoQuarantine as exc:
        print(f"hashcheck: {exc}", file=sys.stderr)
        return ExitCode.NOT_FOUND
    for record in sorted(held, key=lambda r: str(r["at"])):
        if args.json:
            sys.stdout.write(json.dumps(record, sort_keys=True) + "\n")
            continue
        matches = record.get("matches") or []
        lists = ",".join(sorted({str(m.get("list")) for m in matches})) or "-"
        # Several hashes of one file (its MD5 and its PDQ, a video's frames) match one item.
        matched = dict.fromkeys(str(m["item"]) for m in matches if m.get("item") is not None)
        items = ",".join(matched)
        sys.stdout.write(
            f"{record['at']}  {record['stored']}  {record['original']}  lists {lists}"
            f"  items {items or '-'}\n"
        )
    print(f"{len(held)} file(s) held", file=sys.stderr)
    return ExitCode.OK


def restore_files(args: argparse.Namespace, settings: Settings) -> int:
    """Put quarantined files back: named ones, or those whose every matched item the service
    retracted."""
    try:
        vault = Quarantine.existing(args.quarantine)
        chosen = None if args.retracted else vault.held_from(args.paths)
    except (NoQuarantine, NotHeld) as exc:
        print(f"hashcheck: {exc}", file=sys.stderr)
        return ExitCode.NOT_FOUND
    cursor = None
    if chosen is None:
        if not settings.client_id or not settings.client_secret:
            print("hashcheck: set HASHCHECK_CLIENT_ID and HASHCHECK_CLIENT_SECRET", file=sys.stderr)
            return ExitCode.CONFIG
        with _client(settings) as client:
            try:
                items, cursor = client.retractions(vault.cursor())
            except CredentialsRefused as exc:
                return _refused(exc)
            except Unanswered as exc:
                print(f"hashcheck: {exc}", file=sys.stderr)
                return ExitCode.UNCHECKED
        retracted = vault.remember_retracted(items)
        chosen = [r for r in vault.held() if retracted.covers(r)]
        reason = "every matched item retracted by the service"
    else:
        reason = "restored by the operator"
    failed = False
    for record in chosen:
        try:
            back = vault.restore(record, reason)
            print(f"restored {back}")
        except OSError as exc:
            print(f"hashcheck: {record['original']}: {exc}", file=sys.stderr)
            failed = True
    if cursor is not None:
        vault.save_cursor(cursor)  # only after every retracted file was handled
    print(
        f"{len(chosen)} file(s) to restore, {'some' if failed else 'none'} failed", file=sys.stderr
    )
    return ExitCode.REJECTED if failed else ExitCode.OK


def _watch(
    args: argparse.Namespace,
    settings: Settings,
    roots: list[Path],
    filters: Filters,
    hashing: Hashing,
    vault: _Vault,
) -> int:
    """Check files as they arrive until SIGINT or SIGTERM."""
    if len(roots) != 1 or not roots[0].is_dir():
        print("hashcheck: --watch takes one folder", file=sys.stderr)
        return ExitCode.USAGE
    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stop.set())
    counts = dict.fromkeys(Outcome, 0)
    started = time.monotonic()
    report_out: Any = args.report.open("a", encoding="utf-8") if args.report else sys.stdout
    writer = _Writer(report_out, args.format)
    state = ScanState(args.state, fresh=args.rescan) if args.state else None

    def on_report(report: FileReport) -> None:
        vault.take(report, client)
        writer.write(report)
        counts[report.outcome] += 1
        if state is not None:
            state.record(report)

    def on_notice(text: str) -> None:
        print(f"hashcheck: {text}", file=sys.stderr, flush=True)

    try:
        with _client(settings) as client:
            watch(
                client,
                roots[0],
                on_report,
                stop,
                filters=filters,
                hashing=hashing,
                on_notice=on_notice,
                earlier=state.earlier if state is not None else lambda _: None,
            )
    finally:
        if report_out is not sys.stdout:
            report_out.close()
        if state is not None:
            state.close()
    _progress(counts, started, final=True)
    if counts[Outcome.MATCH]:
        return ExitCode.MATCHES
    return ExitCode.UNCHECKED if counts[Outcome.INDETERMINATE] else ExitCode.OK
