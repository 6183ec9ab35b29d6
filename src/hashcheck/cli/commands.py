"""The handlers behind each `hashcheck` command: open the store, call admin, print."""

from __future__ import annotations

import argparse

from hashcheck.admin import audit as trail
from hashcheck.admin import (
    batches,
    clients,
    dates,
    governance,
    importing,
    lists,
    reach,
    suppliers,
    takedown,
)
from hashcheck.admin import stats as usage
from hashcheck.admin.bounds import ImportBounds
from hashcheck.admin.errors import ImportRejected
from hashcheck.admin.operators import Role, acting
from hashcheck.admin.setup import initialise, open_key
from hashcheck.catalog.model import Grant
from hashcheck.cli.common import opened_store, report_change, say, warn_reach
from hashcheck.cli.exitcodes import ExitCode
from hashcheck.cli.output import as_json, render
from hashcheck.cli.progress import ProgressBar
from hashcheck.config import Settings, redacted
from hashcheck.hashes.keyed import Digester
from hashcheck.hashes.sealing import Sealer
from hashcheck.store.interface import Store


def _fmt(args: argparse.Namespace) -> str:
    return "json" if args.json else "table"


def _as(store: Store, settings: Settings, role: Role = Role.OPERATOR) -> str:
    """The acting operator's name, once their role is known to allow a change."""
    actor = acting(store, settings.operator)
    actor.require(role, "this change")
    return actor.name


def _bounds(settings: Settings) -> ImportBounds:
    return ImportBounds.of(
        settings.import_max_unpacked_mb,
        settings.import_temp_reserve_mb,
        settings.import_max_seconds,
    )


def init(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings, create=True) as store:
        key, created = initialise(store, settings.key_file)
    verb = "created" if created else "kept existing"
    say(f"{verb} list key {key.key_id} in {settings.key_file}")
    say(f"database ready at {redacted(settings.database_url)}")
    if created:
        say("Back up the key file separately from the database: without it, lists are lost.")
    return ExitCode.OK


def migrate(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings, migrate=False) as store:
        version = store.migrate()
    say(f"database schema is at version {version}")
    return ExitCode.OK


def serve(args: argparse.Namespace, settings: Settings) -> int:
    from hashcheck.cli.serve import serve as run

    run(settings, with_demo=args.demo)
    return ExitCode.OK


def clients_add(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        issued = clients.add_client(
            store,
            args.name,
            actor=_as(store, settings),
            client_id=args.client_id,
            grants=[] if args.no_default_grant else None,
        )
        found = reach.of_client(store, issued.client_id)
    if args.json:
        extra = {} if found is None else found.as_dict()
        say(as_json({"client_id": issued.client_id, "secret": issued.secret, **extra}))
    else:
        say(f"client id: {issued.client_id}\nsecret:    {issued.secret}")
        say("The secret is shown only now; hashcheck keeps only a slow hash of it.")
        warn_reach(found)
    return ExitCode.OK


def clients_list(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        found = clients.listing(store, actor=acting(store, settings.operator))
    if args.json:
        say(
            as_json(
                [
                    {
                        "client_id": line.client.client_id,
                        "name": line.client.name,
                        "status": "enabled" if line.client.enabled else "disabled",
                        "grants": "; ".join(line.grants) or "(nothing)",
                        "requests_per_second": line.client.requests_per_second,
                        "work_per_second": line.client.work_per_second,
                        "takedown_deadline_hours": line.client.takedown_deadline_hours,
                        **line.reach.as_dict(),
                    }
                    for line in found
                ]
            )
        )
        return ExitCode.OK
    rows = [
        (
            line.client.client_id,
            line.client.name,
            "enabled" if line.client.enabled else "disabled",
            "; ".join(line.grants) or "(nothing)",
            f"{_rate(line.client.requests_per_second)} req/s, "
            f"{_rate(line.client.work_per_second)} work/s",
            "yes" if line.reach.can_match else "NO",
        )
        for line in found
    ]
    say(render(("client_id", "name", "status", "grants", "budgets", "can_match"), rows, "table"))
    for line in found:
        warn_reach(line.reach)
    return ExitCode.OK


def clients_disable(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        store.set_client_enabled(args.client_id, False, actor=_as(store, settings))
    say(f"client {args.client_id} disabled")
    return ExitCode.OK


def clients_enable(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        store.set_client_enabled(args.client_id, True, actor=_as(store, settings))
        found = reach.of_client(store, args.client_id)
    say(f"client {args.client_id} enabled")
    warn_reach(found)
    return ExitCode.OK


def clients_budgets(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        done = clients.set_budgets(
            store,
            args.client_id,
            requests_per_second=getattr(args, "requests_per_second", clients.KEEP),
            work_per_second=getattr(args, "work_per_second", clients.KEEP),
            actor=acting(store, settings.operator),
        )
    if args.json:
        say(as_json(done.as_dict()))
    else:
        say(
            f"client {done.client_id}: {_rate(done.requests_per_second)} requests and "
            f"{_rate(done.work_per_second)} work per second on each node"
            + ("" if done.changed else " (unchanged)")
        )
    return ExitCode.OK


def clients_deadline(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        done = takedown.set_deadline(
            store,
            args.client_id,
            None if args.policy else args.hours,
            actor=acting(store, settings.operator),
        )
    if args.json:
        say(as_json(done.as_dict()))
    else:
        whose = "the policy's" if done.agreed is None else "its agreement's"
        say(
            f"client {done.client_id}: {done.hours} hours to act on a hit or notice ({whose})"
            + ("" if done.changed else " (unchanged)")
        )
    return ExitCode.OK


def _rate(value: int | None) -> str:
    return "the node's" if value is None else "unlimited" if value == 0 else f"{value:,}"


def clients_rotate(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        issued = clients.rotate_secret(store, args.client_id, actor=_as(store, settings))
    if args.json:
        say(as_json({"client_id": issued.client_id, "secret": issued.secret}))
    else:
        say(f"new secret for {issued.client_id}: {issued.secret}")
    return ExitCode.OK


def _grant(args: argparse.Namespace, store: Store) -> Grant:
    return clients.resolve_grant(
        store,
        None if args.all_lists else args.list_name,
        None if args.all_categories else args.category,
    )


def clients_grant(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        change = governance.grant(
            store, args.client_id, _grant(args, store), actor=acting(store, settings.operator)
        )
        found = reach.of_client(store, args.client_id)
    return report_change(change, args.json, found)


def clients_revoke(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        grant = _grant(args, store)
        existed = governance.revoke(
            store, args.client_id, grant, actor=acting(store, settings.operator)
        )
        text = clients.describe_grant(store, grant)
        found = reach.of_client(store, args.client_id)
    if args.json:
        extra = {} if found is None else found.as_dict()
        say(as_json({"client_id": args.client_id, "revoked": existed, **extra}))
    elif existed:
        say(f"{args.client_id} no longer checks {text}")
        warn_reach(found)
    else:
        say(f"{args.client_id} had no grant for {text}; nothing changed")
    return ExitCode.OK if existed else ExitCode.NOT_FOUND


def lists_add(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        created = store.add_list(
            args.name,
            args.supplier,
            args.description,
            actor=_as(store, settings),
            known_good=args.known_good,
        )
    say(f"list {created.name} created (supplier: {created.supplier})")
    return ExitCode.OK


def lists_list(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        shown = lists.listing(store)
    rows = [tuple(row[key] for key in lists.COLUMNS) for row in shown]
    say(render(lists.COLUMNS, rows, _fmt(args)))
    return ExitCode.OK


def import_(args: argparse.Namespace, settings: Settings) -> int:
    if (args.file is None) == (not args.hashes):
        raise ImportRejected("give either FILE or one or more --hash values")
    with opened_store(settings) as store:
        key = open_key(store, settings.key_file)
        bar = ProgressBar(f"importing {args.file.name if args.file else 'hashes'}")
        try:
            if args.file is None and args.format in ("pdq", "vpdq"):
                raise ImportRejected(f"--format {args.format} imports a file, not --hash")
            report = importing.import_file(
                store,
                Digester(key),
                args.list_name,
                args.file if args.file is not None else args.hashes,
                actor=_as(store, settings),
                fmt=args.format,
                category=args.category,
                columns=importing.column_map("--column", args.column),
                category_column=args.category_column,
                category_map=importing.category_map("--map", args.category_map),
                skip_invalid=args.skip_invalid,
                progress=bar,
                shadow=args.shadow,
                sealer=Sealer(key),
                replace=args.replace,
                confirm_removals=args.confirm_removals,
                dry_run=args.dry_run,
                bounds=_bounds(settings),
            )
        finally:
            bar.finish()
    if args.json:
        say(as_json(report.as_dict()))
        return ExitCode.OK
    if report.dry_run:
        say("DRY RUN: nothing was changed; without --dry-run this import would do the following")
    if report.shadow:
        say(
            f"SHADOW MODE: batch {report.batch_id} is counted, not answered; see "
            f"`hashcheck batches show {report.batch_id}`, then `batches promote` or `rollback`"
        )
    done = "would import into" if report.dry_run else "imported into"
    batch = "dry run" if report.dry_run else f"batch {report.batch_id}"
    say(
        f"{done} {report.list_name} ({batch}) in {report.seconds:.1f}s: "
        f"{report.records_read} items read: {report.added} added, {report.changed} changed, "
        f"{report.unchanged} unchanged, {report.skipped_total} skipped, "
        f"{report.invalid} invalid; {report.hashes_added} hashes added"
    )
    if report.removed:
        say(
            f"  {report.removed} items taken off the list with all their hashes"
            + (f" ({report.replaced} not in this complete delivery)" if report.replaced else "")
        )
    if report.deletions_read:
        say(
            f"  {report.deletions_read} deletion records in the file; "
            f"{report.not_found} named nothing on the list"
        )
    for change in report.recategorised:
        say(
            f"  item {change['item']}"
            + (f" ({change['ref']})" if change["ref"] else "")
            + f": {change['before']} -> {change['after']}"
            + (f" (supplier value {change['after_value']})" if change["after_value"] else "")
        )
    if report.changed > len(report.recategorised):
        say(f"  ... and {report.changed - len(report.recategorised)} more changed")
    if report.empty_file_dropped:
        say(f"  {report.empty_file_dropped} empty-file hashes dropped")
    if report.known_good_collisions:
        say(
            f"  WARNING: {report.known_good_collisions} hashes are also on a list of the other "
            "kind (known-good vs not): they will never match. See `hashcheck lists collisions`."
        )
    for warning in report.warnings:
        say(f"  WARNING: {warning}")
    for reason, count in report.skipped.items():
        say(f"  skipped: {count} x {reason}")
    for error in report.errors:
        say(f"  invalid, not imported: {error}")
    return ExitCode.OK


def remove(args: argparse.Namespace, settings: Settings) -> int:
    if (args.file is None) == (not args.hashes):
        raise ImportRejected("give either FILE or one or more --hash values")
    with opened_store(settings) as store:
        digester = Digester(open_key(store, settings.key_file))
        if args.file is not None:
            report = importing.remove_file(
                store,
                digester,
                args.list_name,
                args.file,
                actor=_as(store, settings),
                fmt=args.format,
                skip_invalid=args.skip_invalid,
                bounds=_bounds(settings),
            )
        else:
            report = importing.remove_hashes(
                store, digester, args.list_name, args.hashes, actor=_as(store, settings)
            )
    if args.json:
        say(as_json(report.as_dict()))
    else:
        say(
            f"removed from {report.list_name} (batch {report.batch_id}): {report.removed} "
            f"removed, {report.not_found} not on the list, {report.invalid} invalid skipped"
        )
    return ExitCode.OK


def stats(args: argparse.Namespace, settings: Settings) -> int:
    since = None if args.since is None else dates.day(args.since, "--since")
    with opened_store(settings) as store:
        lines = usage.read(store, client=args.client, list_name=args.list_name, since=since)
    rows = [(s.day, s.client, s.list, s.checked, s.matched) for s in lines]
    say(render(("day", "client", "list", "checked", "matched"), rows, args.format))
    return ExitCode.OK


def audit(args: argparse.Namespace, settings: Settings) -> int:
    if args.limit < 1:
        raise ImportRejected("--limit must be at least 1")
    since = None if args.since is None else dates.moment(args.since, "--since")
    with opened_store(settings) as store:
        records = trail.read(store, args.limit, actor=args.actor, action=args.action, since=since)
    rows = [(r.at, r.actor, r.action, r.subject, r.detail) for r in records]
    say(render(("at", "actor", "action", "subject", "detail"), rows, args.format))
    return ExitCode.OK


def suppliers_map(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        changed = suppliers.map_value(
            store, args.supplier, args.value, args.category, actor=_as(store, settings)
        )
    state = "now maps" if changed else "already maps"
    say(f"{args.supplier}: {args.value} {state} to {args.category}")
    return ExitCode.OK


def suppliers_unmap(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        changed = suppliers.unmap_value(
            store, args.supplier, args.value, actor=_as(store, settings)
        )
    if not changed:
        say(f"{args.supplier}: {args.value} was not mapped; nothing changed")
        return ExitCode.NOT_FOUND
    say(f"{args.supplier}: {args.value} is no longer mapped")
    return ExitCode.OK


def suppliers_show(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        rows = suppliers.show(store, args.supplier)
    say(render(("value", "category"), rows, args.format))
    return ExitCode.OK


def batches_list(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        found = batches.listing(
            store,
            actor=acting(store, settings.operator),
            list_name=args.list_name,
            limit=args.limit,
        )
    rows = [
        (
            line.record.batch_id,
            line.list_name,
            line.record.kind,
            line.record.state,
            line.record.source,
            line.record.actor,
            line.record.committed_at,
            line.record.added,
            line.record.unchanged,
            line.record.live,
        )
        for line in found
    ]
    keys = (
        "batch",
        "list",
        "kind",
        "state",
        "source",
        "actor",
        "at",
        "changed",
        "unchanged",
        "live",
    )
    say(render(keys, rows, args.format))
    return ExitCode.OK


def batches_rollback(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        outcome = governance.rollback(store, args.batch_id, actor=acting(store, settings.operator))
    if args.json:
        say(
            as_json(
                {
                    "batch": args.batch_id,
                    "rollback_batch": outcome.batch_id,
                    "removed": outcome.removed,
                }
            )
        )
    else:
        say(
            f"batch {args.batch_id} rolled back (batch {outcome.batch_id}): {outcome.removed} entries removed"
        )
    return ExitCode.OK


def lists_collisions(args: argparse.Namespace, settings: Settings) -> int:
    with opened_store(settings) as store:
        found = store.known_good_collisions(max(args.limit, 1))
    rows = [(c.list_name, c.category, c.item_id, c.batch_id, c.known_good_list) for c in found]
    keys = ("list", "category", "item", "batch", "known_good_list")
    say(render(keys, rows, args.format))
    return ExitCode.OK
