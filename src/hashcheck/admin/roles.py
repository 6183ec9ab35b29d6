"""The operator roles, in order: a viewer reads; an operator also changes lists, clients,
batches, holds and disputes; an approver also approves proposals and manages accounts. Light
on purpose: the CLI reads it (through `admin.actions`) even in a client-only install."""

from __future__ import annotations

import enum

from hashcheck.admin.errors import AdminError


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
