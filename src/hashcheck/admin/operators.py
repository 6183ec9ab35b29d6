"""Operator accounts and roles: who acts, and what each role may do.

Roles are ordered: a viewer reads; an operator also changes lists, clients, batches, holds and
disputes; an approver also approves proposals and manages operator accounts. Until the first
account exists every name may act with every role (a fresh installation has to start
somewhere); from then on the acting name must be an enabled account.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from hashcheck.admin.errors import AdminError, PermissionDenied
from hashcheck.auth.secrets import hash_secret, new_secret, verify_secret
from hashcheck.store.interface import Store

_NAME = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")


class Role(enum.IntEnum):
    VIEWER = 1
    OPERATOR = 2
    APPROVER = 3

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(r.name.lower() for r in cls)
            raise AdminError(f"unknown role {text!r}; roles: {names}") from None

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Actor:
    """Who is acting, as the audit trail records it."""

    name: str
    role: Role

    def require(self, role: Role, what: str) -> None:
        if self.role < role:
            raise PermissionDenied(
                f"{self.name} is {self.role.label}; {what} needs the {role.label} role"
            )


def acting(store: Store, name: str) -> Actor:
    """The actor for a name given on the command line (HASHCHECK_ACTOR or the login name)."""
    accounts = {op.name: op for op in store.operators()}
    if not accounts:
        return Actor(name, Role.APPROVER)
    account = accounts.get(name)
    if account is None or not account.enabled:
        raise PermissionDenied(
            f"{name!r} is not an enabled operator account; set HASHCHECK_ACTOR to one "
            "(see `hashcheck operators list`)"
        )
    return Actor(account.name, Role.parse(account.role))


def authenticate(store: Store, name: str, secret: str) -> Actor | None:
    """The actor for admin API credentials; None if they are wrong or the account disabled."""
    for account in store.operators():
        if account.name == name and account.enabled and verify_secret(secret, account.secret_hash):
            return Actor(account.name, Role.parse(account.role))
    return None


def add(store: Store, name: str, role: Role, *, actor: Actor) -> str:
    """A new account; returns its admin API secret (shown once, stored as a slow hash)."""
    actor.require(Role.APPROVER, "managing operator accounts")
    if not _NAME.match(name):
        raise AdminError(
            f"operator name {name!r}: use 2-64 lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter"
        )
    secret = new_secret()
    store.add_operator(name, role.label, hash_secret(secret), actor=actor.name)
    return secret


def set_enabled(store: Store, name: str, enabled: bool, *, actor: Actor) -> None:
    actor.require(Role.APPROVER, "managing operator accounts")
    store.update_operator(name, enabled=enabled, actor=actor.name)


def rotate(store: Store, name: str, *, actor: Actor) -> str:
    if actor.name != name:
        actor.require(Role.APPROVER, "rotating another operator's secret")
    secret = new_secret()
    store.update_operator(name, secret_hash=hash_secret(secret), actor=actor.name)
    return secret
