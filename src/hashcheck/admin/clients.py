"""Client credentials and grants, as the operator manages them, and clients as every face
lists them."""

from __future__ import annotations

from dataclasses import dataclass

from hashcheck.admin import reach
from hashcheck.admin.names import find_category, find_list
from hashcheck.admin.operators import Actor, Role
from hashcheck.admin.reach import Reach
from hashcheck.auth.secrets import hash_secret, new_client_id, new_secret
from hashcheck.catalog.model import Client, Grant
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
