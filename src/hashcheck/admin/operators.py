"""Operator accounts and roles: who acts, and what each role may do.

Roles are ordered: a viewer reads; an operator also changes lists, clients, batches, holds and
disputes; an approver also approves proposals and manages operator accounts. Until the first
account exists every name may act with every role (a fresh installation has to start
somewhere); from then on the acting name must be an enabled account.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from hashcheck.admin.change import Change, propose
from hashcheck.admin.errors import AdminError, PermissionDenied, UnknownName
from hashcheck.admin.roles import Role
from hashcheck.auth.secrets import hash_secret, new_secret, verify_secret
from hashcheck.store.interface import Store
from hashcheck.store.records import OperatorRecord

__all__ = ["Actor", "NewAccount", "Role", "acting", "add", "add_several", "authenticate"]

_NAME = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")


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


@dataclass(frozen=True)
class NewAccount:
    """An account just made: its secret (shown once), and whether it can act yet."""

    name: str
    role: Role
    secret: str
    change: Change  # applied, or the proposal that enables it


def _under_the_rule(store: Store, actor: Actor) -> bool:
    """Accounts are under the two-person rule once two enabled approvers exist (before, a
    single approver must be able to make the second) and an account acts (not the
    installation making its first accounts)."""
    accounts = store.operators()
    if actor.name not in {op.name for op in accounts}:
        return False
    return sum(1 for op in accounts if op.enabled and op.role == "approver") >= 2


def add(store: Store, name: str, role: Role, *, actor: Actor) -> NewAccount:
    """A new account; its admin API secret is shown once and stored as a slow hash. Under the
    two-person rule the account starts disabled and a proposal to enable it waits for an
    approver who neither made it nor was made by its maker."""
    (made,) = add_several(store, [name], role, actor=actor)
    return made


def add_several(
    store: Store, names: Sequence[str], role: Role, *, actor: Actor
) -> list[NewAccount]:
    """`add` for several names at once. Made before any account exists (by the installation),
    they are independent of each other: that is how the first two approvers are made, each
    able to be the other's second person."""
    actor.require(Role.APPROVER, "managing operator accounts")
    for name in names:
        if not _NAME.match(name):
            raise AdminError(
                f"operator name {name!r}: use 2-64 lower-case letters, digits, '.', '_' or "
                "'-', starting with a letter"
            )
    if len(set(names)) != len(names):
        raise AdminError("each operator name once, please")
    # Before the first account, the maker is the installation itself, not an account.
    created_by = actor.name if actor.name in {op.name for op in store.operators()} else None
    waits = _under_the_rule(store, actor)
    made = []
    for name in names:
        secret = new_secret()
        store.add_operator(
            name,
            role.label,
            hash_secret(secret),
            actor=actor.name,
            enabled=not waits,
            created_by=created_by,
        )
        if waits:
            change = propose(
                store,
                "operator.enable",
                name,
                {"role": role.label, "created_by": actor.name},
                f"enabling the new {role.label} account {name}, made by {actor.name}",
                actor.name,
            )
        else:
            change = Change(True, f"operator {name} ({role.label}) added")
        made.append(NewAccount(name, role, secret, change))
    return made


def set_enabled(store: Store, name: str, enabled: bool, *, actor: Actor) -> Change:
    """Disabling is immediate (containment); enabling again is a proposal under the rule."""
    actor.require(Role.APPROVER, "managing operator accounts")
    account = _account(store, name)
    if enabled and not account.enabled and _under_the_rule(store, actor):
        return propose(
            store,
            "operator.enable",
            name,
            {"role": account.role},
            f"enabling the {account.role} account {name} again",
            actor.name,
        )
    store.update_operator(name, enabled=enabled, actor=actor.name)
    return Change(True, f"operator {name} {'enabled' if enabled else 'disabled'}")


def set_role(store: Store, name: str, role: Role, *, actor: Actor) -> Change:
    """Lowering a role is immediate; raising one is a proposal under the rule."""
    actor.require(Role.APPROVER, "managing operator accounts")
    account = _account(store, name)
    if role > Role.parse(account.role) and _under_the_rule(store, actor):
        return propose(
            store,
            "operator.role",
            name,
            {"role": role.label, "before": account.role},
            f"raising {name} from {account.role} to {role.label}",
            actor.name,
        )
    store.update_operator(name, role=role.label, actor=actor.name)
    return Change(True, f"operator {name} is {role.label}")


def account_dict(account: OperatorRecord) -> dict[str, object]:
    """An account as every face shows it (never its secret hash)."""
    return {
        "name": account.name,
        "role": account.role,
        "enabled": account.enabled,
        "created_by": account.created_by,
    }


def _account(store: Store, name: str) -> OperatorRecord:
    for account in store.operators():
        if account.name == name:
            return account
    raise UnknownName(f"no operator {name!r} (see `hashcheck operators list`)")


def rotate(store: Store, name: str, *, actor: Actor) -> str:
    if actor.name != name:
        actor.require(Role.APPROVER, "rotating another operator's secret")
    secret = new_secret()
    store.update_operator(name, secret_hash=hash_secret(secret), actor=actor.name)
    return secret
