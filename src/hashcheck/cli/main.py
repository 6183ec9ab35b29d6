"""Argument parsing and dispatch for `hashcheck`, and the mapping of errors to exit codes.

Every command takes --database-url and --key-file (over HASHCHECK_* variables). Errors are
printed as one clear line on stderr, never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from hashcheck import installed_version
from hashcheck.admin.actions import ACTIONS
from hashcheck.admin.outcomes import outcome_of
from hashcheck.catalog.numbers import whole_number
from hashcheck.cli.exitcodes import ExitCode
from hashcheck.cli.extras import missing_extra
from hashcheck.config import Settings, SettingsError
from hashcheck.formats.names import FORMATS, IMPORT_FORMATS

Handler = Callable[[argparse.Namespace, Settings], int]
# Handlers are named "module.function" (a module of hashcheck.cli) and imported only when their
# command runs: `hashcheck hash` must work in a client-only install without the server's
# dependencies.
# NSRL RDS is an SQLite database, opened by path rather than parsed as a stream; PDQ lists
# (perceptual hashes) are never auto-detected: 64 hex characters could also be SHA-256.
REMOVE_FORMATS = [*FORMATS, "pdq", "vpdq"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(ExitCode.USAGE, f"{self.prog}: error: {message}\n")


def _whole(text: str) -> int:
    """A whole number as every face reads one: ASCII digits only (`int` takes "٣")."""
    value = whole_number(text)
    if value is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number (digits 0-9)")
    return value


def _budget(text: str) -> int | None:
    """A client's budget: a whole number (0: no limit), or `default` for the node's."""
    return None if text == "default" else _whole(text)


def _common() -> _Parser:
    common = _Parser(add_help=False)
    common.add_argument(
        "--database-url", default=argparse.SUPPRESS, help="overrides HASHCHECK_DATABASE_URL"
    )
    common.add_argument(
        "--key-file", type=Path, default=argparse.SUPPRESS, help="overrides HASHCHECK_KEY_FILE"
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = _Parser(
        prog="hashcheck",
        description="Self-hostable hash check service: keyed hash lists, clients, statistics.",
        parents=[common],
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"hashcheck {installed_version()}",
        help="print the version",
    )
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )

    def command(
        name: str, handler: str, help_text: str, into: argparse._SubParsersAction[_Parser] = sub
    ) -> _Parser:
        p = into.add_parser(name, help=help_text, description=help_text, parents=[common])
        p.set_defaults(handler=handler)
        return p

    command("init", "commands.init", "create the list key and the database schema (safe to repeat)")
    command("migrate", "commands.migrate", "bring the database schema up to date")
    hashes = command(
        "hash",
        "hashing.hash_files",
        "MD5, SHA-1, SHA-256 (one read per file) and PDQ of images; nothing is sent anywhere",
    )
    hashes.add_argument("files", nargs="+", metavar="FILE")
    hashes.add_argument("--json", action="store_true", help="one JSON object per line")
    hashes.add_argument("--no-pdq", action="store_true", help="skip the perceptual hash")
    hashes.add_argument(
        "--video", action="store_true", help="vPDQ frame hashes of videos (needs ffmpeg)"
    )
    hashes.add_argument(
        "--vpdq-line",
        action="store_true",
        help="print only each video's vPDQ line (the `import --format vpdq` form)",
    )
    hashes.add_argument(
        "--seconds-per-hash",
        type=float,
        default=1.0,
        help="vPDQ: hash a frame every this many seconds (0: every frame; default 1)",
    )
    scanning = command(
        "scan",
        "scanning.scan_paths",
        "check every file under PATH (a folder or a file) against the service (exit 0 clean, "
        "10 matches, 13 unchecked, 14 credentials refused)",
    )
    scanning.add_argument("paths", nargs="+", metavar="PATH")
    scanning.add_argument("--report", type=Path, help="write the report here (default stdout)")
    scanning.add_argument("--format", default="jsonl", choices=["jsonl", "csv"])
    scanning.add_argument(
        "--state", type=Path, help="resume file: each checked file's answer, appended"
    )
    scanning.add_argument(
        "--rescan", action="store_true", help="ignore the answers in --state and check every file"
    )
    scanning.add_argument(
        "--no-pdq",
        action="store_true",
        help="exact hashes only: no PDQ of images, no vPDQ of videos",
    )
    scanning.add_argument("--include", action="append", default=[], metavar="GLOB")
    scanning.add_argument("--exclude", action="append", default=[], metavar="GLOB")
    scanning.add_argument("--min-size", type=_whole, default=0, metavar="BYTES")
    scanning.add_argument("--max-size", type=_whole, metavar="BYTES")
    scanning.add_argument("--since", metavar="TIME", help="only files modified at or after (ISO)")
    scanning.add_argument("--workers", type=_whole, help="hashing threads")
    scanning.add_argument(
        "--action",
        default="report",
        choices=["report", "quarantine"],
        help="report only (default), or move matched files into --quarantine (never delete)",
    )
    scanning.add_argument(
        "--action-review",
        default="report",
        choices=["report", "quarantine"],
        help="what --action quarantine does with files whose matches are all `review` (near "
        "or held matches): report them (default) or quarantine them too",
    )
    scanning.add_argument("--quarantine", type=Path, metavar="DIR", help="the quarantine folder")
    scanning.add_argument(
        "--no-report-actions",
        action="store_true",
        help="do not tell the service which matches --action quarantine quarantined (it "
        "measures how fast hits are acted on)",
    )
    scanning.add_argument(
        "--watch",
        action="store_true",
        help="keep watching the one folder given and check files as they arrive (until "
        "SIGINT/SIGTERM)",
    )
    quarantine = command("quarantine", "scanning.quarantine_list", "the quarantine's files")
    quarantine.add_argument("action", choices=["list"])
    quarantine.add_argument("--quarantine", type=Path, required=True, metavar="DIR")
    quarantine.add_argument("--json", action="store_true", help="one JSON object per line")
    restoring = command(
        "restore", "scanning.restore_files", "put quarantined files back where they were"
    )
    restoring.add_argument("--quarantine", type=Path, required=True, metavar="DIR")
    which = restoring.add_mutually_exclusive_group(required=True)
    which.add_argument("--path", dest="paths", action="append", help="an original path")
    which.add_argument(
        "--retracted",
        action="store_true",
        help="every file whose match the service retracted (GET /v2/retractions)",
    )

    serve = command("serve", "commands.serve", "run the HTTP service")
    serve.add_argument("--host", help="listen address (HASHCHECK_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=_whole, help="listen port (HASHCHECK_PORT, default 8080)")
    serve.add_argument(
        "--workers", type=_whole, help="worker processes (HASHCHECK_WORKERS, default 1)"
    )
    serve.add_argument(
        "--demo", action="store_true", help="set up and serve a demo client and list in ./demo-data"
    )

    clients = sub.add_parser("clients", help="manage API clients", parents=[common])
    csub = clients.add_subparsers(
        dest="action", required=True, metavar="ACTION", parser_class=_Parser
    )
    add = command(
        "add", "commands.clients_add", "add a client; prints its id and secret once", csub
    )
    add.add_argument("name", help="a name for people, e.g. the hosting company")
    add.add_argument("--id", dest="client_id", help="client id (default: generated)")
    add.add_argument("--json", action="store_true", help="print id and secret as JSON")
    add.add_argument(
        "--no-default-grant",
        action="store_true",
        help="start with no grants instead of the baseline category of every list",
    )
    lst = command("list", "commands.clients_list", "list clients and their grants", csub)
    lst.add_argument("--json", action="store_true")
    for name, handler, text in (
        ("disable", "commands.clients_disable", "refuse a client's requests (within a second)"),
        ("enable", "commands.clients_enable", "accept a disabled client's requests again"),
    ):
        command(name, handler, text, csub).add_argument("client_id")
    rotate = command(
        "rotate", "commands.clients_rotate", "issue a new secret; the old one stops working", csub
    )
    rotate.add_argument("client_id")
    rotate.add_argument("--json", action="store_true")
    budgets = command(
        "budgets",
        "commands.clients_budgets",
        "set a client's own budgets on every node (a budget not given stays as it is)",
        csub,
    )
    budgets.add_argument("client_id")
    budgets.add_argument(
        "--requests-per-second",
        type=_budget,
        default=argparse.SUPPRESS,
        metavar="N|default",
        help="requests per second on each node; 0: no limit; default: the node's setting",
    )
    budgets.add_argument(
        "--work-per-second",
        type=_budget,
        default=argparse.SUPPRESS,
        metavar="N|default",
        help="exact-hash lookups per second on each node (a PDQ hash or video frame costs "
        "1,000); 0: no limit; default: the node's setting",
    )
    budgets.add_argument("--json", action="store_true")
    deadline = command(
        "deadline",
        "commands.clients_deadline",
        "the hours a client has to act on a hit or notice, where its agreement says so",
        csub,
    )
    deadline.add_argument("client_id")
    given = deadline.add_mutually_exclusive_group(required=True)
    given.add_argument("--hours", type=_whole, help="the hours its agreement gives it")
    given.add_argument(
        "--policy", action="store_true", help="the policy's takedown-deadline-hours again"
    )
    deadline.add_argument("--json", action="store_true")
    public = command(
        "public-name",
        "reviewing.clients_public_name",
        "list a client as a participating platform on the public self-submission page",
        csub,
    )
    public.add_argument("client_id")
    named = public.add_mutually_exclusive_group(required=True)
    named.add_argument("--name", help="the name the client agreed to be listed under")
    named.add_argument("--unlisted", action="store_true", help="no longer list it")
    for name, handler, text in (
        ("grant", "commands.clients_grant", "let a client check a list/category"),
        ("revoke", "commands.clients_revoke", "take a grant away"),
    ):
        g = command(name, handler, text, csub)
        g.add_argument("client_id")
        g.add_argument("--json", action="store_true")
        which_list = g.add_mutually_exclusive_group(required=True)
        which_list.add_argument("--list", dest="list_name", help="a list by name")
        which_list.add_argument(
            "--all-lists", action="store_true", help="every list, now and later"
        )
        which_category = g.add_mutually_exclusive_group(required=True)
        which_category.add_argument("--category", help="a category by name")
        which_category.add_argument(
            "--all-categories", action="store_true", help="every category (think twice)"
        )

    lists = sub.add_parser("lists", help="manage hash lists", parents=[common])
    lsub = lists.add_subparsers(
        dest="action", required=True, metavar="ACTION", parser_class=_Parser
    )
    ladd = command("add", "commands.lists_add", "create a list", lsub)
    ladd.add_argument("name")
    ladd.add_argument("--supplier", required=True, help="who delivers it")
    ladd.add_argument("--description", default="")
    ladd.add_argument(
        "--known-good",
        action="store_true",
        help="an allowlist (NSRL, CMS core files): its hashes never match, on any list",
    )
    llist = command("list", "commands.lists_list", "show lists with entry counts", lsub)
    llist.add_argument("--json", action="store_true")
    for name, handler, text in (
        ("enable", "governing.lists_enable", "let a disabled list match again (two-person rule)"),
        ("disable", "governing.lists_disable", "stop a list matching for anyone (at once)"),
    ):
        toggle = command(name, handler, text, lsub)
        toggle.add_argument("name")
        toggle.add_argument("--json", action="store_true")
    lthreshold = command(
        "pdq-threshold",
        "governing.lists_pdq_threshold",
        "the Hamming distance up to which a list's PDQ entries match (0-31, default 31)",
        lsub,
    )
    lthreshold.add_argument("name")
    lthreshold.add_argument("threshold", type=_whole)
    lthreshold.add_argument("--json", action="store_true")
    lcoll = command(
        "collisions",
        "commands.lists_collisions",
        "entries that never match because a known-good list has them too",
        lsub,
    )
    lcoll.add_argument("--limit", type=_whole, default=1000)
    lcoll.add_argument("--format", default="table", choices=["table", "json", "csv"])

    suppliers = sub.add_parser(
        "suppliers", help="map suppliers' category values onto categories", parents=[common]
    )
    ssub = suppliers.add_subparsers(
        dest="action", required=True, metavar="ACTION", parser_class=_Parser
    )
    smap = command("map", "commands.suppliers_map", "map one supplier value onto a category", ssub)
    smap.add_argument("supplier", help="as given to `lists add --supplier`")
    smap.add_argument("value", help="the supplier's value, e.g. vics:1, baseline:yes, ncmec:A1")
    smap.add_argument("category")
    sunmap = command("unmap", "commands.suppliers_unmap", "forget one supplier value", ssub)
    sunmap.add_argument("supplier")
    sunmap.add_argument("value")
    sshow = command("show", "commands.suppliers_show", "a supplier's category map", ssub)
    sshow.add_argument("supplier")
    sshow.add_argument("--format", default="table", choices=["table", "json", "csv"])

    batches = sub.add_parser(
        "batches", help="imports and removals, and undoing them", parents=[common]
    )
    bsub = batches.add_subparsers(
        dest="action", required=True, metavar="ACTION", parser_class=_Parser
    )
    blist = command("list", "commands.batches_list", "the newest batches first", bsub)
    blist.add_argument("--list", dest="list_name", help="one list")
    blist.add_argument("--limit", type=_whole, default=50)
    blist.add_argument("--format", default="table", choices=["table", "json", "csv"])
    brollback = command(
        "rollback",
        "commands.batches_rollback",
        "remove what an import added (within a second)",
        bsub,
    )
    brollback.add_argument("batch_id", type=_whole)
    brollback.add_argument("--json", action="store_true")
    bpromote = command(
        "promote",
        "governing.batches_promote",
        "let a shadow batch's entries answer (two-person rule for below-severe categories)",
        bsub,
    )
    bpromote.add_argument("batch_id", type=_whole)
    bpromote.add_argument("--json", action="store_true")
    bshow = command(
        "show", "governing.batches_show", "one batch, with its shadow would-be matches", bsub
    )
    bshow.add_argument("batch_id", type=_whole)
    bshow.add_argument("--json", action="store_true")

    def group(name: str, text: str) -> argparse._SubParsersAction[_Parser]:
        parent = sub.add_parser(name, help=text, parents=[common])
        return parent.add_subparsers(
            dest="action", required=True, metavar="ACTION", parser_class=_Parser
        )

    def listing(into: argparse._SubParsersAction[_Parser], handler: str, text: str) -> _Parser:
        p = command("list", handler, text, into)
        p.add_argument("--format", default="table", choices=["table", "json", "csv"])
        return p

    cats = group("categories", "categories, their severity, and switching them on or off")
    listing(cats, "governing.categories_list", "categories with severity and status")
    for name, handler, text in (
        ("enable", "governing.categories_enable", "let a category match (two-person rule)"),
        ("disable", "governing.categories_disable", "stop a category matching (at once)"),
    ):
        toggle = command(name, handler, text, cats)
        toggle.add_argument("name")
        toggle.add_argument("--json", action="store_true")

    holds = group("holds", "entries the prevalence alarm put on hold")
    listing(holds, "governing.holds_list", "holds, newest first").add_argument(
        "--state", choices=["open", "released"]
    )
    hrelease = command("release", "governing.holds_release", "let a held item answer again", holds)
    hrelease.add_argument("item_id", type=_whole)

    itm = group("items", "list items: one file's hashes, its supplier's id and one category")
    ishow = command(
        "show",
        "governing.items_show",
        "an item by number, match id, hash (keyed, never stored) or supplier id (JSON)",
        itm,
    )
    ishow.add_argument("query", help="item:N or N, a match id, a hash in hex, or the supplier's id")
    ishow.add_argument("--list", dest="list_name", help="only items of this list")

    disp = group("disputes", "clients' disputes of matches")
    listing(disp, "governing.disputes_list", "disputes, newest first").add_argument(
        "--state", choices=["open", "upheld", "rejected"]
    )
    dshow = command("show", "governing.disputes_show", "one dispute with its notes (JSON)", disp)
    dshow.add_argument("dispute_id", type=_whole)
    dcomment = command("comment", "governing.disputes_comment", "add a note to a dispute", disp)
    dcomment.add_argument("dispute_id", type=_whole)
    dcomment.add_argument("text")
    for name, handler, text in (
        ("uphold", "governing.disputes_uphold", "the match was wrong: retract the entry"),
        ("reject", "governing.disputes_reject", "the match stands"),
    ):
        decide = command(name, handler, text, disp)
        decide.add_argument("dispute_id", type=_whole)
        decide.add_argument("--reason", required=True, help="recorded, and shown to the client")

    subs = group("submissions", "self-submitted cases: the review queue")
    listing(subs, "reviewing.submissions_list", "cases, oldest first").add_argument(
        "--state",
        default="received",
        choices=["received", "active", "rejected", "withdrawn", "all"],
        help="default: received (the queue)",
    )
    sshow = command(
        "show",
        "reviewing.submissions_show",
        "one case: files, items, duplicates across cases, the screen's findings (JSON)",
        subs,
    )
    sshow.add_argument("case")
    sact = command(
        "activate",
        "reviewing.submissions_activate",
        "activate a received case: its items answer remove to clients granted the list",
        subs,
    )
    sact.add_argument("case")
    sact.add_argument("--reason", default="", help="kept with the case")
    sact.add_argument(
        "--leave-out",
        type=_whole,
        action="append",
        default=[],
        metavar="ITEM",
        help="an item of the case to let go (repeatable)",
    )
    srej = command(
        "reject", "reviewing.submissions_reject", "reject a case: its items leave the list", subs
    )
    srej.add_argument("case")
    srej.add_argument("--reason", default="", help="kept with the case")

    ntc = group("notices", "notices to clients about items, each with its deadline")
    nissue = command(
        "issue",
        "takedown.notices_issue",
        "tell a client to act on an item by its deadline (its live notice, if it has one)",
        ntc,
    )
    nissue.add_argument("client_id")
    nissue.add_argument("item_id", type=_whole)
    nissue.add_argument("--url", help="where the item was found, when known")
    nissue.add_argument("--json", action="store_true")
    nlist = listing(ntc, "takedown.notices_list", "notices, oldest first")
    nlist.add_argument("--client", dest="client_id")
    nlist.add_argument(
        "--state",
        default="live",
        choices=["live", "open", "acknowledged", "removed", "withdrawn", "all"],
        help="default: live (open and acknowledged)",
    )
    nwd = command("withdraw", "takedown.notices_withdraw", "take a live notice back", ntc)
    nwd.add_argument("notice_id", type=_whole)
    nwd.add_argument("--json", action="store_true")

    props = group("proposals", "changes waiting for a second operator (two-person rule)")
    listing(props, "governing.proposals_list", "proposals, newest first").add_argument(
        "--state", choices=["open", "approved", "rejected"]
    )
    for name, handler, text in (
        ("approve", "governing.proposals_approve", "approve and carry out (not your own)"),
        ("reject", "governing.proposals_reject", "turn a proposal down"),
    ):
        command(name, handler, text, props).add_argument("proposal_id", type=_whole)

    pol = group("policy", "governance settings shared by every node")
    command(
        "show", "governing.policy_show", "every policy value and what it means", pol
    ).add_argument("--format", default="table", choices=["table", "json", "csv"])
    pset = command("set", "governing.policy_set", "change one policy value", pol)
    pset.add_argument("name")
    pset.add_argument("value")
    pset.add_argument("--json", action="store_true")

    ops = group("operators", "operator accounts (named, with roles) for the CLI and admin API")
    oadd = command(
        "add",
        "governing.operators_add",
        "add accounts; prints each one's secret once (the first approvers: name them together)",
        ops,
    )
    oadd.add_argument("names", nargs="+", metavar="NAME")
    oadd.add_argument("--role", required=True, choices=["viewer", "operator", "approver"])
    oadd.add_argument("--json", action="store_true")
    listing(ops, "governing.operators_list", "operator accounts")
    for name, handler, text in (
        ("disable", "governing.operators_disable", "lock an account out (at once)"),
        (
            "enable",
            "governing.operators_enable",
            "let a disabled account act again (a proposal under the two-person rule)",
        ),
    ):
        switch = command(name, handler, text, ops)
        switch.add_argument("name")
        switch.add_argument("--json", action="store_true")
    orole = command(
        "role",
        "governing.operators_role",
        "change an account's role (raising it: a proposal under the two-person rule)",
        ops,
    )
    orole.add_argument("name")
    orole.add_argument("role", choices=["viewer", "operator", "approver"])
    orole.add_argument("--json", action="store_true")
    orotate = command("rotate", "governing.operators_rotate", "issue a new admin API secret", ops)
    orotate.add_argument("name")
    orotate.add_argument("--json", action="store_true")

    imp = command("import", "commands.import_", "import a list file (atomic, idempotent)")
    imp.add_argument("list_name", metavar="LIST")
    imp.add_argument("file", type=Path, nargs="?", metavar="FILE")
    imp.add_argument(
        "--hash",
        dest="hashes",
        action="append",
        default=[],
        help="a hash to add instead of a file (repeatable), e.g. one known-good file",
    )
    imp.add_argument(
        "--format",
        default="auto",
        choices=IMPORT_FORMATS,
        help="file format (default: detected)",
    )
    imp.add_argument("--category", help="category of every entry")
    imp.add_argument("--category-column", help="CSV header holding each entry's category")
    imp.add_argument(
        "--column",
        action="append",
        default=[],
        metavar="ALGORITHM=HEADER",
        help="CSV: take ALGORITHM (md5, sha1, sha256) from column HEADER; repeatable",
    )
    imp.add_argument(
        "--map",
        dest="category_map",
        action="append",
        default=[],
        metavar="VALUE=CATEGORY",
        help="map a supplier's category value (e.g. vics:1, baseline:yes) onto a category; "
        "repeatable; unmapped values fail the import",
    )
    imp.add_argument("--skip-invalid", action="store_true", help="import the valid lines only")
    imp.add_argument(
        "--replace",
        action="store_true",
        help="the file is the supplier's complete list: items of the list it lacks leave it",
    )
    imp.add_argument(
        "--dry-run",
        action="store_true",
        help="read and check the file, say what the import would do (added, recategorised, "
        "removed, known-good collisions), and change nothing",
    )
    imp.add_argument(
        "--confirm-removals",
        action="store_true",
        help="let a --replace delivery take more off than policy replace-max-removed-percent",
    )
    imp.add_argument(
        "--shadow",
        action="store_true",
        help="land as a shadow batch: would-be matches are counted, not answered, until "
        "`batches promote`",
    )
    imp.add_argument("--json", action="store_true", help="print the summary as JSON")

    rem = command("remove", "commands.remove", "remove entries from a list, by file or by hash")
    rem.add_argument("list_name", metavar="LIST")
    rem.add_argument("file", type=Path, nargs="?", metavar="FILE")
    rem.add_argument("--hash", dest="hashes", action="append", default=[], help="repeatable")
    rem.add_argument("--format", default="auto", choices=REMOVE_FORMATS)
    rem.add_argument("--skip-invalid", action="store_true")
    rem.add_argument("--json", action="store_true")

    stats = command(
        "stats", "commands.stats", "hashes checked and matched per client, list and day"
    )
    stats.add_argument("--client", help="one client id")
    stats.add_argument("--list", dest="list_name", help="one list")
    stats.add_argument("--since", help="first day, YYYY-MM-DD (UTC); anything else is refused")
    stats.add_argument("--format", default="table", choices=["table", "json", "csv"])

    rpt = group("report", "reports for the operator and the regulator")
    rtk = command(
        "takedown",
        "takedown.report_takedown",
        "a month's hits and how fast clients acted on them: per client and overall",
        rpt,
    )
    rtk.add_argument("--month", required=True, help="YYYY-MM (UTC)")
    rtk.add_argument("--client", dest="client_id", help="one client only")
    rtk.add_argument("--format", default="table", choices=["table", "csv", "json", "html"])
    rtk.add_argument(
        "--publishable",
        action="store_true",
        help="client names left out (client 1, client 2, ... by hits)",
    )
    rtk.add_argument("--with-names", action="store_true", help="with --publishable: keep them")
    rtk.add_argument("--output", type=Path, metavar="FILE", help="write here, not to stdout")

    audit = command("audit", "commands.audit", "who changed what and when, newest first")
    audit.add_argument("--actor", help="one operator")
    audit.add_argument("--action", help="an action or its prefix, e.g. client or list.import")
    audit.add_argument(
        "--since", help="first day (YYYY-MM-DD) or ISO time (UTC unless it has a zone)"
    )
    audit.add_argument("--limit", type=_whole, default=100, help="at most this many (default 100)")
    audit.add_argument("--format", default="table", choices=["table", "json", "csv"])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env(
            database_url=getattr(args, "database_url", None),
            key_file=getattr(args, "key_file", None),
            host=getattr(args, "host", None),
            port=getattr(args, "port", None),
            workers=getattr(args, "workers", None),
        )
        _require_role(args, settings)
        return _handler(args.handler)(args, settings)
    except SettingsError as exc:
        return _fail(ExitCode.CONFIG, str(exc))
    except ModuleNotFoundError as exc:
        message = missing_extra(exc, args.command)
        if message is None:
            raise
        return _fail(ExitCode.INSTALL, message)
    except Exception as exc:
        outcome = outcome_of(exc)
        if outcome is None:
            raise
        return _fail(ExitCode(outcome.exit_code), str(exc))
    except KeyboardInterrupt:
        return _fail(ExitCode.INTERNAL, "interrupted; nothing partial was committed")


def _require_role(args: argparse.Namespace, settings: Settings) -> None:
    """The acting operator's role against the action the command carries out, from the same
    table the admin API and the console check (`admin.actions`): a viewer reads, and is
    refused every change, on every face."""
    words = " ".join(
        part for part in (args.command, getattr(args, "action", None)) if isinstance(part, str)
    )
    found = next((a for a in ACTIONS.values() if a.cli == words), None)
    if found is None:
        return  # installation commands and client tools: not operator actions
    # Imported here: the client-only install (hash, scan, restore) needs no store.
    from hashcheck.admin.operators import acting
    from hashcheck.cli.common import opened_store

    with opened_store(settings) as store:
        acting(store, settings.operator).require(found.role, f"`hashcheck {words}`")


def _handler(name: str) -> Handler:
    module, _, function = name.partition(".")
    found: Handler = getattr(importlib.import_module(f"hashcheck.cli.{module}"), function)
    return found


def _fail(code: ExitCode, message: str) -> int:
    print(f"hashcheck: {message}", file=sys.stderr)
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
