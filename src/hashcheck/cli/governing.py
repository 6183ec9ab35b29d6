"""The handlers of the governance commands: categories, lists on/off, shadow batches, holds,
disputes, proposals, policy and operator accounts. Each opens the store, calls `admin`, prints.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from hashcheck.admin import batches, categories, disputes, governance, items, operators, reach
from hashcheck.admin.errors import UnknownName
from hashcheck.admin.operators import Role, acting
from hashcheck.admin.setup import open_key
from hashcheck.catalog.policy import SETTINGS, Policy
from hashcheck.cli.common import opened_store, report_change, say
from hashcheck.cli.exitcodes import ExitCode
from hashcheck.cli.output import as_json, render
from hashcheck.config import Settings
from hashcheck.hashes.keyed import Digester
from hashcheck.hashes.matchid import MatchIds


def categories_list(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        found = categories.listing(store, actor=acting(store, settings.operator))
    rows = [
        (
            c.name,
            c.severity,
            "enabled" if c.enabled else "disabled",
            "yes" if c.two_person else "no",
            c.description,
        )
        for c in found
    ]
    keys = ("name", "severity", "status", "two_person", "description")
    say(render(keys, rows, args.format))
    return ExitCode.OK


def categories_enable(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        change = governance.enable_category(
            store, args.name, actor=acting(store, settings.operator)
        )
    return report_change(change, args.json)


def _report_disabled(what: str, changed: bool, stranded: list[str], json_output: bool) -> int:
    """A list or category switched off, and which enabled clients can match nothing now."""
    if json_output:
        say(as_json({"changed": changed, "clients_matching_nothing": stranded}))
        return ExitCode.OK
    say(f"{what} {'disabled' if changed else 'was disabled already'}")
    if stranded:
        say(
            f"WARNING: {len(stranded)} enabled clients can match nothing now (every check they "
            f"send answers false): {', '.join(stranded)}"
        )
    return ExitCode.OK


def categories_disable(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        changed = governance.disable_category(
            store, args.name, actor=acting(store, settings.operator)
        )
        stranded = reach.stranded(store)
    return _report_disabled(f"category {args.name}", changed, stranded, args.json)


def lists_enable(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        change = governance.enable_list(store, args.name, actor=acting(store, settings.operator))
    return report_change(change, args.json)


def lists_pdq_threshold(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        change = governance.set_pdq_threshold(
            store, args.name, args.threshold, actor=acting(store, settings.operator)
        )
    return report_change(change, args.json)


def lists_disable(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        changed = governance.disable_list(store, args.name, actor=acting(store, settings.operator))
        stranded = reach.stranded(store)
    return _report_disabled(f"list {args.name}", changed, stranded, args.json)


def batches_promote(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        change = governance.promote(store, args.batch_id, actor=acting(store, settings.operator))
    return report_change(change, args.json)


def batches_show(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        line = batches.show(store, args.batch_id, actor=acting(store, settings.operator))
    batch = line.record
    summary: dict[str, Any] = dict(line.shadow or {})
    summary.update(
        {
            "list": line.list_name,
            "kind": batch.kind,
            "source": batch.source,
            "actor": batch.actor,
            "at": batch.committed_at,
            "categories": list(line.categories),
            "shadow": batch.shadow,
        }
    )
    if args.json:
        say(as_json(summary))
        return ExitCode.OK
    for key in ("batch", "list", "kind", "state", "source", "actor", "at", "categories", "live"):
        value = summary[key]
        say(f"{key + ':':12}{', '.join(value) if isinstance(value, list) else value}")
    if batch.shadow:
        say(
            f"{'shadow:':12}{summary['would_be_matches']} would-be matches "
            f"for {summary['clients']} clients"
        )
        for client_id, count in summary["per_client"].items():
            say(f"{'':12}{client_id}: {count}")
    return ExitCode.OK


def holds_list(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        found = disputes.holds(store, state=args.state, actor=acting(store, settings.operator))
        names = {item.list_id: item.name for item in store.lists()}
    keys = ("item", "list", "state", "clients", "since", "reason")
    shown = [disputes.hold_dict(h, names) for h in found]
    say(render(keys, [tuple(h[k] for k in keys) for h in shown], args.format))
    return ExitCode.OK


def holds_release(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        disputes.release(store, args.item_id, actor=acting(store, settings.operator))
    say(f"item {args.item_id} released from hold: it answers normally again")
    return ExitCode.OK


def disputes_list(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        found = disputes.listing(store, state=args.state, actor=acting(store, settings.operator))
        names = {item.list_id: item.name for item in store.lists()}
    keys = ("dispute", "client", "item", "list", "state", "opened_at", "reason")
    shown = [disputes.dispute_dict(d, names) for d in found]
    say(render(keys, [tuple(d[k] for k in keys) for d in shown], args.format))
    return ExitCode.OK


def disputes_show(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        acting(store, settings.operator).require(Role.VIEWER, "reading disputes")
        record = store.dispute(args.dispute_id)
        names = {item.list_id: item.name for item in store.lists()}
    say(as_json(disputes.dispute_dict(record, names)))
    return ExitCode.OK


def items_show(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        key = open_key(store, settings.key_file)
        found = items.find(
            store,
            Digester(key),
            MatchIds(key),
            args.query,
            actor=acting(store, settings.operator),
            list_name=args.list_name,
        )
        if not found:
            raise UnknownName(f"no item matches {args.query!r}")
        say(as_json([items.view(store, item) for item in found]))
    return ExitCode.OK


def disputes_comment(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        disputes.comment(store, args.dispute_id, args.text, actor=acting(store, settings.operator))
    say(f"comment added to dispute {args.dispute_id}")
    return ExitCode.OK


def _resolve(args: argparse.Namespace, settings: Settings, upheld: bool) -> int:
    with opened_store(settings) as store:
        record = disputes.resolve(
            store,
            args.dispute_id,
            upheld=upheld,
            comment_text=args.reason,
            actor=acting(store, settings.operator),
        )
    if upheld:
        say(
            f"dispute {record.dispute_id} upheld: entry {record.entry_id} retracted (clients "
            "that matched it find it on their retraction feed) and its hash made known-good"
        )
    else:
        say(f"dispute {record.dispute_id} rejected")
    return ExitCode.OK


def disputes_uphold(args: argparse.Namespace, settings: Settings) -> int:
    return _resolve(args, settings, True)


def disputes_reject(args: argparse.Namespace, settings: Settings) -> int:
    return _resolve(args, settings, False)


def proposals_list(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        found = governance.proposals(
            store, state=args.state, actor=acting(store, settings.operator)
        )
    rows = [
        (
            p.proposal_id,
            p.action,
            p.subject,
            json.dumps(p.detail, sort_keys=True),
            p.state,
            p.proposed_by,
            p.proposed_at,
            p.decided_by or "",
        )
        for p in found
    ]
    keys = ("proposal", "action", "subject", "detail", "state", "proposed_by", "at", "decided_by")
    say(render(keys, rows, args.format))
    return ExitCode.OK


def _decide(args: argparse.Namespace, settings: Settings, approve: bool) -> int:
    with opened_store(settings) as store:
        record = governance.decide(
            store, args.proposal_id, approve=approve, actor=acting(store, settings.operator)
        )
    say(f"proposal {record.proposal_id} ({record.action} {record.subject}) {record.state}")
    return ExitCode.OK


def proposals_approve(args: argparse.Namespace, settings: Settings) -> int:
    return _decide(args, settings, True)


def proposals_reject(args: argparse.Namespace, settings: Settings) -> int:
    return _decide(args, settings, False)


def policy_show(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        stored = store.policies()
    Policy.parse(stored)
    rows = [
        (s.name, stored.get(s.name, s.default), "set" if s.name in stored else "default", s.help)
        for s in SETTINGS
    ]
    say(render(("name", "value", "source", "meaning"), rows, args.format))
    return ExitCode.OK


def policy_set(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        change = governance.set_policy(
            store, args.name, args.value, actor=acting(store, settings.operator)
        )
    return report_change(change, args.json)


def operators_add(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        made = operators.add_several(
            store, args.names, Role.parse(args.role), actor=acting(store, settings.operator)
        )
    if args.json:
        shown = [
            {"name": m.name, "role": m.role.label, "secret": m.secret} | m.change.as_dict()
            for m in made
        ]
        say(as_json(shown[0] if len(shown) == 1 else shown))
    else:
        for account in made:
            say(
                f"operator {account.name} ({account.role.label}) added; admin API secret: "
                f"{account.secret}"
            )
            if not account.change.applied:
                say(f"  disabled until then: {account.change.message}")
        say("Secrets are shown only now; hashcheck keeps only a slow hash of each.")
    return ExitCode.OK if all(m.change.applied for m in made) else ExitCode.PENDING


def operators_list(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        rows = [
            (o.name, o.role, "enabled" if o.enabled else "disabled", o.created_by or "")
            for o in store.operators()
        ]
    say(render(("name", "role", "status", "created_by"), rows, args.format))
    return ExitCode.OK


def operators_disable(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        change = operators.set_enabled(
            store, args.name, False, actor=acting(store, settings.operator)
        )
    return report_change(change, args.json)


def operators_enable(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        change = operators.set_enabled(
            store, args.name, True, actor=acting(store, settings.operator)
        )
    return report_change(change, args.json)


def operators_role(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        change = operators.set_role(
            store, args.name, Role.parse(args.role), actor=acting(store, settings.operator)
        )
    return report_change(change, args.json)


def operators_rotate(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        secret = operators.rotate(store, args.name, actor=acting(store, settings.operator))
    say(as_json({"name": args.name, "secret": secret}) if args.json else f"new secret: {secret}")
    return ExitCode.OK
