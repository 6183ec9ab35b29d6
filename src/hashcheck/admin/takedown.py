"""The operator's side of takedown timing: a client's own deadline where its agreement says
so. One service function per operator action; every face (CLI, admin API, console) calls
these. Holds no HTTP and no SQL.
"""

from __future__ import annotations

from dataclasses import dataclass

from hashcheck.admin.errors import AdminError
from hashcheck.admin.operators import Actor, Role
from hashcheck.catalog.policy import MAX_DEADLINE_HOURS, Policy
from hashcheck.catalog.takedown import deadline_hours, valid_deadline
from hashcheck.store.errors import NotFound
from hashcheck.store.interface import Store


@dataclass(frozen=True)
class ClientDeadline:
    client_id: str
    agreed: int | None  # the client's own hours; None: the policy's
    hours: int  # what applies
    changed: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "client_id": self.client_id,
            "agreed_hours": self.agreed,
            "hours": self.hours,
            "changed": self.changed,
        }


def set_deadline(
    store: Store, client_id: str, hours: int | None, *, actor: Actor
) -> ClientDeadline:
    """The hours ``client_id`` has to act on a hit or notice (None: the policy's
    `takedown-deadline-hours`). Audited."""
    actor.require(Role.OPERATOR, "setting a client's takedown deadline")
    if hours is not None and not valid_deadline(hours):
        raise AdminError(f"a takedown deadline is 1 to {MAX_DEADLINE_HOURS:,} hours, got {hours:,}")
    changed = store.set_client_deadline(client_id, hours, actor=actor.name)
    return deadline_of(store, client_id, changed=changed)


def deadline_of(store: Store, client_id: str, *, changed: bool = False) -> ClientDeadline:
    client = next((c for c in store.clients() if c.client_id == client_id), None)
    if client is None:
        raise NotFound(f"no client {client_id!r}")
    policy = Policy.parse(store.policies())
    agreed = client.takedown_deadline_hours
    return ClientDeadline(client_id, agreed, deadline_hours(policy, agreed), changed)
