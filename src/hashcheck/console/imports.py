"""The console's list imports: the upload page, the dry run of an uploaded file, and landing
it (active or in shadow) or discarding it. Each turns the form into a call of
`admin.importing` (the one import the CLI and the admin API run too); the file waits between
dry run and decision in `console.held`.

Never reads the request: `console.app` streams the upload (`console.uploads`) and hands over
the saved file and the form's fields.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hashcheck.admin import importing
from hashcheck.admin.bounds import ImportBounds
from hashcheck.admin.errors import AdminError
from hashcheck.admin.operators import Actor, Role
from hashcheck.console.held import Held, HeldUploads
from hashcheck.hashes.keyed import Digester
from hashcheck.hashes.sealing import Sealer
from hashcheck.store.interface import Store

# The form's fields, besides the file and its safety token.
TEXT_OPTIONS = ("list", "format", "category", "category_column", "map", "column")
FLAG_OPTIONS = ("replace", "confirm_removals", "skip_invalid")
LANDINGS = {"active": False, "shadow": True}


@dataclass(frozen=True)
class ImportTools:
    held: HeldUploads
    digester: Digester
    sealer: Sealer
    bounds: ImportBounds


def page(store: Store, actor: Actor, query: dict[str, str], tools: ImportTools) -> dict[str, Any]:
    """The upload form, this operator's held uploads, and the one asked for (`held=`)."""
    actor.require(Role.OPERATOR, "importing a list")
    shown = None
    error = ""
    token = query.get("held", "")
    if token:
        shown = tools.held.find(token, actor.name)
        if shown is None:
            error = (
                "That upload is no longer held (an hour passed, or it was landed or "
                "discarded): upload the file again."
            )
    context: dict[str, Any] = {
        "lists": sorted(store.lists(), key=lambda h: (h.known_good, h.name)),
        "categories": [c.name for c in store.categories()],
        "formats": importing.READABLE_FORMATS,
        "held": tools.held.of(actor.name),
        "preview": shown,
    }
    if error:
        context["error"] = error
    return context


def options_of(fields: dict[str, str]) -> dict[str, Any]:
    """The import's options from the form (empty fields: the default)."""
    chosen: dict[str, Any] = {name: fields.get(name, "").strip() for name in TEXT_OPTIONS}
    chosen.update({name: fields.get(name) == "on" for name in FLAG_OPTIONS})
    if not chosen["list"]:
        raise AdminError("choose the list to import into")
    if chosen["format"] and chosen["format"] not in importing.READABLE_FORMATS:
        raise AdminError(f"the format must be one of {', '.join(importing.READABLE_FORMATS)}")
    return chosen


def check(store: Store, actor: Actor, fields: dict[str, str]) -> None:
    """Refuse, before the file is read, the form whose options no file could make right."""
    actor.require(Role.OPERATOR, "importing a list")
    options = options_of(fields)
    importing.column_map("column", _pairs(options["column"]))
    importing.check_options(
        store,
        options["list"],
        fmt=options["format"] or "auto",
        category=options["category"] or None,
        category_column=options["category_column"] or None,
        category_map=importing.category_map("map", _pairs(options["map"])),
    )


def _run(
    store: Store,
    actor: Actor,
    tools: ImportTools,
    path: Path,
    options: dict[str, Any],
    *,
    source: str,
    shadow: bool = False,
    dry_run: bool = False,
) -> importing.ImportReport:
    return importing.import_file(
        store,
        tools.digester,
        options["list"],
        path,
        actor=actor.name,
        fmt=options["format"] or "auto",
        category=options["category"] or None,
        columns=importing.column_map("column", _pairs(options["column"])),
        category_column=options["category_column"] or None,
        category_map=importing.category_map("map", _pairs(options["map"])),
        skip_invalid=options["skip_invalid"],
        shadow=shadow,
        sealer=tools.sealer,
        replace=options["replace"],
        confirm_removals=options["confirm_removals"],
        dry_run=dry_run,
        source=source,
        bounds=tools.bounds,
    )


def _pairs(text: str) -> list[str]:
    """`A=B, C=D` as the CLI's repeated `--map A=B --map C=D`."""
    return [part.strip() for part in text.split(",") if part.strip()]


def dry_run(
    store: Store,
    actor: Actor,
    tools: ImportTools,
    token: str,
    filename: str,
    size: int,
    fields: dict[str, str],
) -> Held:
    """Check the saved upload as the import would, keep it held with what was found."""
    actor.require(Role.OPERATOR, "importing a list")
    options = options_of(fields)
    path = tools.held.path(token)
    report = _run(store, actor, tools, path, options, source=filename, dry_run=True)
    preview = report.as_dict()
    held = Held(token, actor.name, options["list"], filename, size, options, preview, time.time())
    tools.held.keep(held)
    return held


def land(store: Store, actor: Actor, form: dict[str, str], tools: ImportTools) -> str:
    """Import a held upload (active or in shadow), or discard it; what happened, in words."""
    actor.require(Role.OPERATOR, "importing a list")
    held = tools.held.find(form.get("held", ""), actor.name)
    if held is None:
        raise AdminError(
            "that upload is no longer held (an hour passed, or it was landed or discarded): "
            "upload the file again"
        )
    choice = form.get("land", "")
    if choice == "discard":
        tools.held.drop(held.token)
        return f"{held.filename} discarded; nothing was imported."
    if choice not in LANDINGS:
        raise AdminError("choose one of the form's buttons")
    report = _run(
        store,
        actor,
        tools,
        tools.held.path(held.token),
        held.options,
        source=held.filename,
        shadow=LANDINGS[choice],
    )
    tools.held.drop(held.token)
    mode = "in shadow: counted, not answered until promoted" if report.shadow else "answering now"
    return (
        f"{held.filename} landed in {report.list_name} as batch {report.batch_id}, {mode}: "
        f"{report.added} items added, {report.changed} recategorised, {report.removed} removed, "
        f"{report.unchanged} unchanged."
    )
