"""Metrics for Prometheus (issue 14): off by default; what a node counts, exactly, in one
process; the sum over a node's workers under `hashcheck serve`, on its own port or a
listener of its own, with nothing left behind; and never a client id, a submitted hash or a
secret in them."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.parser import text_string_to_metric_families

from hashcheck.api.budgets import Budgets
from hashcheck.api.metrics import LATENCY_BUCKETS, _add_to_histogram
from tests.support import Deployment, basic, legacy_post, list_hashes, make_deployment, serve
from tests.test_serve import free_port, running_demo

LISTED = "258228aed7b04862fb4f41da4cde67e5"
UNLISTED = "d41d8cd98f00b204e9800998ecf8427f"


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition, by name and labels (parsed by prometheus_client's own
    parser: what Prometheus reads)."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(
    found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def scrape(base: str) -> tuple[str, str]:
    with urllib.request.urlopen(base + "/metrics", timeout=10) as answer:  # noqa: S310
        return answer.read().decode(), answer.headers["content-type"]


def test_bulk_histogram_adds_equal_one_observation_at_a_time() -> None:
    """The metrics add counted latencies to prometheus_client's histogram in bulk, through
    its per-bucket values: the result must be what observe() gives, one value at a time."""
    rng = random.Random(14)
    observed = [rng.expovariate(200) for _ in range(5000)] + [0.0, 10.0, 99.0, 0.0005]
    one, bulk = CollectorRegistry(), CollectorRegistry()
    single = Histogram("h", "h", buckets=LATENCY_BUCKETS, registry=one)
    for seconds in observed:
        single.observe(seconds)
    import bisect

    cells = [0.0] * (len(LATENCY_BUCKETS) + 2)
    for seconds in observed:
        cells[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        cells[-1] += seconds
    _add_to_histogram(Histogram("h", "h", buckets=LATENCY_BUCKETS, registry=bulk), cells)
    wanted = {s.name + str(s.labels): s.value for f in one.collect() for s in f.samples}
    got = {s.name + str(s.labels): s.value for f in bulk.collect() for s in f.samples}
    assert got.keys() == wanted.keys()
    for key, number in wanted.items():
        assert got[key] == pytest.approx(number), key


@pytest.fixture
def deployment(sqlite_url: str, tmp_path: Path) -> Deployment:
    deployed = make_deployment(sqlite_url, tmp_path)
    list_hashes(deployed, [LISTED])
    return deployed


def test_metrics_are_off_by_default(deployment: Deployment) -> None:
    for server in serve(deployment):
        with pytest.raises(urllib.error.HTTPError) as refused:
            scrape(server.base)
        assert refused.value.code == 404


def test_a_node_counts_what_it_answered(deployment: Deployment) -> None:
    budgets = Budgets(requests_per_second=0.5)  # a burst of 5, then 429
    for server in serve(deployment, metrics=True, budgets=budgets):
        acme = basic(deployment.client_id, deployment.secret)
        answers = [
            legacy_post(server.port, "/v1/check/md5", h.encode(), acme).status
            for h in (LISTED, UNLISTED, LISTED, UNLISTED, LISTED, LISTED)
        ]
        assert answers == [200] * 5 + [429]
        assert (
            legacy_post(server.port, "/v1/check/md5", LISTED.encode(), basic("acme", "no")).status
            == 401
        )
        assert legacy_post(server.port, "/v1/check/md5", b"x", basic("nobody", "no")).status == 401
        server.app.node.flusher.flush()
        snapshot = server.app.node.follower.snapshot
        assert snapshot is not None
        text, content_type = scrape(server.base)
        assert content_type.startswith("text/plain; version=0.0.4")
        found = samples(text)
        total = "hashcheck_http_requests_total"
        assert value(found, total, endpoint="/v1/check/md5", status="200") == 5
        assert value(found, total, endpoint="/v1/check/md5", status="429") == 1
        assert value(found, total, endpoint="/v1/check/md5", status="401") == 2
        assert value(found, "hashcheck_auth_failures_total", face="client") == 2
        duration = "hashcheck_http_request_duration_seconds_count"
        assert value(found, duration, endpoint="/v1/check/md5") == 8
        assert value(found, "hashcheck_hashes_checked_total", list="police") == 5
        assert value(found, "hashcheck_hashes_matched_total", list="police") == 3
        assert value(found, "hashcheck_index_entries") == len(snapshot.exact)
        assert value(found, "hashcheck_ready") == 1
        assert value(found, "hashcheck_index_version") == snapshot.catalog.version
        assert 0 <= value(found, "hashcheck_snapshot_age_seconds") < 10
        assert value(found, "hashcheck_stats_flush_failures_total") == 0
        assert 0 <= value(found, "hashcheck_stats_flush_age_seconds") < 10
        assert ("hashcheck_holds_open", frozenset()) in found
        # A path as sent never becomes a label: unknown ones share one name.
        for path in ("/v1/check/" + LISTED, "/no/such/" + LISTED, "/v2/disputes/" + LISTED):
            legacy_post(server.port, path, b"", acme)
        found = samples(scrape(server.base)[0])
        assert value(found, total, endpoint="/v1/(unknown)", status="404") == 1
        assert value(found, total, endpoint="(unknown)", status="404") == 1
        assert value(found, total, endpoint="/metrics", status="200") == 1
        text = scrape(server.base)[0]
        for secret in (LISTED, UNLISTED, deployment.secret, "acme", deployment.client_id):
            assert secret not in text


def test_admin_imports_and_requests_are_counted_by_route(deployment: Deployment) -> None:
    from hashcheck.admin import operators
    from hashcheck.admin.operators import Actor, Role

    store = deployment.store()
    try:
        secret = operators.add(store, "olga", Role.OPERATOR, actor=Actor("s", Role.APPROVER)).secret
    finally:
        store.close()
    for server in serve(deployment, metrics=True):
        olga = basic("olga", secret)
        request = urllib.request.Request(  # noqa: S310 - loopback
            server.base + "/admin/v1/lists/police/imports?category=baseline",
            data=(UNLISTED + "\n").encode(),
            headers={"Authorization": olga},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            assert answer.status == 201
        bad = urllib.request.Request(  # noqa: S310 - loopback
            server.base + "/admin/v1/lists/police/imports?category=baseline",
            data=b"not a hash\n",
            headers={"Authorization": olga},
            method="POST",
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(bad, timeout=30)  # noqa: S310
        assert refused.value.code == 422
        found = samples(scrape(server.base)[0])
        assert value(found, "hashcheck_imports_total", kind="import", outcome="done") == 1
        assert value(found, "hashcheck_imports_total", kind="import", outcome="refused") == 1
        assert value(found, "hashcheck_import_duration_seconds_count", kind="import") == 2
        route = "/admin/v1/lists/{list}/imports"
        total = "hashcheck_http_requests_total"
        assert value(found, total, endpoint=route, status="201") == 1
        assert value(found, total, endpoint=route, status="422") == 1
        assert legacy_post(server.port, "/metrics", b"", olga).status == 405


@pytest.fixture(params=[2, 1], ids=["two workers", "one worker"])
def demo_metrics(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[int, int, subprocess.Popen[str], Path]]:
    """`hashcheck serve --demo` with metrics on a listener of its own; its temporary folders
    go under the test's own."""
    listen = free_port()
    temp = tmp_path / "tmp"
    temp.mkdir()
    ended = subprocess.Popen(["true"])  # a process that has ended: its pid is free
    ended.wait()
    # What a `serve` killed with SIGKILL leaves: removed by the next one to start.
    (temp / f"hashcheck-metrics-{ended.pid}-left").mkdir()
    with running_demo(
        tmp_path,
        request.param,
        TMPDIR=str(temp),
        HASHCHECK_METRICS="true",
        HASHCHECK_METRICS_LISTEN=f"127.0.0.1:{listen}",
    ) as (port, process):
        yield port, listen, process, temp


def test_a_scrape_sums_every_worker_and_nothing_is_left_behind(
    demo_metrics: tuple[int, int, subprocess.Popen[str], Path],
) -> None:
    port, listen, process, temp = demo_metrics
    assert [f.name.split("-")[2] for f in temp.glob("hashcheck-metrics-*")] == [str(process.pid)]
    auth = basic("demo", "demo-secret")
    sent = 0
    for _ in range(300):
        if legacy_post(port, "/v1/check/md5", LISTED.encode(), auth).status == 200:
            sent += 1  # a worker still loading answers 503: counted apart
    assert sent > 0
    # Each worker moves its counts to the shared files once a second: wait for all of them.
    deadline = time.monotonic() + 30
    while True:
        found = samples(scrape(f"http://127.0.0.1:{listen}")[0])
        counted = value(
            found, "hashcheck_http_requests_total", endpoint="/v1/check/md5", status="200"
        )
        # Two workers load the index each on its own: ready is the least of them.
        ready = value(found, "hashcheck_ready")
        if (counted, ready) == (sent, 1) or time.monotonic() > deadline:
            break
    assert (counted, ready) == (sent, 1)
    assert value(found, "hashcheck_index_entries") > 0
    # The service's own port does not serve them when they have a listener of their own.
    with pytest.raises(urllib.error.HTTPError) as refused:
        scrape(f"http://127.0.0.1:{port}")
    assert refused.value.code == 404
    process.send_signal(signal.SIGTERM)  # as systemd stops it
    assert process.wait(timeout=30) in (0, -signal.SIGTERM)  # a clean stop, either way
    assert list(temp.glob("hashcheck-metrics-*")) == []


_SCRAPE_BESIDE_A_NEW_FILE = """
import os, sys
os.environ["PROMETHEUS_MULTIPROC_DIR"] = sys.argv[1]
from prometheus_client import CollectorRegistry, Counter
Counter("hashcheck_probe", "A count.", registry=CollectorRegistry()).inc(7)
# A worker starting this moment: its file is open, not yet sized.
open(os.path.join(sys.argv[1], "counter_999999.db"), "wb").close()
from hashcheck.api.metrics import exposition_registry, render
print(render(exposition_registry())[0].decode())
"""


def test_a_scrape_beside_a_worker_making_its_file_answers(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _SCRAPE_BESIDE_A_NEW_FILE, str(tmp_path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert value(samples(done.stdout), "hashcheck_probe_total") == 7
