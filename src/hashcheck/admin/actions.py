"""Every operator action, once: its name, the least role it needs, and where each face offers
it (the CLI command, the admin API route; the console's page when it has one). The admin API
takes its routes' roles from here, and a test holds every face to this table, so the faces
cannot drift apart. Holds no behaviour: the service functions in `admin` do the work.
"""

from __future__ import annotations

from dataclasses import dataclass

from hashcheck.admin.roles import Role

VIEW, OPERATE, APPROVE = Role.VIEWER, Role.OPERATOR, Role.APPROVER


@dataclass(frozen=True)
class Action:
    role: Role
    cli: str | None  # the command's words, e.g. "clients add"
    api: tuple[str, str] | None  # (method, route template under /admin/v1)
    missing: str = ""  # why the CLI or the API does not offer it
    console: str | None = None  # the console's page or form (path under /console/)


ACTIONS: dict[str, Action] = {
    "whoami": Action(VIEW, None, ("GET", "/whoami"), "the CLI acts as HASHCHECK_ACTOR"),
    # clients and their grants
    "clients.list": Action(VIEW, "clients list", ("GET", "/clients"), console="clients"),
    "clients.add": Action(OPERATE, "clients add", ("POST", "/clients"), console="clients/new"),
    "clients.disable": Action(
        OPERATE,
        "clients disable",
        ("POST", "/clients/{client_id}/disable"),
        console="clients/{client_id}/disable",
    ),
    "clients.enable": Action(
        OPERATE,
        "clients enable",
        ("POST", "/clients/{client_id}/enable"),
        console="clients/{client_id}/enable",
    ),
    "clients.rotate": Action(
        OPERATE,
        "clients rotate",
        ("POST", "/clients/{client_id}/rotate"),
        console="clients/{client_id}/rotate",
    ),
    "clients.grant": Action(
        OPERATE,
        "clients grant",
        ("POST", "/clients/{client_id}/grants"),
        console="clients/{client_id}/grants",
    ),
    "clients.revoke": Action(OPERATE, "clients revoke", ("POST", "/clients/{client_id}/revoke")),
    "clients.budgets": Action(
        OPERATE,
        "clients budgets",
        ("PUT", "/clients/{client_id}/budgets"),
        console="clients/{client_id}/budgets",
    ),
    # lists, suppliers, imports
    "lists.list": Action(VIEW, "lists list", ("GET", "/lists"), console=""),
    "lists.add": Action(OPERATE, "lists add", ("POST", "/lists")),
    "lists.enable": Action(OPERATE, "lists enable", ("POST", "/lists/{list}/enable")),
    "lists.disable": Action(OPERATE, "lists disable", ("POST", "/lists/{list}/disable")),
    "lists.pdq-threshold": Action(
        OPERATE, "lists pdq-threshold", ("PUT", "/lists/{list}/pdq-threshold")
    ),
    "lists.collisions": Action(VIEW, "lists collisions", ("GET", "/collisions")),
    "suppliers.show": Action(VIEW, "suppliers show", ("GET", "/suppliers/{supplier}/map")),
    "suppliers.map": Action(OPERATE, "suppliers map", ("PUT", "/suppliers/{supplier}/map/{value}")),
    "suppliers.unmap": Action(
        OPERATE, "suppliers unmap", ("DELETE", "/suppliers/{supplier}/map/{value}")
    ),
    "lists.import": Action(OPERATE, "import", ("POST", "/lists/{list}/imports"), console="imports"),
    "lists.remove": Action(OPERATE, "remove", ("POST", "/lists/{list}/removals")),
    # categories and batches
    "categories.list": Action(VIEW, "categories list", ("GET", "/categories")),
    "categories.enable": Action(
        OPERATE, "categories enable", ("POST", "/categories/{category}/enable")
    ),
    "categories.disable": Action(
        OPERATE, "categories disable", ("POST", "/categories/{category}/disable")
    ),
    "batches.list": Action(VIEW, "batches list", ("GET", "/batches"), console="batches"),
    "batches.show": Action(VIEW, "batches show", ("GET", "/batches/{batch_id}")),
    "batches.rollback": Action(
        OPERATE,
        "batches rollback",
        ("POST", "/batches/{batch_id}/rollback"),
        console="batches/{batch_id}/rollback",
    ),
    "batches.promote": Action(
        OPERATE,
        "batches promote",
        ("POST", "/batches/{batch_id}/promote"),
        console="batches/{batch_id}/promote",
    ),
    # items, holds, disputes
    "items.show": Action(VIEW, "items show", ("GET", "/items"), console="items"),
    "holds.list": Action(VIEW, "holds list", ("GET", "/holds"), console="decisions"),
    "holds.release": Action(
        OPERATE,
        "holds release",
        ("POST", "/holds/{item_id}/release"),
        console="holds/{item_id}/release",
    ),
    "disputes.list": Action(VIEW, "disputes list", ("GET", "/disputes"), console="decisions"),
    "disputes.show": Action(VIEW, "disputes show", ("GET", "/disputes/{dispute_id}")),
    "disputes.comment": Action(
        OPERATE, "disputes comment", ("POST", "/disputes/{dispute_id}/comments")
    ),
    "disputes.uphold": Action(
        OPERATE,
        "disputes uphold",
        ("POST", "/disputes/{dispute_id}/uphold"),
        console="disputes/{dispute_id}",
    ),
    "disputes.reject": Action(
        OPERATE,
        "disputes reject",
        ("POST", "/disputes/{dispute_id}/reject"),
        console="disputes/{dispute_id}",
    ),
    # self-submission: the review queue and the participating platforms
    "submissions.list": Action(
        VIEW, "submissions list", ("GET", "/submissions"), console="submissions"
    ),
    "submissions.show": Action(
        VIEW, "submissions show", ("GET", "/submissions/{case}"), console="submissions"
    ),
    "submissions.activate": Action(
        OPERATE,
        "submissions activate",
        ("POST", "/submissions/{case}/activate"),
        console="submissions/{case}",
    ),
    "submissions.reject": Action(
        OPERATE,
        "submissions reject",
        ("POST", "/submissions/{case}/reject"),
        console="submissions/{case}",
    ),
    "clients.deadline": Action(
        OPERATE,
        "clients deadline",
        ("PUT", "/clients/{client_id}/takedown-deadline"),
        console="clients/{client_id}/deadline",
    ),
    "reports.takedown": Action(
        VIEW, "report takedown", ("GET", "/reports/takedown"), console="reports/takedown"
    ),
    "notices.issue": Action(OPERATE, "notices issue", ("POST", "/notices"), console="notices/new"),
    "notices.list": Action(VIEW, "notices list", ("GET", "/notices"), console="notices"),
    "notices.withdraw": Action(
        OPERATE,
        "notices withdraw",
        ("POST", "/notices/{notice_id}/withdraw"),
        console="notices/{notice_id}/withdraw",
    ),
    "clients.public-name": Action(
        OPERATE, "clients public-name", ("PUT", "/clients/{client_id}/public-name")
    ),
    # the two-person rule and the policy
    "proposals.list": Action(VIEW, "proposals list", ("GET", "/proposals"), console="proposals"),
    "proposals.approve": Action(
        APPROVE,
        "proposals approve",
        ("POST", "/proposals/{proposal_id}/approve"),
        console="proposals/{proposal_id}",
    ),
    "proposals.reject": Action(
        OPERATE,
        "proposals reject",
        ("POST", "/proposals/{proposal_id}/reject"),
        console="proposals/{proposal_id}",
    ),
    "policy.show": Action(VIEW, "policy show", ("GET", "/policy")),
    "policy.set": Action(OPERATE, "policy set", ("PUT", "/policy/{name}")),
    # what happened
    "audit": Action(VIEW, "audit", ("GET", "/audit"), console="audit"),
    "stats": Action(VIEW, "stats", ("GET", "/stats"), console="statistics"),
    # operator accounts
    "operators.list": Action(VIEW, "operators list", ("GET", "/operators"), console="operators"),
    "operators.add": Action(APPROVE, "operators add", ("POST", "/operators")),
    "operators.disable": Action(
        APPROVE, "operators disable", ("POST", "/operators/{name}/disable")
    ),
    "operators.enable": Action(APPROVE, "operators enable", ("POST", "/operators/{name}/enable")),
    "operators.role": Action(APPROVE, "operators role", ("PUT", "/operators/{name}/role")),
    # Your own secret as any role; another account's as an approver (checked by the service).
    "operators.rotate": Action(VIEW, "operators rotate", ("POST", "/operators/{name}/rotate")),
}

# Commands of the CLI that are not operator actions, and why.
NOT_ACTIONS: dict[str, str] = {
    "init": "installation: creates the key and the schema on the server",
    "migrate": "installation: brings the schema up to date on the server",
    "serve": "runs a node",
    "hash": "a client tool: hashes files on the hoster's machine",
    "scan": "a client tool: checks the hoster's files against a node",
    "restore": "a client tool: puts back files whose matches were retracted",
    "quarantine": "a client tool: lists the files a scan moved into the quarantine",
}


def by_route(method: str, template: str) -> tuple[str, Action]:
    """The action an admin API route carries out."""
    for name, action in ACTIONS.items():
        if action.api == (method, template):
            return name, action
    raise LookupError(f"no operator action for {method} {template}")
