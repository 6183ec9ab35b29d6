"""The import rules of docs/architecture.md, checked on the source."""

from __future__ import annotations

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "hashcheck"
DOC = Path(__file__).resolve().parent.parent / "docs" / "architecture.md"


def documented_rules() -> dict[str, set[str]]:
    """Rows of the rules table: | `package` | `allowed`, `allowed` |."""
    rules: dict[str, set[str]] = {}
    for line in DOC.read_text().splitlines():
        match = re.match(r"\|\s*`(\w+)`\s*\|([^|]*)\|", line)
        if match:
            rules[match.group(1)] = set(re.findall(r"`(\w+|\*)`", match.group(2)))
    return rules


def package_of(path: Path) -> str:
    relative = path.relative_to(SRC)
    return relative.parts[0].removesuffix(".py") if len(relative.parts) > 1 else relative.stem


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_every_package_has_a_rule() -> None:
    rules = documented_rules()
    packages = {package_of(p) for p in SRC.rglob("*.py")} - {"__init__"}
    assert packages <= set(rules), f"undocumented: {packages - set(rules)}"


def test_imports_follow_the_rules() -> None:
    rules = documented_rules()
    violations = []
    for path in SRC.rglob("*.py"):
        package = package_of(path)
        if package == "__init__":
            continue
        allowed = rules[package] | {package}
        for module in imports_of(path):
            parts = module.split(".")
            if parts[0] != "hashcheck" or len(parts) < 2:
                continue
            if "*" not in allowed and parts[1] not in allowed:
                violations.append(f"{path.relative_to(SRC)} imports {module}")
    assert violations == []


def test_pure_core_does_no_io_imports() -> None:
    forbidden = {
        "sqlite3",
        "psycopg",
        "uvicorn",
        "socket",
        "asyncio",
        "urllib",
        "http",
        "subprocess",
    }
    for package in ("hashes", "catalog", "index", "formats"):
        for path in (SRC / package).rglob("*.py"):
            used = {m.split(".")[0] for m in imports_of(path)}
            assert not used & forbidden, f"{path.relative_to(SRC)} imports {used & forbidden}"


def test_every_module_says_what_it_owns() -> None:
    missing = [
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if not ast.get_docstring(ast.parse(path.read_text()))
    ]
    assert missing == []
