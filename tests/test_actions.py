"""The table of operator actions (`admin.actions`) holds the faces together: every CLI
command and every admin API route is an action of the table (or a stated non-action), every
action is offered by each face or says why not."""

from __future__ import annotations

import argparse
import re

from hashcheck.admin.actions import ACTIONS, NOT_ACTIONS
from hashcheck.api.adminroutes import ROUTES
from hashcheck.cli.main import build_parser


def cli_commands() -> set[str]:
    found: set[str] = set()

    def walk(parser: argparse.ArgumentParser, words: list[str]) -> None:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            found.add(" ".join(words))
        for sub in subs:
            for name, child in sub.choices.items():
                walk(child, [*words, name])

    walk(build_parser(), [])
    return found


def test_every_cli_command_is_an_action_or_says_why_not() -> None:
    commands = cli_commands()
    offered = {a.cli for a in ACTIONS.values() if a.cli is not None}
    assert commands - offered - set(NOT_ACTIONS) == set()
    assert offered - commands == set()  # the table names no command that is not there
    assert set(NOT_ACTIONS) <= commands


def test_every_route_is_an_action() -> None:
    # (A route's role is its action's by construction: `adminroutes._route` reads it here.)
    routes = {(r.method, r.template) for r in ROUTES}
    offered = {a.api for a in ACTIONS.values() if a.api is not None}
    assert routes == offered


def test_every_action_is_on_every_face_or_says_why_not() -> None:
    lacking = [
        name
        for name, action in ACTIONS.items()
        if (action.cli is None or action.api is None) and not action.missing
    ]
    assert lacking == []


def test_the_consoles_pages_and_forms_are_actions_of_the_table() -> None:
    from hashcheck.console.app import _FORMS, _PAGES

    declared = {a.console for a in ACTIONS.values() if a.console is not None}
    forms: set[str] = set()
    for form in _FORMS:
        path = re.sub(r"\((?!\?:)[^)]*\)", "{n}", form[0].pattern)
        path = path.removeprefix("^/console/").rstrip("$")
        alternatives = re.search(r"\(\?:([^)]*)\)", path)
        if alternatives is None:
            forms.add(path)
        else:
            for word in alternatives.group(1).split("|"):
                forms.add(path.replace(alternatives.group(0), word))
    # A form with a choice names its action by the `verdict` it posts.
    served = set(_PAGES) | {re.sub(r"\{\w+\}", "{n}", form) for form in forms}
    assert {re.sub(r"\{\w+\}", "{n}", page) for page in declared} <= served
    # Every page and form of the console carries out an action the table names.
    assert served <= {re.sub(r"\{\w+\}", "{n}", page) for page in declared}
