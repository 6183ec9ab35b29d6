"""The operator's governance policy: one set of values every node reads from the store.

Pure: parses and validates the stored strings, knows the defaults. Kept in the store (not in
each node's environment) so that all nodes agree on what needs two operators, when an entry is
put on hold, and how long match records are kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hashcheck.catalog.numbers import whole_number
from hashcheck.catalog.severity import Severity

_SEVERITY_NAMES = {s.value: s for s in Severity}


class PolicyError(ValueError):
    """A policy name or value that cannot be used; the message says what would be."""


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "two-person-severities",
        "sensitive,informational",
        "Severities whose enabling (category, list, grant, shadow promotion) needs a proposal "
        "by one operator and an approval by another; `none` turns the rule off.",
    ),
    Setting(
        "prevalence-clients",
        "10",
        "Put an entry on hold when more than this many distinct clients match it within "
        "`prevalence-hours`.",
    ),
    Setting("prevalence-hours", "24", "The window of the prevalence alarm, in hours."),
    Setting(
        "hold-legacy-answer",
        "true",
        "What the legacy API answers for a match whose entries are all on hold: `true` (keep "
        "answering a match) or `false`.",
    ),
    Setting(
        "match-retention-days",
        "90",
        "Days a record of which client matched which entry (its match ids) is kept, for "
        "disputes, the prevalence alarm and the retraction feed.",
    ),
    Setting(
        "replace-max-removed-percent",
        "5",
        "A `--replace` delivery (the supplier's complete list) that would take more than this "
        "percentage of the list's items off is refused unless the operator confirms it "
        "(`--confirm-removals`): a truncated export must not empty a list.",
    ),
    Setting(
        "submission-feedback",
        "false",
        "Whether a self-submitter who looks up a case is told how many participating platforms "
        "were answered a match on its hashes (a count only, never which): `true` or `false`.",
    ),
    Setting(
        "submission-duplicate-cases",
        "3",
        "The review queue flags a self-submitted item that more than this many other cases "
        "hold as well (one ordinary image sent in by many to get it blocked).",
    ),
    Setting(
        "takedown-deadline-hours",
        "24",
        "Hours a client has to act on a hit answered `remove` (or on a notice) before it counts "
        "as overdue: 24 under the Dutch notice-and-takedown code; the regulator (ATKM) may order "
        "12 or 1. A client's own agreement can set another (`hashcheck clients deadline`).",
    ),
    Setting(
        "takedown-notices",
        "manual",
        "`manual`: the operator issues notices (`hashcheck notices issue`); `remove-matches`: "
        "every hit answered `remove` also gets a notice at once, with the client's deadline.",
    ),
)
DEFAULTS = {s.name: s.default for s in SETTINGS}
MAX_DEADLINE_HOURS = 24 * 366


@dataclass(frozen=True)
class Policy:
    two_person: frozenset[Severity]
    prevalence_clients: int
    prevalence_hours: int
    hold_legacy_answer: bool
    retention_days: int
    replace_max_removed_percent: float = 5.0
    submission_feedback: bool = False
    submission_duplicate_cases: int = 3
    takedown_deadline_hours: int = 24
    automatic_notices: bool = False

    @classmethod
    def parse(cls, stored: Mapping[str, str]) -> Policy:
        values = {**DEFAULTS, **stored}
        return cls(
            two_person=_severities(values["two-person-severities"]),
            prevalence_clients=_positive(
                "prevalence-clients", values["prevalence-clients"], 1_000_000
            ),
            prevalence_hours=_positive("prevalence-hours", values["prevalence-hours"], 24 * 366),
            hold_legacy_answer=_answer("hold-legacy-answer", values["hold-legacy-answer"]),
            retention_days=_positive("match-retention-days", values["match-retention-days"], 3660),
            replace_max_removed_percent=_percent(
                "replace-max-removed-percent", values["replace-max-removed-percent"]
            ),
            submission_feedback=_answer("submission-feedback", values["submission-feedback"]),
            submission_duplicate_cases=_positive(
                "submission-duplicate-cases",
                values["submission-duplicate-cases"],
                1_000_000,
                least=0,
            ),
            takedown_deadline_hours=_positive(
                "takedown-deadline-hours", values["takedown-deadline-hours"], MAX_DEADLINE_HOURS
            ),
            automatic_notices=_notices(values["takedown-notices"]),
        )

    def needs_two(self, severity: Severity) -> bool:
        return severity in self.two_person


def validate(name: str, value: str) -> str:
    """The normalised value for ``name``; raises PolicyError naming what is allowed."""
    if name not in DEFAULTS:
        raise PolicyError(f"no policy {name!r}; known: {', '.join(DEFAULTS)}")
    value = value.strip().lower()
    Policy.parse({name: value})
    if name == "two-person-severities":
        chosen = _severities(value)
        return ",".join(s.value for s in Severity if s in chosen) or "none"
    return value


def _severities(text: str) -> frozenset[Severity]:
    if text.strip().lower() == "none":
        return frozenset()
    chosen = set()
    for part in text.split(","):
        name = part.strip().lower()
        if name not in _SEVERITY_NAMES:
            raise PolicyError(
                f"two-person-severities: {name!r} is not a severity; use a comma-separated "
                f"list of {', '.join(_SEVERITY_NAMES)}, or none"
            )
        chosen.add(_SEVERITY_NAMES[name])
    return frozenset(chosen)


def _positive(name: str, text: str, most: int, *, least: int = 1) -> int:
    """``least`` (1) to ``most``: a value past it would pass here and fail every use (a window
    of 10^20 hours made every statistics flush fail, silently)."""
    number = whole_number(text.strip(), low=least, high=most)
    if number is None:
        raise PolicyError(
            f"{name} must be a whole number from {least} to {most:,}, got {text[:40]!r}"
        )
    return number


def _percent(name: str, text: str) -> float:
    try:
        number = float(text) if text.strip().isascii() else float("nan")
    except ValueError:
        raise PolicyError(f"{name} must be a number from 0 to 100, got {text[:40]!r}") from None
    if not 0 <= number <= 100:  # also refuses NaN
        raise PolicyError(f"{name} must be a number from 0 to 100, got {text!r}")
    return number


def _notices(text: str) -> bool:
    if text in ("manual", "remove-matches"):
        return text == "remove-matches"
    raise PolicyError(f"takedown-notices must be manual or remove-matches, got {text[:40]!r}")


def _answer(name: str, text: str) -> bool:
    if text in ("true", "false"):
        return text == "true"
    raise PolicyError(f"{name} must be true or false, got {text[:40]!r}")
