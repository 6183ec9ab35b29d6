"""Looking an item up as the operator does: by its number, a match id a client quoted, the
supplier's id for it, or one of its hashes — and everything known about it, with names.

A hash given to look up is keyed on the way in and never stored, logged or shown; the item's
own hashes are shown only masked (the start of their keyed digest). Read-only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hashcheck.admin.errors import AdminError
from hashcheck.admin.names import find_list
from hashcheck.admin.operators import Actor, Role
from hashcheck.catalog.numbers import MAX_STORED, whole_number
from hashcheck.hashes.algorithms import Algorithm
from hashcheck.hashes.keyed import Digester
from hashcheck.hashes.matchid import PREFIX, MatchIds
from hashcheck.store.errors import NotFound
from hashcheck.store.interface import Store
from hashcheck.store.records import ItemRecord

_HEX = frozenset("0123456789abcdefABCDEF")
MASKED_HEX = 8


def find(
    store: Store,
    digester: Digester,
    match_ids: MatchIds | None,
    query: str,
    *,
    actor: Actor,
    list_name: str | None = None,
) -> list[ItemRecord]:
    """The items ``query`` names: `item:N` or N, a match id (`m1_...`), one of the item's
    hashes in hex (MD5, SHA-1, SHA-256 or PDQ), or else the supplier's id for it."""
    actor.require(Role.VIEWER, "looking items up")
    query = query.strip()
    if not query:
        raise AdminError("say which item: its number, a match id, a hash or the supplier's id")
    list_id = None
    if list_name is not None:
        list_id = find_list(store, list_name).list_id  # 404 for an unknown one, as elsewhere
    # ASCII digits within a database integer ("²" and "٣" pass isdigit): a hash of digits
    # alone (32 or more) is a hash, not a number.
    number = whole_number(query.removeprefix("item:"))
    if query.startswith("item:") and number is None:
        raise AdminError(
            f"item numbers are whole numbers up to {MAX_STORED:,}, "
            f"not {query.removeprefix('item:')[:40]!r}"
        )
    if number is not None:
        try:
            return [store.item(number)]
        except NotFound:
            return []
    if query.startswith(PREFIX):
        return _by_match_id(store, match_ids, query)
    if len(query) in (32, 40, 64) and _HEX.issuperset(query):
        raw = bytes.fromhex(query)
        digests = [digester.digest(a, raw) for a in Algorithm if a.hex_length == len(query)]
        if len(query) == 64:
            digests.append(digester.pdq(raw))
        found_items = store.find_items(digests=digests)
        return [i for i in found_items if list_id is None or i.list_id == list_id]
    return store.find_items(ref=query, list_id=list_id)


def _by_match_id(store: Store, match_ids: MatchIds | None, token: str) -> list[ItemRecord]:
    if match_ids is None:
        raise AdminError("match ids can only be read with the list key")
    for client in store.clients():
        ref = match_ids.read(token, client.client_id)
        if ref is not None:
            try:
                return [store.item(ref.item_id)]
            except NotFound:
                return []
    raise AdminError(f"{token} is not a match id this service issued")


def view(store: Store, item: ItemRecord) -> dict[str, Any]:
    """Everything about one item, names instead of numbers, its hashes masked."""
    lists = {h.list_id: h.name for h in store.lists()}
    categories = {c.category_id: c.name for c in store.categories()}
    clients = {c.client_id: c.name for c in store.clients()}

    def category(value: int | None) -> str | None:
        return None if value is None else categories.get(value, str(value))

    history = [
        {
            "at": item.first_at,
            "batch": item.first_batch,
            "change": "added",
            "before": None,
            "after": None,
            "before_value": None,
            "after_value": None,
        },
        *(
            {
                "at": h.at,
                "batch": h.batch_id,
                "change": h.change,
                "before": category(h.before_category),
                "after": category(h.after_category),
                "before_value": h.before_value,
                "after_value": h.after_value,
            }
            for h in store.item_history(item.item_id)
        ),
    ]
    matches: dict[tuple[str, int], dict[str, Any]] = {}
    for client_id, day, answered in store.item_matches(item.item_id):
        matches[(client_id, day)] = {
            "client": client_id,
            "client_name": clients.get(client_id, client_id),
            "day": dt.date.fromordinal(dt.date(1970, 1, 1).toordinal() + day).isoformat(),
            "answered": answered,
        }
    return {
        "item": item.item_id,
        "list": lists.get(item.list_id, str(item.list_id)),
        "ref": item.ref,
        "category": category(item.category_id),
        "supplier_value": item.value,
        "state": item.state,
        "merged_into": item.merged_into,
        "first_delivered": {"at": item.first_at, "batch": item.first_batch},
        "last_delivered": {"at": item.last_at, "batch": item.last_batch},
        "hashes": [
            {"kind": kind, "keyed": digest.hex()[:MASKED_HEX] + "…"} for kind, digest in item.hashes
        ],
        "history": history,
        "matches": list(matches.values()),
        "holds": [
            {"state": h.state, "since": h.created_at, "clients": h.clients, "reason": h.reason}
            for h in store.holds(entry_id=item.item_id)
        ],
        "disputes": [
            {
                "dispute": d.dispute_id,
                "client": d.client_id,
                "client_name": clients.get(d.client_id, d.client_id),
                "state": d.state,
                "reason": d.reason,
                "opened_at": d.opened_at,
            }
            for d in store.disputes(entry_id=item.item_id)
        ],
    }
