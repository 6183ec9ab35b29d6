"""The CLI's face of the self-submission review: the queue, one case, activation, rejection,
and listing a client as a participating platform. The work is `admin.submissions`'s."""

from __future__ import annotations

import argparse

from hashcheck.admin import submissions
from hashcheck.admin.operators import acting
from hashcheck.cli.common import opened_store, say
from hashcheck.cli.exitcodes import ExitCode
from hashcheck.cli.output import as_json, render
from hashcheck.config import Settings


def submissions_list(args: argparse.Namespace, settings: Settings) -> int:
    state = None if args.state == "all" else args.state
    with opened_store(settings) as store:
        found = submissions.queue(store, state=state, actor=acting(store, settings.operator))
        shown = [submissions.case_dict(store, c) for c in found]
    if args.format == "json":
        say(as_json(shown))
        return ExitCode.OK
    keys = ("case", "state", "received", "files", "flagged")
    rows = [(c["case"], c["state"], c["received"], len(c["files"]), c["flagged"]) for c in shown]
    say(render(keys, rows, args.format))
    return ExitCode.OK


def submissions_show(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        record = submissions.show(store, args.case, actor=acting(store, settings.operator))
        say(as_json(submissions.case_dict(store, record)))
    return ExitCode.OK


def submissions_activate(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        record = submissions.activate(
            store,
            args.case,
            reason=args.reason,
            leave_out=args.leave_out,
            actor=acting(store, settings.operator),
        )
    kept = sum(1 for f in record.files if f.item_state == "active")
    say(
        f"case {record.case_number} activated: {kept} of its files' items answer remove to "
        f"the clients granted the list"
        + (f", {len(args.leave_out)} left out" if args.leave_out else "")
    )
    return ExitCode.OK


def submissions_reject(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        record = submissions.reject(
            store, args.case, reason=args.reason, actor=acting(store, settings.operator)
        )
    say(
        f"case {record.case_number} rejected: items no other case holds left the list (clients "
        "answered a match on them find it on their retraction feed)"
    )
    return ExitCode.OK


def clients_public_name(args: argparse.Namespace, settings: Settings) -> int:
    name = None if args.unlisted else args.name
    with opened_store(settings) as store:
        changed = submissions.list_publicly(
            store, args.client_id, name, actor=acting(store, settings.operator)
        )
    shown = "no longer listed" if name is None else f"listed as {name!r}"
    say(f"client {args.client_id}: {shown}" + ("" if changed else " (unchanged)"))
    return ExitCode.OK
