"""The docs cover every setting, command and exit code, and their examples work."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from hashcheck.cli.exitcodes import ExitCode
from hashcheck.config import Settings, env_name
from tests.http_client import call
from tests.support import Deployment, ServerThread, make_deployment, serve
from tests.test_cli import all_commands, command_groups

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def test_every_setting_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text()
    for field in dataclasses.fields(Settings):
        assert f"`{env_name(field.name)}`" in text, field.name


def test_every_command_is_documented() -> None:
    text = (DOCS / "cli.md").read_text()
    for command in all_commands():
        if command:
            assert f"`hashcheck {' '.join(command)}" in text or (
                len(command) == 1 and command[0] in command_groups()
            ), command


def test_every_exit_code_is_documented() -> None:
    text = (DOCS / "cli.md").read_text()
    for code in ExitCode:
        assert re.search(rf"\| {code.value} \| `{code.name}` \|", text), code


def test_readme_commands_are_the_makefile_targets_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "```\nmake run\n```" in readme and "```\nmake test\n```" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_docs_link_to_existing_pages() -> None:
    for page in [ROOT / "README.md", *DOCS.glob("*.md")]:
        for target in re.findall(r"\]\(([^)#]+\.md)\)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"


@pytest.fixture
def demo_like(sqlite_url: str, tmp_path: Path) -> Iterator[tuple[ServerThread, Deployment]]:
    from hashcheck.admin import importing
    from hashcheck.hashes.keyed import Digester

    deployment = make_deployment(sqlite_url, tmp_path, list_name="demo")
    source = tmp_path / "demo.txt"
    source.write_text("258228aed7b04862fb4f41da4cde67e5\n")
    store = deployment.store()
    importing.import_file(
        store, Digester(deployment.key), "demo", source, actor="t", category="baseline"
    )
    store.close()
    for server in serve(deployment):
        yield server, deployment


def json_blocks(page: str) -> list[object]:
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", page, re.S)]


def test_v2_examples_are_real(demo_like: tuple[ServerThread, Deployment]) -> None:
    server, deployment = demo_like
    request, response, compact, compact_response, error = json_blocks(
        (DOCS / "v2-api.md").read_text()
    )
    status, body, _ = call(server.base, "/v2/check", request, auth=("acme", deployment.secret))
    assert status == 200
    assert isinstance(response, dict)
    assert body.keys() == response.keys()
    for got, documented in zip(body["results"], response["results"], strict=True):
        assert got.keys() == documented.keys()
        assert got["match"] == documented["match"]
        for match, documented_match in zip(got["matches"], documented["matches"], strict=True):
            assert match.keys() == documented_match.keys()
            assert {k: match[k] for k in ("list", "category", "action")} == {
                k: documented_match[k] for k in ("list", "category", "action")
            }
    status, body, _ = call(server.base, "/v2/check", compact, auth=("acme", deployment.secret))
    assert status == 200
    assert isinstance(compact_response, dict)
    assert body.keys() == compact_response.keys()
    assert body["checked"] == compact_response["checked"]
    assert [r.keys() for r in body["results"]] == [r.keys() for r in compact_response["results"]]
    assert [r["index"] for r in body["results"]] == [
        r["index"] for r in compact_response["results"]
    ]
    bad = {
        "hashes": [{"algorithm": "md5", "hash": "x"}] * 3 + [{"algorithm": "md5", "hash": "0" * 32}]
    }
    status, body, _ = call(server.base, "/v2/check", bad, auth=("acme", deployment.secret))
    assert status == 400
    assert isinstance(error, dict)
    assert body["error"].keys() == error["error"].keys()
