"""The CLI's face of takedown timing: notices to clients (issue, list, withdraw). The work is
`admin.takedown`'s."""

from __future__ import annotations

import argparse

from hashcheck.admin import takedown
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
