"""The CLI's face of takedown timing: notices to clients (issue, list, withdraw) and the
monthly report. The work is `admin.takedown`'s."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from hashcheck.admin import takedown, takedownhtml
from hashcheck.admin.operators import acting
from hashcheck.cli.common import opened_store, say
from hashcheck.cli.exitcodes import ExitCode
from hashcheck.cli.output import as_json, render
from hashcheck.config import Settings


def notices_issue(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        done = takedown.issue_notice(
            store,
            args.client_id,
            args.item_id,
            url=args.url,
            actor=acting(store, settings.operator),
        )
    shown = takedown.notice_dict(done.notice)
    if args.json:
        say(as_json({**shown, "new": done.new}))
    elif done.new:
        say(f"notice {shown['notice_id']} to {shown['client_id']}: act by {shown['deadline']}")
    else:
        say(
            f"{shown['client_id']} has notice {shown['notice_id']} about item {shown['item']} "
            f"already ({shown['state']}, due {shown['deadline']}): nothing new issued"
        )
    return ExitCode.OK


def notices_list(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        found = takedown.notices(
            store,
            client_id=args.client_id,
            state=args.state,
            actor=acting(store, settings.operator),
        )
    shown = [takedown.notice_dict(n) for n in found]
    if args.format == "json":
        say(as_json(shown))
        return ExitCode.OK
    keys = ("notice", "client", "item", "state", "issued_at", "deadline", "issued_by", "url")
    rows = [
        (
            n["notice_id"],
            n["client_id"],
            n["item"],
            n["state"],
            n["issued_at"],
            n["deadline"],
            n["issued_by"],
            n["url"] or "",
        )
        for n in shown
    ]
    say(render(keys, rows, args.format))
    return ExitCode.OK


def notices_withdraw(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        notice = takedown.withdraw_notice(
            store, args.notice_id, actor=acting(store, settings.operator)
        )
    if args.json:
        say(as_json(takedown.notice_dict(notice)))
    else:
        say(f"notice {notice.notice_id} to {notice.client_id} withdrawn")
    return ExitCode.OK


REPORT_COLUMNS = (
    "client",
    "hits",
    "acted_on",
    "within_1h",
    "within_12h",
    "within_24h",
    "within_deadline",
    "median_hours",
    "p90_hours",
    "overdue",
    "unanswered",
    "reappeared",
    "notices",
    "notices_removed_in_time",
    "notices_removed_late",
    "notices_open",
    "notices_overdue",
    "notices_withdrawn",
)


def report_takedown(args: argparse.Namespace, settings: Settings) -> int:
    if args.with_names and not args.publishable:
        print("hashcheck: --with-names goes with --publishable", file=sys.stderr)
        return ExitCode.USAGE
    with opened_store(settings) as store:
        found = takedown.report(
            store,
            args.month,
            client_id=args.client_id,
            publishable=args.publishable,
            with_names=args.with_names,
            actor=acting(store, settings.operator),
        )
    if args.format == "json":
        text = as_json(found)
    elif args.format == "html":
        text = takedownhtml.render(found)
    else:
        lines = [("all clients", found["overall"])]
        lines += [(str(c["client"]), c) for c in found["clients"]]
        text = render(REPORT_COLUMNS, [_line(name, f) for name, f in lines], args.format)
        if args.format == "table":
            text = f"takedown report {found['month']}: the clock runs {found['clock']}\n{text}"
    if args.output is None:
        say(text)
    else:
        args.output.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        say(f"wrote {args.output}")
    return ExitCode.OK


def _line(name: str, figures: Any) -> tuple[object, ...]:
    within = figures["acted_within"]
    notices = figures["notices"]
    return (
        name,
        figures["hits"],
        figures["acted_on"],
        _share(within["1h"]),
        _share(within["12h"]),
        _share(within["24h"]),
        _share(within["deadline"]),
        _blank(figures["median_hours_to_action"]),
        _blank(figures["p90_hours_to_action"]),
        figures["overdue"],
        figures["unanswered"],
        figures["reappeared"],
        notices["issued"],
        notices["removed_in_time"],
        notices["removed_late"],
        notices["open"],
        notices["overdue"],
        notices["withdrawn"],
    )


def _share(value: object) -> str:
    return "" if value is None else f"{float(str(value)) * 100:.1f}%"


def _blank(value: object) -> object:
    return "" if value is None else value
