"""Exit codes of the `hashcheck` command (documented in docs/cli.md)."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0
    INTERNAL = 1  # a bug: please report it
    USAGE = 2  # the command line is wrong
    CONFIG = 3  # a setting is invalid
    NOT_FOUND = 4  # an unknown client, list or category
    REJECTED = 5  # an input file or value was refused; nothing was changed
    KEY = 6  # the list key is missing, unreadable or does not fit the database
    STORE = 7  # the database cannot be reached or is too new
    EXISTS = 8  # a client, list or category of that name exists already
    CONFLICT = 9  # the change does not fit the current state (e.g. promoting an active batch)
    MATCHES = 10  # `hashcheck scan`: matches found
    PENDING = 11  # the change needs a second operator: a proposal was filed instead
    DENIED = 12  # the acting operator's role does not allow this
    UNCHECKED = 13  # `hashcheck scan`: no match, but some files could not be checked
    REFUSED = 14  # `hashcheck scan`, `restore`: the service refused the client's credentials
    INSTALL = 15  # this installation lacks the extra the command needs (the message names it)
