"""Categories as every face lists them: severity, whether they answer, and whether enabling
one needs a second operator under the current policy. Reads only; enabling and disabling are
`admin.governance`'s."""

from __future__ import annotations

from dataclasses import dataclass

from hashcheck.admin import governance
from hashcheck.admin.operators import Actor, Role
from hashcheck.store.interface import Store


@dataclass(frozen=True)
class CategoryLine:
    name: str
    severity: str
    enabled: bool
    two_person: bool  # enabling it (or granting it) needs a second operator
    description: str


def listing(store: Store, *, actor: Actor) -> list[CategoryLine]:
    actor.require(Role.VIEWER, "reading categories")
    rules = governance.policy(store)
    return [
        CategoryLine(
            c.name, c.severity.value, c.enabled, rules.needs_two(c.severity), c.description
        )
        for c in store.categories()
    ]
