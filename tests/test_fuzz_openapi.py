"""Property-based runs of both OpenAPI documents (issue 14): schemathesis generates requests
from each operation's schema — valid and not — and sends them to a real server on loopback;
every answer must be a documented status, match its schema and content type, and never be a
5xx. Bounded (a fixed number of examples per operation, derandomised so that a run is
repeatable) to about two minutes of the suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, checks
from schemathesis.core.result import Ok

from hashcheck.admin import operators
from hashcheck.admin.operators import Actor, Role
from hashcheck.api.budgets import Budgets
from tests.support import Deployment, ServerThread, basic, list_hashes, make_deployment, serve

# What the issue asks of every answer. (Not schemathesis's "schema-valid data is accepted":
# a legacy body is any text by its schema, and an empty one is rightly a 400.)
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]
SENT: list[int] = []  # cases sent, for the suite's own check that it fuzzed at all
RUNS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],
    database=None,
)


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerThread, str, str]]:
    folder: Path = tmp_path_factory.mktemp("fuzz")
    deployed: Deployment = make_deployment(f"sqlite:///{folder}/db.sqlite", folder)
    list_hashes(deployed, ["258228aed7b04862fb4f41da4cde67e5"])
    store = deployed.store()
    try:
        account = operators.add(store, "fuzzer", Role.APPROVER, actor=Actor("setup", Role.APPROVER))
    finally:
        store.close()
    # Unlimited budgets: a 429 for going fast is not what is fuzzed here.
    for server in serve(deployed, budgets=Budgets()):
        yield (
            server,
            basic(deployed.client_id, deployed.secret),
            basic("fuzzer", account.secret),
        )


def _operations(server: ServerThread, path: str, skip: str | None = None) -> list[Any]:
    document = httpx.get(server.base + path).json()
    schema: Any = schemathesis.openapi.from_dict(document)
    if skip is not None:
        schema = schema.exclude(path_regex=skip)
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # an operation the document describes wrongly
        operations.append(result.ok())
    return operations


def _fuzz(operation: Any, base: str, authorization: str) -> None:
    """Every generated case of the operation, valid and not, sent and its answer checked."""
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

        @RUNS
        @given(case=operation.as_strategy(mode))
        def run(case: Any) -> None:
            SENT.append(1)
            case.call_and_validate(
                base_url=base, headers={"Authorization": authorization}, checks=CHECKS
            )

        try:
            run()
        except Unsatisfiable:
            # Nothing in this operation can be made invalid (no parameters, no body).
            assert mode is GenerationMode.NEGATIVE, operation.label


def test_the_client_api_answers_as_documented(fuzzed: tuple[ServerThread, str, str]) -> None:
    server, client, _ = fuzzed
    operations = _operations(server, "/v2/openapi.json")
    assert len(operations) >= 10  # the legacy paths, checks, disputes, retractions, health
    before = len(SENT)
    for operation in operations:
        _fuzz(operation, server.base, client)
    assert len(SENT) - before >= 200


def test_the_operator_api_answers_as_documented(fuzzed: tuple[ServerThread, str, str]) -> None:
    server, _, operator = fuzzed
    # Not its own account's rotation, disabling or role: the run would lock itself out.
    operations = _operations(server, "/admin/v1/openapi.json", skip="/operators/")
    assert len(operations) >= 40
    before = len(SENT)
    for operation in operations:
        _fuzz(operation, server.base, operator)
    assert len(SENT) - before >= 1000  # thousands of cases, not a handful
