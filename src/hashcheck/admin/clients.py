"""Client credentials and grants, as the operator manages them, and clients as every face
lists them."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from hashcheck.admin import reach
from hashcheck.admin.errors import AdminError
from hashcheck.admin.names import find_category, find_list
from hashcheck.admin.operators import Actor, Role
from hashcheck.admin.reach import Reach
from hashcheck.auth.secrets import hash_secret, new_client_id, new_secret
from hashcheck.catalog.model import Client, Grant
from hashcheck.store.errors import NotFound
from hashcheck.store.interface import Store

DEFAULT_CATEGORY = "baseline"


@dataclass(frozen=True)
class IssuedCredentials:
    client_id: str
    secret: str  # shown once; only its slow hash is stored


def add_client(
    store: Store,
    name: str,
    *,
    actor: str,
    client_id: str | None = None,
    secret: str | None = None,
    grants: list[Grant] | None = None,
) -> IssuedCredentials:
    """A new client. Unless grants are given it checks the baseline category of every list."""
    if grants is None:
        grants = [Grant(None, find_category(store, DEFAULT_CATEGORY).category_id)]
    issued = IssuedCredentials(client_id or new_client_id(), secret or new_secret())
    store.add_client(issued.client_id, name, hash_secret(issued.secret), grants, actor=actor)
    return issued


def rotate_secret(store: Store, client_id: str, *, actor: str) -> IssuedCredentials:
    issued = IssuedCredentials(client_id, new_secret())
    store.set_client_secret(client_id, hash_secret(issued.secret), actor=actor)
    return issued


# The bounds of a client's own budgets, declared once for every face (0 is no limit).
MOST_REQUESTS_PER_SECOND = 1_000_000
MOST_WORK_PER_SECOND = 1_000_000_000_000


class Keep(enum.Enum):
    """A budget the operator did not mention: it stays as it is."""

    KEEP = "keep"


KEEP = Keep.KEEP


@dataclass(frozen=True)
class ClientBudgets:
    client_id: str
    requests_per_second: int | None  # None: the node's setting
    work_per_second: int | None
    changed: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "client_id": self.client_id,
            "requests_per_second": self.requests_per_second,
            "work_per_second": self.work_per_second,
            "changed": self.changed,
        }


def set_budgets(
    store: Store,
    client_id: str,
    *,
    requests_per_second: int | Keep | None = KEEP,
    work_per_second: int | Keep | None = KEEP,
    actor: Actor,
) -> ClientBudgets:
    """A client's own budgets on every node (`api.budgets`): requests and work per second,
    0 for no limit, None for the node's settings. Every node applies them within a second;
    audited."""
    actor.require(Role.OPERATOR, "setting a client's budgets")
    current = next((c for c in store.clients() if c.client_id == client_id), None)
    if current is None:
        raise NotFound(f"no client {client_id!r}")
    requests = current.requests_per_second if requests_per_second is KEEP else requests_per_second
    work = current.work_per_second if work_per_second is KEEP else work_per_second
    _bounded("requests per second", requests, MOST_REQUESTS_PER_SECOND)
    _bounded("work per second", work, MOST_WORK_PER_SECOND)
    changed = store.set_client_budgets(client_id, requests, work, actor=actor.name)
    return ClientBudgets(client_id, requests, work, changed)


def _bounded(what: str, value: int | None, most: int) -> None:
    if value is not None and not 0 <= value <= most:
        raise AdminError(f"a client's {what} is 0 (no limit) to {most:,}, got {value:,}")


def resolve_grant(store: Store, list_name: str | None, category_name: str | None) -> Grant:
    """A grant from names; None stands for "every list" / "every category"."""
    list_id = None if list_name is None else find_list(store, list_name).list_id
    category_id = None if category_name is None else find_category(store, category_name).category_id
    return Grant(list_id, category_id)


@dataclass(frozen=True)
class ClientLine:
    """A client as every face lists it: its record, its grants in words, what it can match."""

    client: Client
    grants: tuple[str, ...]
    reach: Reach


def listing(store: Store, *, actor: Actor) -> list[ClientLine]:
    """Every client, read once with the lists and categories its grants name."""
    actor.require(Role.VIEWER, "reading clients")
    lists = {item.list_id: item.name for item in store.lists()}
    categories = {item.category_id: item.name for item in store.categories()}
    reaches = reach.reach(store)
    return [
        ClientLine(c, tuple(_words(g, lists, categories) for g in c.grants), reaches[c.client_id])
        for c in store.clients()
    ]


def describe_grant(store: Store, grant: Grant) -> str:
    lists = {item.list_id: item.name for item in store.lists()}
    categories = {item.category_id: item.name for item in store.categories()}
    return _words(grant, lists, categories)


def _words(grant: Grant, lists: dict[int, str], categories: dict[int, str]) -> str:
    list_part = "every list" if grant.list_id is None else f"list {lists[grant.list_id]}"
    category_part = (
        "every category"
        if grant.category_id is None
        else f"category {categories[grant.category_id]}"
    )
    return f"{category_part} of {list_part}"
