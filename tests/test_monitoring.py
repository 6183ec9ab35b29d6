"""The monitoring set shipped in deploy/monitoring (issue 14): Prometheus' own `promtool`
(Debian's, installed when missing) checks the scrape configuration and the alert rules and
runs their unit tests, lints a real node's exposition, and every metric the rules and the
Grafana dashboard name is one a node serves."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.request
from pathlib import Path

import pytest
from bench.debian import program
from prometheus_client.parser import text_string_to_metric_families

from tests.support import Deployment, basic, legacy_post, list_hashes, make_deployment, serve

MONITORING = Path(__file__).resolve().parent.parent / "deploy" / "monitoring"
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


@pytest.fixture(scope="module")
def promtool() -> str:
    return program("promtool", "prometheus", recommends=False)


def run(promtool: str, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [promtool, *args],
        cwd=MONITORING,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_the_configuration_and_the_rules_pass_promtool(promtool: str) -> None:
    assert "SUCCESS" in run(promtool, "check", "config", "prometheus.yml")
    assert "SUCCESS" in run(promtool, "check", "rules", "hashcheck-alerts.yml")
    assert "SUCCESS" in run(promtool, "test", "rules", "hashcheck-alerts.test.yml")


@pytest.fixture
def exposition(sqlite_url: str, tmp_path: Path) -> str:
    deployed: Deployment = make_deployment(sqlite_url, tmp_path)
    list_hashes(deployed, ["258228aed7b04862fb4f41da4cde67e5"])
    for server in serve(deployed, metrics=True):
        auth = basic(deployed.client_id, deployed.secret)
        legacy_post(server.port, "/v1/check/md5", b"258228aed7b04862fb4f41da4cde67e5", auth)
        server.app.node.flusher.flush()
        with urllib.request.urlopen(server.base + "/metrics", timeout=10) as answer:  # noqa: S310
            return str(answer.read().decode())
    raise AssertionError("no server")


def test_a_node_s_metrics_pass_promtool_s_lint(promtool: str, exposition: str) -> None:
    run(promtool, "check", "metrics", stdin=exposition)


def test_every_metric_the_rules_and_the_dashboard_name_is_served(exposition: str) -> None:
    served = {"up"}
    for family in text_string_to_metric_families(exposition):
        served.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ("",)))
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    expressions = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert len(expressions) >= 12 and all(p["datasource"] for p in dashboard["panels"])
    named = set()
    for text in [*expressions, (MONITORING / "hashcheck-alerts.yml").read_text()]:
        named.update(re.findall(r"\b(hashcheck_[a-z_]+)\b", text))
    assert named - served == set()
    assert len(named) >= 15
