"""`hashcheck scan PATH...`: the client-side sweep of stored files, with a report, resume, and
an exit code that never says "clean" for a file that was not checked. No server dependency.
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
from hashcheck.client.quarantine import Quarantine
from hashcheck.client.results import Outcome
from hashcheck.client.scan import FileReport, Filters, scan, walk
from hashcheck.client.sync import HashcheckClient, Unanswered
from hashcheck.client.watch import watch
from hashcheck.config import Settings

CSV_FIELDS = ("path", "outcome", "size", "md5", "sha1", "sha256", "lists", "reason")


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


def _done(state: Path | None) -> set[str]:
    if state is None or not state.exists():
        return set()
    return {line.rstrip("\n") for line in state.open(encoding="utf-8") if line.strip()}


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
            lists = ";".join(sorted({m["list"] for m in row["matches"]}))
            self._csv.writerow(
                [
                    row["path"],
                    row["outcome"],
                    row["size"],
                    row.get("md5", ""),
                    row.get("sha1", ""),
                    row.get("sha256", ""),
                    lists,
                    row["reason"] or "",
                ]
            )
        self._out.flush()


def scan_paths(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.client_id or not settings.client_secret:
        print("hashcheck: set HASHCHECK_CLIENT_ID and HASHCHECK_CLIENT_SECRET", file=sys.stderr)
        return ExitCode.CONFIG
    roots = [Path(p) for p in args.paths]
    missing = [str(p) for p in roots if not p.is_dir() and not p.is_file()]
    if missing:
        print(f"hashcheck: no such path: {', '.join(missing)}", file=sys.stderr)
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
    vault = Quarantine(args.quarantine) if args.action == "quarantine" else None
    if args.watch:
        return _watch(args, settings, roots, filters, vault)
    done = _done(args.state)
    # A quick walk first, for the total the progress line's ETA needs (no file is read).
    total = sum(
        1
        for item in walk(roots, filters)
        if not isinstance(item, FileReport) and str(item[0]) not in done
    )
    counts = dict.fromkeys(Outcome, 0)
    started = time.monotonic()
    report_out: Any = (
        args.report.open("a" if done else "w", encoding="utf-8") if args.report else sys.stdout
    )
    state_out = args.state.open("a", encoding="utf-8") if args.state else None
    try:
        writer = _Writer(report_out, args.format)
        with HashcheckClient(
            settings.service_url, settings.client_id, settings.client_secret
        ) as client:
            for report in scan(
                client,
                roots,
                filters=filters,
                skip=done.__contains__,
                workers=args.workers,
            ):
                if vault is not None and report.outcome is Outcome.MATCH:
                    held = vault.hold(Path(report.path), report.as_dict())
                    report.reason = f"quarantined as {held.stored}"
                writer.write(report)
                counts[report.outcome] += 1
                if state_out is not None and report.hashes:
                    state_out.write(report.path + "\n")
                    state_out.flush()
                _progress(counts, started, total)
    finally:
        if report_out is not sys.stdout:
            report_out.close()
        if state_out is not None:
            state_out.close()
    sys.stderr.write("\n" if sys.stderr.isatty() else "")
    _progress(counts, started, total, final=True)
    if counts[Outcome.MATCH]:
        return ExitCode.MATCHES
    if counts[Outcome.INDETERMINATE]:
        return ExitCode.UNCHECKED
    return ExitCode.OK


def _progress(
    counts: dict[Outcome, int], started: float, total: int | None = None, *, final: bool = False
) -> None:
    """A bar with rate and ETA on a terminal; a plain line every 1,000 files otherwise."""
    checked = sum(counts.values())
    terminal = sys.stderr.isatty()
    if not final and not terminal and checked % 1000:
        return
    elapsed = max(time.monotonic() - started, 1e-6)
    rate = checked / elapsed
    line = (
        f"{checked}{'' if total is None else f'/{total}'} files, {counts[Outcome.MATCH]} matched, "
        f"{counts[Outcome.INDETERMINATE]} not checked, {rate:,.0f} files/s"
    )
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


def restore_files(args: argparse.Namespace, settings: Settings) -> int:
    """Put quarantined files back: named ones, or those whose matches the service retracted."""
    vault = Quarantine(args.quarantine)
    held = vault.held()
    if args.retracted:
        if not settings.client_id or not settings.client_secret:
            print("hashcheck: set HASHCHECK_CLIENT_ID and HASHCHECK_CLIENT_SECRET", file=sys.stderr)
            return ExitCode.CONFIG
        with HashcheckClient(
            settings.service_url, settings.client_id, settings.client_secret
        ) as client:
            try:
                items, cursor = client.retractions(vault.cursor())
            except Unanswered as exc:
                print(f"hashcheck: {exc}", file=sys.stderr)
                return ExitCode.UNCHECKED
        retracted = vault.remember_retracted({str(item["match_id"]) for item in items})
        # Back only when every item the file matched is retracted: one retraction covers all
        # of an item's hashes, but a file on two lists matched two items.
        chosen = [
            r
            for r in held
            if r.get("matches")
            and all(m.get("match_id") in retracted for m in r.get("matches", []))
        ]
        reason = "match retracted by the service"
    else:
        wanted = {str(Path(p).absolute()) for p in args.paths}
        chosen = [r for r in held if r["original"] in wanted]
        reason = "restored by the operator"
        cursor = None
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
    return ExitCode.REJECTED if failed else ExitCode.OK


def _watch(
    args: argparse.Namespace,
    settings: Settings,
    roots: list[Path],
    filters: Filters,
    vault: Quarantine | None,
) -> int:
    """Check files as they arrive until SIGINT or SIGTERM."""
    if len(roots) != 1 or not roots[0].is_dir():
        print("hashcheck: --watch takes one folder", file=sys.stderr)
        return ExitCode.USAGE
    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stop.set())
    counts = dict.fromkeys(Outcome, 0)
    report_out: Any = args.report.open("a", encoding="utf-8") if args.report else sys.stdout
    writer = _Writer(report_out, args.format)

    def on_report(report: FileReport) -> None:
        if vault is not None and report.outcome is Outcome.MATCH:
            report.reason = (
                f"quarantined as {vault.hold(Path(report.path), report.as_dict()).stored}"
            )
        writer.write(report)
        counts[report.outcome] += 1

    try:
        with HashcheckClient(
            settings.service_url, settings.client_id, settings.client_secret
        ) as client:
            watch(client, roots[0], on_report, stop, filters=filters)
    finally:
        if report_out is not sys.stdout:
            report_out.close()
    _progress(counts, time.monotonic(), final=True)
    if counts[Outcome.MATCH]:
        return ExitCode.MATCHES
    return ExitCode.UNCHECKED if counts[Outcome.INDETERMINATE] else ExitCode.OK
